// Rate limits on what the public can reach, through the real server over real HTTP: storefront
// mutations per API key and per customer, refused (unverified) webhook deliveries per source address,
// and the sandbox's dev sign-in; each answers 429 with Retry-After and changes nothing. Signed webhooks
// are never limited: an ordinary burst goes through whole.
import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../../server/auth/apiKeys';
import { type CheckoutServer, newKey, startCheckoutServer } from '../../helpers/checkout';
import { startTestServer, type TestServer } from '../../helpers/server';

const guest = () => ({ idempotencyKey: newKey(), track: 'website_audit_feedback', email: `guest-${randomUUID()}@example.com` });

function expectRateLimited(response: { status: number; headers: Headers; body: any }) {
  expect(response.status).toBe(429);
  const retryAfter = Number(response.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(response.body.data).toBeUndefined();
  expect(response.body.errors).toEqual([
    { message: expect.stringMatching(/Too many requests/), extensions: { code: 'RATE_LIMITED', retryAfterSeconds: retryAfter } },
  ]);
}

describe('storefront mutations', () => {
  let server: CheckoutServer;
  beforeAll(async () => {
    server = await startCheckoutServer({ RATE_LIMIT_API_KEY_PER_MINUTE: '3', RATE_LIMIT_CUSTOMER_PER_MINUTE: '2', JOBS_ENABLED: 'false' });
    server.app.stripeSandbox!.core.events.stopAutoDelivery();
  });
  afterAll(() => server?.stop());

  it('are refused per API key with 429 and RATE_LIMITED past the limit, writing nothing; queries and other keys go on', async () => {
    for (let i = 0; i < 3; i++) {
      const created = await server.createCheckoutSession(guest());
      expect(created.body.errors).toBeUndefined();
      expect(created.body.data.createCheckoutSession.order.id).toBeTruthy();
    }
    const before = await server.counts();
    const refused = await server.createCheckoutSession(guest());
    expectRateLimited(refused);
    expect(await server.counts()).toEqual(before);

    const query = await server.graphql('{ pricing { id } viewer { role } }', server.asStorefront);
    expect(query.status).toBe(200);
    expect(query.body.data.viewer.role).toBe('STOREFRONT');

    const { key } = await createApiKey(server.app.db, 'another shop', 'storefront');
    const otherShop = await server.createCheckoutSession(guest(), { headers: { 'x-api-key': key } });
    expect(otherShop.status).toBe(200);
    expect(otherShop.body.errors).toBeUndefined();
  });

  it('are refused per customer past the limit; another customer goes on', async () => {
    const token = await server.customerToken();
    for (let i = 0; i < 2; i++) {
      const created = await server.createCheckoutSession({ idempotencyKey: newKey(), track: 'website_audit_feedback' }, { token });
      expect(created.body.errors).toBeUndefined();
    }
    const before = await server.counts();
    expectRateLimited(await server.createCheckoutSession({ idempotencyKey: newKey(), track: 'website_audit_feedback' }, { token }));
    expect(await server.counts()).toEqual(before);

    const other = await server.createCheckoutSession({ idempotencyKey: newKey(), track: 'website_audit_feedback' }, { token: await server.customerToken() });
    expect(other.body.errors).toBeUndefined();
  });
});

describe('the webhook endpoint', () => {
  const SECRET = 'whsec_rateLimitTestSecret0001';
  let server: TestServer;
  beforeAll(async () => {
    // Behind one trusted proxy, so that a test can speak from several source addresses.
    server = await startTestServer({ STRIPE_WEBHOOK_SECRET: SECRET, RATE_LIMIT_WEBHOOK_UNVERIFIED_PER_MINUTE: '5', TRUST_PROXY_HOPS: '1', JOBS_ENABLED: 'false' });
    server.app.stripeSandbox!.core.events.stopAutoDelivery();
  });
  afterAll(() => server?.stop());

  const event = () =>
    JSON.stringify({
      id: `evt_${randomUUID().replaceAll('-', '')}`,
      object: 'event',
      api_version: '2026-10-28.endive',
      created: Math.floor(Date.now() / 1000),
      data: { object: { id: `pi_${randomUUID().replaceAll('-', '')}`, object: 'payment_intent', amount: 9900, currency: 'usd', status: 'succeeded', metadata: {} } },
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type: 'payment_intent.succeeded',
    });
  const signed = (payload: string) => Stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET });
  const deliver = async (from: string, payload: string, signature: string) => {
    const response = await fetch(`${server.url}/webhooks/stripe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': signature, 'x-forwarded-for': from },
      body: payload,
    });
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as Record<string, unknown> };
  };

  it('answers 429 to an address past its limit of unverified deliveries, and still takes its correctly signed ones', async () => {
    const attacker = '203.0.113.7';
    for (let i = 0; i < 5; i++) expect((await deliver(attacker, event(), 't=1,v1=00')).status).toBe(400);

    const refused = event();
    const blocked = await deliver(attacker, refused, 't=1,v1=00');
    expect(blocked.status).toBe(429);
    expect(blocked.body).toMatchObject({ error: 'rate_limited' });
    expect(Number(blocked.retryAfter)).toBeGreaterThanOrEqual(1);
    const { rows: none } = await server.app.db.query('select 1 from stripe_events where id = $1', [JSON.parse(refused).id]);
    expect(none).toEqual([]);

    // Stripe behind the same address (a proxy not trusted, or an attacker on Stripe's network) is not cut off.
    const payload = event();
    expect((await deliver(attacker, payload, signed(payload))).status).toBe(200);
    const { rows } = await server.app.db.query('select 1 from stripe_events where id = $1', [JSON.parse(payload).id]);
    expect(rows).toHaveLength(1);

    const stripe = event();
    expect(await deliver('198.51.100.20', stripe, signed(stripe))).toMatchObject({ status: 200 });
  });

  it('never counts correctly signed deliveries, even those refused for their content', async () => {
    const sender = '198.51.100.30';
    for (let i = 0; i < 10; i++) {
      const notAnEvent = JSON.stringify({ id: 'evt_x', object: 'charge' });
      expect((await deliver(sender, notAnEvent, signed(notAnEvent))).status).toBe(400);
    }
    const payload = event();
    expect((await deliver(sender, payload, signed(payload))).status).toBe(200);
  });

  it('lets an ordinary burst of signed deliveries through from one address, with the default limits', async () => {
    const defaults = await startTestServer({ STRIPE_WEBHOOK_SECRET: SECRET, JOBS_ENABLED: 'false' });
    try {
      defaults.app.stripeSandbox!.core.events.stopAutoDelivery();
      const payloads = Array.from({ length: 300 }, event);
      const statuses = await Promise.all(
        payloads.map(async (payload) => {
          const response = await fetch(`${defaults.url}/webhooks/stripe`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'stripe-signature': signed(payload) },
            body: payload,
          });
          await response.arrayBuffer();
          return response.status;
        }),
      );
      expect(statuses.filter((s) => s !== 200)).toEqual([]);
      const { rows } = await defaults.app.db.query<{ n: number }>('select count(*)::int as n from stripe_events');
      expect(rows[0]!.n).toBeGreaterThanOrEqual(300);
    } finally {
      await defaults.stop();
    }
  });
});

describe('the dev sign-in', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ RATE_LIMIT_DEV_SIGN_IN_PER_MINUTE: '2', JOBS_ENABLED: 'false' });
  });
  afterAll(() => server?.stop());

  it('refuses a third sign-in a minute from one address with 429 and Retry-After; the probe GET is not counted', async () => {
    const signIn = () => fetch(`${server.url}/_sandbox/dev-sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"role":"admin"}' });
    for (let i = 0; i < 3; i++) expect((await fetch(`${server.url}/_sandbox/dev-sign-in`)).status).toBe(200);
    expect((await signIn()).status).toBe(200);
    expect((await signIn()).status).toBe(200);
    const refused = await signIn();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const body = (await refused.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ error: 'rate_limited' });
    expect(body).not.toHaveProperty('token');
  });
});
