// Several workers at once against one database: each row is posted once, however the workers race
// for it. On PostgreSQL (npm run test:pg) the workers have their own connection pools, so their
// claims really run concurrently; on PGlite they share its one connection. And the wake-up: a commit
// that enqueues a delivery notifies whoever LISTENs on the outbox's channel.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../server/platform/db/db';
import { openPostgres } from '../../server/platform/db/postgres';
import { syncMakeRoutes } from '../../server/make/deliveries.sql';
import { createMakeOutbox, MAKE_NOTIFY_CHANNEL } from '../../server/make/outbox';
import { verifyMakeSignature } from '../../server/make/signature';
import { createLogger } from '../../server/platform/observability/logger';
import { createTestDb, TEST_ENGINE, type TestDb } from '../helpers/db';
import { MAKE_TEST_SECRET } from './makeHelpers';

let testDb: TestDb;
let sink: Server;
let sinkUrl: string;
/** POSTs received per delivery id, and those whose signature failed. */
const posts = new Map<string, number>();
let badSignatures = 0;
let inFlight = 0;
let maxInFlight = 0;

beforeAll(async () => {
  testDb = await createTestDb();
  // A local Make that answers at once (after a tick, so posts overlap), counting every POST.
  sink = createServer((request, response) => {
    const chunks: Buffer[] = [];
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (!verifyMakeSignature({ secret: MAKE_TEST_SECRET, body, header: request.headers['x-signature'] as string }).valid) badSignatures += 1;
      const id = String(request.headers['x-delivery-id']);
      posts.set(id, (posts.get(id) ?? 0) + 1);
      setTimeout(() => {
        inFlight -= 1;
        response.writeHead(200).end('Accepted');
      }, 2);
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
  await syncMakeRoutes(testDb.db, { add_project: `${sinkUrl}/add_project` });
});
afterAll(async () => {
  await new Promise((resolve) => sink?.close(resolve));
  await testDb?.close();
});

/** `count` paid orders, made in one statement: `count` add_project deliveries. */
async function paidOrders(db: Db, count: number): Promise<void> {
  await db.query(
    `with c as (
       insert into customers (email, name)
       select 'worker-' || gen_random_uuid() || '@customers.test', 'Worker test' from generate_series(1, $1)
       returning id
     ), o as (
       insert into orders (customer_id, product_id, price_id, amount, currency)
       select id, 'business_plan_builder', 'business_plan_builder_usd', 9900, 'usd' from c
       returning id
     )
     select count(*) from o`,
    [count],
  );
  await db.query(`update orders set status = 'paid' where status = 'pending'`);
}

describe('two workers against one database', () => {
  it(`post each of hundreds of deliveries exactly once (${TEST_ENGINE})`, async () => {
    const count = TEST_ENGINE === 'postgres' ? 600 : 150;
    const logger = createLogger({ level: 'silent' });
    // On PostgreSQL each worker gets a pool of its own, as two server processes would have.
    const pools: Db[] = testDb.url ? [openPostgres(testDb.url, { max: 5 }), openPostgres(testDb.url, { max: 5 })] : [testDb.db, testDb.db];
    // The timeout is far beyond the sink's answer (2 ms): this test is about racing claims, and on a
    // loaded machine (CI with other suites, PGlite sharing the event loop) a 5 s timeout could expire
    // before the answer is read, making a legitimate retry the assertions would count as a double post.
    const config = { signingSecret: MAKE_TEST_SECRET, apiKey: undefined, timeoutMs: 60_000, retryHorizonMs: 3_600_000 };
    const workers = pools.map((db) => createMakeOutbox({ db, config, logger, concurrency: 10, wakeForRetries: false }));
    try {
      await paidOrders(testDb.db, count);
      // Each worker drains as fast as it can, several drains each, all at once.
      const drained = await Promise.all(workers.flatMap((worker) => [worker.drain(), worker.drain(), worker.drain()]));
      const { rows } = await testDb.db.query<{ status: string; attempts: number; n: number }>(
        `select status, attempts, count(*)::int as n from make_deliveries group by status, attempts`,
      );
      expect(rows).toEqual([{ status: 'delivered', attempts: 1, n: count }]);
      expect(posts.size).toBe(count);
      expect([...posts.values()].filter((n) => n !== 1)).toEqual([]);
      expect(badSignatures).toBe(0);
      // Both workers took part, and posts overlapped: the race was real.
      const byWorker = [drained[0]!, drained[3]!];
      expect(byWorker[0]! + byWorker[1]!).toBe(count);
      if (TEST_ENGINE === 'postgres') {
        expect(Math.min(...byWorker)).toBeGreaterThan(0);
        expect(maxInFlight).toBeGreaterThan(10);
      }
    } finally {
      await Promise.all(workers.map((worker) => worker.stop()));
      if (testDb.url) await Promise.all(pools.map((db) => db.close()));
    }
  });
});

describe('the wake-up', () => {
  it(`a committed delivery notifies the listeners on ${MAKE_NOTIFY_CHANNEL}; a rolled-back one does not (${TEST_ENGINE})`, async () => {
    const db = testDb.db;
    let notified = 0;
    const unlisten = await db.listen!(MAKE_NOTIFY_CHANNEL, () => (notified += 1));
    try {
      await db
        .transaction(async (tx) => {
          await paidOrders(tx as Db, 1);
          throw new Error('roll back');
        })
        .catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(notified).toBe(0);

      await paidOrders(db, 1);
      await expect.poll(() => notified, { timeout: 2000, interval: 10 }).toBeGreaterThan(0);
    } finally {
      await unlisten();
    }
  });

  // PGlite has no connection to lose.
  it.skipIf(TEST_ENGINE !== 'postgres')('listens again after its connection is killed, and reports in once for what it may have missed', async () => {
    const db = openPostgres(testDb.url!, { max: 2, applicationName: 'listen-test' });
    let notified = 0;
    const unlisten = await db.listen!(MAKE_NOTIFY_CHANNEL, () => (notified += 1));
    try {
      await testDb.db.query(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'listen-test:listen'`);
      // The reconnect calls onNotify once by itself (a NOTIFY may have been missed while down).
      await expect.poll(() => notified, { timeout: 5000, interval: 20 }).toBe(1);
      await paidOrders(testDb.db, 1);
      await expect.poll(() => notified, { timeout: 2000, interval: 10 }).toBe(2);
    } finally {
      await unlisten();
      await db.close();
    }
  });
});
