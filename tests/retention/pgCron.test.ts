// The retention migration's pg_cron branch. Where pg_cron exists (Supabase), the migration schedules
// retention_run() daily; where it does not (PGlite, plain PostgreSQL), it schedules nothing. pg_cron
// itself cannot be installed here, so a stub `cron.schedule` that records its calls stands in for it,
// created before migrating, and the command it was given is then run as pg_cron would run it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../server/platform/db/migrate';
import { saveRetentionSettings } from '../../server/retention/retention';
import { createEmptyTestDb, createTestDb, TEST_ENGINE, type TestDb } from '../helpers/db';

let withCron: TestDb;
let withoutCron: TestDb;

beforeAll(async () => {
  withCron = await createEmptyTestDb();
  await withCron.db.exec(`
    create schema cron;
    create table cron.calls (job_name text, schedule text, command text);
    create function cron.schedule(job_name text, schedule text, command text) returns bigint language sql as $$
      insert into cron.calls values (job_name, schedule, command);
      select 1::bigint;
    $$;
  `);
  await migrate(withCron.db);
  withoutCron = await createTestDb();
});

afterAll(async () => {
  await withCron?.close();
  await withoutCron?.close();
});

describe(`the retention schedule (${TEST_ENGINE})`, () => {
  it('is registered with pg_cron, daily at a quiet hour under a fixed name, when cron.schedule exists', async () => {
    const { rows } = await withCron.db.query('select job_name, schedule, command from cron.calls');
    expect(rows).toEqual([{ job_name: 'payments-ops-retention', schedule: '17 3 * * *', command: 'call public.retention_run()' }]);
  });

  it('runs as pg_cron runs it: every old row goes, batch after committed batch, with the defaults', async () => {
    const db = withCron.db;
    // More old rows than one default batch (1000), and one young row.
    await db.query(`insert into payment_logs (event_type, status, created_at) select 'old', 'succeeded', now() - interval '731 days' from generate_series(1, 2100)`);
    await db.query(`insert into payment_logs (event_type, status, created_at) values ('young', 'succeeded', now() - interval '729 days')`);
    await db.query(
      `insert into idempotency_keys (scope, key, operation, request_hash, created_at) values ('api_key:x', 'old', 'op', $1, now() - interval '8 days'), ('api_key:x', 'young', 'op', $1, now() - interval '6 days')`,
      ['b'.repeat(64)],
    );
    const { rows: calls } = await db.query<{ command: string }>('select command from cron.calls');

    // pg_cron sends the command on its own, outside a transaction block (COMMIT inside is allowed).
    await db.exec(calls[0]!.command);

    const { rows } = await db.query('select event_type from payment_logs');
    expect(rows).toEqual([{ event_type: 'young' }]);
    const keys = await db.query('select key from idempotency_keys');
    expect(keys.rows).toEqual([{ key: 'young' }]);
  });

  it("keeps what the servers' RETENTION_* settings keep: the scheduled run reads the limits a server recorded, not the defaults", async () => {
    const db = withCron.db;
    await db.query(`delete from payment_logs`);
    // A compliance setting longer than the default 730 days, recorded as a server does at start.
    await saveRetentionSettings(db, { paymentLogsDays: 3650, idempotencyKeysDays: 7, webhookPayloadDays: 90, makeAttemptsDays: 90, batchSize: 1000 });
    await db.query(`insert into payment_logs (event_type, status, created_at) values ('3 years', 'succeeded', now() - interval '1095 days'), ('11 years', 'succeeded', now() - interval '4015 days')`);
    const { rows: calls } = await db.query<{ command: string }>('select command from cron.calls');

    await db.exec(calls[0]!.command);

    const { rows } = await db.query('select event_type from payment_logs');
    expect(rows).toEqual([{ event_type: '3 years' }]);
    const saved = await db.query('select payment_logs_days, batch_size from retention_settings');
    expect(saved.rows).toEqual([{ payment_logs_days: 3650, batch_size: 1000 }]);
  });

  it('is not scheduled where pg_cron is absent, and the migration still applies', async () => {
    const { rows } = await withoutCron.db.query<{ cron: string | null; applied: number }>(
      `select to_regnamespace('cron')::text as cron,
              (select count(*)::int from supabase_migrations.schema_migrations where version = '20261207000300') as applied`,
    );
    expect(rows).toEqual([{ cron: null, applied: 1 }]);
  });
});
