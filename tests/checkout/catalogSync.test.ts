// The catalog's products at Stripe (issue 14, 9d): made once, at start, not by every checkout. A
// Checkout Session used to describe its product inline, so Stripe made a product, and sent an ignored
// product.created event, per checkout. Real server, real SDK, the sandbox it serves, real webhooks.
import { createServer } from 'node:net';
import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forgetStripeProduct, stripeProductFor, stripeProductId, syncStripeCatalog } from '../../server/catalog/stripeProducts';
import { createLogger } from '../../server/platform/observability/logger';
import { type CheckoutServer, newKey, startCheckoutServer } from '../helpers/checkout';
import { LogCapture, startTestServer } from '../helpers/server';

const TRACKS = ['business_plan_builder', 'social_media_email_campaign', 'website_audit_feedback'];

const guest = (track: string) => ({ idempotencyKey: newKey(), track, email: `guest-${randomUUID()}@example.com` });

async function createSession(server: CheckoutServer, input: Record<string, unknown>) {
  const response = await server.createCheckoutSession(input);
  expect(response.body.errors).toBeUndefined();
  expect(response.body.data.createCheckoutSession.error).toBeNull();
  return response.body.data.createCheckoutSession as { checkoutSessionId: string; url: string; order: { id: string } };
}

async function payOnHostedPage(url: string) {
  const response = await fetch(url, { method: 'POST', body: new URLSearchParams({ card_number: '4242424242424242', email: 'payer@example.com', name: 'Payer' }), redirect: 'manual' });
  expect(response.status).toBe(303);
}

/** Every event the sandbox sent so far, delivered to and stored by the server, counted by type. */
async function storedEventCounts(server: CheckoutServer): Promise<Record<string, number>> {
  await server.app.stripeSandbox!.flushWebhooks();
  const { rows } = await server.app.db.query<{ type: string; n: number }>('select type, count(*)::int as n from stripe_events group by type');
  return Object.fromEntries(rows.map((row) => [row.type, row.n]));
}

const productOf = async (server: CheckoutServer, sessionId: string) => {
  const items = await server.app.stripe.checkout.sessions.listLineItems(sessionId, { expand: ['data.price.product'] });
  return items.data[0]!.price!.product as Stripe.Product;
};

describe('one Stripe product per track', () => {
  let server: CheckoutServer;
  beforeAll(async () => {
    server = await startCheckoutServer();
  });
  afterAll(() => server?.stop());

  it('makes each active track’s product at start, and no checkout makes another', async () => {
    const products = await server.app.stripe.products.list({ limit: 100 });
    expect(products.data.map((p) => p.id).sort()).toEqual(TRACKS.map(stripeProductId));
    expect(products.data.find((p) => p.id === stripeProductId('website_audit_feedback'))).toMatchObject({ name: 'Website Audit & Feedback', active: true, metadata: { track: 'website_audit_feedback' } });
    const atStart = await storedEventCounts(server);
    expect(atStart['product.created']).toBe(TRACKS.length);

    const sessions = [];
    for (const track of [...TRACKS, TRACKS[0]!]) sessions.push(await createSession(server, guest(track)));
    await payOnHostedPage(sessions[0]!.url);
    await payOnHostedPage(sessions[3]!.url);
    expect((await server.createPaymentIntent(guest(TRACKS[1]!))).body.data.createPaymentIntent.error).toBeNull();

    const after = await storedEventCounts(server);
    expect(after['checkout.session.completed']).toBe(2);
    expect(after['product.created']).toBe(TRACKS.length);
    expect((await server.app.stripe.products.list({ limit: 100 })).data).toHaveLength(TRACKS.length);
    // Each session sells its track's product, at the order's amount.
    const product = await productOf(server, sessions[1]!.checkoutSessionId);
    expect(product).toMatchObject({ id: stripeProductId(TRACKS[1]!), name: 'Social Media & Email Campaign' });
  });

  it('renames the product when the track is renamed, without making a new one', async () => {
    const track = 'website_audit_feedback';
    const { rows: [original] } = await server.app.db.query<{ name: string; description: string }>('select name, description from products where id = $1', [track]);
    await server.app.db.query("update products set name = 'Website Audit & Report', description = 'An audit and a written report' where id = $1", [track]);
    try {
      const session = await createSession(server, guest(track));
      expect(await productOf(server, session.checkoutSessionId)).toMatchObject({ id: stripeProductId(track), name: 'Website Audit & Report', description: 'An audit and a written report' });
      const counts = await storedEventCounts(server);
      expect(counts['product.created']).toBe(TRACKS.length);
      expect(counts['product.updated']).toBe(1);
    } finally {
      await server.app.db.query('update products set name = $2, description = $3 where id = $1', [track, original!.name, original!.description]);
    }
  });

  it('describes the product inline when Stripe cannot be reached to make it, and makes it at the next checkout', async () => {
    const track = 'business_plan_builder';
    // As a process that started while Stripe was down: it has not synced the track, and Stripe fails
    // both tries (the SDK retries once) of the checkout's own sync.
    forgetStripeProduct(server.app.stripe, track);
    server.app.stripeSandbox!.failNext('api_error', 'api_error');
    const before = await storedEventCounts(server);
    const inline = await createSession(server, guest(track));
    expect((await productOf(server, inline.checkoutSessionId)).id).not.toBe(stripeProductId(track));
    expect(server.logs.lines).toContainEqual(expect.objectContaining({ level: 40, track, msg: expect.stringMatching(/could not sync the product with Stripe/) }));

    const next = await createSession(server, guest(track));
    expect((await productOf(server, next.checkoutSessionId)).id).toBe(stripeProductId(track));
    const after = await storedEventCounts(server);
    // One product for the inline session alone; the track's own was there all along.
    expect(after['product.created']).toBe(before['product.created']! + 1);
  });
});

