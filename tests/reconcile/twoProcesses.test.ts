// Two janitor passes started together by two OS processes on one PostgreSQL database (issue 17): the
// one-pass lock is a row in the database, so exactly one process does the work and the other finds
// that pass running and does nothing. Each provisional order is confirmed once, each paid orphan
// adopted once (one order, one Make add_project delivery), the stale open orphan cancelled at Stripe
// once. Twice: with runReconciliation itself in two processes (tests/helpers/reconcilePassProcess.ts,
// the server as compose.ts builds it, running one pass, so each process's answer busy or not is seen),
// and with two server processes as `npm start` runs them, each asked by an admin to run one now.
// Stripe is the sandbox served from this test, shared by every process.
//
// PostgreSQL suite only: PGlite lets one process at a time open its directory, so two processes on
// one PGlite database is not a deployment there is.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../server/auth/apiKeys';
import { signStaffToken } from '../../server/auth/staffTokens';
import type { Db } from '../../server/platform/db/db';
import type { PassResult } from '../../server/reconcile/janitor';
import { SandboxClock } from '../../stripe-sandbox/clock';
import { CONFIRM_PAYMENT, CREATE_PAYMENT_INTENT, JWT_SECRET, newKey } from '../helpers/checkout';
import { TEST_ENGINE } from '../helpers/db';
import { type ExternalSandbox, startExternalSandbox } from '../helpers/externalSandbox';
import { createProcessDatabase, killServerProcesses, type ProcessDatabase, type ServerProcess, startServerProcess } from '../helpers/serverProcess';

const PASS_PROCESS = fileURLToPath(new URL('../helpers/reconcilePassProcess.ts', import.meta.url));
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const RETURN_URL = 'https://shop.test/checkout/return';
const PROVISIONAL = 3;
const PAID_ORPHANS = 2;
const RUN_NOW = `mutation ($input: RunReconciliationInput!) { runReconciliation(input: $input) { run { id status } started error { code } } }`;

/** A pass process: its `ready` and `result` lines, and everything it wrote for failure messages. */
interface PassProcess {
  child: ChildProcess;
  ready: Promise<void>;
  result: Promise<PassResult>;
  output: () => string;
}

function startPassProcess(actor: string, env: Record<string, string>): PassProcess {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, PASS_PROCESS, actor], {
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn', RECONCILE_INTERVAL: 'off', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const output = () => `--- ${actor} stdout ---\n${stdout}\n--- ${actor} stderr ---\n${stderr}`;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const line = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(stdout);
        if (match) {
          child.stdout!.off('data', check);
          resolve(match);
        }
      };
      child.stdout!.on('data', check);
      void exited.then((code) => reject(new Error(`${actor} exited (${code}) before printing ${pattern}\n${output()}`)));
    });
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return {
    child,
    ready: line(/^ready$/m).then(() => undefined),
    result: line(/^result (.+)$/m).then((match) => JSON.parse(match[1]!) as PassResult),
    output,
  };
}

