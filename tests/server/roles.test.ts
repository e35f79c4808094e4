// A web process and a worker on one PostgreSQL database, each started as users start them
// (server/main.ts in a child process, PROCESS_ROLE=web and PROCESS_ROLE=worker), sharing one Stripe
// (the sandbox served from this test) and one Make scenario (a receiver here). The web process
// acknowledges a checkout's webhook; the worker, started earlier and polling only once an hour
// (WEBHOOK_POLL_SECONDS=3600), applies it: only the NOTIFY sent when the event was committed can have
// woken it. Its Make add_project is then posted by the worker. A third process whose Make URL differs
// from the one the database holds refuses to start with one line, and writes nothing.
//
// PostgreSQL suite only: PGlite is one process's database, and the roles are refused on it
// (tests/platform/processRoles.test.ts).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../server/platform/db/db';
import { TEST_ENGINE } from '../helpers/db';
import { type ExternalSandbox, startExternalSandbox } from '../helpers/externalSandbox';
import { createProcessDatabase, killServerProcesses, type ProcessDatabase, type ServerProcess, startServerProcess } from '../helpers/serverProcess';
import { deliver, eventRow, newStory, seedSandbox, WEBHOOK_TEST_SECRET } from '../helpers/webhookStory';

/** Make.com's side: takes every delivery (200) and keeps its id and kind. */
async function startMakeReceiver() {
  const received: Array<{ deliveryId: string; kind: string }> = [];
  const server: Server = createServer(async (req, res) => {
    for await (const _chunk of req);
    received.push({ deliveryId: String(req.headers['x-delivery-id'] ?? ''), kind: String(req.url).split('/').pop()! });
    res.writeHead(200, { 'content-type': 'text/plain' }).end('Accepted');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/make`,
    received,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

async function until(what: string, check: () => Promise<boolean> | boolean, output: () => string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.skipIf(TEST_ENGINE !== 'postgres')('a web process and a worker on one PostgreSQL database', () => {
  let database: ProcessDatabase;
  let stripe: ExternalSandbox;
  let make: Awaited<ReturnType<typeof startMakeReceiver>>;
  let db: Db;
  let env: Record<string, string>;
  let web: ServerProcess;
  let worker: ServerProcess;
  const output = () => `=== web ===\n${web?.output()}\n=== worker ===\n${worker?.output()}`;

  beforeAll(async () => {
    database = await createProcessDatabase();
    stripe = await startExternalSandbox();
    make = await startMakeReceiver();
    db = await database.open();
    env = {
      ...database.env,
      ...stripe.env,
      STRIPE_WEBHOOK_SECRET: WEBHOOK_TEST_SECRET,
      MAKE_ADD_PROJECT_WEBHOOK_URL: `${make.url}/add_project`,
      MAKE_SIGNING_SECRET: 'roles-test-make-signing-secret',
      // The applier's poll, an hour away: within this test only a NOTIFY wakes a worker.
      WEBHOOK_POLL_SECONDS: '3600',
    };
    // The worker first: its start-up drain is over before the event exists.
    worker = await startServerProcess({ ...env, PROCESS_ROLE: 'worker' }, { cwd: database.workDir });
    web = await startServerProcess({ ...env, PROCESS_ROLE: 'web' }, { cwd: database.workDir });
  }, 240_000);

  afterAll(async () => {
    await killServerProcesses();
    await db?.close();
    await make?.close();
    await stripe?.close();
    await database?.destroy();
  });

  it('the worker serves its health checks and nothing else; the web process serves GraphQL', async () => {
    const health = await fetch(`${worker.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', role: 'worker' });
    const ready = await fetch(`${worker.url}/readyz`);
    expect(await ready.json()).toEqual({ status: 'ready', role: 'worker', database: 'postgres' });
    expect((await fetch(`${worker.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{__typename}"}' })).status).toBe(404);
    expect((await fetch(`${worker.url}/webhooks/stripe`, { method: 'POST', body: '{}' })).status).toBe(404);
    expect(worker.output()).toContain('as a worker (the jobs only');
    expect(worker.output()).not.toContain('GraphQL');

    const graphql = await fetch(`${web.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{__typename}"}' });
    expect(graphql.status).toBe(200);
    expect(web.output()).toContain('as a web process (HTTP only');
  });

  it('a webhook acknowledged by the web process is applied by the worker, woken by NOTIFY, and its add_project posted once', { timeout: 120_000 }, async () => {
    const story = await newStory(db);
    seedSandbox(stripe.sandbox, story);
    const event = story.event('checkout.session.completed');
    expect(await deliver(web.url, event)).toMatchObject({ status: 200 });
    // Acknowledged means committed: the event is there, whoever applies it.
    expect((await eventRow(db, event.id))?.status).toBeDefined();

    await until('the worker applied the event', async () => (await eventRow(db, event.id))?.status === 'applied', output);
    const { rows } = await db.query<{ status: string }>('select status from orders where id = $1', [story.orderId]);
    expect(rows[0]?.status).toBe('paid');
    await until('the worker posted add_project', () => make.received.length > 0, output);
    const { rows: deliveries } = await db.query<{ id: string }>(`select id from make_deliveries where order_id = $1 and kind = 'add_project'`, [story.orderId]);
    expect(deliveries).toHaveLength(1);
    expect(make.received.map((r) => r.deliveryId)).toEqual([deliveries[0]!.id]);
  });

  it('a process whose Make URL differs from the database’s refuses to start with one line, and changes no route', { timeout: 120_000 }, async () => {
    const started = startServerProcess({ ...env, PROCESS_ROLE: 'web', MAKE_ADD_PROJECT_WEBHOOK_URL: `${make.url}/another_scenario` }, { cwd: database.workDir });
    const error = (await started.catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toMatch(/exited before it started \(\{"code":1,"signal":null\}\)/);
    const stderr = error.message.split('--- stderr ---\n')[1]!.trim();
    expect(stderr).toBe(
      "Start-up failed: MAKE_ADD_PROJECT_WEBHOOK_URL differs from the Make routes in the database (another process's) for add_project: set the same MAKE_ADD_PROJECT_WEBHOOK_URL and MAKE_WEBHOOK_URLS in every process, or start one process once with MAKE_ROUTES_OVERWRITE=true to replace them",
    );
    const { rows } = await db.query<{ kind: string; url: string }>('select kind, url from make_routes');
    expect(rows).toEqual([{ kind: 'add_project', url: `${make.url}/add_project` }]);
  });
});
