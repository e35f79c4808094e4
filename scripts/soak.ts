// `npm run soak`: web and worker processes on one PostgreSQL database under load and faults (issue 24).
//
// It starts, each as its own process the way users run them: the standalone Stripe sandbox (`npm run
// sandbox`: one Stripe for every server), web processes (PROCESS_ROLE=web) behind a round-robin
// balancer served here, and workers (PROCESS_ROLE=worker), all on a throwaway database on the server
// at DATABASE_URL. The sandbox delivers its webhooks to the balancer with its duplicate and reorder
// faults on; Make deliveries go to a sink here that refuses some first attempts (so the outbox
// retries) and notes any delivery posted twice at once.
//
// Two phases, the same load each (closed-loop checkouts: createPaymentIntent through the balancer, the
// customer confirming at the sandbox, the webhooks that follow; staff replaying events and retrying
// Make deliveries through GraphQL):
//   1. one web process and one worker, for a third of SOAK_SECONDS (at least 10 s): the baseline;
//   2. three web processes and two workers, for SOAK_SECONDS (default 60), during which one worker is
//      killed with SIGKILL and started again, and PostgreSQL is restarted once (pg_ctl restart).
// Then it waits for the backlog to settle and checks: every acknowledged event applied, once; every
// paid order confirmed; one add_project accepted per order; no payment without an order; no Make
// delivery posted by two workers at once and no order paid twice; and the other jobs' claims from
// what the database records: each event's application counted (stripe_events.attempts), one janitor
// pass at a time (reconciliation_runs: the workers run it every 10 s here, and staff start passes in
// the web processes). It prints the figures per phase and exits 1 when a check fails (2 on a usage error).
//
// Restarting PostgreSQL needs its data directory: SOAK_PG_DATA (default the cluster of
// .ci/start-postgres.sh, /tmp/payments-ops-pg/data); SOAK_PG_RESTART=false skips that step.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Stripe from 'stripe';
import { createThrowawayDatabase } from '../bench/throwawayDatabase';
import { createApiKey } from '../server/auth/apiKeys';
import { signStaffToken } from '../server/auth/staffTokens';
import { migrate } from '../server/platform/db/migrate';
import { openPostgres } from '../server/platform/db/postgres';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const JWT_SECRET = 'soak-jwt-secret-0123456789abcdef0123456789';
const MAKE_SECRET = 'soak-make-signing-secret';
const STRIPE_KEY = 'sk_test_soakSandbox0001';
/** Checkouts in flight at once, in both phases: the same offered load, so the figures compare. */
const CLIENTS = 12;

// ---------------------------------------------------------------- arguments

function usage(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

const serverUrl = process.env.DATABASE_URL;
if (!serverUrl || !/^postgres(ql)?:\/\//.test(serverUrl)) {
  usage(
    'npm run soak needs DATABASE_URL: a PostgreSQL server (web and worker processes share one database; PGlite is one process\'s). ' +
      'For example: DATABASE_URL=$(bash .ci/start-postgres.sh) npm run soak',
  );
}
const soakSeconds = Number(process.env.SOAK_SECONDS ?? '60');
if (!Number.isInteger(soakSeconds) || soakSeconds < 10 || soakSeconds > 3600) usage('SOAK_SECONDS: expected an integer from 10 to 3600');
const pgData = process.env.SOAK_PG_DATA ?? '/tmp/payments-ops-pg/data';
const restartPostgres = process.env.SOAK_PG_RESTART !== 'false';
if (restartPostgres && !existsSync(join(pgData, 'postmaster.pid'))) {
  usage(`SOAK_PG_DATA: no running cluster in ${pgData} to restart (set SOAK_PG_DATA to its data directory, or SOAK_PG_RESTART=false)`);
}

// ---------------------------------------------------------------- figures

const percentile = (values: number[], p: number) => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};

class Phase {
  readonly checkoutMs: number[] = [];
  readonly webhookMs: number[] = [];
  readonly eventIds: string[] = [];
  checkoutErrors = 0;
  replays = 0;
  makeRetries = 0;
  reconcilePresses = 0;
  startedAt = 0;
  /** When the load stopped. */
  endedAt = 0;
  /** When all it started was applied and posted (or the wait gave up). */
  settledAt = 0;
  settled = false;
  constructor(readonly name: string) {}
  get seconds() {
    return (this.endedAt - this.startedAt) / 1000;
  }
}

