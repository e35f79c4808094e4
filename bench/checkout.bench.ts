// Checkout benchmark: the mutation createPaymentIntent over HTTP through our whole stack (the real
// server as users run it: server/main.ts, compiled when it builds; API-key auth, Apollo, the checkout
// SQL, one Stripe call), paced (open loop) at 20, 50 and 100 checkouts/s for BENCH_PACED_SECONDS (10) s
// each, latency from each checkout's scheduled send time. The Stripe sandbox runs in a process of its
// own (bench/timedSandbox.ts, reached through STRIPE_API_BASE) and times its own work on each
// PaymentIntent it creates: our overhead for a checkout is its latency minus that time (so the
// sandbox's HTTP parsing and answering, about 0.1 ms, is counted as ours).
// CPU per checkout: utime+stime of our server's process and of its PostgreSQL backends (/proc) over
// the run, divided by the checkouts. On PostgreSQL ours runs as production scales it (docs/scaling.md):
// a web process (PROCESS_ROLE=web) answers the checkouts and a worker beside it runs the jobs (webhook
// applier, Make outbox, janitor, alerts, retention), whose polling is no part of a checkout: the worker
// and its backends (told apart by application_name) are measured over the same window and printed as
// a row of their own, not added to the checkout's CPU. The sandbox has no webhook endpoint, so no
// event reaches either process during the run (the naive handler gets none either). Peer (PostgreSQL only): the naive handler a shop might write
// (bench/peers/naive-checkout-server.mjs: node:http, stripe.paymentIntents.create against the same
// sandbox, one order row on a database of its own on the same server), measured alike. Then the
// idempotent repeat (same key and input: answered from the database, no Stripe call) at 50/s.
// Goals (issue 23): our CPU per checkout at most 1.5x the naive handler's, while we also claim the key,
// write the attempt and the logs and return the order; our p99 overhead under 25 ms at 50/s.
// On PGlite (a data directory of its own, the default engine's way), and again on throwaway databases
// when DATABASE_URL points at a PostgreSQL server. Medians of BENCH_ROUNDS rounds, machine load printed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createApiKey } from '../server/auth/apiKeys';
import type { Db } from '../server/platform/db/db';
import { migrate } from '../server/platform/db/migrate';
import { openPglite } from '../server/platform/db/pglite';
import { KeepAliveConnections, median } from './load';
import { type CpuSpent, DatabaseCpu, machineLoad, measureCpu, OBSERVER, pacedRun, type PacedResult, startRealServer, startScript, type ChildServer } from './processes';
import { createThrowawayDatabase } from './throwawayDatabase';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PACED_SECONDS = Number(process.env.BENCH_PACED_SECONDS ?? 10);
// BENCH_CHECKOUT_RATES=50 (comma-separated) and BENCH_CHECKOUT_ENGINE=postgres (or pglite) narrow a
// run to what a change is measured on; the goals are judged at 50/s on PostgreSQL.
const RATES = (process.env.BENCH_CHECKOUT_RATES ?? '20,50,100').split(',').map(Number).filter((rate) => rate > 0);
const ENGINE = process.env.BENCH_CHECKOUT_ENGINE ?? 'both';
const CONNECTIONS = 16;
const GOAL = { rate: 50, cpuRatio: 1.5, p99OverheadMs: 25 };
const STRIPE_KEY = 'sk_test_benchCheckout0001';

const MUTATION =
  'mutation ($input: CheckoutInput!) { createPaymentIntent(input: $input) { order { id status } paymentIntentId clientSecret isRepeat error { code message } } }';
const checkoutBody = (idempotencyKey: string) =>
  JSON.stringify({ query: MUTATION, variables: { input: { idempotencyKey, track: 'business_plan_builder', email: 'bench@example.com' } } });

/** One checkout endpoint: how to ask it for a checkout, and how to read the PaymentIntent from its answer. */
interface Target {
  name: string;
  url: string;
  path: string;
  headers: Record<string, string>;
  body: (idempotencyKey: string) => string;
  /** The PaymentIntent id from a successful answer; undefined: the checkout failed. */
  paymentIntent: (answer: string) => string | undefined;
  pid: number;
  database: DatabaseCpu | undefined;
  /** The worker running our jobs beside a web process: measured over the same window, reported apart. */
  jobs?: { pid: number; database: DatabaseCpu };
}

