// The migration runner: applies supabase/migrations in order, once, records them where the Supabase
// CLI does, refuses edited or badly named files, rolls a failed run back entirely, serialises
// concurrent runs, adopts what the CLI applied, and its Supabase shim leaves existing objects alone.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../../server/platform/db/db';
import { DEFAULT_MIGRATIONS_DIR, type MigrateResult, MigrationError, migrate, readMigrations } from '../../../server/platform/db/migrate';
import { createEmptyTestDb, TEST_ENGINE, type TestDb } from '../../helpers/db';

const SHIM = '20261122000000_supabase_shim';
const CORE = '20261122000100_core_schema';
const CHECKOUT = '20261122000200_checkout';
const STRIPE_EVENTS = '20261122000300_stripe_events';
const WEBHOOK_APPLY = '20261122000400_webhook_apply';
const WEBHOOK_FACTS = '20261122000500_webhook_facts_at_ingest';
const MAKE_OUTBOX = '20261122000600_make_outbox';
const REPLAY_IDEMPOTENCY = '20261122000700_webhook_replay_idempotency';
const MAKE_ORDER_DATA = '20261122000800_make_order_data_plpgsql';
const CUSTOMER_EMAIL_VERIFICATION = '20261207000100_customer_email_verification';
const MAKE_LEASE_EXTEND = '20261207000200_make_lease_extend';
const RETENTION = '20261207000300_retention';
const ALERTS = '20261207000400_alerts';
const MONEY_PATH = '20261207000500_money_path';
const RECONCILIATION = '20261207000700_reconciliation';
const RECONCILIATION_API = '20261207000900_reconciliation_api';
const RECONCILIATION_ACTIONS = '20261207000800_reconciliation_actions';
const REFUNDS = '20261207001000_refunds';
const SUBSCRIPTION_PRICES = '20261207001100_subscription_prices';
const SUBSCRIPTION_ACTIONS = '20261207001200_subscription_actions';
const SUBSCRIPTION_CHECKOUT = '20261207001300_subscription_checkout';
const ATTEMPT_LOCK_ORDER = '20261207001400_attempt_lock_order';
const SUBSCRIPTION_REVIEW_FIXES = '20261207001500_subscription_review_fixes';
const SUBSCRIPTION_FIRST_INVOICE = '20261207001600_subscription_first_invoice_pays_order';
const PAYMENT_REQUESTS = '20261207001700_payment_requests';
const PAYMENT_REQUEST_PAY = '20261207001720_payment_request_pay';
const CLI_ACTOR = '20261207001800_cli_actor';
const TIMELINE_SEARCH_INDEXES = '20261207002000_timeline_search_indexes';
const SUBSCRIPTION_REVIEW19_FIXES = '20261207001900_subscription_review19_fixes';
const PROCESS_ROLES = '20261207002100_process_roles';
const PAYMENT_REQUEST_REVIEW20 = '20261207002200_payment_request_review20';
const REVOKE_NEW_FUNCTIONS = '20261207002300_revoke_new_functions';
const STOREFRONT_SYNC_STATE = '20261207002400_storefront_sync_state';
const MAKE_SIGNING_SECRET = '20261207002500_make_signing_secret';
const WEBHOOK_MARK_BATCH = '20261207002600_webhook_mark_batch';
const RECORD_ATTEMPT_CLOSED_MEANWHILE = '20261207002800_record_attempt_closed_meanwhile';
const CLOSED_ATTEMPT_OBJECT = '20261207003000_closed_attempt_object';
const WEBHOOK_MARK_ZIPPED = '20261207003100_webhook_mark_zipped';
const CHECKOUT_CPU = '20261207003300_checkout_cpu';
const CLOSE_SUPERSEDED_ATTEMPT = '20261207003500_close_superseded_attempt';
const SUBSCRIPTION_INVOICE_PRICE = '20261207003600_subscription_invoice_price';
const SUBSCRIPTION_INVOICE_PAID_AT = '20261207003700_subscription_invoice_paid_at';
const EVENT_SQL_COST = '20261207003800_event_sql_cost';
const ALL = [SHIM, CORE, CHECKOUT, STRIPE_EVENTS, WEBHOOK_APPLY, WEBHOOK_FACTS, MAKE_OUTBOX, REPLAY_IDEMPOTENCY, MAKE_ORDER_DATA, CUSTOMER_EMAIL_VERIFICATION, MAKE_LEASE_EXTEND, RETENTION, ALERTS, MONEY_PATH, RECONCILIATION, RECONCILIATION_ACTIONS, RECONCILIATION_API, REFUNDS, SUBSCRIPTION_PRICES, SUBSCRIPTION_ACTIONS, SUBSCRIPTION_CHECKOUT, ATTEMPT_LOCK_ORDER, SUBSCRIPTION_REVIEW_FIXES, SUBSCRIPTION_FIRST_INVOICE, PAYMENT_REQUESTS, PAYMENT_REQUEST_PAY, CLI_ACTOR, SUBSCRIPTION_REVIEW19_FIXES, TIMELINE_SEARCH_INDEXES, PROCESS_ROLES, PAYMENT_REQUEST_REVIEW20, REVOKE_NEW_FUNCTIONS, STOREFRONT_SYNC_STATE, MAKE_SIGNING_SECRET, WEBHOOK_MARK_BATCH, RECORD_ATTEMPT_CLOSED_MEANWHILE, CLOSED_ATTEMPT_OBJECT, WEBHOOK_MARK_ZIPPED, CHECKOUT_CPU, CLOSE_SUPERSEDED_ATTEMPT, SUBSCRIPTION_INVOICE_PRICE, SUBSCRIPTION_INVOICE_PAID_AT, EVENT_SQL_COST];
const FIXED_UID = '11111111-2222-4333-8444-555555555555';