let current: Phase | undefined;
/** Every event a web process acknowledged, phases and settling alike: what the checks hold to. */
const acknowledgedEvents: string[] = [];
const log = (line: string) => process.stdout.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

// ---------------------------------------------------------------- processes

interface Proc {
  name: string;
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<void>;
}

const procs = new Set<Proc>();

function startProcess(name: string, args: string[], env: Record<string, string>, ready: RegExp): Promise<Proc> {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out = (out + chunk).slice(-20_000)));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (out = (out + chunk).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start in 90 s\n${out}`)), 90_000);
    const check = () => {
      const match = ready.exec(out);
      if (!match) return;
      clearTimeout(timer);
      child.stdout!.off('data', check);
      const proc: Proc = { name, child, url: match[1]!, output: () => out, exited };
      procs.add(proc);
      void exited.then(() => procs.delete(proc));
      resolve(proc);
    };
    child.stdout!.on('data', check);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${name} exited before it started\n${out}`));
    });
  });
}

// ---------------------------------------------------------------- the balancer in front of the web processes

const readBody = async (req: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};

function startBalancer(backends: () => string[]): Promise<{ url: string; server: Server }> {
  let next = 0;
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const started = performance.now();
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => !['host', 'connection', 'content-length'].includes(name))) as Record<string, string>;
    // Round robin; a process that cannot be reached (killed, restarting) is skipped, as a balancer's
    // health check would take it out.
    const list = backends();
    for (let tried = 0; tried < list.length; tried++) {
      const backend = list[next++ % list.length]!;
      let response: Response;
      try {
        response = await fetch(`${backend}${req.url}`, { method: req.method, headers, body: req.method === 'GET' ? undefined : body });
      } catch {
        continue;
      }
      const answer = Buffer.from(await response.arrayBuffer());
      if (req.url === '/webhooks/stripe' && response.ok) {
        const eventId = (JSON.parse(body.toString('utf8')) as { id: string }).id;
        acknowledgedEvents.push(eventId);
        current?.webhookMs.push(performance.now() - started);
        current?.eventIds.push(eventId);
      }
      res.writeHead(response.status, { 'content-type': response.headers.get('content-type') ?? 'application/json' }).end(answer);
      return;
    }
    res.writeHead(502, { 'content-type': 'application/json' }).end('{"error":"no web process answered"}');
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server })));
}

// ---------------------------------------------------------------- Make's side

