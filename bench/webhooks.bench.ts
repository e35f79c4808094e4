// Webhook benchmark: POST /webhooks/stripe, the production route with real signature verification,
// over loopback HTTP, with signed `payment_intent.succeeded` events (tests/webhooks/fixtures/, ~2.4 KB
// pretty-printed as Stripe sends them, each with its own event and PaymentIntent id):
//   * acknowledged events per second and acknowledgement latency at 1, 16 and 64 concurrent senders
//     (closed loop, one keep-alive connection each). These events carry another integration's
//     metadata, so the applier, running as in production, records them as "not ours";
//   * sustained applied events per second and acknowledged-to-applied latency: a batch of events for
//     orders of ours (made beforehand with the checkout SQL functions, not measured), sent as fast as
//     16 senders can, timed from the database clock: applied/s = applied / (max(applied_at) -
//     min(received_at)); each latency is applied_at - received_at. Both are now() of their
//     transaction, i.e. its start: the last apply transaction's own duration is not counted. The
//     orders must end paid and confirmed, and the run says how many did. A wait gives up after
//     STALL_MS without progress and reports what is left (e.g. an applier that applies nothing);
//   * the ordering check: payment_intent.succeeded and .processing for one PaymentIntent in the same
//     second, delivered in both orders, each applied before the next is sent.
// On in-memory PGlite; with DATABASE_URL set, again on a throwaway database on that PostgreSQL server,
// where the peer runs too: @supabase/stripe-sync-engine, fed the same signed events through its
// processWebhook() (verify, then upsert into its own `stripe` schema) with 1 and 16 calls in flight.
// The peer acknowledges and applies in one call and has no HTTP in front of it, so its events/s is
// compared with both our acknowledged and our applied figures. Goals (issue 5), at 16 senders on
// PostgreSQL: acknowledged ≥ 3x the peer's events/s, applied ≥ 1.5x, acknowledgement p99 < 10 ms.
//
// Our server runs in a child process (this file with SERVE_FLAG: startApp as main.ts calls it, with
// an in-memory PGlite or DATABASE_URL), and the load generator in this one. The sender is not free:
// making, signing and sending an event costs it 150-250 µs of CPU at 16 senders, against 400-600 µs
// for our server (measured from /proc). Sharing one event loop, the server would be charged for the
// sender's work and each would delay the other; in separate processes they share only the 2 cores,
// as autocannon and the server do in the other benchmarks. Autocannon itself cannot serve here: every
// request needs its own signature over its own body (see KeepAliveConnections in load.ts).
// The child answers this process's SQL over IPC (setup, and reading the results), since an in-memory
// PGlite can only be reached from its own process. The peer is a library and runs in this process.
//
// BENCH_WEBHOOK_EVENTS sets the applied batch (default 2000: the applier's rate makes it the longest
// part of the run); BENCH_CPU_PROF_DIR writes a CPU profile of the server process (node --cpu-prof).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { StripeSync } from '@supabase/stripe-sync-engine';
import { createThrowawayDatabase } from './throwawayDatabase';
import Stripe from 'stripe';
import { startApp } from '../server/compose';
import { loadConfig } from '../server/config';
import { openPglite } from '../server/platform/db/pglite';
import { createLogger } from '../server/platform/observability/logger';
import { closedLoop, KeepAliveConnections, type LoopResult, median, printTable } from './load';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
/** Events in each applied batch (one batch per round). */
const BATCH = Number(process.env.BENCH_WEBHOOK_EVENTS ?? 2000);
const SENDERS = [1, 16, 64];
const PEER_IN_FLIGHT = [1, 16];
const GOAL = { senders: 16, ackRatio: 3, appliedRatio: 1.5, ackP99Ms: 10 };
/** How long the applier may make no progress before a wait gives up and reports what is left. */
const STALL_MS = 10_000;

const SECRET = 'whsec_benchWebhooksSigningSecret0001';
const WEBHOOK_PATH = '/webhooks/stripe';
const SERVE_FLAG = '--serve-for-webhooks-bench';
const THIS_FILE = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURES = new URL('../tests/webhooks/fixtures/', import.meta.url);

export async function benchWebhooks() {
  await benchOn(await pgliteEngine());
  if (process.env.DATABASE_URL) await benchOn(await postgresEngine(process.env.DATABASE_URL));
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
// Our server, in a child process.

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
  const silent = createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, done) => done() }) });
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'silent',
    STRIPE_WEBHOOK_SECRET: SECRET,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  });
  const pglite = databaseUrl ? undefined : await openPglite();
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

class ServerProcess {
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

