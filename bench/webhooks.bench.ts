// Webhook benchmark: POST /webhooks/stripe, the production route with real signature verification,
// over loopback HTTP, with signed `payment_intent.succeeded` events (tests/webhooks/fixtures/, ~2.5 KB
// pretty-printed as Stripe sends them, each with its own event and PaymentIntent id), from one sender
// process (this one) on keep-alive connections to receivers in processes of their own:
//   * ours as users run it: server/main.ts (compiled JavaScript from `dist/bench-server` when it
//     builds, else tsx; the run says which), on PostgreSQL twice: acknowledging alone (applier off,
//     JOBS_ENABLED=false) and acknowledging and applying (the default, every job on);
//   * the peer as it is deployed: @supabase/stripe-sync-engine behind a minimal node:http server
//     (bench/peers/stripe-sync-server.mjs), and, as a second row, the same library called in this
//     process (processWebhook(): verify, then upsert into its own `stripe` schema; no HTTP).
// Each receiver has a throwaway database of its own on the PostgreSQL server at DATABASE_URL, so that
// the CPU of the PostgreSQL backends serving it (pg_stat_activity's pids, /proc/<pid>/stat) is its own.
// Measured, alternating the receivers in each of BENCH_ROUNDS rounds so that drift in machine load hits
// all alike, medians printed with the machine's load average:
//   * closed loop: events/s and latency at 1, 16 and 64 senders (one keep-alive connection each);
//     events of another integration, which the applier records as not ours;
//   * CPU per event at 16 senders: utime+stime of the receiver's process and of its database backends
//     over the run, divided by the events. For ours with the applier on, the window lasts until the
//     applier has finished the run's events, so applying them is counted too;
//   * paced (open loop): 500 and 1,000 events/s for BENCH_PACED_SECONDS (10) s on 16 connections,
//     latency from each event's scheduled send time (a send waiting for a free connection waits on
//     the clock); for ours, events for orders of ours and acknowledged-to-applied latency from the
//     database's received_at and applied_at;
//   * applied: a batch of BENCH_WEBHOOK_EVENTS (2000) events for orders of ours (made beforehand with
//     the checkout SQL functions, not measured) sent by 16 senders, timed from the database clock:
//     applied/s = applied / (max(applied_at) - min(received_at)). The orders must end paid and
//     confirmed, and the run says how many did. A wait gives up after STALL_MS without progress;
//   * the ordering check: payment_intent.succeeded and .processing for one PaymentIntent in the same
//     second, delivered in both orders, each applied before the next is sent.
// Goals (issue 23) printed as met or not. On PGlite (no DATABASE_URL) ours runs in a child of this file
// (SERVE_FLAG: startApp as main.ts calls it, under tsx) on a data directory of its own with the malloc
// settings `npm start` gives (the embedded default as users run it), and answers this process's SQL over
// IPC since a PGlite directory is one process's; the peer needs PostgreSQL.
//
// The sender is not free: making, signing and sending an event costs it 100-250 µs of CPU, on the same
// 2 cores. Autocannon cannot serve here: every request needs its own signature over its own body (see
// KeepAliveConnections in load.ts). BENCH_CPU_PROF_DIR writes a CPU profile of the PGlite server child.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { StripeSync } from '@supabase/stripe-sync-engine';
import pg from 'pg';
import Stripe from 'stripe';
import { startApp } from '../server/compose';
import { loadConfig } from '../server/config';
import { MALLOC_TUNABLES, openPglite } from '../server/platform/db/pglite';
import { createLogger } from '../server/platform/observability/logger';
import { closedLoop, KeepAliveConnections, type LoopResult, median } from './load';
import { type CpuSpent, DatabaseCpu, machineLoad, measureCpu, OBSERVER, pacedRun, type PacedResult, processMemory, startRealServer, startScript } from './processes';
import { createThrowawayDatabase, type ThrowawayDatabase } from './throwawayDatabase';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const PACED_SECONDS = Number(process.env.BENCH_PACED_SECONDS ?? 10);
/** Events in each applied batch (one batch per round). */
const BATCH = Number(process.env.BENCH_WEBHOOK_EVENTS ?? 2000);
const SENDERS = [1, 16, 64];
const RATES = process.env.BENCH_PACED_RATES ? process.env.BENCH_PACED_RATES.split(',').map(Number) : [500, 1000];
const CONNECTIONS = 16;
/** Issue 23's goals, on PostgreSQL with 16 senders, against the peer behind HTTP in the same run. */
const GOAL = { senders: 16, ackRatio: 1.5, ackP99Ms: 10, cpuFraction: 1 / 3, appliedVsInProcess: 1, pacedRate: 1000, appliedP99Ms: 100 };
/** Issue 23's memory goal: the embedded default's server process under 400 MiB RSS at the end of the run. */
const PGLITE_RSS_GOAL_MIB = 400;
/** How long a server may take to start. */
const START_TIMEOUT_MS = 180_000;
/** How long the applier may make no progress before a wait gives up and reports what is left. */
const STALL_MS = 10_000;

const SECRET = 'whsec_benchWebhooksSigningSecret0001';
const WEBHOOK_PATH = '/webhooks/stripe';
const SERVE_FLAG = '--serve-for-webhooks-bench';
const THIS_FILE = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURES = new URL('../tests/webhooks/fixtures/', import.meta.url);

export async function benchWebhooks() {
  if (process.env.BENCH_WEBHOOKS_PROBE && process.env.DATABASE_URL) return probePostgres(process.env.DATABASE_URL);
  await benchPglite();
  if (process.env.DATABASE_URL) await benchPostgres(process.env.DATABASE_URL);
  else console.log('\nWebhooks: set DATABASE_URL for the PostgreSQL run and the peer (stripe-sync-engine needs PostgreSQL).');
}

// ---------------------------------------------------------------------------------------------------
// Events: the fixture with markers in place of what differs per event, compiled once, filled per event.

type EventType = 'payment_intent.succeeded' | 'payment_intent.processing';

/** Whose metadata the PaymentIntent carries: ours (the order it pays) or another integration's. */
interface Owner {
  orderId: string;
  customerId: string;
  track: string;
  attempt: number;
  amount: number;
  currency: string;
}

interface Delivery {
  eventId: string;
  paymentIntentId: string;
  body: string;
  signature: string;
}

type Template = (values: Record<string, string | number>) => string;

/** `@@NAME@@` inside a string is replaced in place; a whole string `"@@NAME#@@"` by a bare number. */
function compileTemplate(text: string): Template {
  const literals: string[] = [];
  const names: string[] = [];
  let last = 0;
  for (const match of text.matchAll(/"@@([A-Z_]+)#@@"|@@([A-Z_]+)@@/g)) {
    literals.push(text.slice(last, match.index));
    names.push(match[1] ?? match[2]!);
    last = match.index! + match[0].length;
  }
  literals.push(text.slice(last));
  return (values) => {
    let out = literals[0]!;
    for (let i = 0; i < names.length; i++) out += String(values[names[i]!]) + literals[i + 1]!;
    return out;
  };
}

