// Sandbox mode's one mount (server/sandboxMode/mount.ts), through the real server over real HTTP:
// the Stripe emulator, the dev sign-in, the demo storefront and the Make sink are all served by the
// HTTP app, so every answer carries the app's request id and security headers (the Make sink used to
// answer ahead of the app, with none), none is taken by the console's catch-all, and with a Stripe
// key none of them exists. The console is a small built-like directory the test writes.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server';

let dist: string;
beforeAll(() => {
  dist = mkdtempSync(join(tmpdir(), 'console-dist-'));
  mkdirSync(join(dist, 'assets'));
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>Payments ops console</title>');
});
afterAll(() => rmSync(dist, { recursive: true, force: true }));

const SANDBOX_PATHS = ['/sandbox/make/deliveries', '/sandbox/storefront', '/_sandbox/dev-sign-in', '/v1/products'];

function expectApiHeaders(response: Response) {
  expect(response.headers.get('x-request-id'), response.url).toMatch(/\S/);
  expect(response.headers.get('x-content-type-options'), response.url).toBe('nosniff');
  expect(response.headers.get('cache-control'), response.url).toBe('no-store');
  expect(response.headers.get('content-security-policy'), response.url).toMatch(/default-src 'none'/);
}

describe('sandbox mode', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ CONSOLE_DIST_DIR: dist, JOBS_ENABLED: 'false' });
  });
  afterAll(() => server?.stop());

  it('serves the Make sink through the app: request id and API security headers, even for a browser GET the console would take', async () => {
    const listed = await fetch(`${server.url}/sandbox/make/deliveries`, { headers: { accept: 'text/html' } });
    expect(listed.status).toBe(200);
    expect(await listed.json()).toEqual({ deliveries: [] });
    expectApiHeaders(listed);

    const unsigned = await fetch(`${server.url}/sandbox/make/add_project`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(unsigned.status).toBe(401);
    expectApiHeaders(unsigned);

    const unknown = await fetch(`${server.url}/sandbox/make/nowhere/else`);
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error).toBe('not_found');
    expectApiHeaders(unknown);
  });

  it('serves the emulator, the dev sign-in and the demo storefront from the same mount', async () => {
    const [sink, storefront, signIn, products] = await Promise.all(
      SANDBOX_PATHS.map((path) => fetch(`${server.url}${path}`, { headers: { authorization: 'Bearer sk_test_sandbox' } })),
    );
    expect([sink!.status, storefront!.status, signIn!.status, products!.status]).toEqual([200, 200, 200, 200]);
    expect(await storefront!.text()).toContain('Demo storefront');
    expect(await signIn!.json()).toMatchObject({ sandbox: true });
    expect((await products!.json()).object).toBe('list');
    for (const response of [storefront!, signIn!, products!]) expect(response.headers.get('x-request-id')).toMatch(/\S/);
  });

  it("answers the storefront's cancel page for an order id that only looks like a UUID without asking the database", async () => {
    // 36 hyphens passed the storefront's own looser check, and Postgres refused them as a uuid (500).
    for (const orderId of ['-'.repeat(36), 'not-a-uuid', '']) {
      const response = await fetch(`${server.url}/sandbox/storefront/checkout?order_id=${encodeURIComponent(orderId)}`);
      expect(response.status, orderId).toBe(200);
      expect(await response.text()).toContain('Payment cancelled');
    }
  });
});

describe('with a Stripe key', () => {
  let server: TestServer;
  beforeAll(async () => {
    // Stripe is a closed port: the server starts without it (the catalog sync waits for the first checkout).
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const closedPort = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    server = await startTestServer({
      CONSOLE_DIST_DIR: dist,
      JOBS_ENABLED: 'false',
      STRIPE_SECRET_KEY: 'sk_test_unreachable0000',
      STRIPE_WEBHOOK_SECRET: 'whsec_unreachable0000',
      STRIPE_API_BASE: `http://127.0.0.1:${closedPort}`,
      STRIPE_MAX_NETWORK_RETRIES: '0',
    });
  });
  afterAll(() => server?.stop());

  it('mounts none of sandbox mode: the emulator, sign-in, storefront and Make sink answer 404', async () => {
    const statuses = await Promise.all(SANDBOX_PATHS.map(async (path) => (await fetch(`${server.url}${path}`, { headers: { accept: 'application/json' } })).status));
    expect(statuses).toEqual([404, 404, 404, 404]);
    const posted = await fetch(`${server.url}/sandbox/make/add_project`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(posted.status).toBe(404);
  });
});
