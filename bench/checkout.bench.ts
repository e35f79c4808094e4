// Checkout benchmark: the mutation createPaymentIntent over HTTP through our whole stack (Hono, API-key
// auth, Apollo, the checkout SQL, one Stripe call) at 1, 16 and 64 concurrent clients,
// against the peer: that Stripe call alone (POST /v1/payment_intents straight to the sandbox) at the
// same concurrency. The sandbox answers at once, so ours minus the peer is our own overhead. Then the
// idempotent repeat (same key, same input: answered from the database, Stripe not called) against the
// create. Goal (the issue): our p99 overhead under 15 ms at 16 clients, and repeats faster than creates.
// On in-memory PGlite; with DATABASE_URL set, again on a throwaway database on that PostgreSQL server.
//
// The sandbox runs in a child process (`npm run sandbox`'s script, reached through STRIPE_API_BASE), not
// inside our server as in sandbox mode: its CPU time must not be spent on our event loop, where it would
// be counted as our overhead. Autocannon, as in every benchmark here, has a process of its own too.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createThrowawayDatabase } from './throwawayDatabase';
import { startApp } from '../server/compose';
import { createApiKey } from '../server/auth/apiKeys';
import { loadConfig } from '../server/config';
import type { Db } from '../server/platform/db/db';
import { migrate } from '../server/platform/db/migrate';
import { openPglite } from '../server/platform/db/pglite';
import { openPostgres } from '../server/platform/db/postgres';
import { createLogger } from '../server/platform/observability/logger';
import { load, type LoadOptions, type LoadResult, median, printTable } from './load';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CLIENTS = [1, 16, 64];
const GOAL = { clients: 16, p99OverheadMs: 15 };

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MUTATION =
  'mutation ($input: CheckoutInput!) { createPaymentIntent(input: $input) { order { id status } paymentIntentId clientSecret isRepeat error { code message } } }';
// `[<id>]` becomes a fresh id in every request (see load.ts); it must not end the body or a header.
const UNIQUE_KEY = 'bench-[<id>]-key';
const REPEAT_KEY = 'bench-repeat';

const checkoutBody = (idempotencyKey: string) =>
  JSON.stringify({ query: MUTATION, variables: { input: { idempotencyKey, track: 'business_plan_builder', email: 'bench@example.com' } } });

interface Target {
  url: string;
  headers: Record<string, string>;
}

interface Runs {
  create: LoadResult[];
  stripeAlone: LoadResult[];
  repeat: LoadResult[];
}

export async function benchCheckout() {
  const sandbox = await startSandbox();
  try {
    await benchOn(await pgliteDb(), sandbox.url);
    if (process.env.DATABASE_URL) await benchOn(await postgresDb(process.env.DATABASE_URL), sandbox.url);
  } finally {
    await sandbox.stop();
  }
}

interface BenchDb {
  label: string;
  db: Db;
  close: () => Promise<void>;
}

async function benchOn(database: BenchDb, sandboxUrl: string) {
  const silent = createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, done) => done() }) });
  const config = loadConfig({ NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'silent', RATE_LIMIT_API_KEY_PER_MINUTE: '0', STRIPE_API_BASE: sandboxUrl });
  const { db } = database;
  try {
    await migrate(db);
    const { key } = await createApiKey(db, 'bench', 'storefront');
    const ours = await startApp(config, silent, { db });
    try {
      const graphql: Target = { url: `${ours.url}/graphql`, headers: { 'content-type': 'application/json', 'x-api-key': key } };
      const repeatBody = await prepareRepeat(graphql, sandboxUrl);
      const results = new Map<number, Runs>();
      for (const clients of CLIENTS) {
        const runs = await benchAt(clients, db, graphql, sandboxUrl, repeatBody);
        printRuns(`${database.label}, ${clients} client${clients === 1 ? '' : 's'}`, runs);
        results.set(clients, runs);
      }
      printGoal(database.label, results.get(GOAL.clients)!);
      const { rss, heapUsed } = process.memoryUsage();
      console.log(`memory after load: rss ${Math.round(rss / 1048576)} MiB, heap used ${Math.round(heapUsed / 1048576)} MiB (this process: our server${database.label === 'PGlite' ? ' and the embedded database' : ''}; the sandbox has its own)`);
    } finally {
      await ours.stop();
    }
  } finally {
    await database.close();
  }
}