/** Make.com's side: a scenario webhook that takes every delivery (200) and keeps what it got. */
async function startMakeReceiver(): Promise<{ url: string; received: Array<{ deliveryId: string; body: any }>; close: () => Promise<void> }> {
  const received: Array<{ deliveryId: string; body: any }> = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    received.push({ deliveryId: String(req.headers['x-delivery-id'] ?? ''), body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') });
    res.writeHead(200, { 'content-type': 'text/plain' }).end('Accepted');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/make/add_project`,
    received,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

async function until(what: string, check: () => Promise<boolean> | boolean, output: () => string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One database, one Stripe, one Make, and what a pass has to settle on them. */
interface World {
  database: ProcessDatabase;
  stripe: ExternalSandbox;
  make: Awaited<ReturnType<typeof startMakeReceiver>>;
  db: Db;
  /** What every process of the world is started with. */
  env: Record<string, string>;
  provisional: string[];
  paidOrphans: Array<{ orderId: string; id: string }>;
  openOrphanId: string;
  /** The Stripe requests cancelling a PaymentIntent, in order. */
  cancels: string[];
  /** Holds every read a pass makes at Stripe (its first Stripe call) until release(). */
  holdPassReads: () => { release: () => void };
}

const worlds: World[] = [];
const passes: PassProcess[] = [];

async function newWorld(): Promise<World> {
  const database = await createProcessDatabase();
  // Stripe's clock two hours behind ours: what Stripe made now was made two hours ago for the
  // janitor, so an open orphan is past RECONCILE_CANCEL_OPEN_ORPHANS_AFTER_HOURS=1 without waiting.
  const stripe = await startExternalSandbox({ clock: new SandboxClock(() => Date.now() - 2 * 3_600_000) });
  const make = await startMakeReceiver();
  const db = await database.open();
  const world = { database, stripe, make, db, cancels: [] } as unknown as World;
  worlds.push(world);
  const { key: storefrontKey } = await createApiKey(db, 'storefront', 'storefront');
  world.env = {
    ...database.env,
    ...stripe.env,
    MAKE_ADD_PROJECT_WEBHOOK_URL: make.url,
    MAKE_SIGNING_SECRET: 'make-signing-secret-for-two-process-test',
    SUPABASE_JWT_SECRET: JWT_SECRET,
    RECONCILE_CANCEL_OPEN_ORPHANS_AFTER_HOURS: '1',
  };

  // The storefront's customers pay; no webhook reaches us (no endpoint is registered at this Stripe).
  const shop = await startServerProcess(world.env, { cwd: database.workDir });
  const graphql = async (query: string, input: Record<string, unknown>) => {
    const response = await fetch(`${shop.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': storefrontKey },
      body: JSON.stringify({ query, variables: { input } }),
    });
    const body = (await response.json()) as { data?: any; errors?: unknown };
    expect(body.errors, shop.output()).toBeUndefined();
    return body.data;
  };
  world.provisional = [];
  for (let i = 0; i < PROVISIONAL; i++) {
    const created = (await graphql(CREATE_PAYMENT_INTENT, { idempotencyKey: newKey(), track: 'business_plan_builder', email: `provisional-${randomUUID()}@example.com` })).createPaymentIntent;
    await stripe.stripe.paymentIntents.confirm(created.paymentIntentId, { payment_method: 'pm_card_visa', return_url: RETURN_URL });
    const confirmed = (await graphql(CONFIRM_PAYMENT, { paymentIntentId: created.paymentIntentId })).confirmPayment;
    expect(confirmed.order).toMatchObject({ status: 'PAID', syncState: 'PROVISIONAL' });
    world.provisional.push(confirmed.order.id);
  }
  expect(await shop.kill('SIGTERM'), shop.output()).toEqual({ code: 0, signal: null });
  // Made at Stripe with our metadata and never recorded (a crash, another tool): two paid, one left open.
  const orphan = (orderId: string) =>
    stripe.stripe.paymentIntents.create({
      amount: 9900,
      currency: 'usd',
      receipt_email: `orphan-${randomUUID()}@example.com`,
      metadata: { order_id: orderId, customer_id: randomUUID(), track: 'business_plan_builder', attempt: '1' },
    });
  world.paidOrphans = [];
  for (let i = 0; i < PAID_ORPHANS; i++) {
    const orderId = randomUUID();
    const intent = await orphan(orderId);
    await stripe.stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_visa', return_url: RETURN_URL });
    world.paidOrphans.push({ orderId, id: intent.id });
  }
  world.openOrphanId = (await orphan(randomUUID())).id;
  // The orders have been provisional for an hour (past RECONCILE_PROVISIONAL_AFTER_SECONDS).
  await db.query(`update orders set updated_at = now() - interval '1 hour' where id = any($1::uuid[])`, [world.provisional]);

  let held: Array<() => void> | undefined;
  stripe.intercept = async (request, answer) => {
    const path = new URL(request.url).pathname;
    if (request.method === 'GET' && /^\/v1\/(payment_intents|checkout\/sessions|events)/.test(path) && held) {
      await new Promise<void>((resolve) => (held ? held.push(resolve) : resolve()));
    }
    if (request.method === 'POST' && /^\/v1\/payment_intents\/[^/]+\/cancel$/.test(path)) world.cancels.push(path);
    return answer();
  };
  world.holdPassReads = () => {
    held = [];
    return {
      release: () => {
        const waiting = held ?? [];
        held = undefined;
        for (const resolve of waiting) resolve();
      },
    };
  };
  return world;
}