function eventTemplate(type: EventType, ours: boolean): Template {
  const event = JSON.parse(readFileSync(new URL(`${type}.json`, FIXTURES), 'utf8'));
  const intent = event.data.object;
  event.id = '@@EVENT_ID@@';
  event.created = '@@CREATED#@@';
  event.request.id = 'req_@@SUFFIX@@';
  intent.id = 'pi_@@SUFFIX@@';
  intent.created = '@@INTENT_CREATED#@@';
  intent.client_secret = `pi_@@SUFFIX@@_secret_${intent.client_secret.split('_secret_')[1]}`;
  intent.latest_charge = `${intent.latest_charge.slice(0, 3)}@@SUFFIX@@`; // ch_ or py_, unique like the PaymentIntent
  intent.amount = '@@AMOUNT#@@';
  if (intent.amount_received > 0) intent.amount_received = '@@AMOUNT#@@';
  intent.currency = '@@CURRENCY@@';
  // Another integration's keys: no order_id or track of ours, so the applier records the event as not ours.
  intent.metadata = ours
    ? { order_id: '@@ORDER_ID@@', customer_id: '@@CUSTOMER_ID@@', track: '@@TRACK@@', attempt: '@@ATTEMPT@@' }
    : { shop_order_id: '@@ORDER_ID@@', shop_customer_id: '@@CUSTOMER_ID@@', sku: '@@TRACK@@', attempt: '@@ATTEMPT@@' };
  return compileTemplate(JSON.stringify(event, null, 2));
}

/** Signed deliveries; a tag per run names its events (`evt_<tag>…`) and PaymentIntents (`pi_<tag>…`). */
class Events {
  private readonly templates = new Map<string, Template>();

  template(type: EventType, ours: boolean): Template {
    const key = `${type}:${ours}`;
    let template = this.templates.get(key);
    if (!template) this.templates.set(key, (template = eventTemplate(type, ours)));
    return template;
  }

  /** The n-th event of a run: `evt_` and the PaymentIntent's `pi_` followed by 24 characters, as Stripe's. */
  delivery(type: EventType, tag: string, n: number, owner: Owner | null, created = Math.floor(Date.now() / 1000), eventSerial = n): Delivery {
    const suffix = `${tag}${String(n).padStart(24 - tag.length, '0')}`;
    const eventId = `evt_${tag}${String(eventSerial).padStart(24 - tag.length, '0')}`;
    const foreign = owner ?? { orderId: randomUuidLike(n), customerId: randomUuidLike(n + 1), track: 'plan_pro', attempt: 1, amount: 9900, currency: 'usd' };
    const body = this.template(type, owner !== null)({
      EVENT_ID: eventId,
      CREATED: created,
      INTENT_CREATED: created - 142,
      SUFFIX: suffix,
      AMOUNT: foreign.amount,
      CURRENCY: foreign.currency,
      ORDER_ID: foreign.orderId,
      CUSTOMER_ID: foreign.customerId,
      TRACK: foreign.track,
      ATTEMPT: foreign.attempt,
    });
    return { eventId, paymentIntentId: `pi_${suffix}`, body, signature: Stripe.webhooks.generateTestHeaderString({ payload: body, secret: SECRET }) };
  }
}

