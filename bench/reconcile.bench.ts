// Reconciliation benchmark (issue 17): one janitor pass (runReconciliation, trigger cli) over a day of
// BENCH_RECONCILE_ORDERS (10,000) orders against the Stripe sandbox in a process of its own, reached
// over HTTP by the official SDK as production reaches Stripe. The day:
//   * 98.5% settled: checkout made the order and its PaymentIntent, the webhook applied it (paid,
//     confirmed) and its events are in stripe_events, as the endpoint and the applier leave them;
//   * 1% provisional: paid at Stripe and confirmed by the storefront, but every webhook of theirs was
//     dropped (their events are not stored): step 1 confirms them, step 4 backfills their events;
//   * 0.5% more PaymentIntents at Stripe with our metadata and no record of ours (orphans), half paid
//     (step 3 adopts them), half open (step 3 records a finding; not yet due for cancel).
// Seeding is not measured: the orders are made by the checkout SQL functions in a few statements (as
// the webhook benchmark does), the PaymentIntents through the sandbox's API (created and confirmed in
// one call, 16 in flight), and the settled orders' events stored as the endpoint stores them. A
// receiver here stands for the server's webhook endpoint: the settled orders' events are delivered to
// it; those of the provisional orders and orphans are held by the sandbox's delay fault (pending), so
// the Events list's `delivery_success: false`, which a scheduled pass's step 4 asks for, lists them.
//
// Printed: the pass's wall time, Stripe requests by kind (counted by wrapping the SDK's HttpClient,
// with the time waited on each kind), requests per unsettled item (provisional orders and orphans)
// with and without the list pages that every item shares, peak RSS and JS-heap growth during the pass
// (process.memoryUsage sampled every 10 ms from a collected heap; with PGlite the database is in this
// process and counted too), the pass's CPU time (this process), the load average, and the pass's
// database statements by kind (count and time). Goals (issue 17): under 60 s, under 1.2 Stripe requests per unsettled item (list
// pages shared), RSS growth under 50 MB.
//
// On in-memory PGlite; with DATABASE_URL set, again on a throwaway database on that PostgreSQL
// server. BENCH_ROUNDS passes (default 3), each over a freshly seeded day (a pass settles what it
// finds, so a second pass over the same day would measure nothing); the median is printed.
// BENCH_RECONCILE_CONCURRENCY sets ReconcileDeps.concurrency (the janitor's default when unset);
// BENCH_RECONCILE_ENGINE=pglite or postgres runs on that engine only.
// `npx tsx bench/reconcile.bench.ts` runs it alone.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import Stripe from 'stripe';
import { factsFrom } from '../server/checkout/startPayment';
import type { Db } from '../server/platform/db/db';
import { migrate } from '../server/platform/db/migrate';
import { openPglite } from '../server/platform/db/pglite';
import { openPostgres } from '../server/platform/db/postgres';
import { createLogger } from '../server/platform/observability/logger';
import { runReconciliation } from '../server/reconcile/janitor';
import { readPaymentIntent } from '../server/stripe/payments';
import { EventStore } from '../server/webhooks/eventStore';
import { startSandbox } from './processes';
import { median } from './load';
import { createThrowawayDatabase } from './throwawayDatabase';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const ORDERS = Number(process.env.BENCH_RECONCILE_ORDERS ?? 10_000);
const CONCURRENCY = process.env.BENCH_RECONCILE_CONCURRENCY ? Number(process.env.BENCH_RECONCILE_CONCURRENCY) : undefined;
const PROVISIONAL = Math.round(ORDERS * 0.01);
const ORPHANS = Math.round(ORDERS * 0.005);
const GOAL = { seconds: 60, requestsPerItem: 1.2, rssMiB: 50 };
const SEED_IN_FLIGHT = 16;
/** Past anything the benchmark does with the sandbox clock: these deliveries stay pending. */
const UNDELIVERED_DELAY_SECONDS = 30 * 86_400;
const THIS_FILE = fileURLToPath(import.meta.url);
const RETURN_URL = 'https://shop.test/checkout/return';
// A full collection before the pass, so its RSS growth is measured from the heap the pass starts
// with, not from what the seeding left for V8 to collect (`npm run bench` runs without --expose-gc).
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
const silent = createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, done) => done() }) });