describe('a Stripe that has lost the products', () => {
  let server: CheckoutServer;
  beforeAll(async () => {
    server = await startCheckoutServer();
    server.app.stripeSandbox!.core.events.stopAutoDelivery();
  });
  afterAll(() => server?.stop());

  it('makes the product again and still creates the session (the sandbox was reset)', async () => {
    server.app.stripeSandbox!.reset();
    const session = await createSession(server, guest('social_media_email_campaign'));
    expect(await productOf(server, session.checkoutSessionId)).toMatchObject({ id: stripeProductId('social_media_email_campaign') });
    expect(server.logs.lines).toContainEqual(expect.objectContaining({ level: 40, msg: expect.stringMatching(/Stripe had lost the track’s product/) }));
  });
});

describe('a Stripe that cannot be reached', () => {
  let closedPort: number;
  beforeAll(async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    closedPort = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  });

  it('does not stop the server starting', async () => {
    const server = await startTestServer({ STRIPE_SECRET_KEY: 'sk_test_unreachable0000', STRIPE_WEBHOOK_SECRET: 'whsec_unreachable0000', STRIPE_API_BASE: `http://127.0.0.1:${closedPort}`, STRIPE_MAX_NETWORK_RETRIES: '0' });
    try {
      const { body } = await server.graphql('{ pricing { id } }');
      expect(body.data.pricing).toHaveLength(TRACKS.length);
    } finally {
      await server.stop();
    }
  });

  it('leaves the sync to the first checkout, which describes the product inline meanwhile', async () => {
    const logs = new LogCapture();
    const server = await startTestServer();
    try {
      const stripe = new Stripe('sk_test_unreachable0000', { host: '127.0.0.1', port: closedPort, protocol: 'http', maxNetworkRetries: 0 });
      const deps = { db: server.app.db, stripe, logger: createLogger({ level: 'info', destination: logs }) };
      await expect(syncStripeCatalog(deps)).resolves.toBeUndefined();
      expect(logs.lines.filter((line) => /could not sync the product with Stripe/.test(line.msg))).toHaveLength(TRACKS.length);
      expect(await stripeProductFor(deps, TRACKS[0]!, 'Business Plan Builder')).toBeNull();
    } finally {
      await server.stop();
    }
  });
});