async function pgliteDb(): Promise<BenchDb> {
  const db = await openPglite();
  return { label: 'PGlite', db, close: () => db.close() };
}

/** A throwaway database on the PostgreSQL server at DATABASE_URL, dropped afterwards. */
async function postgresDb(serverUrl: string): Promise<BenchDb> {
  const database = await createThrowawayDatabase(serverUrl, 'bench_checkout');
  const db = openPostgres(database.url);
  return {
    label: 'PostgreSQL',
    db,
    close: async () => {
      await db.close();
      await database.drop();
    },
  };
}

/** Alternates create, Stripe alone and repeat in each round, so drift in machine load hits all alike. */
async function benchAt(clients: number, db: Db, graphql: Target, sandboxUrl: string, repeatBody: string): Promise<Runs> {
  const runs: Runs = { create: [], stripeAlone: [], repeat: [] };
  const common = { seconds: SECONDS, connections: clients };
  for (let round = 0; round < ROUNDS; round++) {
    runs.create.push(await countedCreates(db, { ...graphql, ...common, body: checkoutBody(UNIQUE_KEY), uniqueIds: true }));
    runs.stripeAlone.push(await load({ ...stripeAlone(sandboxUrl), ...common }));
    const attempts = await attemptCounts(db);
    runs.repeat.push(await load({ ...graphql, ...common, body: checkoutBody(REPEAT_KEY), expectBody: repeatBody }));
    if ((await attemptCounts(db)).total !== attempts.total) throw new Error('repeats created payment attempts');
  }
  const bad = [...runs.create, ...runs.stripeAlone, ...runs.repeat].reduce((n, r) => n + r.errors + r.non2xx + r.mismatches, 0);
  if (bad > 0) throw new Error(`checkout at ${clients} clients: ${bad} failed requests or unexpected responses during the benchmark`);
  return runs;
}

/** The Stripe call of a checkout on its own, each with its own idempotency key (ours adds a description, email and metadata). */
const stripeAlone = (sandboxUrl: string): Omit<LoadOptions, 'seconds' | 'connections'> => ({
  url: `${sandboxUrl}/v1/payment_intents`,
  body: 'amount=9900&currency=usd&automatic_payment_methods[enabled]=true',
  headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Bearer sk_test_sandbox', 'idempotency-key': UNIQUE_KEY },
  uniqueIds: true,
});

/**
 * Creates the payment intent the repeats ask for again and checks the first repeat: `isRepeat: true`, the
 * same PaymentIntent, which exists in the separate sandbox. Returns the repeat's body, which every
 * repeat under load must match exactly.
 */
async function prepareRepeat(graphql: Target, sandboxUrl: string): Promise<string> {
  const created = await createPaymentIntent(graphql, REPEAT_KEY);
  const repeat = await createPaymentIntent(graphql, REPEAT_KEY);
  const id = created.payload.paymentIntentId;
  if (!id?.startsWith('pi_') || created.payload.isRepeat || !repeat.payload.isRepeat || repeat.payload.paymentIntentId !== id) {
    throw new Error(`unexpected create or repeat: ${created.text} then ${repeat.text}`);
  }
  const atStripe = await fetch(`${sandboxUrl}/v1/payment_intents/${id}`, { headers: { authorization: 'Bearer sk_test_sandbox' } });
  if (atStripe.status !== 200) throw new Error(`the payment intent is not in the separate sandbox (HTTP ${atStripe.status}): is STRIPE_API_BASE used?`);
  return repeat.text;
}

async function createPaymentIntent(graphql: Target, idempotencyKey: string) {
  const response = await fetch(graphql.url, { method: 'POST', headers: graphql.headers, body: checkoutBody(idempotencyKey) });
  const text = await response.text();
  const json = JSON.parse(text);
  if (response.status !== 200 || json.errors || !json.data?.createPaymentIntent || json.data.createPaymentIntent.error) {
    throw new Error(`createPaymentIntent failed: HTTP ${response.status} ${text.slice(0, 500)}`);
  }
  return { text, payload: json.data.createPaymentIntent as { paymentIntentId: string | null; isRepeat: boolean } };
}