  static async start(databaseUrl: string | undefined): Promise<ServerProcess> {
    // BENCH_CPU_PROF_DIR: a CPU profile of the server process (node --cpu-prof), written when it exits.
    const profile = process.env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`] : [];
    const child = spawn(process.execPath, [...profile, '--import', 'tsx', THIS_FILE, SERVE_FLAG], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, BENCH_WEBHOOKS_DATABASE_URL: databaseUrl ?? '' },
    });
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the benchmark server did not start within 60 s')), 60_000);
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

// ---------------------------------------------------------------------------------------------------
// Engines: where our server keeps its data (and, on PostgreSQL, the peer its own).

interface Engine {
  label: string;
  /** Unset: in-memory PGlite inside the server process. */
  databaseUrl: string | undefined;
  close: () => Promise<void>;
}

async function pgliteEngine(): Promise<Engine> {
  return { label: 'PGlite', databaseUrl: undefined, close: async () => {} };
}

/** A throwaway database on the PostgreSQL server at DATABASE_URL, dropped afterwards. */
async function postgresEngine(serverUrl: string): Promise<Engine> {
  const database = await createThrowawayDatabase(serverUrl, 'bench_webhooks');
  return { label: 'PostgreSQL', databaseUrl: database.url, close: database.drop };
}

// ---------------------------------------------------------------------------------------------------
// The peer: stripe-sync-engine as a library (its CommonJS build), in its own schema of the same database.

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

/** Closed loop of signed deliveries to our endpoint; `next` makes the i-th (undefined: done). */
async function sendToServer(server: ServerProcess, senders: number, next: (i: number) => Delivery | undefined, seconds?: number): Promise<LoopResult> {
  const connections = new KeepAliveConnections(server.url, senders);
  try {
    return await closedLoop({
      concurrency: senders,
      seconds,
      next,
      call: async (worker, delivery) => {
        const headers = { 'Content-Type': 'application/json; charset=utf-8', 'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)', 'Stripe-Signature': delivery.signature };
        const status = await connections.post(worker, WEBHOOK_PATH, headers, delivery.body);
        return status === 200;
      },
    });
  } finally {
    connections.close();
  }
}

async function sendToPeer(peer: Peer, inFlight: number, next: (i: number) => Delivery | undefined, seconds: number): Promise<LoopResult> {
  return closedLoop({ concurrency: inFlight, seconds, next, call: async (_worker, delivery) => (await peer.process(delivery), true) });
}

function checkLoop(what: string, result: LoopResult) {
  if (result.failed + result.errors > 0) throw new Error(`${what}: ${result.failed} non-2xx answers and ${result.errors} errors during the benchmark`);
}

interface EventCounts {
  total: number;
  received: number;
  applied: number;
  ignored: number;
  failed: number;
}

const countEvents = async (server: ServerProcess, tag: string) =>
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
async function waitForApplier(server: ServerProcess, tag: string): Promise<EventCounts & { stalled: boolean }> {
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
async function forgetEvents(server: ServerProcess, tag: string) {
  await server.query('delete from stripe_events where id like $1', [`evt\\_${tag}%`]);
  await server.query('vacuum stripe_events');
}

/**
 * One order of ours per event, through the checkout SQL functions (each order as a storefront makes
 * it: customer, order, payment attempt with its PaymentIntent, log rows), two statements in all.
 */
async function createOrders(server: ServerProcess, tag: string, count: number): Promise<Owner[]> {
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

async function orderStates(server: ServerProcess, tag: string): Promise<OrderStates> {
  const [row] = await server.query<OrderStates>(
    `select count(*)::int as orders, (count(*) filter (where o.status = 'paid' and o.sync_state = 'confirmed'))::int as paid
       from payment_attempts a join orders o on o.id = a.order_id
      where a.stripe_object_id like $1`,
    [`pi\\_${tag}%`],
  );
  return row!;
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
async function appliedBatch(server: ServerProcess, events: Events): Promise<Applied> {
  const tag = newTag();
  const owners = await createOrders(server, tag, BATCH);
  const deliveries = owners.map((owner, i) => events.delivery('payment_intent.succeeded', tag, i + 1, owner));
  const sent = await sendToServer(server, GOAL.senders, (i) => deliveries[i]);
  checkLoop('the applied batch', sent);
  const counts = await waitForApplier(server, tag);
  const [timing] = await server.query<{ span_s: number | null; p50_ms: number | null; p99_ms: number | null }>(
    `select extract(epoch from max(applied_at) - min(received_at))::float8 as span_s,
            1000 * percentile_cont(0.5) within group (order by extract(epoch from applied_at - received_at)::float8) as p50_ms,
            1000 * percentile_cont(0.99) within group (order by extract(epoch from applied_at - received_at)::float8) as p99_ms
       from stripe_events where id like $1`,
    [`evt\\_${tag}%`],
  );
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
async function orderingCheck(server: ServerProcess, events: Events, peer: Peer | undefined): Promise<Ordering[]> {
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
      const sent = await sendToServer(server, 1, (i) => (i === 0 ? delivery : undefined));
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
// The run on one engine.

async function benchOn(engine: Engine) {
  const events = new Events();
  let server: ServerProcess | undefined;
  let peer: Peer | undefined;
  try {
    server = await ServerProcess.start(engine.databaseUrl);
    if (engine.databaseUrl) peer = await Peer.start(engine.databaseUrl);
    const ordering = await orderingCheck(server, events, peer);
    const applierAvailable = ordering.every((o) => o.oursCorrect !== undefined);

    // Other integrations' events for the acknowledgement runs: each run's own tag and ids.
    const foreign = (tag: string) => (i: number) => events.delivery('payment_intent.succeeded', tag, i + 1, null);
    const ackRun = async (senders: number, seconds: number) => {
      const tag = newTag();
      const result = await sendToServer(server!, senders, foreign(tag), seconds);
      checkLoop(`${engine.label}, ${senders} senders`, result);
      // Let the applier finish this run's events before the next run starts, then drop them.
      if (applierAvailable) await waitForApplier(server!, tag);
      await forgetEvents(server!, tag);
      return result;
    };
    const peerRun = async (inFlight: number, seconds: number) => {
      const result = await sendToPeer(peer!, inFlight, foreign(newTag()), seconds);
      checkLoop(`the peer, ${inFlight} in flight`, result);
      return result;
    };

    // Warm-up (JIT, connection pools), not counted.
    await ackRun(GOAL.senders, 1);
    if (peer) await peerRun(GOAL.senders, 1);

    // Alternate ours and the peer in each round, so drift in machine load hits both alike.
    const ours = new Map<number, LoopResult[]>(SENDERS.map((n) => [n, []]));
    const theirs = new Map<number, LoopResult[]>(PEER_IN_FLIGHT.map((n) => [n, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const senders of SENDERS) {
        ours.get(senders)!.push(await ackRun(senders, SECONDS));
        if (peer && theirs.has(senders)) theirs.get(senders)!.push(await peerRun(senders, SECONDS));
      }
    }

    // Applied batches: one per round, or one alone when nothing gets applied.
    const batches: Applied[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const batch = await appliedBatch(server, events);
      batches.push(batch);
      if (batch.rate === undefined) break;
    }
    const memory = await server.memory();

    printResults(engine.label, ours, peer ? theirs : undefined, batches, ordering, memory, events);
  } finally {
    await server?.stop();
    await peer?.close();
    await engine.close();
  }
}

// ---------------------------------------------------------------------------------------------------
// Output.

const m = (results: LoopResult[] | undefined, metric: 'rps' | 'p50' | 'p99') => (results?.length ? median(results.map((r) => r[metric])) : undefined);
const verdict = (met: boolean) => (met ? 'met' : 'NOT met');
const fmt = (value: number | undefined, digits = 1) => (value === undefined ? '-' : value.toFixed(digits));
const plural = (n: number, word: string, words = `${word}s`) => `${n} ${n === 1 ? word : words}`;

function printResults(
  label: string,
  ours: Map<number, LoopResult[]>,
  peer: Map<number, LoopResult[]> | undefined,
  batches: Applied[],
  ordering: Ordering[],
  memory: Memory,
  events: Events,
) {
  const size = Buffer.byteLength(events.delivery('payment_intent.succeeded', 'size', 1, null).body);
  const peerNote = peer ? 'peer: stripe-sync-engine processWebhook() in process, same events' : 'peer: on PostgreSQL only';
  const rows: Array<[string, number, number | undefined, string]> = [];
  for (const senders of SENDERS) {
    const theirs = peer?.get(senders);
    rows.push([`events/s, ${plural(senders, 'sender')}`, m(ours.get(senders), 'rps')!, m(theirs, 'rps'), ''], [`  p50`, m(ours.get(senders), 'p50')!, m(theirs, 'p50'), ' ms'], [`  p99`, m(ours.get(senders), 'p99')!, m(theirs, 'p99'), ' ms']);
  }
  printTable(`Stripe webhooks acknowledged, ${label}: POST ${WEBHOOK_PATH} over loopback HTTP, signed ${size}-byte events, median of ${ROUNDS} x ${SECONDS}s (${peerNote})`, rows);

  const applied = batches.filter((b) => b.rate !== undefined);
  const peer16 = m(peer?.get(GOAL.senders), 'rps');
  const last = batches[batches.length - 1]!;
  if (applied.length === 0) {
    console.log(
      `\nStripe webhooks applied, ${label}: NOT APPLIED: 0 of ${BATCH} events applied ` +
        `(received ${last.counts.received}, ignored ${last.counts.ignored}, failed ${last.counts.failed}; gave up after ${STALL_MS / 1000} s without progress); ` +
        `orders paid and confirmed: ${last.orders.paid} of ${last.orders.orders}`,
    );
  } else {
    const median_ = (pick: (b: Applied) => number | undefined) => median(applied.map((b) => pick(b) ?? NaN));
    printTable(`Stripe webhooks applied, ${label}: ${BATCH} events for orders of ours sent by ${GOAL.senders} senders, median of ${plural(applied.length, 'batch', 'batches')} (peer: its events/s at ${GOAL.senders} in flight)`, [
      ['applied/s', median_((b) => b.rate), peer16, ''],
      ['ack to applied p50', median_((b) => b.p50), undefined, ' ms'],
      ['ack to applied p99', median_((b) => b.p99), undefined, ' ms'],
      ['acknowledged/s', median_((b) => b.sent.rps), peer16, ''],
    ]);
    const incomplete = batches.filter((b) => b.counts.applied !== BATCH || b.orders.paid !== BATCH);
    const states = batches.map((b) => `${b.orders.paid}/${b.orders.orders}`).join(', ');
    console.log(`orders paid and confirmed after each batch: ${states}${incomplete.length ? ` (NOT all: ${incomplete.map((b) => `applied ${b.counts.applied}, received ${b.counts.received}, ignored ${b.counts.ignored}, failed ${b.counts.failed}${b.counts.stalled ? ', stalled' : ''}`).join('; ')})` : ''}`);
  }

  const ack16 = m(ours.get(GOAL.senders), 'rps')!;
  const p99 = m(ours.get(GOAL.senders), 'p99')!;
  const appliedRate = applied.length ? median(applied.map((b) => b.rate!)) : undefined;
  const goals = [`ack p99 under ${GOAL.ackP99Ms} ms: ${fmt(p99)} ms, ${verdict(p99 < GOAL.ackP99Ms)}`];
  if (peer16 !== undefined) {
    const ackRatio = ack16 / peer16;
    goals.unshift(`acknowledged/s at least ${GOAL.ackRatio}x the peer's: ${fmt(ack16, 0)} vs ${fmt(peer16, 0)} = ${fmt(ackRatio, 2)}x, ${verdict(ackRatio >= GOAL.ackRatio)}`);
    const appliedRatio = appliedRate === undefined ? undefined : appliedRate / peer16;
    goals.splice(1, 0, `applied/s at least ${GOAL.appliedRatio}x the peer's: ${appliedRate === undefined ? 'nothing applied' : `${fmt(appliedRate, 0)} vs ${fmt(peer16, 0)} = ${fmt(appliedRatio, 2)}x`}, ${verdict(appliedRatio !== undefined && appliedRatio >= GOAL.appliedRatio)}`);
  } else {
    goals.push('the ratio goals are measured on PostgreSQL, against the peer');
  }
  console.log(`\ngoals (${label}, ${GOAL.senders} senders): ${goals.join('; ')}`);

  console.log(`\nsame-second events (one PaymentIntent, payment_intent.succeeded and .processing with one \`created\`), each applied before the next is sent (${label}):`);
  for (const o of ordering) {
    const oursVerdict = o.oursCorrect === undefined ? '' : o.oursCorrect ? ' (correct)' : ' (WRONG: should be paid, confirmed)';
    console.log(`  ${o.sequence}: ours ${o.ours}${oursVerdict}${o.peer ? `; peer ${o.peer}${o.peer.includes("'succeeded'") ? ' (correct)' : ' (stale: Stripe says succeeded)'}` : ''}`);
  }
  console.log(
    `\nserver process memory (${label}): rss ${Math.round(memory.rssMiB)} MiB at the end, peak ${Math.round(memory.peakRssMiB)} MiB ` +
      `(${label === 'PGlite' ? 'our server and the embedded database' : "our server alone; PostgreSQL's own processes not counted"})`,
  );
}

if (process.argv.includes(SERVE_FLAG)) await serveForBench();
else if (process.argv[1] && resolve(process.argv[1]) === THIS_FILE) await benchWebhooks();
