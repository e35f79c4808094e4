// Make outbox benchmark: deliveries per second, and commit-to-POST latency, with one and with two
// worker processes against one PostgreSQL database, posting to a local HTTP sink that answers 200 at
// once (so the figures are the outbox's own: claim, sign, POST, record).
//
//   throughput  a backlog of N deliveries committed in one transaction (paid orders: the triggers
//               enqueue them) while the workers idle on LISTEN; deliveries/s = N over the time from
//               that commit to the sink's last receipt.
//   latency     then single paid orders, one per transaction, at a steady rate well under the
//               throughput: for each, the sink's receive time minus the row's created_at (the
//               transaction's start, a little before its commit, so the figure errs high).
//
// Each worker is a child process (this file with WORKER_FLAG) with its own pool, as a server process
// would run it, woken by NOTIFY. Needs DATABASE_URL (a throwaway database is made on that server):
// PGlite is a single in-process connection, so several worker processes cannot share one.
// BENCH_ROUNDS (default 3) rounds; the figures are medians over them. BENCH_OUTBOX_N sets N (3000).
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Db } from '../server/platform/db/db';
import { migrate } from '../server/platform/db/migrate';
import { openPostgres } from '../server/platform/db/postgres';
import { syncMakeRoutes } from '../server/make/deliveries.sql';
import { createMakeOutbox, MAKE_NOTIFY_CHANNEL } from '../server/make/outbox';
import { createLogger } from '../server/platform/observability/logger';
import { median, printTable } from './load';
import { createThrowawayDatabase } from './throwawayDatabase';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BACKLOG = Number(process.env.BENCH_OUTBOX_N ?? 3000);
const TRICKLE = 300;
const TRICKLE_GAP_MS = 5;
const WORKER_COUNTS = [1, 2] as const;
const SECRET = 'outbox-bench-signing-secret';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const THIS_FILE = fileURLToPath(import.meta.url);
const WORKER_FLAG = '--outbox-bench-worker';

interface RoundResult {
  perSecond: number;
  p50: number;
  p99: number;
  /** The most POSTs any one delivery got: 1, or the outbox posted a row twice. */
  maxPostsPerDelivery: number;
}

export async function benchOutbox() {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    console.log('\nMake outbox: skipped. It needs PostgreSQL (set DATABASE_URL): several worker processes cannot share PGlite.');
    return;
  }
  const database = await createThrowawayDatabase(serverUrl, 'bench_outbox');
  const db = openPostgres(database.url, { max: 4 });
  const sink = await startSink();
  try {
    await migrate(db);
    await syncMakeRoutes(db, { add_project: `${sink.url}/add_project` });
    const results: Record<number, RoundResult[]> = { 1: [], 2: [] };
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const workers of WORKER_COUNTS) results[workers]!.push(await benchRound(db, database.url, sink, workers));
    }
    const med = (workers: number, metric: keyof RoundResult) => median(results[workers]!.map((result) => result[metric]));
    printTable(
      `Make outbox on PostgreSQL, 1 and 2 worker processes: backlog of ${BACKLOG}, then ${TRICKLE} single commits at ~${Math.round(1000 / TRICKLE_GAP_MS)}/s (medians of ${ROUNDS} rounds)`,
      [
        ['deliveries/s', med(1, 'perSecond'), med(2, 'perSecond'), ''],
        ['commit-to-POST p50', med(1, 'p50'), med(2, 'p50'), ' ms'],
        ['commit-to-POST p99', med(1, 'p99'), med(2, 'p99'), ' ms'],
        ['max POSTs per delivery', Math.max(...results[1]!.map((r) => r.maxPostsPerDelivery)), Math.max(...results[2]!.map((r) => r.maxPostsPerDelivery)), ''],
      ],
      ['1 worker', '2 workers'],
    );
  } finally {
    await sink.close();
    await db.close();
    await database.drop();
  }
}

