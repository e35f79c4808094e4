// The outbox worker against Make stood in for by msw: what each answer does to a delivery (2xx
// delivered; 408, 429, 5xx, timeouts and resets retried with backoff, honouring Retry-After; other
// 4xx dead at once; dead past the retry horizon), what each attempt records, and a worker that dies
// between claiming and recording: the row is redelivered with the same id once the lease ends, and
// the dead worker's late record cannot overwrite the newer attempt.
import { HttpResponse, delay } from 'msw';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../server/platform/db/db';
import { type AttemptRecord, claimDeliveries, recordAttempt, recordAttempts, syncMakeRoutes } from '../../server/make/deliveries.sql';
import { createMakeOutbox, type MakeOutbox, type MakeOutboxDeps } from '../../server/make/outbox';
import { createLogger } from '../../server/platform/observability/logger';
import { LogCapture } from '../helpers/server';
import { createTestDb, type TestDb } from '../helpers/db';
import { newStory } from '../helpers/webhookStory';
import { attemptsOf, deliveries, MAKE_HOOK, MAKE_TEST_SECRET, type MakeHook, makeDue, schemaErrors, startMakeHook } from './makeHelpers';

let testDb: TestDb;
let db: Db;
let hook: MakeHook;
const logs = new LogCapture();
const outboxes: MakeOutbox[] = [];
const HORIZON_MS = 24 * 3_600_000;

function outbox(overrides: Partial<MakeOutboxDeps> = {}): MakeOutbox {
  const created = createMakeOutbox({
    db,
    config: { signingSecret: MAKE_TEST_SECRET, apiKey: undefined, timeoutMs: 2000, retryHorizonMs: HORIZON_MS },
    logger: createLogger({ level: 'info', destination: logs }),
    // Retries a minute away at least (unless a test says otherwise): the worker's own timer stays out of the test.
    backoff: { baseMs: 60_000, capMs: 3_600_000 },
    random: () => 1,
    ...overrides,
  });
  outboxes.push(created);
  return created;
}

beforeAll(async () => {
  hook = startMakeHook();
  testDb = await createTestDb();
  db = testDb.db;
  await syncMakeRoutes(db, { add_project: `${MAKE_HOOK}/add_project` });
});
afterAll(async () => {
  await Promise.all(outboxes.map((o) => o.stop()));
  await testDb?.close();
  hook?.close();
});
// A worker schedules its own wake for a retry due soon: stopped after each test, so none acts in the next.
afterEach(async () => {
  await Promise.all(outboxes.splice(0).map((o) => o.stop()));
});
beforeEach(async () => {
  hook.reset();
  // Each test sees only its own delivery as due.
  await db.query(`update make_deliveries set status = 'delivered' where status in ('pending', 'delivering')`);
});

/** A paid order: one add_project delivery, pending. */
async function paidOrder(): Promise<string> {
  const story = await newStory(db);
  await db.query(`update orders set status = 'paid' where id = $1`, [story.orderId]);
  const [row] = await deliveries(db, 'order_id = $1', [story.orderId]);
  return row!.id;
}

const row = async (id: string) => (await deliveries(db, 'id = $1', [id]))[0]!;
const secondsUntil = (date: Date) => (date.getTime() - Date.now()) / 1000;

