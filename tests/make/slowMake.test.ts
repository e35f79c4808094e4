// A slow Make (issue 14, defect 7). The worker keeps a bounded number of POSTs in flight and fills a
// slot as soon as it frees, so one slow answer holds up nobody else; while a POST waits, its lease
// is extended, so no worker claims and posts the delivery a second time; a lease lost to another
// claim is not extended. Make is a local HTTP server on loopback whose answers each test holds back
// and releases, so every assertion waits on a condition (what Make received, what the rows say),
// never on the clock.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../server/platform/db/db';
import { claimDeliveries, extendLeases, syncMakeRoutes } from '../../server/make/deliveries.sql';
import { createMakeOutbox, type MakeOutbox, type MakeOutboxDeps } from '../../server/make/outbox';
import { createLogger } from '../../server/platform/observability/logger';
import { createTestDb, TEST_ENGINE, type TestDb } from '../helpers/db';
import { attemptsOf, deliveries, MAKE_TEST_SECRET } from './makeHelpers';

let testDb: TestDb;
let db: Db;
let sink: Server;
const outboxes: MakeOutbox[] = [];

/** The stand-in for Make: what it received and answered, and the answers it holds back. */
const make = {
  /** Delivery ids in the order their POSTs arrived. */
  received: [] as string[],
  /** Delivery ids in the order they were answered 200. */
  answered: [] as string[],
  inFlight: 0,
  maxInFlight: 0,
  /** Which POSTs wait for release() (or for the worker to give up). */
  hold: (_id: string): boolean => false,
  waiting: new Map<string, () => void>(),
  release(id: string) {
    make.waiting.get(id)?.();
  },
  releaseAll() {
    make.hold = () => false;
    for (const answer of [...make.waiting.values()]) answer();
  },
  reset() {
    make.releaseAll();
    make.received.length = 0;
    make.answered.length = 0;
    make.maxInFlight = 0;
  },
};

const postsOf = (id: string) => make.received.filter((received) => received === id).length;