/** The janitor's runs on the world's database, oldest first. */
async function runsOf(world: World) {
  return (await world.db.query<{ id: string; actor: string; status: string; counters: Record<string, number> }>(`select id, actor, status, counters from reconciliation_runs order by started_at`)).rows;
}

/** Each thing done once: one cancel at Stripe, each order confirmed once, each orphan adopted once (one order, one payment, one add_project that reached Make). */
async function expectEachThingDoneOnce(world: World): Promise<void> {
  const { db, stripe, make } = world;
  expect(world.cancels).toEqual([`/v1/payment_intents/${world.openOrphanId}/cancel`]);
  expect((await stripe.stripe.paymentIntents.retrieve(world.openOrphanId)).status).toBe('canceled');

  // A server takes over what the pass's process left for its jobs (events to apply, Make to deliver).
  const after = await startServerProcess(world.env, { cwd: world.database.workDir });
  const count = async (sql: string, params: Array<string | string[]> = []) => (await db.query<{ n: number }>(sql, params)).rows[0]!.n;
  const allOrders = [...world.provisional, ...world.paidOrphans.map((o) => o.orderId)];
  await until('every event is applied', async () => (await count(`select count(*)::int as n from stripe_events where status = 'received'`)) === 0, after.output);
  await until(
    'every add_project reached Make',
    async () => (await count(`select count(*)::int as n from make_deliveries where kind = 'add_project' and status = 'delivered' and order_id = any($1::uuid[])`, [allOrders])) === allOrders.length,
    after.output,
  );
  expect(await after.kill('SIGTERM'), after.output()).toEqual({ code: 0, signal: null });

  const { rows } = await db.query<{ id: string; status: string; sync_state: string; payments: number; paid_logs: number; janitor: string[]; make: number }>(
    `select o.id, o.status, o.sync_state,
            (select count(*)::int from payments p where p.order_id = o.id) as payments,
            (select count(*)::int from payment_logs l where l.order_id = o.id and l.event_type = 'payment.paid') as paid_logs,
            (select coalesce(array_agg(l.event_type order by l.id), '{}') from payment_logs l where l.order_id = o.id and l.event_type like 'reconcile.%') as janitor,
            (select count(*)::int from make_deliveries d where d.order_id = o.id and d.kind = 'add_project') as make
       from orders o where o.id = any($1::uuid[]) order by array_position($1::uuid[], o.id)`,
    [allOrders],
  );
  const once = { status: 'paid', sync_state: 'confirmed', payments: 1, paid_logs: 1, make: 1 };
  expect(rows).toEqual([
    ...world.provisional.map((id) => ({ id, ...once, janitor: ['reconcile.order_synced'] })),
    ...world.paidOrphans.map((o) => ({ id: o.orderId, ...once, janitor: ['reconcile.adopted'] })),
  ]);
  for (const o of world.paidOrphans) expect(await count(`select count(*)::int as n from orders where payment_intent_id = $1`, [o.id])).toBe(1);
  // Make got one add_project delivery per order, and nothing else. A delivery may reach it more than
  // once (a process stopped while its POST was in flight records it for a retry): Make tells repeats
  // apart by the delivery id, so one id per order is one delivery.
  const deliveryIds = new Map<string, Set<string>>();
  for (const { deliveryId, body } of make.received) {
    expect(body?.type).toBe('add_project');
    const ids = deliveryIds.get(body?.data?.order_id) ?? new Set<string>();
    deliveryIds.set(body?.data?.order_id, ids.add(deliveryId));
  }
  expect([...deliveryIds.keys()].sort()).toEqual([...allOrders].sort());
  expect([...deliveryIds.values()].map((ids) => ids.size)).toEqual(allOrders.map(() => 1));
}

