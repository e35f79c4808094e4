// supabase/schema.sql, the schema the migrations produce read back from the catalog: the committed
// file is today's (like codegen:check, this fails on purpose when a migration lands without it), the
// dump depends on the migrations alone (a copy of a database and a PostgreSQL server give the same
// text), a redefined function shows its last body only, and `db:schema:check` says what to run.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MIGRATIONS_DIR, readMigrations } from '../../server/db/migrate';
import { dumpFreshSchema, dumpSchema, firstDifference, SCHEMA_FILE } from '../../scripts/dump-schema';
import { createTestDb, TEST_ENGINE, type TestDb } from '../helpers/db';

const SCRIPT = new URL('../../scripts/dump-schema.ts', import.meta.url).pathname;
const TSX_CLI = createRequire(import.meta.url).resolve('tsx/cli');
const run = promisify(execFile);

let fresh: string;
let testDb: TestDb;
let tempDir: string;

beforeAll(async () => {
  [fresh, testDb, tempDir] = await Promise.all([dumpFreshSchema(), createTestDb(), mkdtemp(join(tmpdir(), 'schema-dump-'))]);
});

afterAll(async () => {
  await testDb?.close();
  if (tempDir) await rm(tempDir, { recursive: true, force: true });
});

/** The line where two dumps part, both sides shown, for a failure message a reader can act on. */
function describeDifference(label: string, expected: string, actual: string): string {
  const line = firstDifference(expected, actual);
  if (line === null) return '';
  return (
    `${label} differs from line ${line} on:\n` +
    `  expected: ${expected.split('\n')[line - 1] ?? '(end of file)'}\n` +
    `  actual:   ${actual.split('\n')[line - 1] ?? '(end of file)'}`
  );
}

describe('supabase/schema.sql', () => {
  it('is the schema the migrations produce today', () => {
    const committed = readFileSync(SCHEMA_FILE, 'utf8');
    const difference = describeDifference('supabase/schema.sql (committed)', fresh, committed);
    expect(difference, `${difference}\nThe file is stale: run npm run db:schema and commit the result.`).toBe('');
  });

  it(`reads the same from the suite's own migrated database (${TEST_ENGINE}) as from a fresh PGlite`, async () => {
    // On PGlite a copy of the suite's template database: the dump depends on no instance detail. On
    // PostgreSQL a server migrated the files: both engines end with the same schema.
    const dumped = await dumpSchema(testDb.db);
    const difference = describeDifference(`The dump of the ${TEST_ENGINE} database`, fresh, dumped);
    expect(difference, difference).toBe('');
  });

  it('shows each function redefined across migrations once, with the body of its last definition', async () => {
    const migrations = await readMigrations(DEFAULT_MIGRATIONS_DIR);
    const definitions = new Map<string, Array<{ file: string; body: string }>>();
    for (const m of migrations) {
      for (const match of m.sql.matchAll(/create\s+(?:or\s+replace\s+)?(?:function|procedure)\s+(?:public\.)?(\w+)\s*\(/gi)) {
        // The body is the dollar-quoted string after the signature, kept verbatim by the catalog.
        const rest = m.sql.slice(match.index);
        const tag = /\bas\s+(\$\w*\$)/i.exec(rest);
        if (!tag) continue;
        const start = tag.index + tag[0].length;
        const end = rest.indexOf(tag[1]!, start);
        const name = match[1]!.toLowerCase();
        definitions.set(name, [...(definitions.get(name) ?? []), { file: `${m.version}_${m.name}.sql`, body: rest.slice(start, end) }]);
      }
    }
    const redefined = [...definitions].filter(([, defs]) => defs.length > 1);
    // The issue names stripe_event_replay, defined three times; others come and go with new migrations.
    expect(redefined.map(([name]) => name)).toContain('stripe_event_replay');
    for (const [name, defs] of redefined) {
      const last = defs.at(-1)!;
      expect(fresh, `${name}: the dump should hold the body from ${last.file}`).toContain(`AS $function$${last.body}$function$`);
      for (const earlier of defs.slice(0, -1)) {
        if (earlier.body === last.body) continue;
        expect(fresh, `${name}: the dump should not hold the superseded body from ${earlier.file}`).not.toContain(
          `$function$${earlier.body}$function$`,
        );
      }
    }
  });

  it('lists tables with their constraints, indexes, triggers, RLS, policies and grants, and leaves out the runner bookkeeping', () => {
    expect(fresh).toMatch(/^create table public\.orders \(\n {2}id uuid default gen_random_uuid\(\) not null,/m);
    expect(fresh).toContain('constraint orders_pkey PRIMARY KEY (id)');
    expect(fresh).toContain('alter table public.orders enable row level security;');
    expect(fresh).toMatch(/^create policy orders_own_rows on public\.orders for select to authenticated using /m);
    expect(fresh).toContain('grant select on table public.products to anon, authenticated;');
    expect(fresh).toMatch(/^CREATE TRIGGER make_on_order_change AFTER INSERT OR UPDATE OF status ON orders/m);
    expect(fresh).toMatch(/^CREATE INDEX \w+ ON public\.\w+ USING btree/m);
    // Revoked from PUBLIC in the migrations: no grant line, so only the owner may run it.
    expect(fresh).not.toMatch(/^grant execute on function public\.stripe_event_replay/m);
    expect(fresh).not.toContain('supabase_migrations');
  });
});

describe('npm run db:schema:check', () => {
  it('fails on a stale file, naming it and the command to run, and passes on a current one', { timeout: 90_000 }, async () => {
    const stale = join(tempDir, 'stale.sql');
    const current = join(tempDir, 'current.sql');
    await writeFile(stale, fresh.replace('create table public.orders (', 'create table public.orders_renamed ('));
    await writeFile(current, fresh);
    const check = (file: string) => run(process.execPath, [TSX_CLI, SCRIPT, '--check', '--file', file]);

    const failure = await check(stale).then(
      () => null,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure, 'the check should exit non-zero on a stale file').not.toBeNull();
    expect(failure!.code).toBe(1);
    expect(failure!.stderr).toMatch(/stale\.sql is stale: it differs from the schema the migrations produce from line \d+ on/);
    expect(failure!.stderr).toContain('Run `npm run db:schema` and commit the result.');
    expect(await readFile(stale, 'utf8'), 'the check must not rewrite the file').not.toBe(fresh);

    const success = await check(current);
    expect(success.stdout).toContain('current.sql is up to date.');
  });
});