export async function benchReconcile() {
  const runs: Record<string, Measured[]> = {};
  for (const engine of engines()) {
    runs[engine.label] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // A fresh sandbox and database for each pass: the day is seeded anew, nothing of the last pass left.
      const sandbox = await startSandbox();
      const database = await engine.open();
      try {
        const seeded = await seedDay(database.db, sandbox.url);
        runs[engine.label]!.push(await timedPass(database.db, sandbox.url, seeded));
      } finally {
        await database.close();
        await sandbox.stop();
      }
    }
    printResults(engine.label, runs[engine.label]!);
  }
}

// ---------------------------------------------------------------------------------------------------
// Engines.

interface BenchDb {
  db: Db;
  close: () => Promise<void>;
}

function engines(): Array<{ label: string; open: () => Promise<BenchDb> }> {
  const list = [
    {
      label: 'PGlite',
      open: async () => {
        const db = await openPglite();
        return { db, close: () => db.close() };
      },
    },
  ];
  const serverUrl = process.env.DATABASE_URL;
  if (process.env.BENCH_RECONCILE_ENGINE === 'postgres') list.pop();
  if (serverUrl && process.env.BENCH_RECONCILE_ENGINE !== 'pglite') {
    list.push({
      label: 'PostgreSQL',
      open: async () => {
        const database = await createThrowawayDatabase(serverUrl, 'bench_reconcile');
        const db = openPostgres(database.url);
        return {
          db,
          close: async () => {
            await db.close();
            await database.drop();
          },
        };
      },
    });
  }
  return list;
}

// ---------------------------------------------------------------------------------------------------
// Stripe clients: the janitor's, counting each request by kind, and an uncounted one for seeding.

/** Per request kind: how many, and the milliseconds from sending to the whole answer read (summed). */
type RequestCounts = Map<string, { n: number; ms: number }>;

function stripeClient(sandboxUrl: string, counts?: RequestCounts): Stripe {
  const url = new URL(sandboxUrl);
  const httpClient = Stripe.createNodeHttpClient();
  if (counts) {
    const makeRequest = httpClient.makeRequest.bind(httpClient);
    httpClient.makeRequest = async (host, port, path, method, ...rest) => {
      const kind = `${method} ${requestKind(path)}`;
      const entry = counts.get(kind) ?? { n: 0, ms: 0 };
      counts.set(kind, entry);
      entry.n += 1;
      const t0 = performance.now();
      const response = await makeRequest(host, port, path, method, ...rest);
      // The SDK reads the body next; reading it here (once) times the whole answer, then hands it on.
      const body = await response.toJSON();
      entry.ms += performance.now() - t0;
      return Object.assign(Object.create(Object.getPrototypeOf(response)), response, { toJSON: async () => body });
    };
  }
  // As server/stripe/client.ts makes it (retries, timeout), plus the counting HttpClient.
  return new Stripe('sk_test_sandbox', { maxNetworkRetries: 2, timeout: 20_000, host: url.hostname, port: Number(url.port), protocol: 'http', httpClient });
}

/** `/v1/payment_intents/pi_123/cancel?x` → `/v1/payment_intents/{id}/cancel`; a list keeps its path. */
function requestKind(path: string): string {
  const [pathname] = path.split('?');
  return pathname!.replace(/\/(pi|cs|evt|ch|cus|re|pm)_[A-Za-z0-9]+/g, '/{id}');
}

const isListPage = (kind: string) => kind.startsWith('GET ') && !kind.includes('{id}');

// ---------------------------------------------------------------------------------------------------
// Seeding the day.

interface Seeded {
  provisional: number;
  orphansPaid: number;
  orphansOpen: number;
  settled: number;
  paymentIntents: number;
  eventsAtStripe: number;
  eventsStored: number;
  /** Events Stripe has not delivered (delivery_success: false), one endpoint each. */
  eventsUndelivered: number;
  seedSeconds: number;
}

interface BegunOrder {
  n: number;
  order_id: string;
  attempt_id: string;
  customer_id: string;
  track: string;
  attempt: number;
  amount: number;
  currency: string;
}