async function benchRound(db: Db, databaseUrl: string, sink: Sink, workerCount: number): Promise<RoundResult> {
  await db.query('truncate make_delivery_attempts, make_deliveries');
  sink.received.clear();
  const workers = await Promise.all(Array.from({ length: workerCount }, () => startWorker(databaseUrl)));
  try {
    // Throughput: one commit of BACKLOG paid orders; the workers wake on its NOTIFY.
    await db.query(
      `insert into customers (email) select 'outbox-' || gen_random_uuid() || '@bench.test' from generate_series(1, $1)`,
      [BACKLOG],
    );
    await db.query(
      `insert into orders (customer_id, product_id, price_id, amount, currency)
       select c.id, 'business_plan_builder', 'business_plan_builder_usd', 9900, 'usd'
         from customers c where not exists (select 1 from orders o where o.customer_id = c.id)`,
    );
    await db.query(`update orders set status = 'paid' where status = 'pending'`);
    const committed = performance.now();
    await waitFor(() => sink.received.size >= BACKLOG, 120_000, 'the backlog to be delivered');
    const lastReceived = Math.max(...[...sink.received.values()].map((r) => r.perfAt));
    const perSecond = BACKLOG / ((lastReceived - committed) / 1000);

    // Latency: single commits at a steady rate, each a paid order (the insert trigger enqueues it).
    const { rows: customers } = await db.query<{ id: string }>(
      `insert into customers (email) select 'outbox-' || gen_random_uuid() || '@bench.test' from generate_series(1, $1) returning id`,
      [TRICKLE],
    );
    const before = sink.received.size;
    for (const customer of customers) {
      await db.query(
        `insert into orders (customer_id, product_id, price_id, amount, currency, status)
         values ($1, 'business_plan_builder', 'business_plan_builder_usd', 9900, 'usd', 'paid')`,
        [customer.id],
      );
      await sleep(TRICKLE_GAP_MS);
    }
    await waitFor(() => sink.received.size >= before + TRICKLE, 60_000, 'the single commits to be delivered');
    const { rows } = await db.query<{ id: string; created_ms: number }>(
      `select d.id, extract(epoch from d.created_at) * 1000 as created_ms
         from make_deliveries d join orders o on o.id = d.order_id
        where o.customer_id = any($1::uuid[])`,
      [customers.map((c) => c.id)],
    );
    const latencies = rows.map((row) => sink.received.get(row.id)!.wallAt - Number(row.created_ms)).sort((a, b) => a - b);
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
    return { perSecond, p50: at(0.5), p99: at(0.99), maxPostsPerDelivery: Math.max(...[...sink.received.values()].map((r) => r.posts)) };
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()));
  }
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

// ---------------------------------------------------------------------------------------------------
// The sink: a local Make that answers 200 at once and notes when each delivery first arrived.

interface Sink {
  url: string;
  received: Map<string, { perfAt: number; wallAt: number; posts: number }>;
  close: () => Promise<void>;
}

async function startSink(): Promise<Sink> {
  const received: Sink['received'] = new Map();
  const server = createServer((request, response) => {
    const perfAt = performance.now();
    const wallAt = Date.now();
    const id = String(request.headers['x-delivery-id']);
    const seen = received.get(id);
    if (seen) seen.posts += 1;
    else received.set(id, { perfAt, wallAt, posts: 1 });
    request.resume();
    request.on('end', () => response.writeHead(200).end('Accepted'));
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

// ---------------------------------------------------------------------------------------------------
// A worker process: the outbox as a server process runs it (LISTEN, plus a timer), nothing else.

interface WorkerProcess {
  stop: () => Promise<void>;
}

async function startWorker(databaseUrl: string): Promise<WorkerProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', THIS_FILE, WORKER_FLAG], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, OUTBOX_BENCH_DATABASE_URL: databaseUrl },
  });
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the outbox worker did not start within 60 s')), 60_000);
    child.once('message', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => reject(new Error(`the outbox worker exited (${code}) before it was ready`)));
  });
  return {
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send('stop');
      await exited;
      process.off('exit', kill);
    },
  };
}

async function runWorker() {
  const db = openPostgres(process.env.OUTBOX_BENCH_DATABASE_URL!, { max: 10, applicationName: 'outbox-bench-worker' });
  const logger = createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, done) => done() }) });
  const outbox = createMakeOutbox({ db, config: { signingSecret: SECRET, apiKey: undefined, timeoutMs: 10_000, retryHorizonMs: 3_600_000 }, logger });
  await db.listen!(MAKE_NOTIFY_CHANNEL, () => outbox.wake());
  const timer = setInterval(() => outbox.wake(), 1000);
  process.on('message', async () => {
    clearInterval(timer);
    await outbox.stop();
    await db.close();
    process.exit(0);
  });
  process.send!('ready');
}

if (process.argv.includes(WORKER_FLAG)) await runWorker();
