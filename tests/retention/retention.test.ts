// Retention: rows past their limit go, younger ones stay, in batches of RETENTION_BATCH_SIZE, with the
// cut-off taken from a clock the test moves (the sandbox clock); webhook payloads are dropped with the
// row kept, and only delivered Make deliveries lose their attempts. On PGlite and PostgreSQL.
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Db, SqlParam } from '../../server/platform/db/db';
import { createLogger } from '../../server/platform/observability/logger';
import { RetentionError, type RetentionLimits, retentionJob, runRetention } from '../../server/retention/retention';
import { SandboxClock } from '../../stripe-sandbox/clock';
import { createTestDb, TEST_ENGINE, type TestDb } from '../helpers/db';
import { faultyDb } from '../../server/platform/db/faultyDb';

const DAY_S = 86_400;
const LIMITS: RetentionLimits = { paymentLogsDays: 730, idempotencyKeysDays: 7, webhookPayloadDays: 90, makeAttemptsDays: 90, batchSize: 3 };

let testDb: TestDb;
let db: Db;
let clock: SandboxClock;
const logLines: Array<Record<string, any>> = [];
const logger = createLogger({
  level: 'info',
  destination: new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logLines.push(JSON.parse(line));
      done();
    },
  }),
});

/** The sandbox clock as a Date: what the retention job is given instead of the real time. */
const clockNow = () => new Date(clock.now() * 1000);
/** A time `days` before the clock's now, as the database stores it. */
const daysAgo = (days: number) => new Date((clock.now() - days * DAY_S) * 1000).toISOString();

beforeAll(async () => {
  testDb = await createTestDb();
  db = testDb.db;
});

afterAll(async () => {
  await testDb?.close();
});

beforeEach(async () => {
  clock = new SandboxClock();
  clock.freeze();
  logLines.length = 0;
  await db.exec(`delete from make_delivery_attempts; delete from make_deliveries; delete from payment_logs;
                 delete from idempotency_keys; delete from stripe_events;`);
});

async function insertLogs(count: number, createdAt: string): Promise<void> {
  await db.query(
    `insert into payment_logs (event_type, status, created_at) select 'payment_intent.succeeded', 'succeeded', $2::timestamptz from generate_series(1, $1::int)`,
    [count, createdAt],
  );
}