async function seedDay(db: Db, sandboxUrl: string): Promise<Seeded> {
  const started = performance.now();
  await migrate(db);
  const stripe = stripeClient(sandboxUrl);
  const tag = randomUUID().slice(0, 8);

  // Orders as checkout begins them (one statement), with their first attempt `creating`.
  const { rows: begun } = await db.query<BegunOrder>(
    `select n, r->'order'->>'id' as order_id, r->'attempt'->>'id' as attempt_id, r->'order'->>'customer_id' as customer_id,
            r->'order'->>'product_id' as track, (r->'attempt'->>'attempt')::int as attempt,
            (r->'order'->>'amount')::int as amount, r->'order'->>'currency' as currency
       from (select n, checkout_begin(jsonb_build_object(
                  'scope', 'api_key:bench', 'key', $1 || '-' || n, 'operation', 'createPaymentIntent',
                  'request_hash', encode(sha256(convert_to($1 || '-' || n, 'UTF8')), 'hex'), 'kind', 'payment_intent',
                  'track', 'business_plan_builder', 'order_id', null, 'user_id', null, 'email', $1 || '-' || n || '@bench.example',
                  'email_from_sign_in', false, 'name', null, 'metadata', '{}'::jsonb, 'actor', 'bench')) as r
               from generate_series(1, $2::int) as n) as b
      order by n`,
    [tag, ORDERS],
  );
  if (begun.length !== ORDERS || begun.some((o) => !o.attempt_id)) throw new Error('checkout_begin refused a benchmark order');

  // The server's webhook endpoint, as npm start registers it: a receiver here answers every delivery
  // 200, so Stripe (the sandbox) counts the settled orders' events delivered. Those of the provisional
  // orders and the orphans are made under the sandbox's delay fault and never sent within the
  // benchmark: pending, as a delivery Stripe is still retrying (`delivery_success: false`).
  const receiver = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(200).end());
  });
  await new Promise<void>((done) => receiver.listen(0, '127.0.0.1', done));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/stripe`;
  await stripe.webhookEndpoints.create({ url: receiverUrl, enabled_events: ['*'] });
  const control = (path: string, body: object) =>
    fetch(new URL(path, sandboxUrl), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json() as Promise<Record<string, unknown>>);

  // Their PaymentIntents at the sandbox, created and paid in one call each (the storefront's confirm
  // and the customer's card in one), with checkout's metadata. The settled first, delivered at once.
  const createPaid = (o: BegunOrder) =>
    stripe.paymentIntents.create({
      amount: o.amount,
      currency: o.currency,
      metadata: { order_id: o.order_id, customer_id: o.customer_id, track: o.track, attempt: String(o.attempt) },
      confirm: true,
      payment_method: 'pm_card_visa',
      return_url: RETURN_URL,
    });
  const settledIntents = await inFlight(begun.slice(PROVISIONAL), SEED_IN_FLIGHT, createPaid);
  await control('/_sandbox/faults/webhooks', { delaySeconds: UNDELIVERED_DELAY_SECONDS });
  const intents = [...(await inFlight(begun.slice(0, PROVISIONAL), SEED_IN_FLIGHT, createPaid)), ...settledIntents];
  // Orphans: our metadata, an order id we never recorded; half paid, half left open.
  const price = begun[0]!;
  const orphans = await inFlight(
    Array.from({ length: ORPHANS }, (_, i) => i),
    SEED_IN_FLIGHT,
    (i) =>
      stripe.paymentIntents.create({
        amount: price.amount,
        currency: price.currency,
        receipt_email: `orphan-${tag}-${i}@bench.example`,
        metadata: { order_id: randomUUID(), customer_id: randomUUID(), track: price.track, attempt: '1' },
        ...(i % 2 === 0 ? { confirm: true, payment_method: 'pm_card_visa', return_url: RETURN_URL } : {}),
      }),
  );

  // Every delivery due is made (the settled orders' events); the rest wait out the delay.
  const { pending: eventsUndeliveredDeliveries } = await control('/_sandbox/webhooks/flush', {});
  await new Promise<void>((done) => receiver.close(() => done()));

  // Checkout records each attempt's PaymentIntent (one statement).
  await db.query(
    `select checkout_record_attempt(jsonb_build_object('attempt_id', t.attempt_id, 'object_id', t.object_id, 'client_secret', t.client_secret,
              'scope', 'api_key:bench', 'key', $1 || '-' || t.n, 'actor', 'bench'))
       from unnest($2::uuid[], $3::text[], $4::text[], $5::int[]) as t(attempt_id, object_id, client_secret, n)`,
    [tag, begun.map((o) => o.attempt_id), intents.map((pi) => pi.id), intents.map((pi) => pi.client_secret), begun.map((o) => o.n)],
  );

  // The payment applied: by the webhook (confirmed) for the settled, by the storefront's confirm
  // (provisional) for the 1% whose webhooks were dropped. order_apply_payment, a statement per chunk.
  const provisionalIds = new Set(intents.slice(0, PROVISIONAL).map((pi) => pi.id));
  const facts = intents.map((pi) =>
    factsFrom('payment_intent', pi.id, readPaymentIntent(pi), provisionalIds.has(pi.id) ? { source: 'storefront', userId: null, actor: 'bench' } : { source: 'webhook', userId: null, actor: 'stripe' }),
  );
  for (let i = 0; i < facts.length; i += 1000) {
    const { rows } = await db.query<{ outcome: string }>(`select order_apply_payment(f)->>'outcome' as outcome from jsonb_array_elements($1::jsonb) as f`, [JSON.stringify(facts.slice(i, i + 1000))]);
    const bad = rows.find((r) => r.outcome !== 'applied');
    if (bad) throw new Error(`order_apply_payment answered ${bad.outcome} while seeding`);
  }
  // Provisional since an hour ago: past RECONCILE_PROVISIONAL_AFTER_SECONDS, due for their first check.
  await db.query(`update orders set updated_at = now() - interval '1 hour' where payment_intent_id = any($1::text[]) or id in (select order_id from payment_attempts where stripe_object_id = any($1::text[]))`, [[...provisionalIds]]);
  const { rows: states } = await db.query<{ sync_state: string; n: number }>(`select coalesce(sync_state, 'none') as sync_state, count(*)::int as n from orders group by 1`);
  const provisionalRows = states.find((s) => s.sync_state === 'provisional')?.n ?? 0;
  const confirmedRows = states.find((s) => s.sync_state === 'confirmed')?.n ?? 0;
  if (provisionalRows !== PROVISIONAL || confirmedRows !== ORDERS - PROVISIONAL) throw new Error(`seeded orders: ${JSON.stringify(states)}`);

  // The settled orders' events, as the endpoint stored them and the applier left them (applied);
  // those of the provisional orders and the orphans were dropped and are not stored.
  const settledIds = new Set(intents.filter((pi) => !provisionalIds.has(pi.id)).map((pi) => pi.id));
  let eventsAtStripe = 0;
  let eventsStored = 0;
  for await (const event of stripe.events.list({ limit: 100 })) {
    eventsAtStripe += 1;
    const object = event.data.object as { id?: string; object?: string; payment_intent?: string | { id: string } | null };
    const pi = object.object === 'payment_intent' ? object.id : typeof object.payment_intent === 'string' ? object.payment_intent : object.payment_intent?.id;
    if (!pi || !settledIds.has(pi)) continue;
    pendingEvents.push({ id: event.id, type: event.type, object_type: object.object ?? null, object_id: object.id ?? null, created: event.created, livemode: event.livemode, api_version: event.api_version, status: 'applied', payload: event });
    if (pendingEvents.length >= 500) eventsStored += await flushEvents(db);
  }
  eventsStored += await flushEvents(db);
  await db.query(`update stripe_events set applied_at = received_at where status = 'applied' and applied_at is null`);
  return {
    provisional: PROVISIONAL,
    orphansPaid: orphans.filter((pi) => pi.status === 'succeeded').length,
    orphansOpen: orphans.filter((pi) => pi.status !== 'succeeded').length,
    settled: settledIds.size,
    paymentIntents: intents.length + orphans.length,
    eventsAtStripe,
    eventsStored,
    eventsUndelivered: Number(eventsUndeliveredDeliveries),
    seedSeconds: (performance.now() - started) / 1000,
  };
}

const pendingEvents: object[] = [];
async function flushEvents(db: Db): Promise<number> {
  if (pendingEvents.length === 0) return 0;
  const { rows } = await db.query('select stripe_events_store($1::jsonb) as id', [JSON.stringify(pendingEvents.splice(0))]);
  return rows.length;
}

/** fn over items with `limit` calls in flight; results in the items' order. */
async function inFlight<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

// ---------------------------------------------------------------------------------------------------
// The measured pass.

interface Measured {
  seeded: Seeded;
  wallSeconds: number;
  cpuSeconds: number;
  rssGrowthMiB: number;
  rssBeforeMiB: number;
  /** Peak JS heap in use over the heap at the start (what the pass itself held, without V8's slack or the database's). */
  heapGrowthMiB: number;
  statements: RequestCounts;
  load: number[];
  requests: RequestCounts;
  counters: Record<string, number | undefined>;
  outcome: string;
  after: { provisional: number; openFindings: number; ordersPaid: number };
}

/** The pass's statements by what they run (the function called, or the table), and their summed milliseconds. */
function tallyingDb(db: Db, statements: RequestCounts): Db {
  const tally = async <T>(sql: string, run: () => Promise<T>) => {
    // `select to_jsonb(reconcile_begin_run($1…` → reconcile_begin_run; otherwise the first table read or written.
    const kind = /^\s*select\s+(?:to_jsonb\()?([a-z_]+)\(\$1/.exec(sql)?.[1] ?? /\b(?:from|into|update)\s+([a-z_]+)/.exec(sql)?.[1] ?? sql.slice(0, 30);
    const entry = statements.get(kind) ?? { n: 0, ms: 0 };
    statements.set(kind, entry);
    entry.n += 1;
    const t0 = performance.now();
    try {
      return await run();
    } finally {
      entry.ms += performance.now() - t0;
    }
  };
  return new Proxy(db, {
    get(target, property, receiver) {
      if (property === 'query') return (sql: string, params?: unknown[]) => tally(sql, () => target.query(sql, params as never));
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

async function timedPass(plainDb: Db, sandboxUrl: string, seeded: Seeded): Promise<Measured> {
  const requests: RequestCounts = new Map();
  const statements: RequestCounts = new Map();
  const db = tallyingDb(plainDb, statements);
  const stripe = stripeClient(sandboxUrl, requests);
  const deps = {
    db,
    stripe,
    logger: silent,
    settings: { schedule: undefined, provisionalAfterSeconds: 120, cancelOpenOrphansAfterHours: 24 },
    // No applier in this process: backfilled events are stored (status received), as by an endpoint process without jobs.
    eventStore: new EventStore(db),
    expectLive: false,
    ...(CONCURRENCY ? { concurrency: CONCURRENCY } : {}),
  };
  collectGarbage();
  const before = process.memoryUsage();
  const rssBefore = before.rss;
  let rssPeak = rssBefore;
  let heapPeak = before.heapUsed;
  const sampler = setInterval(() => {
    const now = process.memoryUsage();
    rssPeak = Math.max(rssPeak, now.rss);
    heapPeak = Math.max(heapPeak, now.heapUsed);
  }, 10);
  const load = loadavg();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await runReconciliation(deps, { trigger: 'cli', actor: 'bench' });
  const wallSeconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  if (result.outcome !== 'succeeded') throw new Error(`the pass ${result.outcome}: ${result.run.error}`);
  const [after] = (
    await db.query<{ provisional: number; open_findings: number; orders_paid: number }>(
      `select (select count(*)::int from orders where sync_state = 'provisional') as provisional,
              (select count(*)::int from reconciliation_findings where status = 'open') as open_findings,
              (select count(*)::int from orders where status = 'paid') as orders_paid`,
    )
  ).rows;
  return {
    seeded,
    wallSeconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    rssGrowthMiB: (rssPeak - rssBefore) / 1048576,
    rssBeforeMiB: rssBefore / 1048576,
    heapGrowthMiB: (heapPeak - before.heapUsed) / 1048576,
    statements,
    load,
    requests,
    counters: result.run.counters as Record<string, number | undefined>,
    outcome: result.outcome,
    after: { provisional: after!.provisional, openFindings: after!.open_findings, ordersPaid: after!.orders_paid },
  };
}

// ---------------------------------------------------------------------------------------------------
// Output.

const fmt = (value: number, digits = 1) => value.toFixed(digits);
const verdict = (met: boolean) => (met ? 'met' : 'NOT met');

function printResults(label: string, runs: Measured[]) {
  const s = runs[0]!.seeded;
  const items = s.provisional + s.orphansPaid + s.orphansOpen;
  const total = (m: Measured) => [...m.requests.values()].reduce((a, b) => a + b.n, 0);
  const own = (m: Measured) => [...m.requests].filter(([kind]) => !isListPage(kind)).reduce((a, [, r]) => a + r.n, 0);
  const wall = median(runs.map((m) => m.wallSeconds));
  const perItemShared = median(runs.map((m) => total(m) / items));
  const perItemOwn = median(runs.map((m) => own(m) / items));
  const rss = median(runs.map((m) => m.rssGrowthMiB));
  console.log(
    `\nReconciliation pass, ${label}: ${ORDERS} orders of one day (${s.settled} settled, ${s.provisional} provisional with their webhooks dropped), ` +
      `${s.orphansPaid + s.orphansOpen} orphans at Stripe (${s.orphansPaid} paid, ${s.orphansOpen} open); ${s.paymentIntents} PaymentIntents and ${s.eventsAtStripe} events at the sandbox ` +
      `(its own process, over HTTP), ${s.eventsStored} of them delivered and stored, ${s.eventsUndelivered} not delivered; concurrency ${CONCURRENCY ?? 'default'}; median of ${runs.length} (each a fresh day, seeded in ${runs.map((m) => fmt(m.seeded.seedSeconds, 0)).join(', ')} s)`,
  );
  for (const [i, m] of runs.entries()) {
    console.log(
      `  pass ${i + 1}: ${fmt(m.wallSeconds, 2)} s wall, ${fmt(m.cpuSeconds, 2)} s CPU (this process${label === 'PGlite' ? ', with the database' : ''}), ` +
        `RSS +${fmt(m.rssGrowthMiB)} MiB peak (from ${fmt(m.rssBeforeMiB, 0)} MiB), JS heap in use +${fmt(m.heapGrowthMiB)} MiB peak, load ${m.load.map((l) => l.toFixed(2)).join(' ')}, ` +
        `${total(m)} Stripe requests; counters ${JSON.stringify(m.counters)}; after: ${m.after.provisional} provisional, ${m.after.openFindings} open findings, ${m.after.ordersPaid} orders paid`,
    );
  }
  const kinds = new Map<string, Array<{ n: number; ms: number }>>();
  for (const m of runs) for (const [kind, r] of m.requests) kinds.set(kind, [...(kinds.get(kind) ?? []), r]);
  console.log(
    `  Stripe requests by kind, median count (and seconds waited on them, summed over requests in flight together): ` +
      [...kinds]
        .sort()
        .map(([kind, rs]) => `${kind} ${median(rs.map((r) => r.n))}${isListPage(kind) ? ' list pages' : ''} (${fmt(median(rs.map((r) => r.ms)) / 1000)} s)`)
        .join('; '),
  );
  const last = runs[runs.length - 1]!;
  console.log(
    `  database statements of the last pass (count, seconds summed): ` +
      [...last.statements]
        .sort((a, b) => b[1].ms - a[1].ms)
        .map(([kind, r]) => `${kind} ${r.n} (${fmt(r.ms / 1000)} s)`)
        .join('; '),
  );
  console.log(
    `  per unsettled item (${items}: provisional orders and orphans): ${fmt(perItemShared, 2)} with the list pages shared among them, ` +
      `${fmt(perItemOwn, 2)} for the item's own calls alone (retrieve, cancel)`,
  );
  console.log(
    `goals (${label}): pass under ${GOAL.seconds} s: ${fmt(wall, 1)} s, ${verdict(wall < GOAL.seconds)}; ` +
      `under ${GOAL.requestsPerItem} Stripe requests per unsettled item, list pages shared: ${fmt(perItemShared, 2)}, ${verdict(perItemShared < GOAL.requestsPerItem)}; ` +
      `RSS growth under ${GOAL.rssMiB} MB: ${fmt(rss)} MiB, ${verdict(rss * 1.048576 < GOAL.rssMiB)}`,
  );
}

if (process.argv[1] && resolve(process.argv[1]) === THIS_FILE) await benchReconcile();
