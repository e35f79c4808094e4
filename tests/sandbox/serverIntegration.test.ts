// The sandbox inside the real server: `npm start` without a Stripe key serves the emulator on its
// own port and points its Stripe client at it; with a key, the sandbox is not reachable at all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server';

describe('the server in sandbox mode', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  it('gives the server a Stripe client that reaches the sandbox over real HTTP', async () => {
    const customer = await server.app.stripe.customers.create({ email: 'real-http@example.com' });
    expect(customer.id).toMatch(/^cus_/);
    const again = await server.app.stripe.customers.retrieve(customer.id);
    expect(again).toMatchObject({ id: customer.id, email: 'real-http@example.com' });
  });

  it('registers the server’s own webhook endpoint with the sandbox and keeps its signing secret', async () => {
    const endpoints = await server.app.stripe.webhookEndpoints.list();
    expect(endpoints.data.map((e) => [e.url, e.enabled_events, e.status])).toEqual([[`${server.url}/webhooks/stripe`, ['*'], 'enabled']]);
    expect(server.app.sandboxWebhookSecret).toMatch(/^whsec_/);
  });

  it('drops the connection for an injected connection reset, then answers the next call', async () => {
    const control = await fetch(`${server.url}/_sandbox/faults/api`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ faults: ['connection_reset'] }),
    });
    expect(control.status).toBe(200);
    const reset = await fetch(`${server.url}/v1/customers`, { headers: { authorization: 'Bearer sk_test_x' } }).then(
      () => 'answered',
      () => 'network error',
    );
    expect(reset).toBe('network error');
    expect((await fetch(`${server.url}/v1/customers`, { headers: { authorization: 'Bearer sk_test_x' } })).status).toBe(200);
  });

  it('answers Stripe API calls from any client with a test key, as stripe-mock would', async () => {
    const response = await fetch(`${server.url}/v1/customers?limit=1`, { headers: { authorization: 'Bearer sk_test_anything' } });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ object: 'list', url: '/v1/customers' });
  });
});

describe('the server with real Stripe keys', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ STRIPE_SECRET_KEY: 'sk_test_realkeyconfigured', STRIPE_WEBHOOK_SECRET: 'whsec_configuredsecret' });
  });
  afterAll(() => server.stop());

  it('does not serve the sandbox at all', async () => {
    expect(server.app.stripeSandbox).toBeUndefined();
    expect(server.app.sandboxWebhookSecret).toBeUndefined();
    for (const path of ['/v1/customers', '/_sandbox/reset', '/checkout/cs_test_x']) {
      const response = await fetch(`${server.url}${path}`, { method: 'POST', headers: { authorization: 'Bearer sk_test_anything' } });
      expect(response.status, path).toBe(404);
    }
  });
});