describe.skipIf(TEST_ENGINE !== 'postgres')('two processes starting a pass together on one PostgreSQL database', () => {
  afterAll(async () => {
    for (const pass of passes) if (pass.child.exitCode === null) pass.child.kill('SIGKILL');
    await killServerProcesses();
    for (const world of worlds) {
      await world.db.close();
      await world.stripe.close();
      await world.make.close();
      await world.database.destroy();
    }
  });

  it('runs one pass (runReconciliation in two processes), which confirms each order, adopts each paid orphan and cancels the stale open one once, while the other process finds it running and does nothing', { timeout: 300_000 }, async () => {
    const world = await newWorld();
    // Stripe holds the pass's reads until the other process has answered, so the two passes overlap
    // however the processes are scheduled.
    const hold = world.holdPassReads();
    const pair = [startPassProcess('cli:first', world.env), startPassProcess('cli:second', world.env)];
    passes.push(...pair);
    const output = () => pair.map((p) => p.output()).join('\n');
    await Promise.all(pair.map((p) => p.ready));
    for (const pass of pair) pass.child.stdin!.write('go\n');

    // Released once one process has answered, or (were the lock broken) once both passes run.
    let answered = 0;
    for (const pass of pair) void pass.result.then(() => (answered += 1), () => (answered += 1));
    await until('one process has answered, or both passes run', async () => answered > 0 || (await runsOf(world)).length >= 2, output);
    hold.release();
    const results = await Promise.all(pair.map((p) => p.result));

    expect(results.map((r) => r.outcome).sort(), output()).toEqual(['busy', 'succeeded']);
    const ran = results.find((r) => r.outcome === 'succeeded')!;
    const busy = results.find((r) => r.outcome === 'busy')!;
    expect(busy.run).toMatchObject({ id: ran.run.id, status: 'running' });
    expect((await runsOf(world)).map((r) => [r.id, r.actor])).toEqual([[ran.run.id, ran.run.actor]]);
    expect(ran.run.counters).toMatchObject({ synced: PROVISIONAL, adopted: PAID_ORPHANS, canceled: 1, failed: 0 });
    for (const pass of pair) await until('the pass process has exited', () => pass.child.exitCode !== null, output);
    expect(pair.map((p) => p.child.exitCode)).toEqual([0, 0]);
    world.stripe.intercept = undefined;
    await expectEachThingDoneOnce(world);
  });

  it('starts one pass when an admin presses Run reconciliation now on two servers (as npm start runs them) at once: the other server answers with that run, and each thing is done once', { timeout: 300_000 }, async () => {
    const world = await newWorld();
    const servers = await Promise.all([startServerProcess(world.env, { cwd: world.database.workDir }), startServerProcess(world.env, { cwd: world.database.workDir })]);
    const output = () => servers.map((s) => s.output()).join('\n');
    const admin = await signStaffToken(JWT_SECRET, { userId: randomUUID(), email: 'admin@staff.test', staffRole: 'admin', audience: 'authenticated', expiresIn: '1h' });
    const runNow = async (server: ServerProcess) => {
      const response = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
        body: JSON.stringify({ query: RUN_NOW, variables: { input: { idempotencyKey: newKey() } } }),
      });
      const body = (await response.json()) as { data?: any; errors?: unknown };
      expect(body.errors, server.output()).toBeUndefined();
      return body.data.runReconciliation as { run: { id: string; status: string }; started: boolean; error: unknown };
    };

    // The pass runs in the background of the server that started it; Stripe holds its reads until
    // both servers have answered, so the second press lands while the first pass runs.
    const hold = world.holdPassReads();
    const answers = await Promise.all(servers.map(runNow));
    hold.release();
    expect(answers.map((a) => a.started).sort()).toEqual([false, true]);
    expect(answers.map((a) => a.error)).toEqual([null, null]);
    expect(answers[1]!.run).toMatchObject({ id: answers[0]!.run.id, status: 'RUNNING' });
    await until('the pass has ended', async () => (await runsOf(world)).every((r) => r.status !== 'running'), output);
    const runs = await runsOf(world);
    expect(runs).toEqual([expect.objectContaining({ id: answers[0]!.run.id, status: 'succeeded', counters: expect.objectContaining({ synced: PROVISIONAL, adopted: PAID_ORPHANS, canceled: 1, failed: 0 }) })]);
    for (const server of servers) expect(await server.kill('SIGTERM'), server.output()).toEqual({ code: 0, signal: null });
    world.stripe.intercept = undefined;
    await expectEachThingDoneOnce(world);
  });
});