beforeAll(async () => {
  testDb = await createTestDb();
  db = testDb.db;
  sink = createServer((request, response) => {
    const id = String(request.headers['x-delivery-id']);
    request.resume();
    request.on('end', () => {
      make.received.push(id);
      make.inFlight += 1;
      make.maxInFlight = Math.max(make.maxInFlight, make.inFlight);
      let done = false;
      const finish = () => {
        done = true;
        make.inFlight -= 1;
        make.waiting.delete(id);
      };
      const answer = () => {
        if (done) return;
        finish();
        make.answered.push(id);
        response.writeHead(200).end('Accepted');
      };
      // The worker gave up (its timeout, or shutdown's deadline): the POST is no longer in flight.
      response.on('close', () => !done && finish());
      if (make.hold(id)) make.waiting.set(id, answer);
      else setImmediate(answer);
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  await syncMakeRoutes(db, { add_project: `http://127.0.0.1:${(sink.address() as AddressInfo).port}/add_project` });
});
afterAll(async () => {
  make.releaseAll();
  await Promise.all(outboxes.map((outbox) => outbox.stop()));
  sink?.closeAllConnections();
  await new Promise((resolve) => sink?.close(resolve));
  await testDb?.close();
});
beforeEach(async () => {
  // Each test sees only its own deliveries as due.
  await db.query(`update make_deliveries set status = 'delivered' where status in ('pending', 'delivering')`);
});
afterEach(async () => {
  make.reset();
  await Promise.all(outboxes.splice(0).map((outbox) => outbox.stop()));
});

function outbox(overrides: Partial<MakeOutboxDeps> = {}): MakeOutbox {
  const created = createMakeOutbox({
    db,
    config: { signingSecret: MAKE_TEST_SECRET, apiKey: undefined, timeoutMs: 60_000, retryHorizonMs: 86_400_000 },
    logger: createLogger({ level: 'silent' }),
    // A failed attempt is retried an hour later at the soonest: no retry happens inside a test.
    backoff: { baseMs: 3_600_000, capMs: 3_600_000 },
    random: () => 1,
    wakeForRetries: false,
    ...overrides,
  });
  outboxes.push(created);
  return created;
}

/** `count` paid orders in one statement; returns the ids of the add_project deliveries they enqueued. */
async function enqueue(count: number): Promise<string[]> {
  const before = new Set((await deliveries(db, `status = 'pending'`)).map((row) => row.id));
  await db.query(
    `with c as (
       insert into customers (email, name)
       select 'slow-make-' || gen_random_uuid() || '@customers.test', 'Slow Make test' from generate_series(1, $1)
       returning id
     )
     insert into orders (customer_id, product_id, price_id, amount, currency)
     select id, 'business_plan_builder', 'business_plan_builder_usd', 9900, 'usd' from c`,
    [count],
  );
  await db.query(`update orders set status = 'paid' where status = 'pending'`);
  return (await deliveries(db, `status = 'pending'`)).map((row) => row.id).filter((id) => !before.has(id));
}

async function statusOf(id: string) {
  const { rows } = await db.query<{ status: string; attempts: number; lease_ended: boolean; last_error: string | null }>(
    'select status, attempts, next_attempt_at <= now() as lease_ended, last_error from make_deliveries where id = $1',
    [id],
  );
  return rows[0]!;
}

const poll = { timeout: 15_000, interval: 20 };

describe(`a slow Make (${TEST_ENGINE})`, () => {
  it('does not hold up the fast deliveries: they are all answered while the slow one still waits', async () => {
    const slow = (await enqueue(1))[0]!; // enqueued first, so it is claimed in the first batch
    const fast = await enqueue(24);
    make.hold = (id) => id === slow;
    const worker = outbox({ concurrency: 4 });

    const drained = worker.drain();
    await expect.poll(() => make.answered.length, poll).toBe(24);
    expect(make.received).toContain(slow);
    expect(new Set(make.answered)).toEqual(new Set(fast));
    expect(make.waiting.has(slow)).toBe(true);
    expect(await statusOf(slow)).toMatchObject({ status: 'delivering', attempts: 1 });
    await expect.poll(async () => (await deliveries(db, `status = 'delivered' and id = any($1::uuid[])`, [fast])).length, poll).toBe(24);

    make.release(slow);
    expect(await drained).toBe(25);
    expect(await statusOf(slow)).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(make.received.length).toBe(25);
    expect(new Set(make.received).size).toBe(25);
  });

  it('keeps at most its concurrency in flight, and claims again as soon as one slot frees', async () => {
    const ids = await enqueue(12);
    make.hold = () => true;
    const worker = outbox({ concurrency: 3 });

    const drained = worker.drain();
    await expect.poll(() => make.inFlight, poll).toBe(3);
    // Every slot is taken: nothing more is claimed while all three wait.
    expect((await deliveries(db, `status = 'delivering'`)).length).toBe(3);

    // One answer frees one slot, filled at once while the other two still wait.
    const first = make.received[0]!;
    make.release(first);
    await expect.poll(() => make.received.length, poll).toBe(4);
    await expect.poll(() => make.inFlight, poll).toBe(3);
    expect(make.answered).toEqual([first]);
    expect((await deliveries(db, `status = 'delivering'`)).length).toBe(3);

    make.releaseAll();
    expect(await drained).toBe(12);
    expect(make.maxInFlight).toBe(3);
    expect([...make.received].sort()).toEqual([...ids].sort());
    expect((await deliveries(db, `status = 'delivered' and id = any($1::uuid[])`, [ids])).length).toBe(12);
  });

  it('posts a delivery slower than its lease once: the lease is extended while the POST waits', async () => {
    const slow = (await enqueue(1))[0]!;
    make.hold = () => true;
    const worker = outbox({ leaseMs: 400 });
    const other = outbox({ leaseMs: 400 });

    const drained = worker.drain();
    await expect.poll(() => make.received.length, poll).toBe(1);
    const { rows } = await db.query<{ lease_end: Date }>('select next_attempt_at as lease_end from make_deliveries where id = $1', [slow]);
    const firstLeaseEnd = rows[0]!.lease_end;
    // The first lease has ended by the database's clock, and the row is still leased: it was extended.
    await expect
      .poll(async () => {
        const { rows: now } = await db.query<{ passed: boolean; held: boolean }>(
          `select now() > $2::timestamptz as passed, status = 'delivering' and attempts = 1 and next_attempt_at > now() as held
             from make_deliveries where id = $1`,
          [slow, firstLeaseEnd],
        );
        return now[0];
      }, poll)
      .toEqual({ passed: true, held: true });

    // Another worker finds nothing to claim: the slow delivery is not posted again.
    expect(await other.drain()).toBe(0);

    make.releaseAll();
    expect(await drained).toBe(1);
    expect(postsOf(slow)).toBe(1);
    expect(await statusOf(slow)).toMatchObject({ status: 'delivered', attempts: 1 });
    expect((await attemptsOf(db, slow)).map((attempt) => [attempt.attempt, attempt.outcome])).toEqual([[1, 'delivered']]);
  });

  it('gives up on a Make slower than the timeout once per attempt, recorded as a retry, while the others are delivered', async () => {
    const hung = (await enqueue(1))[0]!;
    const fast = await enqueue(6);
    make.hold = (id) => id === hung; // never answered: only the worker's timeout ends it
    const worker = outbox({ concurrency: 2, config: { signingSecret: MAKE_TEST_SECRET, apiKey: undefined, timeoutMs: 300, retryHorizonMs: 86_400_000 } });

    expect(await worker.drain()).toBe(7);
    expect(new Set(make.answered)).toEqual(new Set(fast));
    expect(postsOf(hung)).toBe(1);
    expect(await statusOf(hung)).toMatchObject({ status: 'pending', attempts: 1, last_error: 'timed out after 300 ms' });
    expect((await attemptsOf(db, hung)).map((attempt) => [attempt.attempt, attempt.outcome, attempt.error])).toEqual([[1, 'retry', 'timed out after 300 ms']]);
  });
});

describe(`the lease extension in SQL (${TEST_ENGINE})`, () => {
  it('extends only the attempt that still holds the row: a lease lost to a newer claim is not extended', async () => {
    const id = (await enqueue(1))[0]!;
    // A claim whose lease ends at once, then a second claim takes the row (attempt 2).
    const [first] = await claimDeliveries(db, 1, 0);
    expect(first).toMatchObject({ id, attempt: 1 });
    // An ended lease nobody has claimed since is still the first claim's: it is extended.
    expect(await extendLeases(db, [{ id: id, attempt: 1 }], 0)).toEqual(new Set([`${id}:1`]));
    const [second] = await claimDeliveries(db, 1, 60_000);
    expect(second).toMatchObject({ id, attempt: 2 });
    const before = (await deliveries(db, 'id = $1', [id])).map((row) => row.next_attempt_at.getTime());

    expect(await extendLeases(db, [{ id: id, attempt: 1 }], 3_600_000)).toEqual(new Set());
    expect((await deliveries(db, 'id = $1', [id])).map((row) => row.next_attempt_at.getTime())).toEqual(before);

    expect(await extendLeases(db, [{ id: id, attempt: 2 }], 3_600_000)).toEqual(new Set([`${id}:2`]));
    const { rows } = await db.query<{ extended: boolean }>(
      `select next_attempt_at > now() + interval '50 minutes' as extended from make_deliveries where id = $1`,
      [id],
    );
    expect(rows[0]!.extended).toBe(true);
  });
});

describe(`stop (${TEST_ENGINE})`, () => {
  it('waits for the POST in flight to be answered and recorded', async () => {
    const id = (await enqueue(1))[0]!;
    make.hold = () => true;
    const worker = outbox();
    void worker.drain();
    await expect.poll(() => make.received.length, poll).toBe(1);

    let stopped = false;
    const stopping = worker.stop().then(() => (stopped = true));
    expect(await statusOf(id)).toMatchObject({ status: 'delivering' });
    expect(stopped).toBe(false);

    make.releaseAll();
    await stopping;
    expect(await statusOf(id)).toMatchObject({ status: 'delivered', attempts: 1 });
  });

  it('at its deadline abandons the POST still waiting, recorded as a retry for the next process', async () => {
    const id = (await enqueue(1))[0]!;
    make.hold = () => true; // never answered
    const worker = outbox();
    void worker.drain();
    await expect.poll(() => make.received.length, poll).toBe(1);

    await worker.stop({ deadlineMs: 0 });
    expect(await statusOf(id)).toMatchObject({ status: 'pending', attempts: 1, last_error: 'abandoned at shutdown: the answer was not awaited' });
    // Stopped: a wake or drain claims nothing more.
    worker.wake();
    expect(await worker.drain()).toBe(0);
    expect(postsOf(id)).toBe(1);
  });
});