/**
 * Runs creates and checks them in the database: every request sent made exactly one payment attempt,
 * open with a PaymentIntent of its own, for an order of its own. (Autocannon does not read GraphQL
 * errors, which come with status 200; a request that failed would have no open attempt.) Requests still
 * in flight when the run ends are finished by the server, so their attempts are awaited.
 */
async function countedCreates(db: Db, options: LoadOptions): Promise<LoadResult> {
  const before = (await attemptCounts(db)).total;
  const result = await load(options);
  const all = before + result.sent;
  let counts = await attemptCounts(db);
  for (let waited = 0; counts.open < all && waited < 10_000; waited += 50) {
    await sleep(50);
    counts = await attemptCounts(db);
  }
  if (counts.total !== all || counts.open !== all || counts.objects !== all || counts.orders !== all) {
    throw new Error(`after ${result.sent} creates (${result.ok} answered): ${JSON.stringify(counts)} payment attempts, expected ${all} of each`);
  }
  return result;
}

async function attemptCounts(db: Db) {
  const { rows } = await db.query<{ total: number; open: number; objects: number; orders: number }>(
    `select count(*)::int as total,
            (count(*) filter (where status = 'open' and stripe_object_id like 'pi\\_%' and client_secret is not null))::int as open,
            count(distinct stripe_object_id)::int as objects,
            count(distinct order_id)::int as orders
       from payment_attempts`,
  );
  return rows[0]!;
}

function printRuns(setting: string, runs: Runs) {
  const m = (results: LoadResult[], metric: 'rps' | 'p50' | 'p99') => median(results.map((r) => r[metric]));
  const span = `${setting}, median of ${ROUNDS} x ${SECONDS}s`;
  printTable(`Checkout createPaymentIntent: ${span} (peer: POST /v1/payment_intents to the sandbox alone)`, [
    ['throughput', m(runs.create, 'rps'), m(runs.stripeAlone, 'rps'), ' req/s'],
    ['latency p50', m(runs.create, 'p50'), m(runs.stripeAlone, 'p50'), ' ms'],
    ['latency p99', m(runs.create, 'p99'), m(runs.stripeAlone, 'p99'), ' ms'],
    ['our overhead p50', m(runs.create, 'p50') - m(runs.stripeAlone, 'p50'), undefined, ' ms'],
    ['our overhead p99', m(runs.create, 'p99') - m(runs.stripeAlone, 'p99'), undefined, ' ms'],
  ]);
  printTable(
    `Checkout repeat (same key and input, no Stripe call): ${span}`,
    [
      ['throughput', m(runs.repeat, 'rps'), m(runs.create, 'rps'), ' req/s'],
      ['latency p50', m(runs.repeat, 'p50'), m(runs.create, 'p50'), ' ms'],
      ['latency p99', m(runs.repeat, 'p99'), m(runs.create, 'p99'), ' ms'],
    ],
    ['repeat', 'create'],
  );
}

function printGoal(label: string, runs: Runs) {
  const p = (results: LoadResult[], metric: 'p50' | 'p99') => median(results.map((r) => r[metric]));
  const overhead = p(runs.create, 'p99') - p(runs.stripeAlone, 'p99');
  const verdict = (met: boolean) => (met ? 'met' : 'NOT met');
  console.log(
    `\ngoal (${label}, ${GOAL.clients} clients): our p99 overhead under ${GOAL.p99OverheadMs} ms: ${overhead} ms, ${verdict(overhead < GOAL.p99OverheadMs)}; ` +
      `repeats faster than creates: p50 ${p(runs.repeat, 'p50')} vs ${p(runs.create, 'p50')} ms, p99 ${p(runs.repeat, 'p99')} vs ${p(runs.create, 'p99')} ms, ` +
      verdict(p(runs.repeat, 'p50') < p(runs.create, 'p50') && p(runs.repeat, 'p99') <= p(runs.create, 'p99')),
  );
}

/** `npm run sandbox`'s script in a child process on a free port; stop() ends it (also done if we exit first). */
export async function startSandbox(): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'stripe-sandbox/standalone.ts', '--port', '0'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const kill = () => child.kill('SIGTERM');
  process.once('exit', kill);
  const stop = async () => {
    process.off('exit', kill);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    kill();
    await exited;
  };
  try {
    return { url: await listeningUrl(child), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function listeningUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error('the Stripe sandbox did not start within 30 s')), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the Stripe sandbox exited (code ${code}) before listening`));
    });
  });
}
