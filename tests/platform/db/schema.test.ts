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
import { DEFAULT_MIGRATIONS_DIR, readMigrations } from '../../../server/platform/db/migrate';
import { openPglite } from '../../../server/platform/db/pglite';
import { dumpFreshSchema, dumpSchema, firstDifference, SCHEMA_FILE } from '../../../scripts/dump-schema';
import { createTestDb, TEST_ENGINE, type TestDb } from '../../helpers/db';

const SCRIPT = new URL('../../../scripts/dump-schema.ts', import.meta.url).pathname;
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

/** Where another text parts from the fresh dump, both lines shown, for a failure message one can act on. */
function describeDifference(label: string, expected: string, actual: string): string | null {
  const line = firstDifference(expected, actual);
  if (line === null) return null;
  return (
    `${label} differs from a fresh dump of the migrations from line ${line} on:\n` +
    `  fresh dump: ${expected.split('\n')[line - 1] ?? '(end of file)'}\n` +
    `  ${label}: ${actual.split('\n')[line - 1] ?? '(end of file)'}`
  );
}

describe('supabase/schema.sql', () => {
  it('is the schema the migrations produce today', () => {
    const committed = readFileSync(SCHEMA_FILE, 'utf8');
    const difference = describeDifference('supabase/schema.sql', fresh, committed);
    expect(difference === null, `${difference}\nThe file is stale: run npm run db:schema and commit the result.`).toBe(true);
  });

  it(`reads the same from the suite's own migrated database (${TEST_ENGINE}) as from a fresh PGlite`, async () => {
    // On PGlite a copy of the suite's template database: the dump depends on no instance detail. On
    // PostgreSQL a server migrated the files: both engines end with the same schema.
    const dumped = await dumpSchema(testDb.db);
    const difference = describeDifference(`the ${TEST_ENGINE} database`, fresh, dumped);
    expect(difference === null, `${difference}`).toBe(true);
  });

  it('shows each function redefined across migrations once, with the body of its last definition', async () => {
    const migrations = await readMigrations(DEFAULT_MIGRATIONS_DIR);
    const definitions = new Map<string, Array<{ file: string; body: string }>>();
    for (const m of migrations) {
      // A function renamed (alter function x(...) rename to y) keeps its body under the new name: it is
      // not superseded (20261207001200 wraps stripe_event_effect that way). Renames and definitions are
      // taken in the order they appear in the file.
      const statements = [
        ...[...m.sql.matchAll(/alter\s+function\s+(?:public\.)?(\w+)\s*\([^)]*\)\s+rename\s+to\s+(\w+)/gi)].map((match) => ({ match, rename: true })),
        ...[...m.sql.matchAll(/create\s+(?:or\s+replace\s+)?(?:function|procedure)\s+(?:public\.)?(\w+)\s*\(/gi)].map((match) => ({ match, rename: false })),
      ].sort((a, b) => a.match.index - b.match.index);
      for (const { match, rename } of statements) {
        if (rename) {
          const from = match[1]!.toLowerCase();
          const to = match[2]!.toLowerCase();
          definitions.set(to, [...(definitions.get(to) ?? []), ...(definitions.get(from) ?? [])]);
          definitions.delete(from);
          continue;
        }
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
      // The catalog quotes a function's body with $function$, a procedure's with $procedure$.
      const holds = (body: string) => ['function', 'procedure'].some((tag) => fresh.includes(`AS $${tag}$${body}$${tag}$`));
      const last = defs.at(-1)!;
      expect(holds(last.body), `${name}: the dump should hold the body from ${last.file}`).toBe(true);
      for (const earlier of defs.slice(0, -1)) {
        if (earlier.body === last.body) continue;
        expect(holds(earlier.body), `${name}: the dump should not hold the superseded body from ${earlier.file}`).toBe(false);
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

describe('dumpSchema on kinds of object no migration uses yet', () => {
  it('writes enums, domains, composite types, sequences, views, column grants, trigger states and restrictive policies', async () => {
    const db = await openPglite();
    try {
      await db.exec(`
        create role anon nologin; create role authenticated nologin;
        create type mood as enum ('sad', 'ok', 'happy');
        create domain cents as bigint not null default 0 check (value >= 0);
        create type pair as (a int, b text);
        create sequence ticket_seq start with 100;
        create table notes (id bigint primary key default nextval('ticket_seq'), body text, m mood, c cents,
                            twice bigint generated always as (c * 2) stored);
        create view happy_notes as select id, body from notes where m = 'happy';
        create materialized view note_count as select count(*) as n from notes;
        create index note_count_idx on note_count (n);
        comment on table notes is 'A note''s row';
        grant select (id) on notes to anon;
        grant usage on sequence ticket_seq to authenticated;
        grant select on happy_notes to authenticated with grant option;
        create function touch() returns trigger language plpgsql as $$ begin return new; end $$;
        create trigger notes_touch before update on notes for each row execute function touch();
        alter table notes disable trigger notes_touch;
        alter table notes enable row level security;
        create policy notes_never on notes as restrictive for all to anon using (true) with check (false);
        create aggregate total(int) (sfunc = int4pl, stype = int);
      `);
      const dump = await dumpSchema(db);
      for (const line of [
        "create type public.mood as enum ('sad', 'ok', 'happy');",
        'create domain public.cents as bigint default 0 not null constraint cents_check CHECK (VALUE >= 0);',
        'create type public.pair as (\n  a integer,\n  b text\n);',
        'create sequence public.ticket_seq as bigint increment by 1 minvalue 1 maxvalue 9223372036854775807 start with 100 cache 1;',
        'grant usage on sequence public.ticket_seq to authenticated;',
        "  id bigint default nextval('ticket_seq'::regclass) not null,",
        '  twice bigint generated always as (((c)::bigint * 2)) stored,',
        "comment on table public.notes is 'A note''s row';",
        'grant select (id) on table public.notes to anon;',
        'alter table public.notes disable trigger notes_touch;',
        'create policy notes_never on public.notes as restrictive for all to anon using (true) with check (false);',
        'create view public.happy_notes as\n SELECT id,\n    body\n   FROM notes\n',
        'grant select on table public.happy_notes to authenticated with grant option;',
        'create materialized view public.note_count as\n',
        'CREATE INDEX note_count_idx ON public.note_count USING btree (n);',
        '-- aggregate public.total(integer)\ngrant execute on function public.total(integer) to PUBLIC;',
        'CREATE OR REPLACE FUNCTION public.touch()',
      ]) {
        expect(dump).toContain(line);
      }
      // Each kind in its section, in a fixed order.
      const sections = [...dump.matchAll(/^-- (Schemas and extensions|Types|Sequences|Tables|Views|Functions and procedures)$/gm)].map((m) => m[1]);
      expect(sections).toEqual(['Schemas and extensions', 'Types', 'Sequences', 'Tables', 'Views', 'Functions and procedures']);
    } finally {
      await db.close();
    }
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