/** Accepts deliveries; refuses the first attempt of every fifth (the outbox retries it, or staff do). */
function startMakeSink() {
  const accepted = new Map<string, number>(); // delivery id -> times accepted
  const inFlight = new Set<string>();
  let overlaps = 0;
  let seen = 0;
  const refusedOnce = new Set<string>();
  const server = createServer(async (req, res) => {
    await readBody(req);
    const id = String(req.headers['x-delivery-id'] ?? '');
    if (inFlight.has(id)) overlaps += 1; // posted by two workers at once
    inFlight.add(id);
    await new Promise((resolve) => setTimeout(resolve, 10));
    inFlight.delete(id);
    if (!refusedOnce.has(id) && ++seen % 5 === 0) {
      refusedOnce.add(id);
      res.writeHead(503).end('busy');
      return;
    }
    accepted.set(id, (accepted.get(id) ?? 0) + 1);
    res.writeHead(200).end('Accepted');
  });
  return new Promise<{ url: string; server: Server; accepted: Map<string, number>; overlaps: () => number }>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/make`, server, accepted, overlaps: () => overlaps })),
  );
}

// ---------------------------------------------------------------- load

const CREATE = `mutation ($input: CheckoutInput!) { createPaymentIntent(input: $input) { paymentIntentId order { id } error { code } } }`;
const REPLAY = `mutation ($input: ReplayWebhookEventInput!) { replayWebhookEvent(input: $input) { error { code } } }`;
const RETRY = `mutation ($input: MakeDeliveryActionInput!) { retryMakeDelivery(input: $input) { error { code } } }`;
const RECONCILE = `mutation ($input: RunReconciliationInput!) { runReconciliation(input: $input) { started error { code } } }`;

async function graphql(url: string, query: string, input: Record<string, unknown>, auth: Record<string, string>) {
  const response = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ query, variables: { input } }) });
  const body = (await response.json()) as { data?: Record<string, any>; errors?: unknown[] };
  if (!response.ok || body.errors) throw new Error(`GraphQL ${response.status}: ${JSON.stringify(body.errors ?? body).slice(0, 300)}`);
  return body.data!;
}

async function checkoutLoop(balancer: string, storefrontKey: string, stripe: Stripe, until: () => boolean, paid: string[]) {
  while (!until()) {
    const phase = current!;
    const started = performance.now();
    try {
      const { createPaymentIntent } = await graphql(balancer, CREATE, { idempotencyKey: randomUUID(), track: 'business_plan_builder', email: `soak-${randomUUID()}@customers.test` }, { 'x-api-key': storefrontKey });
      if (createPaymentIntent.error) throw new Error(createPaymentIntent.error.code);
      await stripe.paymentIntents.confirm(createPaymentIntent.paymentIntentId, { payment_method: 'pm_card_visa', return_url: 'https://shop.test/return' });
      paid.push(createPaymentIntent.order.id);
      phase.checkoutMs.push(performance.now() - started);
    } catch {
      // PostgreSQL restarting, a process killed mid-request: the storefront retries with a new key.
      phase.checkoutErrors += 1;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** Staff at the console: replay an acknowledged event, retry a Make delivery waiting for its backoff. */
async function staffLoop(balancer: string, adminToken: string, db: Awaited<ReturnType<typeof openPostgres>>, until: () => boolean) {
  const auth = { authorization: `Bearer ${adminToken}` };
  for (let press = 1; !until(); press++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const phase = current!;
    try {
      // Every few seconds, the Reconciliation screen's "Run now" (a pass in the web process that
      // answers), racing the workers' scheduled passes: one pass at a time across all of them.
      if (press % 4 === 0) {
        await graphql(balancer, RECONCILE, { idempotencyKey: randomUUID() }, auth);
        phase.reconcilePresses += 1;
      }
      const eventId = phase.eventIds[Math.floor(Math.random() * phase.eventIds.length)];
      if (eventId) {
        await graphql(balancer, REPLAY, { id: eventId, idempotencyKey: randomUUID() }, auth);
        phase.replays += 1;
      }
      const { rows } = await db.query<{ id: string }>(`select id from make_deliveries where status = 'pending' and attempts > 0 limit 1`);
      if (rows[0]) {
        await graphql(balancer, RETRY, { id: rows[0].id, idempotencyKey: randomUUID() }, auth);
        phase.makeRetries += 1;
      }
    } catch {
      // As for checkouts: a moment without the database; the next press goes through.
    }
  }
}

// ---------------------------------------------------------------- main

async function main() {
  const database = await createThrowawayDatabase(serverUrl!, 'soak');
  log(`database ${new URL(database.url).pathname.slice(1)} on ${new URL(serverUrl!).host}`);
  const db = openPostgres(database.url, { max: 4, applicationName: 'payments-ops-soak' });
  let failed = false;
  try {
    await migrate(db);
    const { key: storefrontKey } = await createApiKey(db, 'soak storefront', 'storefront');
    const adminToken = await signStaffToken(JWT_SECRET, { userId: randomUUID(), email: 'soak-admin@staff.test', staffRole: 'admin', audience: 'authenticated', expiresIn: '2h' });

    const sandbox = await startProcess('sandbox', ['stripe-sandbox/standalone.ts', '--port', '0'], {}, /Stripe sandbox listening on (http:\/\/\S+)/);
    const sandboxUrl = new URL(sandbox.url);
    const stripe = new Stripe(STRIPE_KEY, { host: sandboxUrl.hostname, port: Number(sandboxUrl.port), protocol: 'http', maxNetworkRetries: 2 });

    const webs: Proc[] = [];
    const workers: Proc[] = [];
    const balancer = await startBalancer(() => webs.map((web) => web.url));
    const make = await startMakeSink();
    const endpoint = await stripe.webhookEndpoints.create({ url: `${balancer.url}/webhooks/stripe`, enabled_events: ['*'] });
    await fetch(`${sandbox.url}/_sandbox/faults/webhooks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ duplicateNext: 1_000_000, reorder: true }) });

    const env = {
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
      DATABASE_URL: database.url,
      DATABASE_POOL_MAX: '8',
      STRIPE_SECRET_KEY: STRIPE_KEY,
      STRIPE_API_BASE: sandbox.url,
      STRIPE_WEBHOOK_SECRET: endpoint.secret!,
      SUPABASE_JWT_SECRET: JWT_SECRET,
      MAKE_ADD_PROJECT_WEBHOOK_URL: `${make.url}/add_project`,
      MAKE_WEBHOOK_URLS: JSON.stringify({ payment_failed: `${make.url}/payment_failed` }),
      MAKE_SIGNING_SECRET: MAKE_SECRET,
      RATE_LIMIT_API_KEY_PER_MINUTE: '0',
      RATE_LIMIT_CUSTOMER_PER_MINUTE: '0',
      RECONCILE_INTERVAL: 'off',
      CONSOLE_DIST_DIR: join(ROOT, 'dist', 'console'),
    };
    const HEALTH = /Health\s+(http:\/\/\S+)\/healthz/;
    const startWeb = async () => webs.push(await startProcess(`web ${webs.length + 1}`, ['server/main.ts'], { ...env, PROCESS_ROLE: 'web' }, HEALTH));
    // Workers run the janitor every 10 s (rather than every 5 minutes), so that passes scheduled in
    // several workers and those staff start in web processes meet: one pass at a time is checked below.
    const startWorker = async () => workers.push(await startProcess(`worker ${workers.length + 1}`, ['server/main.ts'], { ...env, PROCESS_ROLE: 'worker', RECONCILE_INTERVAL: '*/10 * * * * *' }, HEALTH));

    const paid: string[] = [];
    const runPhase = async (phase: Phase, seconds: number, chaos?: () => Promise<void>) => {
      current = phase;
      phase.startedAt = Date.now();
      const endAt = phase.startedAt + seconds * 1000;
      const until = () => Date.now() >= endAt;
      const load = Promise.all([
        ...Array.from({ length: CLIENTS }, () => checkoutLoop(balancer.url, storefrontKey, stripe, until, paid)),
        staffLoop(balancer.url, adminToken, db, until),
      ]).then(() => (phase.endedAt = Date.now()));
      await Promise.all([load, chaos?.()]);
      // What the phase started is delivered and applied before the next begins, and counted in this
      // phase: the sandbox delivers one webhook at a time, so much of it arrives after the load stops.
      log(`${phase.name}: load stopped, waiting for the backlog to settle`);
      phase.settled = await settle(db, Math.max(180, seconds * 8) * 1000);
      phase.settledAt = Date.now();
    };

    await startWeb();
    await startWorker();
    const baseline = new Phase('1 web + 1 worker');
    log(`phase 1: ${baseline.name}, ${Math.max(10, Math.round(soakSeconds / 3))} s`);
    await runPhase(baseline, Math.max(10, Math.round(soakSeconds / 3)));

    await Promise.all([startWeb(), startWeb(), startWorker()]);
    const scaled = new Phase('3 web + 2 workers');
    const events: string[] = [];
    log(`phase 2: ${scaled.name}, ${soakSeconds} s, with a SIGKILL and a PostgreSQL restart`);
    const at = () => `${Math.round((Date.now() - scaled.startedAt) / 1000)} s`;
    await runPhase(scaled, soakSeconds, async () => {
      const killAndRestart = (async () => {
        await new Promise((resolve) => setTimeout(resolve, (soakSeconds * 1000) / 4));
        const victim = workers.shift()!;
        victim.child.kill('SIGKILL');
        await victim.exited;
        events.push(`${victim.name} killed (SIGKILL) at ${at()}`);
        await startWorker();
        events.push(`a worker started again at ${at()}`);
      })();
      if (restartPostgres) {
        await new Promise((resolve) => setTimeout(resolve, (soakSeconds * 1000) / 2));
        // The killed worker is back before PostgreSQL restarts, so that the restart lands on running
        // processes. (A process whose database goes away during its own start waits for it since
        // c9253c0: tests/server/startupOutage.test.ts.)
        await killAndRestart;
        const bin = readdirSync('/usr/lib/postgresql').sort().reverse()[0];
        const pgCtl = `/usr/lib/postgresql/${bin}/bin/pg_ctl`;
        const command = `${pgCtl} -D ${pgData} -w -m fast restart`;
        if (process.getuid?.() === 0) execFileSync('su', ['postgres', '-s', '/bin/bash', '-c', command], { stdio: 'ignore' });
        else execFileSync('bash', ['-c', command], { stdio: 'ignore' });
        events.push(`PostgreSQL restarted at ${at()}`);
      }
      await killAndRestart;
    });
    for (const line of events) log(line);

    failed = !(await report(db, [baseline, scaled], paid, make, stripe));
  } catch (error) {
    failed = true;
    process.stderr.write(`soak failed to run: ${error instanceof Error ? error.stack : String(error)}\n`);
    for (const proc of procs) process.stderr.write(`--- ${proc.name} ---\n${proc.output().slice(-3000)}\n`);
  } finally {
    for (const proc of procs) proc.child.kill('SIGTERM');
    await Promise.all([...procs].map((proc) => Promise.race([proc.exited, new Promise((resolve) => setTimeout(resolve, 15_000))])));
    for (const proc of procs) proc.child.kill('SIGKILL');
    await db.close().catch(() => undefined);
    await database.drop().catch(() => undefined);
  }
  process.exit(failed ? 1 : 0);
}