let fresh: TestDb;
let firstRun: MigrateResult;
let supabaseLike: TestDb;
const tempDirs: string[] = [];

beforeAll(async () => {
  // A fresh, empty database, migrated once with the project's migrations.
  fresh = await createEmptyTestDb();
  firstRun = await migrate(fresh.db);
});

afterAll(async () => {
  await fresh?.close();
  await supabaseLike?.close();
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

// Each test writes its own migration files, with versions and table names no other test uses, so the
// tests share one database without seeing each other's migrations.
let versionSeq = 0;
function nextVersion(): string {
  versionSeq += 1;
  return `2099010100${String(versionSeq).padStart(4, '0')}`;
}

async function migrationDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'payments-ops-migrations-'));
  tempDirs.push(dir);
  for (const [name, sql] of Object.entries(files)) await writeFile(join(dir, name), sql);
  return dir;
}

async function recorded(db: Db, versions: string[]) {
  const { rows } = await db.query<{ version: string; name: string; statements: string[] }>(
    'select version, name, statements from supabase_migrations.schema_migrations where version = any($1::text[]) order by version',
    [versions],
  );
  return rows;
}

async function tableExists(db: Db, name: string): Promise<boolean> {
  const { rows } = await db.query<{ oid: string | null }>('select to_regclass($1)::text as oid', [name]);
  return rows[0]!.oid !== null;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('migrate on a fresh database', () => {
  it('applies every migration file in version order and reports them', async () => {
    expect(firstRun).toEqual({ applied: ALL, alreadyApplied: 0 });
    expect(await tableExists(fresh.db, 'public.orders')).toBe(true);
  });

  it('records each migration where the Supabase CLI does: version, name and its statements', async () => {
    const rows = await recorded(fresh.db, ['20261122000000', '20261122000100']);
    expect(rows.map((r) => [r.version, r.name])).toEqual([
      ['20261122000000', 'supabase_shim'],
      ['20261122000100', 'core_schema'],
    ]);
    const files = await readMigrations();
    for (const [i, row] of rows.entries()) {
      expect(Array.isArray(row.statements)).toBe(true);
      expect(row.statements.length).toBeGreaterThan(0);
      expect(row.statements.join('\n')).toContain(files[i]!.sql.trim());
    }
    expect(rows[1]!.statements.join('\n')).toContain('create table products');
  });

  it('keeps a SHA-256 checksum of each applied file beside the CLI table', async () => {
    const files = await readMigrations();
    const { rows } = await fresh.db.query<{ version: string; sha256: string }>(
      'select version, sha256 from supabase_migrations.migration_checksums order by version',
    );
    expect(rows).toEqual(files.map((f) => ({ version: f.version, sha256: sha256(f.sql) })));
  });

  it('applies nothing on a second run', async () => {
    const before = await fresh.db.query('select count(*)::int as n from supabase_migrations.schema_migrations');
    const second = await migrate(fresh.db);
    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied).toBe(ALL.length);
    const after = await fresh.db.query('select count(*)::int as n from supabase_migrations.schema_migrations');
    expect(after.rows).toEqual(before.rows);
  });
});