interface Sandbox extends ChildServer {
  /** The sandbox's own ms per PaymentIntent created since the last call, by id. */
  timings: () => Promise<Record<string, number>>;
}

export async function benchCheckout() {
  const server = await startScript('timedSandbox.ts', {});
  const sandbox: Sandbox = { ...server, timings: async () => (await fetch(`${server.url}/_bench/timings`)).json() as Promise<Record<string, number>> };
  try {
    if (ENGINE !== 'postgres') await benchPglite(sandbox);
    if (ENGINE === 'pglite') return;
    if (process.env.DATABASE_URL) await benchPostgres(process.env.DATABASE_URL, sandbox);
    else console.log('\nCheckout: set DATABASE_URL for the PostgreSQL run and the naive peer.');
  } finally {
    await sandbox.stop();
  }
}

// ---------------------------------------------------------------------------------------------------
// Engines.

const ourEnv = (sandbox: Sandbox) => ({ STRIPE_SECRET_KEY: STRIPE_KEY, STRIPE_API_BASE: sandbox.url, STRIPE_WEBHOOK_SECRET: 'whsec_benchCheckoutSigningSecret01' });

function ourTarget(url: string, pid: number, key: string, database: DatabaseCpu | undefined, jobs?: Target['jobs']): Target {
  return {
    name: 'ours',
    url,
    path: '/graphql',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: checkoutBody,
    paymentIntent: (answer) => {
      const payload = JSON.parse(answer)?.data?.createPaymentIntent;
      return !payload || payload.error || !payload.order?.id ? undefined : payload.paymentIntentId?.startsWith('pi_') ? payload.paymentIntentId : undefined;
    },
    pid,
    database,
    ...(jobs ? { jobs } : {}),
  };
}