/** Until no event waits to be applied and no Make delivery waits to be posted (or the time is up). */
async function settle(db: Awaited<ReturnType<typeof openPostgres>>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { rows } = await db
      .query<{ waiting: number }>(
        `select (select count(*) from stripe_events where status = 'received')::int
              + (select count(*) from make_deliveries where status in ('pending', 'delivering'))::int
              + (select count(*) from orders where status = 'pending' and payment_intent_id is not null)::int as waiting`,
      )
      .catch(() => [{ waiting: 1 }] as never);
    if (rows[0]?.waiting === 0) return true;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return false;
}

async function report(
  db: Awaited<ReturnType<typeof openPostgres>>,
  phases: Phase[],
  paid: string[],
  make: { accepted: Map<string, number>; overlaps: () => number },
  stripe: Stripe,
): Promise<boolean> {
  const lines = ['', '| processes | checkouts | checkouts/s | checkout p99 | webhook deliveries acknowledged | events/s until settled | ack p99 | apply lag p99 | settled after | failed checkouts | replays | Make retries | reconcile presses |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |'];
  for (const phase of phases) {
    const { rows } = await db.query<{ lag: number | null }>(
      `select percentile_cont(0.99) within group (order by extract(epoch from applied_at - received_at) * 1000) as lag
         from stripe_events where received_at between to_timestamp($1::double precision / 1000) and to_timestamp($2::double precision / 1000) and applied_at is not null and source = 'endpoint'`,
      [phase.startedAt, phase.settledAt],
    );
    const ms = (value: number) => (Number.isFinite(value) ? `${Math.round(value)} ms` : 'n/a');
    lines.push(
      `| ${phase.name} | ${phase.checkoutMs.length} | ${(phase.checkoutMs.length / phase.seconds).toFixed(1)} | ${ms(percentile(phase.checkoutMs, 99))} | ${phase.eventIds.length} | ${(phase.eventIds.length / ((phase.settledAt - phase.startedAt) / 1000)).toFixed(1)} | ${ms(percentile(phase.webhookMs, 99))} | ${ms(Number(rows[0]?.lag))} | ${((phase.settledAt - phase.endedAt) / 1000).toFixed(0)} s | ${phase.checkoutErrors} | ${phase.replays} | ${phase.makeRetries} | ${phase.reconcilePresses} |`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);

  const acknowledged = [...new Set(acknowledgedEvents)];
  const checks: Array<[string, boolean, string]> = [];
  checks.push(['the backlog settled after each phase (no event waiting, no Make delivery waiting, no paid checkout pending)', phases.every((phase) => phase.settled), '']);

  const { rows: unapplied } = await db.query<{ id: string; status: string }>(`select id, status from stripe_events where id = any($1::text[]) and status not in ('applied', 'ignored')`, [acknowledged]);
  const { rows: storedCount } = await db.query<{ n: number }>(`select count(*)::int as n from stripe_events where id = any($1::text[])`, [acknowledged]);
  const { rows: retried } = await db.query<{ n: number }>(`select count(*)::int as n from stripe_events where id = any($1::text[]) and attempts > 1`, [acknowledged]);
  checks.push([
    'every acknowledged event stored and applied',
    unapplied.length === 0 && storedCount[0]!.n === acknowledged.length,
    `${acknowledgedEvents.length} deliveries acknowledged, ${acknowledged.length} events, ${storedCount[0]!.n} stored, ${unapplied.length} not applied, ${retried[0]!.n} applied after a retry`,
  ]);

  const { rows: twice } = await db.query<{ order_id: string; n: number }>(
    `select order_id, count(*)::int as n from payment_logs where event_type = 'payment.paid' and order_id = any($1::uuid[]) group by order_id having count(*) > 1`,
    [paid],
  );
  checks.push(['each payment applied once (one payment.paid log per order, replays and duplicates included)', twice.length === 0, `${twice.length} orders paid twice`]);

  const { rows: orders } = await db.query<{ unconfirmed: number; unpaid: number }>(
    `select count(*) filter (where status = 'paid' and sync_state <> 'confirmed')::int as unconfirmed,
            count(*) filter (where status <> 'paid')::int as unpaid
       from orders where id = any($1::uuid[])`,
    [paid],
  );
  checks.push(['every paid order confirmed', orders[0]!.unconfirmed === 0 && orders[0]!.unpaid === 0, `${paid.length} checkouts paid at Stripe; ${orders[0]!.unpaid} orders not paid, ${orders[0]!.unconfirmed} paid and not confirmed`]);

  const { rows: deliveries } = await db.query<{ order_id: string; ids: string[] }>(
    `select o.id as order_id, coalesce(array_agg(d.id::text) filter (where d.id is not null), '{}') as ids
       from orders o left join make_deliveries d on d.order_id = o.id and d.kind = 'add_project'
      where o.id = any($1::uuid[]) group by o.id`,
    [paid],
  );
  const wrongAddProject = deliveries.filter((row) => row.ids.length !== 1 || !make.accepted.has(row.ids[0]!));
  const acceptedTwice = [...make.accepted.values()].filter((n) => n > 1).length;
  checks.push([
    'one add_project per order, accepted by Make',
    wrongAddProject.length === 0 && deliveries.length === paid.length,
    `${deliveries.length} orders, ${wrongAddProject.length} without exactly one accepted add_project; ${acceptedTwice} deliveries accepted more than once (a staff replay or a lease lost; Make drops repeats by X-Delivery-Id)`,
  ]);

  const { rows: orphans } = await db.query<{ n: number }>(`select count(*)::int as n from payments p left join orders o on o.id = p.order_id where o.id is null`);
  let stripeOrphans = 0;
  let succeeded = 0;
  for await (const intent of stripe.paymentIntents.list({ limit: 100 })) {
    if (intent.status !== 'succeeded') continue;
    succeeded += 1;
    const orderId = intent.metadata?.order_id;
    const { rows } = orderId ? await db.query<{ n: number }>(`select count(*)::int as n from payments where stripe_payment_intent_id = $1 and order_id = $2::uuid`, [intent.id, orderId]) : { rows: [{ n: 0 }] };
    if (rows[0]!.n !== 1) stripeOrphans += 1;
  }
  checks.push(['no payment without an order (ours, and every PaymentIntent that succeeded at Stripe)', orphans[0]!.n === 0 && stripeOrphans === 0, `${succeeded} succeeded at Stripe, ${stripeOrphans} without their order's payment; ${orphans[0]!.n} payments without an order`]);

  const { rows: attempts } = await db.query<{ n: number }>(
    `select count(*)::int as n from make_delivery_attempts a join make_delivery_attempts b
        on a.delivery_id = b.delivery_id and a.attempt < b.attempt and b.started_at < a.finished_at`,
  );
  checks.push(['no Make delivery held by two workers at once (attempt rows, and the sink)', make.overlaps() === 0 && attempts[0]!.n === 0, `${make.overlaps()} posts overlapping at the sink, ${attempts[0]!.n} overlapping attempt rows`]);

  checks.push(...(await claimChecks(db, acknowledged)));

  for (const [what, ok, detail] of checks) process.stdout.write(`${ok ? 'PASS' : 'FAIL'}  ${what}${detail ? ` (${detail})` : ''}\n`);
  return checks.every(([, ok]) => ok);
}

/**
 * The other jobs' claims, from what the database records (not from logs). The Make outbox's are
 * checked above (attempt rows); here the webhook applier's, the janitor's, and what the alert monitor
 * and retention leave.
 */
async function claimChecks(db: Awaited<ReturnType<typeof openPostgres>>, acknowledged: string[]): Promise<Array<[string, boolean, string]>> {
  const checks: Array<[string, boolean, string]> = [];

  // The applier claims an event (FOR UPDATE SKIP LOCKED) and marks it in the claim's transaction, each
  // application adding one to attempts (a staff replay starts it again from 0): an event applied by
  // two workers at once would be counted twice. attempts above 1 with no failure in between is that;
  // a failed attempt leaves its error in last_error until the next succeeds, so those are reported,
  // the payment.paid check above holding the effect to once.
  // An event the endpoint stored as ignored (a type this server does not handle) is never claimed.
  const { rows: applied } = await db.query<{ unclaimed: number; once: number; more: number; storedIgnored: number }>(
    `select count(*) filter (where status = 'applied' and attempts < 1)::int as unclaimed,
            count(*) filter (where attempts = 1)::int as once, count(*) filter (where attempts > 1)::int as more,
            count(*) filter (where status = 'ignored' and attempts = 0)::int as "storedIgnored"
       from stripe_events where id = any($1::text[]) and status in ('applied', 'ignored')`,
    [acknowledged],
  );
  const a = applied[0]!;
  checks.push([
    'every applied Stripe event applied in a claim of its own (stripe_events.attempts)',
    a.unclaimed === 0,
    `${a.once} applied or ignored in one claim since their last replay, ${a.more} in more than one (after a failed attempt), ${a.storedIgnored} ignored when stored (never claimed), ${a.unclaimed} applied with no claim counted`,
  ]);

  // One janitor pass at a time across every process (scheduled in the workers, started by staff in the
  // web processes): no two reconciliation_runs rows overlap in time, and none is left running.
  const { rows: runs } = await db.query<{ total: number; scheduled: number; manual: number; succeeded: number; failed: number; running: number }>(
    `select count(*)::int as total, count(*) filter (where trigger = 'schedule')::int as scheduled, count(*) filter (where trigger = 'manual')::int as manual,
            count(*) filter (where status = 'succeeded')::int as succeeded, count(*) filter (where status = 'failed')::int as failed,
            count(*) filter (where status = 'running')::int as running
       from reconciliation_runs`,
  );
  const { rows: overlapping } = await db.query<{ n: number }>(
    `select count(*)::int as n from reconciliation_runs a join reconciliation_runs b
        on a.id <> b.id and a.started_at <= b.started_at and b.started_at < coalesce(a.finished_at, 'infinity'::timestamptz)`,
  );
  const r = runs[0]!;
  checks.push([
    'one reconciliation pass at a time across the processes (reconciliation_runs)',
    overlapping[0]!.n === 0 && r.total > 0,
    `${r.total} passes (${r.scheduled} scheduled in workers, ${r.manual} started by staff in web processes; ${r.succeeded} succeeded, ${r.failed} failed, ${r.running} still running), ${overlapping[0]!.n} overlapping pairs`,
  ]);

  // The alert monitor evaluates under a transaction-scoped advisory lock and records each onset once
  // (ops_alerts.onsets); retention deletes in batches picked with SKIP LOCKED and keeps no run rows.
  // Neither leaves a claim to compare, so they are reported, not checked.
  const { rows: alerts } = await db.query<{ code: string; onsets: number; holding: boolean }>(`select code, onsets, holding from ops_alerts where onsets > 0 order by code`);
  checks.push([
    'alert onsets recorded (reported only: the monitor keeps no per-run claim)',
    true,
    alerts.length === 0 ? 'none' : alerts.map((a) => `${a.code} ${a.onsets}${a.holding ? ' holding' : ''}`).join(', '),
  ]);
  return checks;
}

void main();