async function count(sql: string, params: SqlParam[] = []): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from (${sql}) as t`, params);
  return rows[0]!.n;
}

async function insertKey(key: string, createdAt: string): Promise<void> {
  await db.query(
    `insert into idempotency_keys (scope, key, operation, request_hash, created_at) values ('api_key:test', $1, 'start_payment', $2, $3)`,
    [key, 'a'.repeat(64), createdAt],
  );
}

async function insertEvent(id: string, status: 'received' | 'applied' | 'ignored' | 'failed', receivedAt: string): Promise<void> {
  const payload = { id, object: 'event', type: 'payment_intent.succeeded', data: { object: { id: 'pi_1', receipt_email: 'customer@example.com' } } };
  await db.query(
    `insert into stripe_events (id, type, object_type, object_id, created, livemode, payload, status, received_at, facts)
     values ($1, 'payment_intent.succeeded', 'payment_intent', 'pi_1', $3, false, $2, $4, $3, '{"effect": "ignore"}')`,
    [id, JSON.stringify(payload), receivedAt, status],
  );
}

/** A Make delivery in `status`, delivered at `deliveredAt` (if delivered), with `attempts` attempts finished at `finishedAt`. */
async function insertDelivery(
  status: 'pending' | 'delivering' | 'delivered' | 'dead',
  attempts: number,
  finishedAt: string,
  deliveredAt: string | null = status === 'delivered' ? finishedAt : null,
): Promise<string> {
  const id = randomUUID();
  await db.query(
    `insert into make_deliveries (id, kind, dedupe_key, payload, status, attempts, delivered_at, dead_at, created_at)
     values ($1::uuid, 'add_project', $1::text, '{}', $2::text, $3, $4, case when $2::text = 'dead' then $5::timestamptz end, $5)`,
    [id, status, attempts, deliveredAt, finishedAt],
  );
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    await db.query(
      `insert into make_delivery_attempts (delivery_id, attempt, started_at, finished_at, status_code, latency_ms, outcome)
       values ($1, $2, $3, $3, 200, 5, $4)`,
      [id, attempt, finishedAt, attempt === attempts && status === 'delivered' ? 'delivered' : 'retry'],
    );
  }
  return id;
}

/** The real database, with every call of a retention function counted (one call is one batch). */
function countingBatches(real: Db) {
  const calls: Array<{ fn: string; limit: unknown }> = [];
  const spy: Db = {
    engine: real.engine,
    query: (sql, params) => {
      const fn = /select (retention_\w+)\(/.exec(sql)?.[1];
      if (fn) calls.push({ fn, limit: params?.[1] });
      return real.query(sql, params);
    },
    exec: (sql) => real.exec(sql),
    transaction: (fn) => real.transaction(fn),
    close: () => real.close(),
  };
  return { db: spy, calls };
}

describe(`retention on ${TEST_ENGINE}`, () => {
  it('deletes payment logs older than 730 days by the given clock, in batches, and keeps younger ones', async () => {
    await insertLogs(8, daysAgo(731));
    await insertLogs(2, daysAgo(729));
    const counting = countingBatches(db);

    const report = await runRetention({ db: counting.db, settings: LIMITS, logger, now: clockNow });

    expect(report.removed.payment_logs).toBe(8);
    expect(await count('select 1 from payment_logs')).toBe(2);
    // 8 rows in batches of 3: three calls, each its own statement (and so its own transaction).
    expect(counting.calls.filter((c) => c.fn === 'retention_delete_payment_logs')).toEqual([
      { fn: 'retention_delete_payment_logs', limit: 3 },
      { fn: 'retention_delete_payment_logs', limit: 3 },
      { fn: 'retention_delete_payment_logs', limit: 3 },
    ]);

    // Two days later by the clock, the younger rows have passed the limit too.
    clock.advance(2 * DAY_S);
    const later = await runRetention({ db, settings: LIMITS, logger, now: clockNow });
    expect(later.removed.payment_logs).toBe(2);
    expect(await count('select 1 from payment_logs')).toBe(0);
  });

  it('deletes idempotency keys older than 7 days and keeps younger ones', async () => {
    for (const key of ['old-1', 'old-2', 'old-3', 'old-4']) await insertKey(key, daysAgo(8));
    await insertKey('young', daysAgo(6));

    const report = await runRetention({ db, settings: LIMITS, logger, now: clockNow });

    expect(report.removed.idempotency_keys).toBe(4);
    const { rows } = await db.query<{ key: string }>('select key from idempotency_keys');
    expect(rows).toEqual([{ key: 'young' }]);
  });

  it('drops the payload of applied, ignored and failed events older than 90 days, keeping the row; a received one keeps it', async () => {
    await insertEvent('evt_old_applied_1', 'applied', daysAgo(91));
    await insertEvent('evt_old_applied_2', 'applied', daysAgo(91));
    await insertEvent('evt_old_applied_3', 'applied', daysAgo(91));
    await insertEvent('evt_old_ignored', 'ignored', daysAgo(100));
    await insertEvent('evt_old_failed', 'failed', daysAgo(120));
    await insertEvent('evt_old_received', 'received', daysAgo(120));
    await insertEvent('evt_young_applied', 'applied', daysAgo(89));

    const report = await runRetention({ db, settings: LIMITS, logger, now: clockNow });

    expect(report.removed.webhook_payloads).toBe(5);
    const { rows } = await db.query<{ id: string; status: string; has_payload: boolean; has_facts: boolean; type: string }>(
      'select id, status, type, payload is not null as has_payload, facts is not null as has_facts from stripe_events order by id',
    );
    expect(rows).toEqual([
      { id: 'evt_old_applied_1', status: 'applied', type: 'payment_intent.succeeded', has_payload: false, has_facts: false },
      { id: 'evt_old_applied_2', status: 'applied', type: 'payment_intent.succeeded', has_payload: false, has_facts: false },
      { id: 'evt_old_applied_3', status: 'applied', type: 'payment_intent.succeeded', has_payload: false, has_facts: false },
      { id: 'evt_old_failed', status: 'failed', type: 'payment_intent.succeeded', has_payload: false, has_facts: false },
      { id: 'evt_old_ignored', status: 'ignored', type: 'payment_intent.succeeded', has_payload: false, has_facts: false },
      { id: 'evt_old_received', status: 'received', type: 'payment_intent.succeeded', has_payload: true, has_facts: true },
      { id: 'evt_young_applied', status: 'applied', type: 'payment_intent.succeeded', has_payload: true, has_facts: true },
    ]);
  });

  it("deletes only the attempts of deliveries delivered more than 90 days ago; pending, delivering and dead ones keep theirs", async () => {
    const oldDelivered = [await insertDelivery('delivered', 2, daysAgo(91)), await insertDelivery('delivered', 3, daysAgo(95))];
    const youngDelivered = await insertDelivery('delivered', 1, daysAgo(89));
    // Replayed lately: its old attempts are part of a history that is not 90 days done yet.
    const replayedLately = await insertDelivery('delivered', 2, daysAgo(120), daysAgo(10));
    const pending = await insertDelivery('pending', 2, daysAgo(120));
    const delivering = await insertDelivery('delivering', 1, daysAgo(120));
    const dead = await insertDelivery('dead', 4, daysAgo(120));

    const report = await runRetention({ db, settings: LIMITS, logger, now: clockNow });

    expect(report.removed.make_attempts).toBe(5);
    const attempts = async (id: string) => count('select 1 from make_delivery_attempts where delivery_id = $1', [id]);
    expect(await Promise.all(oldDelivered.map(attempts))).toEqual([0, 0]);
    expect(await attempts(youngDelivered)).toBe(1);
    expect(await attempts(replayedLately)).toBe(2);
    expect(await attempts(pending)).toBe(2);
    expect(await attempts(delivering)).toBe(1);
    expect(await attempts(dead)).toBe(4);
    // The delivery rows themselves stay: their dedupe keys keep a late repeat from provisioning twice.
    expect(await count('select 1 from make_deliveries')).toBe(7);
  });

  it('logs what it removed and the cut-offs it used', async () => {
    await insertLogs(1, daysAgo(800));
    await insertKey('old', daysAgo(30));

    await runRetention({ db, settings: LIMITS, logger, now: clockNow });

    const line = logLines.find((l) => l.msg === 'retention run done');
    expect(line?.removed).toEqual({ payment_logs: 1, idempotency_keys: 1, webhook_payloads: 0, make_attempts: 0 });
    expect(line?.cutoffs.payment_logs).toBe(daysAgo(730));
    expect(line?.cutoffs.idempotency_keys).toBe(daysAgo(7));
  });

  it('splits the work between runs at the same time (several processes) without an error or a row left', async () => {
    await insertLogs(60, daysAgo(800));
    const settings = { ...LIMITS, batchSize: 5 };

    const reports = await Promise.all([1, 2, 3].map(() => runRetention({ db, settings, logger, now: clockNow })));

    expect(reports.reduce((sum, r) => sum + r.removed.payment_logs, 0)).toBe(60);
    expect(await count('select 1 from payment_logs')).toBe(0);
  });

  it('runs the other tables when one fails, then reports the failure', async () => {
    await insertLogs(2, daysAgo(800));
    await insertKey('old', daysAgo(30));
    const faulty = faultyDb(db);
    faulty.failNext(/retention_delete_payment_logs/);

    const run = runRetention({ db: faulty.db, settings: LIMITS, logger, now: clockNow });

    const error = await run.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetentionError);
    expect(Object.keys((error as RetentionError).report.failed)).toEqual(['payment_logs']);
    expect((error as RetentionError).report.removed.idempotency_keys).toBe(1);
    expect(await count('select 1 from payment_logs')).toBe(2);
    expect(await count('select 1 from idempotency_keys')).toBe(0);
  });

  it('stops between batches when the server shuts down, leaving the rest for the next run', async () => {
    await insertLogs(4, daysAgo(800));
    const abort = new AbortController();
    abort.abort();

    const report = await runRetention({ db, settings: LIMITS, logger, now: clockNow }, abort.signal);

    expect(report.interrupted).toBe(true);
    expect(await count('select 1 from payment_logs')).toBe(4);
  });

  it('is no job at all when RETENTION_SCHEDULE=off, and a named job on its schedule otherwise', () => {
    expect(retentionJob({ db, logger, settings: { ...LIMITS, schedule: undefined } })).toBeUndefined();
    expect(retentionJob({ db, logger, settings: { ...LIMITS, schedule: '17 3 * * *' } })).toMatchObject({ name: 'retention', schedule: '17 3 * * *' });
  });
});