/** A PGlite data directory of its own: migrated and given an API key here, then the server's. */
async function benchPglite(sandbox: Sandbox) {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-checkout-pglite-'));
  try {
    const key = await withPglite(dataDir, async (db) => {
      await migrate(db);
      return (await createApiKey(db, 'bench', 'storefront')).key;
    });
    const server = await startRealServer({ ...ourEnv(sandbox), PGLITE_DATA_DIR: dataDir });
    let results: Results;
    try {
      results = await runAll('PGlite', server.runner, [ourTarget(server.url, server.pid, key, undefined)], sandbox);
    } finally {
      await server.stop();
    }
    const counts = await withPglite(dataDir, attemptCounts);
    printResults(results, counts);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function withPglite<T>(dataDir: string, use: (db: Db) => Promise<T>): Promise<T> {
  const db = await openPglite(dataDir);
  try {
    return await use(db);
  } finally {
    await db.close();
  }
}

async function benchPostgres(serverUrl: string, sandbox: Sandbox) {
  const ours = await createThrowawayDatabase(serverUrl, 'bench_checkout');
  const naive = await createThrowawayDatabase(serverUrl, 'bench_checkout_naive');
  const pools: pg.Pool[] = [];
  const observer = (url: string) => {
    const pool = new pg.Pool({ connectionString: url, max: 1, application_name: OBSERVER });
    pool.on('error', () => {});
    pools.push(pool);
    return pool;
  };
  const stops: Array<() => Promise<void>> = [];
  try {
    const oursPool = observer(ours.url);
    // The web process first: it migrates the throwaway database before the worker starts on it.
    const server = await startRealServer({ ...ourEnv(sandbox), DATABASE_URL: ours.url, PROCESS_ROLE: 'web' });
    stops.push(server.stop);
    const worker = await startRealServer({ ...ourEnv(sandbox), DATABASE_URL: ours.url, PROCESS_ROLE: 'worker' });
    stops.push(worker.stop);
    const { key } = await createApiKey({ query: (sql: string, params?: unknown[]) => oursPool.query(sql, params) } as never, 'bench', 'storefront');
    const peer = await startScript('peers/naive-checkout-server.mjs', { DATABASE_URL: naive.url, STRIPE_API_BASE: sandbox.url });
    stops.push(peer.stop);
    const naiveTarget: Target = {
      name: 'naive peer',
      url: peer.url,
      path: '/checkout',
      headers: { 'content-type': 'application/json' },
      body: (idempotencyKey) => JSON.stringify({ idempotencyKey, email: 'bench@example.com' }),
      paymentIntent: (answer) => {
        const payload = JSON.parse(answer);
        return payload.orderId && payload.paymentIntentId?.startsWith('pi_') ? payload.paymentIntentId : undefined;
      },
      pid: peer.pid,
      database: new DatabaseCpu(observer(naive.url)),
    };
    const ourTargetPg = ourTarget(server.url, server.pid, key, new DatabaseCpu(oursPool, 'payments-ops:web'), {
      pid: worker.pid,
      database: new DatabaseCpu(oursPool, 'payments-ops:worker'),
    });
    const results = await runAll('PostgreSQL', `${server.runner}, a web process with a worker beside it`, [ourTargetPg, naiveTarget], sandbox);
    const counts = await attemptCounts({ query: (sql: string) => oursPool.query(sql) } as never);
    printResults(results, counts);
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    for (const pool of pools) await pool.end().catch(() => {});
    await ours.drop().catch(() => {});
    await naive.drop().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------------
// Runs.

interface PacedCheckouts {
  paced: PacedResult;
  cpu: CpuSpent;
  /** The worker's (ours on PostgreSQL) over the same window: not a checkout's, reported apart. */
  jobsCpu?: CpuSpent;
  /** ms: latency from the schedule minus the sandbox's own time, per checkout. */
  overheadP50: number;
  overheadP99: number;
  sandboxP50: number;
}

interface Results {
  label: string;
  runner: string;
  targets: Target[];
  runs: Map<string, PacedCheckouts[]>;
  repeats: PacedResult[];
  loadBefore: string;
}

const runKey = (target: Target, rate: number) => `${target.name}@${rate}`;

async function runAll(label: string, runner: string, targets: Target[], sandbox: Sandbox): Promise<Results> {
  const results: Results = { label, runner, targets, runs: new Map(), repeats: [], loadBefore: machineLoad() };
  for (const target of targets) await pacedCheckouts(target, sandbox, 20, 2); // warm-up, not counted
  const ours = targets[0]!;
  const repeatAnswer = await prepareRepeat(ours);
  // Alternate the targets at each rate in each round, so drift in machine load hits both alike.
  for (let round = 0; round < ROUNDS; round++) {
    for (const rate of RATES) {
      for (const target of targets) results.runs.set(runKey(target, rate), [...(results.runs.get(runKey(target, rate)) ?? []), await pacedCheckouts(target, sandbox, rate, PACED_SECONDS)]);
    }
    results.repeats.push(await pacedRepeats(ours, repeatAnswer, GOAL.rate));
  }
  return results;
}

/** rate x seconds checkouts, each with its own idempotency key; overhead = latency - the sandbox's time for its PaymentIntent. */
async function pacedCheckouts(target: Target, sandbox: Sandbox, rate: number, seconds: number): Promise<PacedCheckouts> {
  const tag = `${target.name.replace(/\W/g, '')}-${rate}-${Date.now()}`;
  const items = Array.from({ length: Math.round(rate * seconds) }, (_, i) => target.body(`bench-${tag}-${i}`));
  const intents: string[] = [];
  const latencies: number[] = [];
  await sandbox.timings(); // forget earlier ones
  const connections = new KeepAliveConnections(target.url, CONNECTIONS);
  let failure: string | undefined;
  try {
    let jobsCpu: CpuSpent | undefined;
    const { result: paced, cpu } = await measureCpu(target.pid, target.database, async () => {
      if (!target.jobs) return run();
      const jobs = await measureCpu(target.jobs.pid, target.jobs.database, run);
      jobsCpu = jobs.cpu;
      return jobs.result;
    });
    function run() {
      return pacedRun({
        rate,
        items,
        connections: CONNECTIONS,
        call: async (connection, body, index) => {
          const answer = await connections.request(connection, target.path, target.headers, body);
          const text = answer.body.toString('utf8');
          const intent = answer.status === 200 ? target.paymentIntent(text) : undefined;
          if (!intent) failure ??= `HTTP ${answer.status} ${text.slice(0, 300)}`;
          else intents[index] = intent;
          return intent !== undefined;
        },
        onLatency: (index, ms) => (latencies[index] = ms),
      });
    }
    if (paced.failed + paced.errors > 0) throw new Error(`${target.name} at ${rate}/s: ${paced.failed} failed checkouts and ${paced.errors} errors (first: ${failure})`);
    const timings = await sandbox.timings();
    const overheads: number[] = [];
    const own: number[] = [];
    latencies.forEach((ms, i) => {
      const sandboxMs = timings[intents[i]!];
      if (sandboxMs === undefined) throw new Error(`${target.name}: the sandbox has no timing for ${intents[i]}: is STRIPE_API_BASE the timed sandbox?`);
      overheads.push(ms - sandboxMs);
      own.push(sandboxMs);
    });
    return { paced, cpu, ...(jobsCpu ? { jobsCpu } : {}), overheadP50: quantile(overheads, 0.5), overheadP99: quantile(overheads, 0.99), sandboxP50: quantile(own, 0.5) };
  } finally {
    connections.close();
  }
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : NaN;
};

const REPEAT_KEY = 'bench-repeat';

/** Creates the checkout the repeats ask for again and checks the first repeat; returns the answer every repeat must match. */
async function prepareRepeat(ours: Target): Promise<string> {
  const ask = async () => (await fetch(`${ours.url}${ours.path}`, { method: 'POST', headers: ours.headers, body: ours.body(REPEAT_KEY) })).text();
  const created = await ask();
  const repeat = await ask();
  const first = JSON.parse(created).data?.createPaymentIntent;
  const again = JSON.parse(repeat).data?.createPaymentIntent;
  if (!first?.paymentIntentId || first.isRepeat || !again?.isRepeat || again.paymentIntentId !== first.paymentIntentId) {
    throw new Error(`unexpected create or repeat: ${created.slice(0, 300)} then ${repeat.slice(0, 300)}`);
  }
  return repeat;
}

async function pacedRepeats(ours: Target, expected: string, rate: number): Promise<PacedResult> {
  const connections = new KeepAliveConnections(ours.url, CONNECTIONS);
  try {
    const body = ours.body(REPEAT_KEY);
    const result = await pacedRun({
      rate,
      items: Array.from({ length: Math.round(rate * PACED_SECONDS) }, () => body),
      connections: CONNECTIONS,
      call: async (connection, item) => {
        const answer = await connections.request(connection, ours.path, ours.headers, item);
        return answer.status === 200 && answer.body.toString('utf8') === expected;
      },
    });
    if (result.failed + result.errors > 0) throw new Error(`repeats: ${result.failed} answers differed from the first repeat's, ${result.errors} errors`);
    return result;
  } finally {
    connections.close();
  }
}

async function attemptCounts(db: Pick<Db, 'query'>) {
  const { rows } = await db.query<{ total: number; open: number; objects: number; orders: number }>(
    `select count(*)::int as total,
            (count(*) filter (where status = 'open' and stripe_object_id like 'pi\\_%' and client_secret is not null))::int as open,
            count(distinct stripe_object_id)::int as objects,
            count(distinct order_id)::int as orders
       from payment_attempts`,
  );
  return rows[0]!;
}

// ---------------------------------------------------------------------------------------------------
// Output.

const fmt = (value: number | undefined, digits = 1) => (value === undefined || Number.isNaN(value) ? '-' : value.toFixed(digits));
const verdict = (met: boolean) => (met ? 'met' : 'NOT met');

function cpuPerCheckout(run: PacedCheckouts) {
  const per = (ms: number | undefined) => (ms === undefined ? undefined : ms / run.paced.ok);
  const server = per(run.cpu.serverMs);
  const database = per(run.cpu.databaseMs);
  return { server, database, total: (server ?? 0) + (database ?? 0) };
}

function printResults(results: Results, counts: { total: number; open: number; objects: number; orders: number }) {
  const { label, targets } = results;
  const m = (target: Target, rate: number, pick: (run: PacedCheckouts) => number | undefined) => {
    const values = (results.runs.get(runKey(target, rate)) ?? []).map(pick).filter((v): v is number => v !== undefined && !Number.isNaN(v));
    return values.length ? median(values) : undefined;
  };
  console.log(`\nCheckout on ${label}: ours is server/main.ts as ${results.runner}; machine at the start: ${results.loadBefore}; at the end: ${machineLoad()}`);
  const header = `${'metric'.padEnd(28)}${targets.map((t) => t.name.padStart(14)).join('')}${targets.length > 1 ? `  ${targets[0]!.name}/${targets[1]!.name}` : ''}`;
  console.log(
    `\nCheckout createPaymentIntent, ${label}: paced ${PACED_SECONDS} s at each rate on ${CONNECTIONS} connections, latency from each checkout's scheduled send time, median of ${ROUNDS} ` +
      `(overhead: latency minus the sandbox's own time for its PaymentIntent; CPU: the server's process${label === 'PGlite' ? ', the embedded database included' : ' and its PostgreSQL backends'})`,
  );
  console.log(header);
  const row = (name: string, values: Array<number | undefined>, unit: string) => {
    const cells = values.map((v) => (v === undefined || Number.isNaN(v) ? '-' : `${v.toFixed(v >= 100 ? 0 : 2)}${unit}`).padStart(14)).join('');
    const ratio = values.length > 1 && values[0] !== undefined && values[1] ? `  ${(values[0] / values[1]).toFixed(2)}` : '';
    console.log(`${name.padEnd(28)}${cells}${ratio}`);
  };
  for (const rate of RATES) {
    row(`${rate}/s: achieved`, targets.map((t) => m(t, rate, (r) => r.paced.achieved)), '/s');
    row('    p50', targets.map((t) => m(t, rate, (r) => r.paced.p50)), ' ms');
    row('    p99', targets.map((t) => m(t, rate, (r) => r.paced.p99)), ' ms');
    row('  sandbox own time p50', targets.map((t) => m(t, rate, (r) => r.sandboxP50)), ' ms');
    row('  overhead p50', targets.map((t) => m(t, rate, (r) => r.overheadP50)), ' ms');
    row('  overhead p99', targets.map((t) => m(t, rate, (r) => r.overheadP99)), ' ms');
    row('  CPU/checkout, process', targets.map((t) => m(t, rate, (r) => cpuPerCheckout(r).server)), ' ms');
    if (label !== 'PGlite') row('  CPU/checkout, database', targets.map((t) => m(t, rate, (r) => cpuPerCheckout(r).database)), ' ms');
    row('  CPU/checkout, total', targets.map((t) => m(t, rate, (r) => cpuPerCheckout(r).total)), ' ms');
    if (targets.some((t) => t.jobs)) {
      // The worker's jobs over the same window, per checkout: background work, not the checkout's.
      const jobs = (r: PacedCheckouts) => (r.jobsCpu ? ((r.jobsCpu.serverMs ?? 0) + (r.jobsCpu.databaseMs ?? 0)) / r.paced.ok : undefined);
      row('  jobs apart (worker+db)', targets.map((t) => (t.jobs ? m(t, rate, jobs) : undefined)), ' ms');
    }
  }
  const repeatP = (pick: (r: PacedResult) => number) => median(results.repeats.map(pick));
  const ours = targets[0]!;
  console.log(
    `repeats (same key and input, no Stripe call) at ${GOAL.rate}/s: p50 ${fmt(repeatP((r) => r.p50))} ms, p99 ${fmt(repeatP((r) => r.p99))} ms, ` +
      `against creates' p50 ${fmt(m(ours, GOAL.rate, (r) => r.paced.p50))} ms, p99 ${fmt(m(ours, GOAL.rate, (r) => r.paced.p99))} ms`,
  );
  const all = counts.total === counts.open && counts.open === counts.objects && counts.objects === counts.orders;
  console.log(`payment attempts in our database afterwards: ${counts.total}, each open with a PaymentIntent of its own for an order of its own: ${all ? 'yes' : `NO (${JSON.stringify(counts)})`}`);

  const overheadP99 = m(ours, GOAL.rate, (r) => r.overheadP99);
  const goals = [`p99 overhead under ${GOAL.p99OverheadMs} ms at ${GOAL.rate}/s: ${fmt(overheadP99)} ms, ${verdict(overheadP99 !== undefined && overheadP99 < GOAL.p99OverheadMs)}`];
  const naive = targets[1];
  if (naive) {
    const oursCpu = m(ours, GOAL.rate, (r) => cpuPerCheckout(r).total);
    const naiveCpu = m(naive, GOAL.rate, (r) => cpuPerCheckout(r).total);
    const ratio = oursCpu !== undefined && naiveCpu ? oursCpu / naiveCpu : undefined;
    goals.unshift(`CPU per checkout (process + database) at most ${GOAL.cpuRatio}x the naive handler's, at ${GOAL.rate}/s: ${fmt(oursCpu, 2)} vs ${fmt(naiveCpu, 2)} ms = ${fmt(ratio, 2)}x, ${verdict(ratio !== undefined && ratio <= GOAL.cpuRatio)}`);
  } else {
    goals.push('the CPU goal against the naive handler is measured on PostgreSQL');
  }
  console.log(`\ngoals (${label}):\n  ${goals.join('\n  ')}`);
}