describe('an answer from Make', () => {
  it('2xx: delivered, with the attempt recorded (status, latency, response)', async () => {
    const id = await paidOrder();
    expect(await outbox().drain()).toBe(1);

    expect(await row(id)).toMatchObject({ status: 'delivered', attempts: 1, last_status_code: 200, last_response: 'Accepted', last_error: null });
    const attempts = await attemptsOf(db, id);
    expect(attempts).toEqual([{ attempt: 1, status_code: 200, outcome: 'delivered', error: null, response: 'Accepted', latency_ms: expect.any(Number) }]);
    expect(hook.received.map((r) => [r.deliveryId, r.signatureValid])).toEqual([[id, true]]);
  });

  it('500: retried later with jittered backoff, then delivered with the same delivery id and body', async () => {
    const id = await paidOrder();
    hook.script.push(() => HttpResponse.json({ error: 'scenario is off' }, { status: 500 }));
    const worker = outbox({ backoff: { baseMs: 60_000, capMs: 3_600_000 }, random: () => 0.5 });
    await worker.drain();

    const failed = await row(id);
    expect(failed).toMatchObject({ status: 'pending', attempts: 1, last_status_code: 500, last_error: 'Make answered 500' });
    expect(failed.last_response).toContain('scenario is off');
    // Full jitter: half of base * 2^0 with random() = 0.5.
    expect(secondsUntil(failed.next_attempt_at)).toBeGreaterThan(25);
    expect(secondsUntil(failed.next_attempt_at)).toBeLessThan(31);

    await makeDue(db, id);
    await worker.drain();
    expect(await row(id)).toMatchObject({ status: 'delivered', attempts: 2 });
    expect((await attemptsOf(db, id)).map((a) => [a.attempt, a.status_code, a.outcome])).toEqual([
      [1, 500, 'retry'],
      [2, 200, 'delivered'],
    ]);
    expect(hook.received.map((r) => r.deliveryId)).toEqual([id, id]);
    expect(hook.received[1]!.rawBody).toBe(hook.received[0]!.rawBody);
  });

  it.each([408, 502, 503, 504])('%i: retried', async (status) => {
    const id = await paidOrder();
    hook.script.push(() => new HttpResponse(null, { status }));
    await outbox().drain();
    expect(await row(id)).toMatchObject({ status: 'pending', attempts: 1, last_status_code: status });
  });

  it('429 with Retry-After in seconds: not tried again before then', async () => {
    const id = await paidOrder();
    hook.script.push(() => new HttpResponse('slow down', { status: 429, headers: { 'Retry-After': '120' } }));
    await outbox({ random: () => 0 }).drain();
    const limited = await row(id);
    expect(limited).toMatchObject({ status: 'pending', last_status_code: 429 });
    expect(secondsUntil(limited.next_attempt_at)).toBeGreaterThan(118);
    expect(secondsUntil(limited.next_attempt_at)).toBeLessThan(122);
  });

  it('429 with Retry-After as an HTTP date: not tried again before then', async () => {
    const id = await paidOrder();
    const at = new Date(Date.now() + 300_000);
    hook.script.push(() => new HttpResponse(null, { status: 429, headers: { 'Retry-After': at.toUTCString() } }));
    await outbox({ random: () => 0 }).drain();
    expect(secondsUntil((await row(id)).next_attempt_at)).toBeGreaterThan(295);
  });

  it('429 with a Retry-After of 1 second: the worker comes back by itself and delivers', async () => {
    const id = await paidOrder();
    hook.script.push(() => new HttpResponse(null, { status: 429, headers: { 'Retry-After': '1' } }));
    await outbox({ random: () => 0 }).drain();
    expect((await row(id)).status).toBe('pending');
    await expect.poll(async () => (await row(id)).status, { timeout: 5000, interval: 100 }).toBe('delivered');
    expect(hook.received.map((r) => r.deliveryId)).toEqual([id, id]);
    expect(hook.received[1]!.at - hook.received[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it('a timeout: retried, recorded as one', async () => {
    const id = await paidOrder();
    hook.script.push(async () => {
      await delay(1000);
      return new HttpResponse('too late');
    });
    await outbox({ config: { signingSecret: MAKE_TEST_SECRET, apiKey: undefined, timeoutMs: 200, retryHorizonMs: HORIZON_MS } }).drain();
    expect(await row(id)).toMatchObject({ status: 'pending', attempts: 1, last_status_code: null, last_error: 'timed out after 200 ms' });
    const [attempt] = await attemptsOf(db, id);
    expect(attempt!.latency_ms).toBeGreaterThanOrEqual(190);
    expect(attempt!.latency_ms).toBeLessThan(1000);
  });

  it('a connection reset: retried, then delivered', async () => {
    const id = await paidOrder();
    hook.script.push(() => HttpResponse.error());
    const worker = outbox();
    await worker.drain();
    const reset = await row(id);
    expect(reset).toMatchObject({ status: 'pending', attempts: 1, last_status_code: null });
    expect(reset.last_error).toMatch(/^network error: /);
    await makeDue(db, id);
    await worker.drain();
    expect((await row(id)).status).toBe('delivered');
  });

  it.each([400, 401, 404, 410, 422])('%i: dead at once, never retried', async (status) => {
    const id = await paidOrder();
    hook.script.push(() => new HttpResponse('There is no scenario listening for this webhook.', { status }));
    const worker = outbox();
    await worker.drain();
    expect(await row(id)).toMatchObject({ status: 'dead', attempts: 1, last_status_code: status, last_error: `Make answered ${status}: not retried` });
    await worker.drain();
    expect(hook.received).toHaveLength(1);
  });

  it('a retry that would fall past the retry horizon: dead instead', async () => {
    const id = await paidOrder();
    // Enqueued 23 hours 59 minutes ago: the next try, at least a minute away, is past the 24-hour horizon.
    await db.query(`update make_deliveries set retry_window_from = now() - interval '23 hours 59 minutes' where id = $1`, [id]);
    hook.script.push(() => new HttpResponse(null, { status: 503, headers: { 'Retry-After': '120' } }));
    await outbox().drain();
    expect(await row(id)).toMatchObject({ status: 'dead', attempts: 1, last_status_code: 503 });
    expect((await attemptsOf(db, id)).map((a) => a.outcome)).toEqual(['dead']);
  });

  it('keeps at most 2 KB of a large answer', async () => {
    const id = await paidOrder();
    hook.script.push(() => new HttpResponse('x'.repeat(100_000), { status: 500 }));
    await outbox().drain();
    expect((await row(id)).last_response).toHaveLength(2048);
    expect((await attemptsOf(db, id))[0]!.response).toHaveLength(2048);
  });

  it('never writes the signing secret or the webhook URL into logs or rows', async () => {
    const id = await paidOrder();
    hook.script.push(() => HttpResponse.error());
    await outbox().drain();
    const stored = JSON.stringify({ row: await row(id), attempts: await attemptsOf(db, id) });
    for (const text of [stored, logs.text]) {
      expect(text).not.toContain(MAKE_TEST_SECRET);
      expect(text).not.toContain(MAKE_HOOK);
    }
  });
});

describe('an idle worker', () => {
  it('sets no timer of its own when nothing waits: it sleeps until woken', async () => {
    let queries = 0;
    const counting: Db = { ...db, query: (sql, params) => ((queries += 1), db.query(sql, params)) } as Db;
    const worker = outbox({ db: counting, wakeForRetries: true });
    await worker.drain();
    const afterDrain = queries;
    await delay(300);
    expect(queries).toBe(afterDrain);
  });

  it('comes back by itself for a retry due within seconds', async () => {
    const id = await paidOrder();
    hook.script.push(() => new HttpResponse(null, { status: 503 }));
    await outbox({ backoff: { baseMs: 400, capMs: 400 }, random: () => 1 }).drain();
    expect((await row(id)).status).toBe('pending');
    await expect.poll(async () => (await row(id)).status, { timeout: 3000, interval: 50 }).toBe('delivered');
  });
});

describe('a kind no longer routed', () => {
  it('is dead with a reason rather than posted anywhere', async () => {
    const id = await paidOrder();
    await syncMakeRoutes(db, {});
    try {
      await outbox().drain();
    } finally {
      await syncMakeRoutes(db, { add_project: `${MAKE_HOOK}/add_project` });
    }
    expect(await row(id)).toMatchObject({ status: 'dead', last_error: 'no Make webhook URL is configured for add_project any more' });
    expect(hook.received).toEqual([]);
  });
});

describe('a worker that dies between claiming and recording', () => {
  it('leaves the row to another worker once the lease ends: redelivered with the same delivery id', async () => {
    const id = await paidOrder();
    // The dying worker: claims (committed), never posts nor records.
    const [claimed] = await claimDeliveries(db, 10, 300);
    expect(claimed).toMatchObject({ id, attempt: 1 });
    // While the lease holds, no one else takes the row; the other worker comes back when it ends.
    const other = outbox();
    expect(await other.drain()).toBe(0);
    expect((await row(id)).status).toBe('delivering');

    await expect.poll(async () => (await row(id)).status, { timeout: 5000, interval: 50 }).toBe('delivered');
    expect(await row(id)).toMatchObject({ status: 'delivered', attempts: 2 });
    expect(hook.received.map((r) => r.deliveryId)).toEqual([id]);
    expect(hook.received[0]!.body.delivery_id).toBe(id);
  });

  it('cannot overwrite the newer attempt when it records late: its attempt is kept as lease_lost', async () => {
    const id = await paidOrder();
    const [stale] = await claimDeliveries(db, 10, 100);
    await delay(150);
    await outbox().drain(); // attempt 2 delivers
    const late = await recordAttempt(db, {
      id,
      attempt: stale!.attempt,
      outcome: 'retry',
      retry_in_ms: 1000,
      horizon_ms: HORIZON_MS,
      started_at: new Date().toISOString(),
      latency_ms: 5000,
      status_code: 500,
      error: 'Make answered 500',
    });
    expect(late).toBe('lease_lost');
    expect(await row(id)).toMatchObject({ status: 'delivered', attempts: 2, last_status_code: 200 });
    expect((await attemptsOf(db, id)).map((a) => [a.attempt, a.outcome])).toEqual([
      [1, 'lease_lost'],
      [2, 'delivered'],
    ]);
  });

  it('cannot overwrite a newer claim still in flight either', async () => {
    const id = await paidOrder();
    const [first] = await claimDeliveries(db, 10, 50);
    await delay(80);
    const [second] = await claimDeliveries(db, 10, 60_000);
    expect(second).toMatchObject({ id, attempt: 2 });
    const base = { id, horizon_ms: HORIZON_MS, started_at: new Date().toISOString(), latency_ms: 1 };
    expect(await recordAttempt(db, { ...base, attempt: first!.attempt, outcome: 'delivered', status_code: 200 })).toBe('lease_lost');
    expect((await row(id)).status).toBe('delivering');
    expect(await recordAttempt(db, { ...base, attempt: second!.attempt, outcome: 'delivered', status_code: 200 })).toBe('delivered');
  });
});

describe('attempts recorded together (one statement for the POSTs that finish together)', () => {
  it('each gets its own outcome and attempt row, as if recorded alone: delivered, retry, dead, lease lost', async () => {
    const ids = [await paidOrder(), await paidOrder(), await paidOrder(), await paidOrder()];
    const [stale] = await claimDeliveries(db, 1, 50); // the oldest: its lease ends, and it is claimed again below
    await delay(80);
    const claimed = await claimDeliveries(db, 10, 60_000);
    const attemptOf = (id: string) => claimed.find((c) => c.id === id)!.attempt;
    expect(claimed.map((c) => c.id).sort()).toEqual([...ids].sort());
    const base = { horizon_ms: HORIZON_MS, started_at: new Date().toISOString(), latency_ms: 3 };
    const outcomes = await recordAttempts(db, [
      { ...base, id: ids[1]!, attempt: attemptOf(ids[1]!), outcome: 'delivered', status_code: 200, response: 'Accepted' },
      { ...base, id: ids[2]!, attempt: attemptOf(ids[2]!), outcome: 'retry', retry_in_ms: 60_000, status_code: 503, error: 'Make answered 503' },
      { ...base, id: ids[3]!, attempt: attemptOf(ids[3]!), outcome: 'dead', status_code: 410, error: 'Make answered 410: not retried' },
      { ...base, id: stale!.id, attempt: stale!.attempt, outcome: 'delivered', status_code: 200 },
    ]);
    expect(outcomes).toEqual(
      new Map([
        [`${ids[1]}:1`, 'delivered'],
        [`${ids[2]}:1`, 'retry'],
        [`${ids[3]}:1`, 'dead'],
        [`${stale!.id}:1`, 'lease_lost'],
      ]),
    );
    expect(await row(ids[1]!)).toMatchObject({ status: 'delivered', last_status_code: 200 });
    expect(await row(ids[2]!)).toMatchObject({ status: 'pending', last_status_code: 503 });
    expect(secondsUntil((await row(ids[2]!)).next_attempt_at)).toBeGreaterThan(50);
    expect(await row(ids[3]!)).toMatchObject({ status: 'dead', last_status_code: 410 });
    expect(await row(stale!.id)).toMatchObject({ status: 'delivering', attempts: 2 }); // the newer claim still holds it
    expect((await attemptsOf(db, stale!.id)).map((a) => [a.attempt, a.outcome])).toEqual([[1, 'lease_lost']]);
  });

  it('writes every field as recording each alone does: delivered, retry, a retry past the horizon, dead, lease lost', async () => {
    // The same five attempts twice: one set recorded alone (make_delivery_record), one together
    // (make_delivery_records, 20261207003800). Rows and attempt rows must come out the same.
    type Case = 'delivered' | 'retry' | 'past_horizon' | 'dead' | 'lease_lost';
    const CASES: Case[] = ['delivered', 'retry', 'past_horizon', 'dead', 'lease_lost'];
    const setUp = async () => {
      const ids = Object.fromEntries(await Promise.all(CASES.map(async (c) => [c, await paidOrder()] as const))) as Record<Case, string>;
      await db.query(`update make_deliveries set retry_window_from = now() - interval '23 hours 59 minutes' where id = $1`, [ids.past_horizon]);
      // lease_lost: its first claim's lease ends and a second claim takes it; the first records late.
      const others = Object.values(ids).filter((id) => id !== ids.lease_lost);
      await db.query(`update make_deliveries set next_attempt_at = now() + interval '1 hour' where id = any($1::uuid[])`, [others]);
      const [stale] = await claimDeliveries(db, 10, 50);
      expect(stale).toMatchObject({ id: ids.lease_lost, attempt: 1 });
      await db.query(`update make_deliveries set next_attempt_at = now() where id = any($1::uuid[])`, [others]);
      await delay(80);
      const claimed = await claimDeliveries(db, 10, 60_000);
      expect(claimed.map((c) => c.id).sort()).toEqual(Object.values(ids).sort());
      const base = { horizon_ms: HORIZON_MS, started_at: new Date().toISOString(), latency_ms: 7 };
      const records: AttemptRecord[] = [
        { ...base, id: ids.delivered, attempt: 1, outcome: 'delivered', status_code: 200, response: 'Accepted' },
        { ...base, id: ids.retry, attempt: 1, outcome: 'retry', retry_in_ms: 60_000, status_code: 503, error: 'Make answered 503', response: 'busy' },
        { ...base, id: ids.past_horizon, attempt: 1, outcome: 'retry', retry_in_ms: 120_000, status_code: 500, error: 'Make answered 500' },
        { ...base, id: ids.dead, attempt: 1, outcome: 'dead', status_code: 410, error: 'Make answered 410: not retried', response: 'x'.repeat(3000) },
        { ...base, id: ids.lease_lost, attempt: 1, outcome: 'delivered', status_code: 200 },
      ];
      return { ids, records };
    };
    const what = async (id: string) => {
      const r = await row(id);
      return {
        status: r.status,
        attempts: r.attempts,
        last_status_code: r.last_status_code,
        last_error: r.last_error,
        last_response: r.last_response,
        delivered: r.delivered_at !== null,
        dead: r.dead_at !== null,
        dueInMinutes: Math.round(secondsUntil(r.next_attempt_at) / 60),
        attemptRows: await attemptsOf(db, id),
      };
    };

    const alone = await setUp();
    const aloneOutcomes = [];
    for (const record of alone.records) aloneOutcomes.push(await recordAttempt(db, record));
    const together = await setUp();
    const togetherOutcomes = await recordAttempts(db, together.records);

    expect(aloneOutcomes).toEqual(['delivered', 'retry', 'dead', 'dead', 'lease_lost']);
    expect(together.records.map((r) => togetherOutcomes.get(`${r.id}:${r.attempt}`))).toEqual(aloneOutcomes);
    for (const c of CASES) expect({ case: c, ...(await what(together.ids[c])) }).toEqual({ case: c, ...(await what(alone.ids[c])) });
    // And what that is, so that both cannot drift together unnoticed.
    expect(await what(together.ids.retry)).toMatchObject({ status: 'pending', last_status_code: 503, last_error: 'Make answered 503', dueInMinutes: 1, delivered: false, dead: false });
    expect(await what(together.ids.dead)).toMatchObject({ status: 'dead', dead: true, attemptRows: [expect.objectContaining({ outcome: 'dead', latency_ms: 7, response: 'x'.repeat(2048) })] });
    expect((await row(together.ids.dead)).last_response).toHaveLength(2048);
    expect(await what(together.ids.lease_lost)).toMatchObject({ status: 'delivering', attempts: 2, attemptRows: [expect.objectContaining({ attempt: 1, outcome: 'lease_lost' })] });
  });

  it('a set naming a delivery that is gone records nothing and says which', async () => {
    const ids = [await paidOrder(), await paidOrder()];
    await claimDeliveries(db, 10, 60_000);
    const gone = '00000000-0000-4000-8000-000000000001';
    const base = { attempt: 1, outcome: 'delivered' as const, horizon_ms: HORIZON_MS, started_at: new Date().toISOString(), latency_ms: 1, status_code: 200 };
    await expect(recordAttempts(db, [...ids.map((id) => ({ ...base, id })), { ...base, id: gone }])).rejects.toThrow(`make delivery ${gone} does not exist`);
    for (const id of ids) {
      expect(await row(id)).toMatchObject({ status: 'delivering', attempts: 1 });
      expect(await attemptsOf(db, id)).toEqual([]);
    }
  });

  it('one the database refuses fails the statement, and the outbox then records each alone: the others are recorded', async () => {
    const ids = [await paidOrder(), await paidOrder(), await paidOrder()];
    // The first delivery vanishes while its POST is in flight (make_delivery_records refuses an unknown
    // id); Make answers each after the same wait, so that the three POSTs finish together.
    let vanished: string | undefined;
    for (let i = 0; i < ids.length; i++) {
      hook.script.push(async (request) => {
        if (!vanished) {
          vanished = request.headers.get('x-delivery-id')!;
          await db.query('delete from make_deliveries where id = $1', [vanished]);
        }
        await delay(150);
        return new HttpResponse('Accepted', { status: 200 });
      });
    }
    await outbox().drain().catch(() => undefined); // the vanished one's record fails the drain
    for (const id of ids.filter((id) => id !== vanished)) expect(await row(id)).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(vanished).toBeDefined();
  });
});

describe('the JSON Schema', () => {
  it('refuses a payload that breaks it (an unknown field, a wrong version, a float amount)', async () => {
    const id = await paidOrder();
    const { payload } = await row(id);
    expect(schemaErrors(payload)).toEqual([]);
    expect(schemaErrors({ ...payload, extra: 1 })).not.toEqual([]);
    expect(schemaErrors({ ...payload, version: 2 })).not.toEqual([]);
    expect(schemaErrors({ ...payload, data: { ...payload.data, amount: 99.5 } })).not.toEqual([]);
    expect(schemaErrors({ ...payload, data: { ...payload.data, surprise: true } })).not.toEqual([]);
  });
});