/** A UUID-shaped value, cheap and distinct per n (another shop's ids: never looked up). */
const randomUuidLike = (n: number) => `${(n % 0xffffffff).toString(16).padStart(8, '0')}-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** A fresh run tag: 8 lower-case letters and digits. */
const newTag = () => randomBytes(8).toString('base64url').replace(/[^a-z0-9]/gi, 'x').toLowerCase().slice(0, 8);

// ---------------------------------------------------------------------------------------------------
// Our server, in a child process: on PGlite, this file's child answering SQL over IPC.

type ServerCall = { op: 'query'; sql: string; params: unknown[] } | { op: 'memory' } | { op: 'stop' };
type ServerRequest = ServerCall & { id: number };
type ServerReply = { type: 'ready'; url: string } | { type: 'reply'; id: number; ok: true; result: unknown } | { type: 'reply'; id: number; ok: false; error: string };

interface Memory {
  rssMiB: number;
  peakRssMiB: number;
}

/** The child's side: our server as main.ts starts it, answering the parent's SQL until told to stop. */
async function serveForBench() {
  const databaseUrl = process.env.BENCH_WEBHOOKS_DATABASE_URL || undefined;
  const pgliteDir = process.env.BENCH_WEBHOOKS_PGLITE_DIR || undefined;
  const silent = createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, done) => done() }) });
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'silent',
    STRIPE_WEBHOOK_SECRET: SECRET,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  });
  const pglite = databaseUrl ? undefined : await openPglite(pgliteDir);
  const app = await startApp(config, silent, pglite ? { db: pglite } : {});
  // Sandbox mode (no Stripe key): only what the benchmark sends reaches the endpoint.
  app.stripeSandbox?.core.events.stopAutoDelivery();
  const send = (message: ServerReply, then?: () => void) => process.send!(message, undefined, {}, then);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await app.stop();
      await pglite?.close();
    })());
  process.on('message', async (request: ServerRequest) => {
    try {
      if (request.op === 'query') {
        const { rows } = await app.db.query(request.sql, request.params as never);
        send({ type: 'reply', id: request.id, ok: true, result: rows });
      } else if (request.op === 'memory') {
        const memory: Memory = { rssMiB: process.memoryUsage().rss / 1048576, peakRssMiB: process.resourceUsage().maxRSS / 1024 };
        send({ type: 'reply', id: request.id, ok: true, result: memory });
      } else {
        await stop();
        send({ type: 'reply', id: request.id, ok: true, result: null }, () => process.disconnect());
      }
    } catch (error) {
      send({ type: 'reply', id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) });
    }
  });
  // The parent is gone (or done): stop, and exit even if a stray handle would keep the process up.
  process.once('disconnect', () => {
    void stop().finally(() => setTimeout(() => process.exit(0), 1000).unref());
  });
  send({ type: 'ready', url: app.url });
}

/** Our server as the benchmark drives it: its URL, its process, SQL on its database, its memory. */
interface OurServer extends Sql {
  url: string;
  pid: number;
  /** How it runs (compiled or tsx, the role), for the output. */
  how: string;
  /** False when the applier is off: the run's events stay received. */
  applies: boolean;
  memory(): Promise<Memory | undefined>;
  stop(): Promise<void>;
}

interface Sql {
  query<Row>(sql: string, params?: unknown[]): Promise<Row[]>;
}

class ServerProcess implements OurServer {
  readonly how = `in a child of the benchmark (startApp as main.ts calls it, under tsx; PGlite on a data directory of its own, GLIBC_TUNABLES as npm start sets them)`;
  readonly applies = true;

  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private readonly kill = () => this.child.kill('SIGKILL');

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {
    process.once('exit', this.kill);
    child.on('message', (message: ServerReply) => {
      if (message.type !== 'reply') return;
      const waiting = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.ok) waiting?.resolve(message.result);
      else waiting?.reject(new Error(message.error));
    });
    child.once('exit', (code, signal) => {
      for (const waiting of this.pending.values()) waiting.reject(new Error(`the server process exited (${signal ?? code})`));
      this.pending.clear();
    });
  }

  get pid() {
    return this.child.pid!;
  }

  static async start(databaseUrl: string | undefined): Promise<ServerProcess> {
    // BENCH_CPU_PROF_DIR: a CPU profile of the server process (node --cpu-prof), written when it exits.
    const profile = process.env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`] : [];
    // On PGlite, as `npm start` runs it: on disk (a new directory, removed at stop) with its malloc settings.
    const dataDir = databaseUrl ? '' : mkdtempSync(join(tmpdir(), 'bench-webhooks-pglite-'));
    const child = spawn(process.execPath, [...profile, '--import', 'tsx', THIS_FILE, SERVE_FLAG], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, BENCH_WEBHOOKS_DATABASE_URL: databaseUrl ?? '', BENCH_WEBHOOKS_PGLITE_DIR: dataDir, ...(databaseUrl ? {} : { GLIBC_TUNABLES: MALLOC_TUNABLES }) },
    });
    child.once('exit', () => dataDir && rmSync(dataDir, { recursive: true, force: true }));
    const url = await new Promise<string>((resolve, reject) => {
      // Generous: on the shared 2-core machine under load, starting under tsx has taken over a minute.
      const timer = setTimeout(() => reject(new Error(`the benchmark server did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
      child.once('message', (message: ServerReply) => {
        clearTimeout(timer);
        if (message.type === 'ready') resolve(message.url);
        else reject(new Error('unexpected first message from the benchmark server'));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the benchmark server exited (code ${code}) before listening`));
      });
    });
    return new ServerProcess(child, url);
  }

  private request<T>(request: ServerCall): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.send({ ...request, id });
    });
  }

  query<Row>(sql: string, params: unknown[] = []): Promise<Row[]> {
    return this.request<Row[]>({ op: 'query', sql, params });
  }

  memory(): Promise<Memory> {
    return this.request<Memory>({ op: 'memory' });
  }

  async stop() {
    process.off('exit', this.kill);
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    await this.request({ op: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * Our server as users run it (server/main.ts, compiled when it builds) on a PostgreSQL database of its
 * own; the benchmark's SQL goes through a connection of its own, named OBSERVER so that its CPU is not
 * counted as the server's database work.
 */
class RealServer implements OurServer {
  private constructor(
    private readonly server: Awaited<ReturnType<typeof startRealServer>>,
    private readonly pool: pg.Pool,
    readonly applies: boolean,
    readonly database: DatabaseCpu,
  ) {}

  get url() {
    return this.server.url;
  }

  get pid() {
    return this.server.pid;
  }

  get how() {
    return `server/main.ts as ${this.server.runner}, ${this.applies ? 'applier on (every job)' : 'applier off (JOBS_ENABLED=false)'}`;
  }

  static async start(databaseUrl: string, applies: boolean, env: Record<string, string> = {}): Promise<RealServer> {
    const server = await startRealServer({ DATABASE_URL: databaseUrl, STRIPE_WEBHOOK_SECRET: SECRET, ...(applies ? {} : { JOBS_ENABLED: 'false' }), ...env });
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 2, application_name: OBSERVER });
    pool.on('error', () => {});
    return new RealServer(server, pool, applies, new DatabaseCpu(pool));
  }

  async query<Row>(sql: string, params: unknown[] = []): Promise<Row[]> {
    return (await this.pool.query(sql, params)).rows as Row[];
  }

  async memory() {
    return processMemory(this.pid);
  }

  async stop() {
    await this.server.stop();
    await this.pool.end();
  }
}

/** The peer behind node:http (bench/peers/stripe-sync-server.mjs) on a database of its own. */
async function startPeerServer(databaseUrl: string) {
  const server = await startScript('peers/stripe-sync-server.mjs', { DATABASE_URL: databaseUrl, STRIPE_WEBHOOK_SECRET: SECRET });
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1, application_name: OBSERVER });
  pool.on('error', () => {});
  return {
    ...server,
    database: new DatabaseCpu(pool),
    stop: async () => {
      await server.stop();
      await pool.end();
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// ---------------------------------------------------------------------------------------------------
// The peer in process: stripe-sync-engine as a library (its CommonJS build), in its own `stripe` schema.

class Peer {
  private constructor(private readonly sync: StripeSync) {}

  static async start(databaseUrl: string): Promise<Peer> {
    const engine = createRequire(import.meta.url)('@supabase/stripe-sync-engine') as typeof import('@supabase/stripe-sync-engine');
    // runMigrations logs a failure and returns; its logger is how we hear of one.
    let failure: unknown;
    const logger = { info() {}, warn() {}, error: (error: unknown) => (failure = error) };
    await engine.runMigrations({ databaseUrl, schema: 'stripe', logger } as unknown as Parameters<typeof engine.runMigrations>[0]);
    const sync = new engine.StripeSync({
      poolConfig: { connectionString: databaseUrl }, // its default pool: 10 connections, as ours
      schema: 'stripe',
      // Never used: payment_intent events are upserted from the payload when revalidation is off and
      // nothing is backfilled, so no request reaches Stripe (a call would fail with this key).
      stripeSecretKey: 'sk_test_bench',
      stripeWebhookSecret: SECRET,
      revalidateObjectsViaStripeApi: [],
      backfillRelatedEntities: false,
      autoExpandLists: false,
    });
    // Its pool has no error listener: a connection ended by the server (the database dropped while a
    // closed pool's backend is still exiting) would crash the process.
    sync.postgresClient.pool.on('error', () => {});
    const { rows } = await sync.postgresClient.query(`select to_regclass('stripe.payment_intents') is not null as ready`);
    if (!rows[0]?.ready) {
      await sync.postgresClient.close();
      throw new Error(`stripe-sync-engine's migrations did not create stripe.payment_intents: ${failure instanceof Error ? failure.message : String(failure)}`);
    }
    return new Peer(sync);
  }

  process(delivery: Delivery): Promise<void> {
    return this.sync.processWebhook(delivery.body, delivery.signature);
  }

  async status(paymentIntentId: string): Promise<string | null> {
    const { rows } = await this.sync.postgresClient.query('select status from stripe.payment_intents where id = $1', [paymentIntentId]);
    return rows[0]?.status ?? null;
  }

  close() {
    return this.sync.postgresClient.close();
  }
}

// ---------------------------------------------------------------------------------------------------
// Measurements.

const deliveryHeaders = (delivery: Delivery) => ({
  'Content-Type': 'application/json; charset=utf-8',
  'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
  'Stripe-Signature': delivery.signature,
});

/** Closed loop of signed deliveries to a webhook endpoint; `next` makes the i-th (undefined: done). */
async function sendHttp(url: string, senders: number, next: (i: number) => Delivery | undefined, seconds?: number): Promise<LoopResult> {
  const connections = new KeepAliveConnections(url, senders);
  try {
    return await closedLoop({
      concurrency: senders,
      seconds,
      next,
      call: async (worker, delivery) => (await connections.post(worker, WEBHOOK_PATH, deliveryHeaders(delivery), delivery.body)) === 200,
    });
  } finally {
    connections.close();
  }
}

async function sendToPeer(peer: Peer, inFlight: number, next: (i: number) => Delivery | undefined, seconds?: number): Promise<LoopResult> {
  return closedLoop({ concurrency: inFlight, seconds, next, call: async (_worker, delivery) => (await peer.process(delivery), true) });
}

/** Paced deliveries to a webhook endpoint on CONNECTIONS keep-alive connections. */
async function pacedHttp(url: string, rate: number, deliveries: Delivery[]): Promise<PacedResult> {
  const connections = new KeepAliveConnections(url, CONNECTIONS);
  try {
    return await pacedRun({
      rate,
      items: deliveries,
      connections: CONNECTIONS,
      call: async (connection, delivery) => (await connections.post(connection, WEBHOOK_PATH, deliveryHeaders(delivery), delivery.body)) === 200,
    });
  } finally {
    connections.close();
  }
}

function checkLoop(what: string, result: Pick<LoopResult, 'failed' | 'errors'>) {
  if (result.failed + result.errors > 0) throw new Error(`${what}: ${result.failed} non-2xx answers and ${result.errors} errors during the benchmark`);
}

interface EventCounts {
  total: number;
  received: number;
  applied: number;
  ignored: number;
  failed: number;
}

const countEvents = async (server: Sql, tag: string) =>
  (
    await server.query<EventCounts>(
      `select count(*)::int as total, (count(*) filter (where status = 'received'))::int as received,
              (count(*) filter (where status = 'applied'))::int as applied, (count(*) filter (where status = 'ignored'))::int as ignored,
              (count(*) filter (where status = 'failed'))::int as failed
         from stripe_events where id like $1`,
      [`evt\\_${tag}%`],
    )
  )[0]!;

/**
 * Waits until none of the run's events is left `received`, or until the applier made no progress for
 * STALL_MS (then reports what is left instead of hanging).
 */
async function waitForApplier(server: Sql, tag: string): Promise<EventCounts & { stalled: boolean }> {
  let counts = await countEvents(server, tag);
  let lastProgress = performance.now();
  while (counts.received > 0) {
    if (performance.now() - lastProgress > STALL_MS) return { ...counts, stalled: true };
    await sleep(100);
    const now = await countEvents(server, tag);
    if (now.received < counts.received) lastProgress = performance.now();
    counts = now;
  }
  return { ...counts, stalled: false };
}

/** Removes a finished run's events, so that the table (and an in-memory PGlite) stays small. */
async function forgetEvents(server: Sql, tag: string) {
  await server.query('delete from stripe_events where id like $1', [`evt\\_${tag}%`]);
  await server.query('vacuum stripe_events');
}

/**
 * One order of ours per event, through the checkout SQL functions (each order as a storefront makes
 * it: customer, order, payment attempt with its PaymentIntent, log rows), two statements in all.
 */
async function createOrders(server: Sql, tag: string, count: number): Promise<Owner[]> {
  const begun = await server.query<{ n: number; attempt_id: string | null; outcome: string }>(
    `select n, r->>'outcome' as outcome, r->'attempt'->>'id' as attempt_id
       from (select n, checkout_begin(jsonb_build_object(
                  'scope', 'api_key:bench', 'key', $1 || '-' || n, 'operation', 'createPaymentIntent',
                  'request_hash', encode(sha256(convert_to($1 || '-' || n, 'UTF8')), 'hex'), 'kind', 'payment_intent',
                  'track', 'business_plan_builder', 'order_id', null, 'user_id', null, 'email', $1 || '-' || n || '@bench.example',
                  'email_from_sign_in', false, 'name', null, 'metadata', '{}'::jsonb, 'actor', 'bench')) as r
               from generate_series(1, $2::int) as n) as b
      order by n`,
    [tag, count],
  );
  const refused = begun.find((row) => row.outcome !== 'attempt' || !row.attempt_id);
  if (refused) throw new Error(`checkout_begin refused a benchmark order: ${refused.outcome}`);
  const recorded = await server.query<{ n: number; order_id: string; customer_id: string; track: string; attempt: number; amount: number; currency: string; object_id: string }>(
    `select t.n, r->'order'->>'id' as order_id, r->'order'->>'customer_id' as customer_id, r->'order'->>'product_id' as track,
            (r->'attempt'->>'attempt')::int as attempt, (r->'order'->>'amount')::int as amount, r->'order'->>'currency' as currency,
            r->'attempt'->>'stripe_object_id' as object_id
       from unnest($2::uuid[], $3::int[]) as t(attempt_id, n),
            lateral checkout_record_attempt(jsonb_build_object(
              'attempt_id', t.attempt_id, 'object_id', 'pi_' || $1 || lpad(t.n::text, 24 - length($1), '0'),
              'client_secret', 'pi_' || $1 || lpad(t.n::text, 24 - length($1), '0') || '_secret_bench',
              'scope', 'api_key:bench', 'key', $1 || '-' || t.n, 'actor', 'bench')) as r
      order by t.n`,
    [tag, begun.map((row) => row.attempt_id), begun.map((row) => row.n)],
  );
  return recorded.map((row) => {
    const expected = `pi_${tag}${String(row.n).padStart(24 - tag.length, '0')}`;
    if (row.object_id !== expected) throw new Error(`order ${row.order_id} holds ${row.object_id}, expected ${expected}`);
    return { orderId: row.order_id, customerId: row.customer_id, track: row.track, attempt: row.attempt, amount: row.amount, currency: row.currency };
  });
}

interface OrderStates {
  orders: number;
  paid: number;
}

async function orderStates(server: Sql, tag: string): Promise<OrderStates> {
  const [row] = await server.query<OrderStates>(
    `select count(*)::int as orders, (count(*) filter (where o.status = 'paid' and o.sync_state = 'confirmed'))::int as paid
       from payment_attempts a join orders o on o.id = a.order_id
      where a.stripe_object_id like $1`,
    [`pi\\_${tag}%`],
  );
  return row!;
}

interface AppliedTiming {
  span_s: number | null;
  p50_ms: number | null;
  p99_ms: number | null;
}

/** A run's applied span and acknowledged-to-applied latencies, from the database clock. */
async function appliedTiming(server: Sql, tag: string): Promise<AppliedTiming | undefined> {
  const [timing] = await server.query<AppliedTiming>(
    `select extract(epoch from max(applied_at) - min(received_at))::float8 as span_s,
            1000 * percentile_cont(0.5) within group (order by extract(epoch from applied_at - received_at)::float8) as p50_ms,
            1000 * percentile_cont(0.99) within group (order by extract(epoch from applied_at - received_at)::float8) as p99_ms
       from stripe_events where id like $1 and applied_at is not null`,
    [`evt\\_${tag}%`],
  );
  return timing;
}

interface Applied {
  sent: LoopResult;
  counts: EventCounts & { stalled: boolean };
  /** Applied per second, from the database clock; undefined when nothing was applied. */
  rate: number | undefined;
  p50: number | undefined;
  p99: number | undefined;
  orders: OrderStates;
}

/** A batch of BATCH events for orders of ours, sent by 16 senders; waits until they are applied. */
async function appliedBatch(server: OurServer, events: Events): Promise<Applied> {
  const tag = newTag();
  const owners = await createOrders(server, tag, BATCH);
  const deliveries = owners.map((owner, i) => events.delivery('payment_intent.succeeded', tag, i + 1, owner));
  const sent = await sendHttp(server.url, GOAL.senders, (i) => deliveries[i]);
  checkLoop('the applied batch', sent);
  const counts = await waitForApplier(server, tag);
  const timing = await appliedTiming(server, tag);
  const orders = await orderStates(server, tag);
  await forgetEvents(server, tag);
  const applied = counts.applied > 0 && timing?.span_s ? counts.applied / timing.span_s : undefined;
  return { sent, counts, rate: applied, p50: timing?.p50_ms ?? undefined, p99: timing?.p99_ms ?? undefined, orders };
}

interface Ordering {
  /** The delivery order, e.g. "succeeded, then processing". */
  sequence: string;
  ours: string;
  oursCorrect: boolean | undefined;
  peer: string | undefined;
}

/**
 * payment_intent.succeeded and .processing for one PaymentIntent with the same `created`, delivered
 * in both orders, each applied before the next is sent. The right final state is paid/succeeded.
 */
async function orderingCheck(server: OurServer, events: Events, peer: Peer | undefined): Promise<Ordering[]> {
  const sequences: EventType[][] = [
    ['payment_intent.succeeded', 'payment_intent.processing'],
    ['payment_intent.processing', 'payment_intent.succeeded'],
  ];
  const results: Ordering[] = [];
  for (const sequence of sequences) {
    const tag = newTag();
    const [owner] = await createOrders(server, tag, 1);
    const created = Math.floor(Date.now() / 1000);
    const deliveries = sequence.map((type, i) => events.delivery(type, tag, 1, owner!, created, i + 1));
    let oursState: string | undefined;
    for (const delivery of deliveries) {
      const sent = await sendHttp(server.url, 1, (i) => (i === 0 ? delivery : undefined));
      checkLoop('the ordering check', sent);
      const counts = await waitForApplier(server, tag);
      if (counts.stalled) {
        oursState = `applier not available: events still 'received' after ${STALL_MS / 1000} s without progress`;
        break;
      }
    }
    const [order] = await server.query<{ status: string; sync_state: string | null }>(
      `select o.status, o.sync_state from payment_attempts a join orders o on o.id = a.order_id where a.stripe_object_id = $1`,
      [deliveries[0]!.paymentIntentId],
    );
    const oursCorrect = oursState ? undefined : order!.status === 'paid' && order!.sync_state === 'confirmed';
    oursState ??= `order ${order!.status}, sync ${order!.sync_state ?? 'none'}`;
    let peerState: string | undefined;
    if (peer) {
      for (const delivery of deliveries) await peer.process(delivery);
      peerState = `stripe.payment_intents status '${await peer.status(deliveries[0]!.paymentIntentId)}'`;
    }
    results.push({ sequence: sequence.map((type) => type.replace('payment_intent.', '')).join(', then '), ours: oursState, oursCorrect, peer: peerState });
  }
  return results;
}
// ---------------------------------------------------------------------------------------------------
// Receivers and runs: each run measures the CPU its receiver spent on it.

interface Receiver {
  name: string;
  /** The process whose CPU is the receiver's (undefined: it shares this one, with the sender). */
  pid: number | undefined;
  database: DatabaseCpu | undefined;
  closed(senders: number, next: (i: number) => Delivery | undefined, seconds?: number): Promise<LoopResult>;
  paced?(rate: number, deliveries: Delivery[]): Promise<PacedResult>;
  /** Ours with the applier on: waits until a run's events are applied (inside the run's CPU window). */
  settle?(tag: string): Promise<unknown>;
  /** Ours: removes a run's events (outside the window), so that the tables stay small. */
  forget?(tag: string): Promise<void>;
  /** Ours: the server, for orders of ours and the database's timestamps. */
  server?: OurServer;
}

function ourReceiver(name: string, server: OurServer, database: DatabaseCpu | undefined): Receiver {
  return {
    name,
    pid: server.pid,
    database,
    server,
    closed: (senders, next, seconds) => sendHttp(server.url, senders, next, seconds),
    paced: (rate, deliveries) => pacedHttp(server.url, rate, deliveries),
    settle: server.applies ? (tag) => waitForApplier(server, tag) : undefined,
    forget: (tag) => forgetEvents(server, tag),
  };
}

interface ClosedRun {
  loop: LoopResult;
  cpu: CpuSpent;
}

const foreign = (events: Events, tag: string) => (i: number) => events.delivery('payment_intent.succeeded', tag, i + 1, null);

async function closedRun(receiver: Receiver, events: Events, senders: number, seconds: number): Promise<ClosedRun> {
  const tag = newTag();
  const { result: loop, cpu } = await measureCpu(receiver.pid, receiver.database, async () => {
    const loop = await receiver.closed(senders, foreign(events, tag), seconds);
    checkLoop(`${receiver.name}, ${senders} senders`, loop);
    await receiver.settle?.(tag);
    return loop;
  });
  await receiver.forget?.(tag);
  return { loop, cpu };
}

interface PacedRunResult {
  paced: PacedResult;
  cpu: CpuSpent;
  /** Ours with the applier on: acknowledged-to-applied latencies and the orders' end states. */
  applied?: AppliedTiming;
  orders?: OrderStates;
}

/** RATE x PACED_SECONDS events, all made and signed before the clock starts; for ours, for orders of ours. */
async function pacedRunOn(receiver: Receiver, events: Events, rate: number, seconds = PACED_SECONDS): Promise<PacedRunResult> {
  const count = Math.round(rate * seconds);
  const tag = newTag();
  const server = receiver.settle ? receiver.server : undefined;
  const owners = server ? await createOrders(server, tag, count) : undefined;
  const deliveries = Array.from({ length: count }, (_, i) => events.delivery('payment_intent.succeeded', tag, i + 1, owners?.[i] ?? null));
  const { result: paced, cpu } = await measureCpu(receiver.pid, receiver.database, async () => {
    const paced = await receiver.paced!(rate, deliveries);
    checkLoop(`${receiver.name}, paced at ${rate}/s`, paced);
    await receiver.settle?.(tag);
    return paced;
  });
  const applied = server ? await appliedTiming(server, tag) : undefined;
  const orders = server ? await orderStates(server, tag) : undefined;
  await receiver.forget?.(tag);
  return { paced, cpu, applied, orders };
}

interface Results {
  label: string;
  receivers: Receiver[];
  closed: Map<string, ClosedRun[]>;
  paced: Map<string, PacedRunResult[]>;
  batches: Applied[];
  ordering: Ordering[];
  memory: Memory | undefined;
  loadBefore: string;
}

const runKey = (receiver: Receiver, setting: number) => `${receiver.name}@${setting}`;

function record<T>(map: Map<string, T[]>, key: string, value: T) {
  map.set(key, [...(map.get(key) ?? []), value]);
}

// ---------------------------------------------------------------------------------------------------
// The runs on each engine.

async function benchPglite() {
  const events = new Events();
  const loadBefore = machineLoad();
  const server = await ServerProcess.start(undefined);
  try {
    const ordering = await orderingCheck(server, events, undefined);
    const applierAvailable = ordering.every((o) => o.oursCorrect !== undefined);
    const ours = ourReceiver('ours', server, undefined);
    if (!applierAvailable) ours.settle = undefined;
    const results: Results = { label: 'PGlite', receivers: [ours], closed: new Map(), paced: new Map(), batches: [], ordering, memory: undefined, loadBefore };
    await closedRun(ours, events, GOAL.senders, 1); // warm-up (JIT, pools), not counted
    for (let round = 0; round < ROUNDS; round++) {
      for (const senders of SENDERS) record(results.closed, runKey(ours, senders), await closedRun(ours, events, senders, SECONDS));
    }
    await appliedBatches(server, events, results.batches);
    results.memory = await server.memory();
    printResults(results);
  } finally {
    await server.stop();
  }
}

/** One applied batch per round, or one alone when nothing gets applied. */
async function appliedBatches(server: OurServer, events: Events, batches: Applied[]) {
  for (let round = 0; round < ROUNDS; round++) {
    const batch = await appliedBatch(server, events);
    batches.push(batch);
    if (batch.rate === undefined) break;
  }
}

async function benchPostgres(serverUrl: string) {
  const events = new Events();
  const loadBefore = machineLoad();
  const databases: ThrowawayDatabase[] = [];
  const database = async (name: string) => {
    const created = await createThrowawayDatabase(serverUrl, `bench_webhooks_${name}`);
    databases.push(created);
    return created.url;
  };
  const stops: Array<() => Promise<void>> = [];
  try {
    const ack = await RealServer.start(await database('ack'), false);
    stops.push(() => ack.stop());
    // Make as in production, another party's server: the sandbox's sink would put Make's side of every
    // paid order's POST (a whole HTTP request through the app) in our process's CPU.
    const make = await startScript('peers/make-receiver.mjs', {});
    stops.push(() => make.stop());
    const all = await RealServer.start(await database('all'), true, makeRoutedTo(make.url));
    stops.push(() => all.stop());
    const peerServer = await startPeerServer(await database('peer'));
    stops.push(() => peerServer.stop());
    const inProcessUrl = await database('peer_inprocess');
    const peer = await Peer.start(inProcessUrl);
    const inProcessPool = new pg.Pool({ connectionString: inProcessUrl, max: 1, application_name: OBSERVER });
    inProcessPool.on('error', () => {});
    stops.push(async () => {
      await peer.close();
      await inProcessPool.end();
    });
    console.log(`\nWebhooks on PostgreSQL: ours ${all.how.replace(', applier on (every job)', '')}; peer stripe-sync-engine behind node:http (plain node) and in this process`);

    const ordering = await orderingCheck(all, events, peer);
    const applying = ourReceiver('ours', all, all.database);
    if (!ordering.every((o) => o.oursCorrect !== undefined)) applying.settle = undefined;
    const acknowledging = ourReceiver('ours, ack only', ack, ack.database);
    const peerHttp: Receiver = {
      name: 'peer, HTTP',
      pid: peerServer.pid,
      database: peerServer.database,
      closed: (senders, next, seconds) => sendHttp(peerServer.url, senders, next, seconds),
      paced: (rate, deliveries) => pacedHttp(peerServer.url, rate, deliveries),
    };
    const peerInProcess: Receiver = { name: 'peer, in process', pid: undefined, database: new DatabaseCpu(inProcessPool), closed: (senders, next, seconds) => sendToPeer(peer, senders, next, seconds) };
    const receivers = [acknowledging, applying, peerHttp, peerInProcess];
    const results: Results = { label: 'PostgreSQL', receivers, closed: new Map(), paced: new Map(), batches: [], ordering, memory: undefined, loadBefore };

    for (const receiver of receivers) await closedRun(receiver, events, GOAL.senders, 1); // warm-up, not counted
    // The closed loops send events of another integration: the applier's and the outbox's code for
    // events of ours is first run by the paced runs, whose first round then paid for its compilation.
    await pacedRunOn(applying, events, RATES[0]!, 1); // warm-up, not counted
    for (let round = 0; round < ROUNDS; round++) {
      for (const senders of SENDERS) {
        const these = senders === GOAL.senders ? receivers : [applying, peerHttp];
        for (const receiver of these) record(results.closed, runKey(receiver, senders), await closedRun(receiver, events, senders, SECONDS));
      }
      for (const rate of RATES) {
        for (const receiver of [applying, peerHttp]) record(results.paced, runKey(receiver, rate), await pacedRunOn(receiver, events, rate));
      }
      const batch = await appliedBatch(all, events);
      results.batches.push(batch);
    }
    results.memory = await all.memory();
    printResults(results);
  } finally {
    for (const stop of stops.reverse()) await stop().catch((error) => console.error(`stopping a receiver: ${error instanceof Error ? error.message : error}`));
    for (const created of databases) await created.drop().catch(() => {});
  }
}

/** Our server's environment for Make deliveries (a paid order's add_project) to `url`, signed. */
const makeRoutedTo = (url: string): Record<string, string> => ({ MAKE_ADD_PROJECT_WEBHOOK_URL: `${url}/add_project`, MAKE_SIGNING_SECRET: 'bench-make-signing-secret-0001' });

/**
 * BENCH_WEBHOOKS_PROBE=1: ours alone (applier on), events for orders of ours, paced at RATES and as a
 * burst of BATCH from 16 senders, each run's CPU per event (process, database) and ack-to-applied
 * printed as it ends: the quick loop for finding where an applied event's CPU goes.
 * BENCH_PROBE_ENV (JSON) adds to the server's environment.
 */
async function probePostgres(serverUrl: string) {
  const events = new Events();
  const created = await createThrowawayDatabase(serverUrl, 'bench_webhooks_probe');
  const extra = JSON.parse(process.env.BENCH_PROBE_ENV ?? '{}') as Record<string, string>;
  const make = process.env.BENCH_PROBE_MAKE === 'sink' ? undefined : await startScript('peers/make-receiver.mjs', {});
  const makeEnv = make ? makeRoutedTo(make.url) : {};
  console.log(`Make: ${make ? 'a node:http receiver in a process of its own' : "the sandbox's sink in our process"}`);
  // track_functions for the server's sessions only: how many calls of each SQL function a run made.
  const all = await RealServer.start(created.url, true, { PGOPTIONS: '-c track_functions=all', ...makeEnv, ...extra });
  const COUNTED = ['stripe_events_store', 'stripe_events_apply_due', 'make_deliveries_claim', 'make_delivery_record'];
  const calls = async () =>
    new Map((await all.query<{ funcname: string; calls: number }>('select funcname, calls::int from pg_stat_user_functions where funcname = any($1)', [COUNTED])).map((r) => [r.funcname, r.calls]));
  // BENCH_PROBE_FUNCTIONS=1: each SQL function's own time per event (wall time in the backend, so an
  // upper bound of its CPU under load), and make_deliveries' updates and how many were HOT.
  const selfTimes = async () =>
    new Map((await all.query<{ funcname: string; self_ms: number }>('select funcname, self_time as self_ms from pg_stat_user_functions')).map((r) => [r.funcname, r.self_ms]));
  const hot = async () =>
    (await all.query<{ upd: number; hot: number }>(`select n_tup_upd::int as upd, n_tup_hot_upd::int as hot from pg_stat_user_tables where relname = 'make_deliveries'`))[0];
  let timesBefore = process.env.BENCH_PROBE_FUNCTIONS ? await selfTimes() : undefined;
  let hotBefore = timesBefore ? await hot() : undefined;
  try {
    const applying = ourReceiver('ours', all, all.database);
    let before = await calls();
    const line = async (what: string, ok: number, cpu: CpuSpent, applied?: AppliedTiming) => {
      const per = cpuPerEvent(cpu, ok);
      await sleep(600); // the backends report their function counts at most every 500 ms
      const after = await calls();
      const perEvent = COUNTED.map((name) => `${name.replace(/^stripe_events_|^make_deliver(ies|y)_/, '')} ${(((after.get(name) ?? 0) - (before.get(name) ?? 0)) / ok).toFixed(2)}`).join(', ');
      before = after;
      if (timesBefore && hotBefore) {
        const times = await selfTimes();
        const hotAfter = await hot();
        const spent = [...times].map(([name, ms]) => [name, ((ms - (timesBefore!.get(name) ?? 0)) * 1000) / ok] as const).filter(([, us]) => us >= 5).sort((a, b) => b[1] - a[1]);
        console.log(`  own time per event (µs): ${spent.map(([name, us]) => `${name} ${us.toFixed(0)}`).join(', ')}`);
        if (hotAfter) console.log(`  make_deliveries updates per event ${((hotAfter.upd - hotBefore.upd) / ok).toFixed(2)}, HOT ${((hotAfter.hot - hotBefore.hot) / ok).toFixed(2)}`);
        timesBefore = times;
        hotBefore = hotAfter;
      }
      console.log(
        `${what.padEnd(14)} ${String(ok).padStart(6)} events  CPU/event process ${fmt(per.server, 0)} µs, database ${fmt(per.database, 0)} µs, total ${fmt(per.total, 0)} µs` +
          `  ack-to-applied p50 ${fmt(applied?.p50_ms ?? undefined)} p99 ${fmt(applied?.p99_ms ?? undefined)} ms; calls per event: ${perEvent}  (${machineLoad()})`,
      );
    };
    // BENCH_PROBE_FLOOR=1: ours acknowledging alone against the bare receiver (verify, answer 200), closed loop.
    const floor = process.env.BENCH_PROBE_FLOOR ? await startScript('peers/bare-receiver.mjs', { STRIPE_WEBHOOK_SECRET: SECRET }) : undefined;
    const ackDatabase = floor ? await createThrowawayDatabase(serverUrl, 'bench_webhooks_probe_ack') : undefined;
    const ackOnly = ackDatabase ? await RealServer.start(ackDatabase.url, false) : undefined;
    for (let round = 0; floor && ackOnly && round < ROUNDS; round++) {
      const bare: Receiver = { name: 'bare', pid: floor.pid, database: undefined, closed: (senders, next, seconds) => sendHttp(floor.url, senders, next, seconds) };
      for (const receiver of [bare, ourReceiver('ours, ack only', ackOnly, ackOnly.database)]) {
        const run = await closedRun(receiver, events, GOAL.senders, SECONDS);
        const per = cpuPerEvent(run.cpu, run.loop.ok);
        console.log(`${receiver.name.padEnd(14)} ${String(run.loop.ok).padStart(6)} events  ${Math.round(run.loop.rps)}/s p99 ${fmt(run.loop.p99)} ms  CPU/event process ${fmt(per.server, 0)} µs, database ${fmt(per.database, 0)} µs  (${machineLoad()})`);
      }
    }
    await ackOnly?.stop();
    await ackDatabase?.drop().catch(() => {});
    await floor?.stop();
    if (floor) return;
    for (let round = 0; round < ROUNDS; round++) {
      for (const rate of RATES) {
        const run = await pacedRunOn(applying, events, rate);
        await line(`paced ${rate}/s`, run.paced.ok, run.cpu, run.applied);
      }
      const tag = newTag();
      const owners = await createOrders(all, tag, BATCH);
      const deliveries = owners.map((owner, i) => events.delivery('payment_intent.succeeded', tag, i + 1, owner));
      const { result: sent, cpu } = await measureCpu(all.pid, all.database, async () => {
        const sent = await sendHttp(all.url, GOAL.senders, (i) => deliveries[i]);
        await waitForApplier(all, tag);
        return sent;
      });
      await line('burst x16', sent.ok, cpu, await appliedTiming(all, tag));
      await forgetEvents(all, tag);
    }
  } finally {
    await all.stop();
    await make?.stop();
    await created.drop().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------------
// Output.

const verdict = (met: boolean) => (met ? 'met' : 'NOT met');
const fmt = (value: number | undefined, digits = 1) => (value === undefined || Number.isNaN(value) ? '-' : value.toFixed(digits));
const plural = (n: number, word: string, words = `${word}s`) => `${n} ${n === 1 ? word : words}`;
const medianOf = <T>(runs: T[] | undefined, pick: (run: T) => number | undefined) => {
  const values = (runs ?? []).map(pick).filter((v): v is number => v !== undefined && !Number.isNaN(v));
  return values.length ? median(values) : undefined;
};

/** µs of CPU per event: the process's, the database backends', and both. */
function cpuPerEvent(cpu: CpuSpent, events: number) {
  const per = (ms: number | undefined) => (ms === undefined || events === 0 ? undefined : (ms * 1000) / events);
  const server = per(cpu.serverMs);
  const database = per(cpu.databaseMs);
  return { server, database, total: server === undefined && database === undefined ? undefined : (server ?? 0) + (database ?? 0) };
}

type Row = [string, Array<number | undefined>, string];

/** A table with a column per receiver and, when both are there, the ratio of columns `ratio[0]` / `ratio[1]`. */
function printColumns(title: string, columns: string[], rows: Row[], ratio?: [number, number]) {
  const width = Math.max(14, ...columns.map((c) => c.length + 2));
  console.log(`\n${title}`);
  const ratioTitle = ratio ? `${columns[ratio[0]]}/${columns[ratio[1]]}` : '';
  console.log(`${'metric'.padEnd(26)}${columns.map((c) => c.padStart(width)).join('')}${ratio ? `  ${ratioTitle}` : ''}`);
  for (const [name, values, unit] of rows) {
    const cells = values.map((v) => (v === undefined || Number.isNaN(v) ? '-' : `${Math.round(v * 10) / 10}${unit}`).padStart(width)).join('');
    const [a, b] = ratio ? [values[ratio[0]], values[ratio[1]]] : [undefined, undefined];
    console.log(`${name.padEnd(26)}${cells}${a !== undefined && b ? `  ${(a / b).toFixed(2)}` : ''}`);
  }
}

function printResults(results: Results) {
  const { label, receivers } = results;
  const names = receivers.map((r) => r.name);
  const ratio: [number, number] | undefined = names.includes('peer, HTTP') ? [names.indexOf('ours'), names.indexOf('peer, HTTP')] : undefined;
  const closed = (receiver: Receiver, senders: number) => results.closed.get(runKey(receiver, senders));
  const size = Buffer.byteLength(new Events().delivery('payment_intent.succeeded', 'size', 1, null).body);
  console.log(`\nmachine at the start of the ${label} run: ${results.loadBefore}; at the end: ${machineLoad()}`);
  for (const receiver of receivers) if (receiver.server) console.log(`  ${receiver.name}: ${receiver.server.how}`);

  const rows: Row[] = [];
  for (const senders of SENDERS) {
    rows.push(
      [`events/s, ${plural(senders, 'sender')}`, receivers.map((r) => medianOf(closed(r, senders), (run) => run.loop.rps)), ''],
      ['  p50', receivers.map((r) => medianOf(closed(r, senders), (run) => run.loop.p50)), ' ms'],
      ['  p99', receivers.map((r) => medianOf(closed(r, senders), (run) => run.loop.p99)), ' ms'],
    );
  }
  printColumns(`Stripe webhooks acknowledged, ${label}: POST ${WEBHOOK_PATH} over loopback HTTP, signed ${size}-byte events, closed loop, median of ${ROUNDS} x ${SECONDS}s`, names, rows, ratio);

  const cpu = (receiver: Receiver, pick: 'server' | 'database' | 'total') =>
    medianOf(closed(receiver, GOAL.senders), (run) => cpuPerEvent(run.cpu, run.loop.ok)[pick]);
  printColumns(
    `CPU per event, ${label}, ${GOAL.senders} senders (µs; process: utime+stime of the receiver's process${label === 'PGlite' ? ', the embedded database included' : ''}; ` +
      `database: its PostgreSQL backends; ours with the applier on: until the run's events are applied; the in-process peer shares this process with the sender, so only its database is counted)`,
    names,
    [
      ['process', receivers.map((r) => cpu(r, 'server')), ' µs'],
      ['database', receivers.map((r) => cpu(r, 'database')), ' µs'],
      ['process + database', receivers.map((r) => cpu(r, 'total')), ' µs'],
    ],
    ratio,
  );

  const pacedReceivers = receivers.filter((r) => results.paced.has(runKey(r, RATES[0]!)));
  if (pacedReceivers.length) {
    const pacedNames = pacedReceivers.map((r) => r.name);
    const pacedRatio: [number, number] | undefined = pacedNames.includes('peer, HTTP') && pacedNames.includes('ours') ? [pacedNames.indexOf('ours'), pacedNames.indexOf('peer, HTTP')] : undefined;
    const pacedRows: Row[] = [];
    for (const rate of RATES) {
      const runs = (r: Receiver) => results.paced.get(runKey(r, rate));
      pacedRows.push(
        [`${rate}/s: achieved`, pacedReceivers.map((r) => medianOf(runs(r), (run) => run.paced.achieved)), '/s'],
        ['  p50 from schedule', pacedReceivers.map((r) => medianOf(runs(r), (run) => run.paced.p50)), ' ms'],
        ['  p99 from schedule', pacedReceivers.map((r) => medianOf(runs(r), (run) => run.paced.p99)), ' ms'],
        ['  max from schedule', pacedReceivers.map((r) => medianOf(runs(r), (run) => run.paced.max)), ' ms'],
        ['  CPU per event', pacedReceivers.map((r) => medianOf(runs(r), (run) => cpuPerEvent(run.cpu, run.paced.ok).total)), ' µs'],
        ['  ack to applied p50', pacedReceivers.map((r) => medianOf(runs(r), (run) => run.applied?.p50_ms ?? undefined)), ' ms'],
        ['  ack to applied p99', pacedReceivers.map((r) => medianOf(runs(r), (run) => run.applied?.p99_ms ?? undefined)), ' ms'],
      );
    }
    printColumns(
      `Stripe webhooks paced (open loop), ${label}: ${PACED_SECONDS} s at each rate on ${CONNECTIONS} connections, latency from each event's scheduled send time, median of ${ROUNDS} (ours: events for orders of ours, applied; peer: upserted)`,
      pacedNames,
      pacedRows,
      pacedRatio,
    );
    const incomplete = pacedReceivers.flatMap((r) => RATES.flatMap((rate) => results.paced.get(runKey(r, rate)) ?? [])).filter((run) => run.orders && run.orders.paid !== run.orders.orders);
    if (incomplete.length) console.log(`paced runs whose orders did NOT all end paid and confirmed: ${incomplete.map((run) => `${run.orders!.paid}/${run.orders!.orders}`).join(', ')}`);
  }

  const peerInProcess = receivers.find((r) => r.name === 'peer, in process');
  const peerInProcessRate = peerInProcess ? medianOf(closed(peerInProcess, GOAL.senders), (run) => run.loop.rps) : undefined;
  const batches = results.batches;
  const applied = batches.filter((b) => b.rate !== undefined);
  const last = batches[batches.length - 1];
  if (last && applied.length === 0) {
    console.log(
      `\nStripe webhooks applied, ${label}: NOT APPLIED: 0 of ${BATCH} events applied ` +
        `(received ${last.counts.received}, ignored ${last.counts.ignored}, failed ${last.counts.failed}; gave up after ${STALL_MS / 1000} s without progress); ` +
        `orders paid and confirmed: ${last.orders.paid} of ${last.orders.orders}`,
    );
  } else if (last) {
    printColumns(
      `Stripe webhooks applied, ${label}: ${BATCH} events for orders of ours sent by ${GOAL.senders} senders, median of ${plural(applied.length, 'batch', 'batches')} (peer: its events/s in process at ${GOAL.senders} in flight)`,
      ['ours', 'peer, in process'],
      [
        ['applied/s', [medianOf(applied, (b) => b.rate), peerInProcessRate], ''],
        ['ack to applied p50', [medianOf(applied, (b) => b.p50), undefined], ' ms'],
        ['ack to applied p99', [medianOf(applied, (b) => b.p99), undefined], ' ms'],
        ['acknowledged/s', [medianOf(applied, (b) => b.sent.rps), undefined], ''],
      ],
      [0, 1],
    );
    const incomplete = batches.filter((b) => b.counts.applied !== BATCH || b.orders.paid !== BATCH);
    const states = batches.map((b) => `${b.orders.paid}/${b.orders.orders}`).join(', ');
    console.log(`orders paid and confirmed after each batch: ${states}${incomplete.length ? ` (NOT all: ${incomplete.map((b) => `applied ${b.counts.applied}, received ${b.counts.received}, ignored ${b.counts.ignored}, failed ${b.counts.failed}${b.counts.stalled ? ', stalled' : ''}`).join('; ')})` : ''}`);
  }

  printGoals(results, peerInProcessRate);

  console.log(`\nsame-second events (one PaymentIntent, payment_intent.succeeded and .processing with one \`created\`), each applied before the next is sent (${label}):`);
  for (const o of results.ordering) {
    const oursVerdict = o.oursCorrect === undefined ? '' : o.oursCorrect ? ' (correct)' : ' (WRONG: should be paid, confirmed)';
    console.log(`  ${o.sequence}: ours ${o.ours}${oursVerdict}${o.peer ? `; peer ${o.peer}${o.peer.includes("'succeeded'") ? ' (correct)' : ' (stale: Stripe says succeeded)'}` : ''}`);
  }
  const memory = results.memory;
  console.log(
    `\nserver process memory (${label}): rss ${memory ? Math.round(memory.rssMiB) : '-'} MiB at the end, peak ${memory ? Math.round(memory.peakRssMiB) : '-'} MiB ` +
      `(${label === 'PGlite' ? 'our server and the embedded database' : "our server with the applier on; PostgreSQL's own processes not counted"})` +
      (label === 'PGlite' ? `; under ${PGLITE_RSS_GOAL_MIB} MiB at the end: ${verdict(memory !== undefined && memory.rssMiB < PGLITE_RSS_GOAL_MIB)}` : ''),
  );
}

/** Issue 23's goals, on PostgreSQL against the peer behind HTTP in the same run. */
function printGoals(results: Results, peerInProcessRate: number | undefined) {
  const find = (name: string) => results.receivers.find((r) => r.name === name);
  const ours = find('ours')!;
  const closed = (receiver: Receiver | undefined) => (receiver ? results.closed.get(runKey(receiver, GOAL.senders)) : undefined);
  const ackRate = medianOf(closed(ours), (run) => run.loop.rps);
  const ackP99 = medianOf(closed(ours), (run) => run.loop.p99);
  const goals = [`ack p99 under ${GOAL.ackP99Ms} ms: ${fmt(ackP99)} ms, ${verdict(ackP99 !== undefined && ackP99 < GOAL.ackP99Ms)}`];
  const peerHttp = find('peer, HTTP');
  if (peerHttp) {
    const peerRate = medianOf(closed(peerHttp), (run) => run.loop.rps);
    const ackOnly = find('ours, ack only');
    const ackOnlyRate = medianOf(closed(ackOnly), (run) => run.loop.rps);
    const ratio = ackRate !== undefined && peerRate ? ackRate / peerRate : undefined;
    goals.unshift(
      `acknowledged/s at least ${GOAL.ackRatio}x the peer's behind HTTP: ${fmt(ackRate, 0)} vs ${fmt(peerRate, 0)} = ${fmt(ratio, 2)}x ` +
        `(applier off: ${fmt(ackOnlyRate, 0)} = ${fmt(ackOnlyRate !== undefined && peerRate ? ackOnlyRate / peerRate : undefined, 2)}x), ${verdict(ratio !== undefined && ratio >= GOAL.ackRatio)}`,
    );
    const cpu = (receiver: Receiver | undefined, pick: 'server' | 'total') => medianOf(closed(receiver), (run) => cpuPerEvent(run.cpu, run.loop.ok)[pick]);
    const oursAck = cpu(ackOnly, 'total');
    const peerCpu = cpu(peerHttp, 'total');
    const cpuRatio = oursAck !== undefined && peerCpu ? oursAck / peerCpu : undefined;
    goals.push(
      `CPU per acknowledged event (process + database, applier off) at most 1/3 of the peer's: ${fmt(oursAck, 0)} vs ${fmt(peerCpu, 0)} µs = ${fmt(cpuRatio, 2)}x ` +
        `(our process alone ${fmt(cpu(ackOnly, 'server'), 0)} µs = ${fmt(cpu(ackOnly, 'server')! / peerCpu!, 2)}x; with applying ${fmt(cpu(ours, 'total'), 0)} µs), ${verdict(cpuRatio !== undefined && cpuRatio <= GOAL.cpuFraction)}`,
    );
    const appliedRate = medianOf(results.batches.filter((b) => b.rate !== undefined), (b) => b.rate);
    goals.push(
      `applied/s at least the peer's in-process events/s: ${appliedRate === undefined ? 'nothing applied' : fmt(appliedRate, 0)} vs ${fmt(peerInProcessRate, 0)}, ` +
        verdict(appliedRate !== undefined && peerInProcessRate !== undefined && appliedRate >= peerInProcessRate * GOAL.appliedVsInProcess),
    );
    const appliedP99 = medianOf(results.paced.get(runKey(ours, GOAL.pacedRate)), (run) => run.applied?.p99_ms ?? undefined);
    goals.push(`ack to applied p99 under ${GOAL.appliedP99Ms} ms at ${GOAL.pacedRate}/s paced: ${fmt(appliedP99)} ms, ${verdict(appliedP99 !== undefined && appliedP99 < GOAL.appliedP99Ms)}`);
  } else {
    goals.push('the goals against the peer are measured on PostgreSQL');
  }
  console.log(`\ngoals (${results.label}, ${GOAL.senders} senders):\n  ${goals.join('\n  ')}`);
}

if (process.argv.includes(SERVE_FLAG)) await serveForBench();
else if (process.argv[1] && resolve(process.argv[1]) === THIS_FILE) await benchWebhooks();