describe('migration files', () => {
  it('applies files in version order, so a later file may build on an earlier one', async () => {
    const [v1, v2] = [nextVersion(), nextVersion()];
    // Written in reverse so the directory's creation order is not the version order.
    const dir = await migrationDir({
      [`${v2}_add_note.sql`]: 'alter table ordered_things add column note text;',
      [`${v1}_ordered_things.sql`]: 'create table ordered_things (id int primary key);',
    });
    const result = await migrate(fresh.db, dir);
    expect(result.applied).toEqual([`${v1}_ordered_things`, `${v2}_add_note`]);
    const { rows } = await fresh.db.query<{ column_name: string }>(
      "select column_name from information_schema.columns where table_name = 'ordered_things' order by ordinal_position",
    );
    expect(rows.map((r) => r.column_name)).toEqual(['id', 'note']);
  });

  it('refuses to run when an applied file was edited, naming the file, and applies nothing else', async () => {
    const [v1, v2] = [nextVersion(), nextVersion()];
    const dir = await migrationDir({ [`${v1}_edited_things.sql`]: 'create table edited_things (id int primary key);' });
    await migrate(fresh.db, dir);
    await writeFile(join(dir, `${v1}_edited_things.sql`), 'create table edited_things (id int primary key, extra text);');
    await writeFile(join(dir, `${v2}_after_edit.sql`), 'create table after_edit (id int);');

    const run = migrate(fresh.db, dir);
    await expect(run).rejects.toBeInstanceOf(MigrationError);
    await expect(run).rejects.toThrow(`${v1}_edited_things.sql`);
    expect(await recorded(fresh.db, [v2])).toEqual([]);
    expect(await tableExists(fresh.db, 'public.after_edit')).toBe(false);
  });

  it('refuses a file not named <version>_<name>.sql, naming it, and applies nothing', async () => {
    const v1 = nextVersion();
    const dir = await migrationDir({
      [`${v1}_well_named.sql`]: 'create table well_named (id int);',
      'add_badly_named.sql': 'create table badly_named (id int);',
    });
    const run = migrate(fresh.db, dir);
    await expect(run).rejects.toBeInstanceOf(MigrationError);
    await expect(run).rejects.toThrow('add_badly_named.sql');
    expect(await recorded(fresh.db, [v1])).toEqual([]);
    expect(await tableExists(fresh.db, 'public.well_named')).toBe(false);
  });

  it('refuses two files that share a version', async () => {
    const v1 = nextVersion();
    const dir = await migrationDir({
      [`${v1}_first.sql`]: 'create table dup_first (id int);',
      [`${v1}_second.sql`]: 'create table dup_second (id int);',
    });
    await expect(migrate(fresh.db, dir)).rejects.toThrow(new MigrationError(`Two migration files share the version ${v1}`));
    expect(await tableExists(fresh.db, 'public.dup_first')).toBe(false);
  });

  it('rolls a failing run back entirely: nothing recorded and no partial table', async () => {
    const [v1, v2] = [nextVersion(), nextVersion()];
    const dir = await migrationDir({
      [`${v1}_good_before_bad.sql`]: 'create table good_before_bad (id int);',
      [`${v2}_half_done.sql`]: 'create table half_done (id int);\ninsert into half_done values (1);\nselect 1 / 0;',
    });
    const run = migrate(fresh.db, dir);
    await expect(run).rejects.toBeInstanceOf(MigrationError);
    await expect(run).rejects.toThrow(`${v2}_half_done.sql failed: division by zero`);

    expect(await recorded(fresh.db, [v1, v2])).toEqual([]);
    const { rows } = await fresh.db.query('select version from supabase_migrations.migration_checksums where version = any($1::text[])', [[v1, v2]]);
    expect(rows).toEqual([]);
    expect(await tableExists(fresh.db, 'public.half_done')).toBe(false);
    expect(await tableExists(fresh.db, 'public.good_before_bad')).toBe(false);
  });

  it(`applies each file once when two runs start at the same time (${TEST_ENGINE})`, async () => {
    const [v1, v2] = [nextVersion(), nextVersion()];
    // Not idempotent on purpose: a second application would fail on the existing table and the duplicate key.
    const dir = await migrationDir({
      [`${v1}_raced_things.sql`]: 'create table raced_things (id int primary key);\ninsert into raced_things values (1);',
      [`${v2}_raced_more.sql`]: 'insert into raced_things values (2);',
    });
    const results = await Promise.all([migrate(fresh.db, dir), migrate(fresh.db, dir)]);

    const applied = results.map((r) => r.applied).sort((a, b) => b.length - a.length);
    expect(applied).toEqual([[`${v1}_raced_things`, `${v2}_raced_more`], []]);
    expect((await recorded(fresh.db, [v1, v2])).map((r) => r.version)).toEqual([v1, v2]);
    const { rows } = await fresh.db.query<{ id: number }>('select id from raced_things order by id');
    expect(rows).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it('adopts a migration the Supabase CLI applied (no checksum row) without running it again', async () => {
    const v1 = nextVersion();
    const sql = 'create table cli_applied (id int primary key);';
    const dir = await migrationDir({ [`${v1}_cli_applied.sql`]: sql });
    // What `supabase db push` leaves behind: the effect of the file and a row in its own table only.
    await fresh.db.exec(sql);
    await fresh.db.query('insert into supabase_migrations.schema_migrations (version, name, statements) values ($1, $2, $3)', [
      v1,
      'cli_applied',
      [sql],
    ]);

    const result = await migrate(fresh.db, dir);

    expect(result.applied).toEqual([]);
    const { rows } = await fresh.db.query('select sha256 from supabase_migrations.migration_checksums where version = $1', [v1]);
    expect(rows).toEqual([{ sha256: sha256(sql) }]);
    // Once adopted, the file is as immutable as one the runner applied itself.
    await writeFile(join(dir, `${v1}_cli_applied.sql`), 'create table cli_applied (id bigint primary key);');
    await expect(migrate(fresh.db, dir)).rejects.toThrow(`${v1}_cli_applied.sql`);
  });
});

describe('the Supabase shim', () => {
  beforeAll(async () => {
    // A database that already has what a Supabase project ships (auth schema, auth.uid(), auth.jwt()),
    // with an auth.uid() that answers a fixed id, so the test can tell whether the shim replaced it.
    supabaseLike = await createEmptyTestDb();
    await supabaseLike.db.exec(`
      create schema auth;
      create function auth.uid() returns uuid language sql stable as $$ select '${FIXED_UID}'::uuid $$;
      create function auth.jwt() returns jsonb language sql stable as $$ select '{"supabase": true}'::jsonb $$;
    `);
  });

  it('keeps an existing auth.uid() and auth.jwt() and still applies every migration', async () => {
    const result = await migrate(supabaseLike.db);

    expect(result.applied).toEqual(ALL);
    const { rows } = await supabaseLike.db.query<{ uid: string; jwt: unknown }>('select auth.uid()::text as uid, auth.jwt() as jwt');
    expect(rows).toEqual([{ uid: FIXED_UID, jwt: { supabase: true } }]);
  });

  it('is a no-op when run again over the objects it created itself', async () => {
    const shim = await readFile(join(DEFAULT_MIGRATIONS_DIR, `${SHIM}.sql`), 'utf8');
    const definition = () =>
      fresh.db.query<{ name: string; body: string }>(
        "select p.oid::regprocedure::text as name, p.prosrc as body from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'auth' order by 1",
      );
    const before = await definition();

    await fresh.db.exec(shim);

    expect(await definition()).toEqual(before);
    expect(before.rows.map((r) => r.name)).toEqual(['auth.jwt()', 'auth.role()', 'auth.uid()']);
    const roles = await fresh.db.query<{ rolname: string; rolcanlogin: boolean; rolbypassrls: boolean }>(
      "select rolname, rolcanlogin, rolbypassrls from pg_roles where rolname in ('anon', 'authenticated', 'service_role') order by rolname",
    );
    expect(roles.rows).toEqual([
      { rolname: 'anon', rolcanlogin: false, rolbypassrls: false },
      { rolname: 'authenticated', rolcanlogin: false, rolbypassrls: false },
      { rolname: 'service_role', rolcanlogin: false, rolbypassrls: true },
    ]);
  });

  it('lets auth.uid() read the subject from request.jwt.claims', async () => {
    const uid = await fresh.db.transaction(async (tx) => {
      await tx.query("select set_config('request.jwt.claims', $1, true)", [JSON.stringify({ sub: FIXED_UID, role: 'authenticated' })]);
      const { rows } = await tx.query<{ uid: string; role: string }>('select auth.uid()::text as uid, auth.role() as role');
      return rows[0];
    });
    expect(uid).toEqual({ uid: FIXED_UID, role: 'authenticated' });
  });
});
