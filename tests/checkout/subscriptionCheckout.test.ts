// createSubscriptionCheckout through the real server against the sandbox: a hosted Checkout in
// subscription mode for a track's monthly price, paid on the sandbox's hosted page, its events POSTed
// to the server's own webhook endpoint. Jobs are off: the Make outbox keeps what is enqueued.
import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signStaffToken } from '../../server/auth/staffTokens';
import type { StripeSandbox } from '../../stripe-sandbox/sandbox';
import { type CheckoutServer, JWT_SECRET, newKey, ORDER_FIELDS, startCheckoutServer } from '../helpers/checkout';
import { makeEnv } from '../make/makeHelpers';

const CREATE_SUBSCRIPTION_CHECKOUT = `mutation ($input: SubscriptionCheckoutInput!) {
  createSubscriptionCheckout(input: $input) { order { ${ORDER_FIELDS} } checkoutSessionId url expiresAt isRepeat error { code message } }
}`;

type Auth = { token?: string; headers?: Record<string, string> };

let server: CheckoutServer;
let sandbox: StripeSandbox;
let stripe: Stripe;
beforeAll(async () => {
  server = await startCheckoutServer({ ...makeEnv(['add_project', 'subscription_changed']), JOBS_ENABLED: 'false' });
  sandbox = server.app.stripeSandbox!;
  stripe = server.app.stripe;
});
afterAll(() => server?.stop());

const guest = (track = 'business_plan_builder') => ({ idempotencyKey: newKey(), track, email: `guest-${randomUUID()}@example.com` });
const subscribe = (input: Record<string, unknown>, auth: Auth = server.asStorefront) => server.graphql(CREATE_SUBSCRIPTION_CHECKOUT, { variables: { input }, ...auth });

async function started(input: Record<string, unknown> = guest(), auth?: Auth) {
  const response = await subscribe(input, auth);
  expect(response.body.errors).toBeUndefined();
  return response.body.data.createSubscriptionCheckout;
}

/** Every event the sandbox has to deliver reaches the endpoint, and every stored event is applied. */
async function settle(): Promise<void> {
  await sandbox.flushWebhooks();
  await server.app.webhookApplier.drain();
  const { rows } = await server.app.db.query("select id, type, last_error from stripe_events where status <> 'applied' and status <> 'ignored'");
  expect(rows).toEqual([]);
}

async function payOnHostedPage(url: string, cardNumber = '4242424242424242'): Promise<void> {
  const response = await fetch(url, { method: 'POST', body: new URLSearchParams({ card_number: cardNumber, email: 'payer@example.com', name: 'Payer' }), redirect: 'manual' });
  expect(response.status).toBe(303);
}

const makeKinds = async (orderId: string) =>
  (await server.app.db.query<{ kind: string }>('select kind from make_deliveries where order_id = $1 order by created_at, id', [orderId])).rows.map((r) => r.kind);

describe('createSubscriptionCheckout', () => {
  it('starts a hosted Checkout in subscription mode for the track’s monthly price, with our metadata on the session and on the subscription', async () => {
    const input = guest();
    const result = await started(input);
    expect(result).toMatchObject({
      isRepeat: false,
      error: null,
      checkoutSessionId: expect.stringMatching(/^cs_test_/),
      order: { status: 'PENDING', track: 'business_plan_builder', amount: { amount: 9900, currency: 'usd' }, customer: { email: input.email } },
    });
    const { rows } = await server.app.db.query(`select pr.kind, pr.recurring_interval from orders o join prices pr on pr.id = o.price_id where o.id = $1`, [result.order.id]);
    expect(rows).toEqual([{ kind: 'recurring', recurring_interval: 'month' }]);

    const session = await stripe.checkout.sessions.retrieve(result.checkoutSessionId, { expand: ['line_items'] });
    expect(session).toMatchObject({ mode: 'subscription', amount_total: 9900, currency: 'usd', customer_email: input.email, client_reference_id: result.order.id });
    expect(session.metadata).toEqual({ order_id: result.order.id, customer_id: result.order.customer.id, track: 'business_plan_builder', attempt: '1' });
    expect(session.line_items!.data[0]!.price).toMatchObject({ unit_amount: 9900, recurring: expect.objectContaining({ interval: 'month' }), lookup_key: 'business_plan_builder_usd_monthly' });
  });

  it('subscribes on the hosted page: the order is paid, the subscription kept, and add_project forwarded once whatever the events’ order and repeats', async () => {
    const result = await started(guest('website_audit_feedback'));
    sandbox.core.events.stopAutoDelivery();
    // Every event delivered twice, each batch newest first.
    Object.assign(sandbox.webhookFaults, { duplicateNext: 1_000, reorder: true });
    try {
      await payOnHostedPage(result.url);
      await settle();
    } finally {
      Object.assign(sandbox.webhookFaults, { duplicateNext: 0, reorder: false });
    }
    const { rows: types } = await server.app.db.query<{ type: string }>('select distinct type from stripe_events order by type');
    expect(types.map((t) => t.type)).toEqual(expect.arrayContaining(['checkout.session.completed', 'customer.subscription.created', 'invoice.paid']));

    const session = await stripe.checkout.sessions.retrieve(result.checkoutSessionId);
    expect(session).toMatchObject({ status: 'complete', payment_status: 'paid' });
    const subscriptionId = String(session.subscription);
    const subscription = await stripe.subscriptions.retrieve(subscriptionId);
    expect(subscription).toMatchObject({ status: 'active', metadata: expect.objectContaining({ order_id: result.order.id, track: 'website_audit_feedback' }) });

    const { rows: orders } = await server.app.db.query('select status, amount::int as amount from orders where id = $1', [result.order.id]);
    expect(orders).toEqual([{ status: 'paid', amount: 7900 }]);
    const { rows: subscriptions } = await server.app.db.query('select status, order_id from subscriptions where id = $1', [subscriptionId]);
    expect(subscriptions).toEqual([{ status: 'active', order_id: result.order.id }]);
    expect((await makeKinds(result.order.id)).filter((k) => k === 'add_project')).toHaveLength(1);

    // Stripe delivers every event of the subscription again: nothing is forwarded a second time.
    const { rows: events } = await server.app.db.query<{ id: string }>('select id from stripe_events');
    const token = await adminToken();
    for (const { id } of events) {
      const replayed = await server.graphql('mutation ($input: ReplayWebhookEventInput!) { replayWebhookEvent(input: $input) { __typename } }', {
        variables: { input: { id, idempotencyKey: newKey() } },
        token,
      });
      expect(replayed.body.errors).toBeUndefined();
    }
    await settle();
    expect((await makeKinds(result.order.id)).filter((k) => k === 'add_project')).toHaveLength(1);
  });

  it('answers a repeat of the same key with the first session (isRepeat), without a second session at Stripe', async () => {
    const input = guest();
    const first = await started(input);
    const again = await started(input);
    expect(again).toMatchObject({ isRepeat: true, checkoutSessionId: first.checkoutSessionId, url: first.url, order: { id: first.order.id } });
    const { rows } = await server.app.db.query('select count(*)::int as n from payment_attempts where order_id = $1', [first.order.id]);
    expect(rows[0]).toEqual({ n: 1 });
  });

  it('makes one order and one session for two calls with one key at the same moment', async () => {
    const input = guest();
    const [a, b] = await Promise.all([started(input), started(input)]);
    expect(a.checkoutSessionId).toBe(b.checkoutSessionId);
    expect(a.order.id).toBe(b.order.id);
  });

  it('is a CONFLICT when the key was used for a one-time checkout', async () => {
    const input = guest();
    expect((await server.createCheckoutSession(input)).body.errors).toBeUndefined();
    const before = await server.counts();
    const response = await subscribe(input);
    expect(response.body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    expect(await server.counts()).toEqual(before);
  });

  it('keeps a subscription’s order out of the one-time payment paths and the track switch', async () => {
    const result = await started();
    const before = await server.counts();
    for (const response of [
      await server.createPaymentIntent({ idempotencyKey: newKey(), orderId: result.order.id }),
      await server.createCheckoutSession({ idempotencyKey: newKey(), orderId: result.order.id }),
      await server.graphql('mutation ($input: ChangeOrderTrackInput!) { changeOrderTrack(input: $input) { error { code } } }', {
        variables: { input: { idempotencyKey: newKey(), orderId: result.order.id, track: 'website_audit_feedback' } },
        ...server.asStorefront,
      }),
    ]) {
      expect(response.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'SUBSCRIPTION_ORDER' });
    }
    expect(await server.counts()).toEqual(before);
    expect(await stripe.checkout.sessions.retrieve(result.checkoutSessionId)).toMatchObject({ status: 'open' });
  });

  it.each([
    ['an unknown track', { track: 'no_such_track' }, 'UNKNOWN_TRACK'],
    ['a track without a monthly price', { track: 'one_off_only' }, 'NO_PRICE'],
    ['a malformed email', { email: 'not-an-email' }, 'INVALID_EMAIL'],
    ['a guest without an email', { email: null }, 'EMAIL_REQUIRED'],
    ['an empty idempotency key', { idempotencyKey: '' }, undefined],
  ])('refuses %s, writing nothing', async (_what, change, reason) => {
    await server.app.db.query(`insert into products (id, name) values ('one_off_only', 'One-off only') on conflict do nothing`);
    await server.app.db.query(`insert into prices (id, product_id, currency, unit_amount) values ('one_off_only_usd', 'one_off_only', 'usd', 1000) on conflict do nothing`);
    const before = await server.counts();
    const response = await subscribe({ ...guest(), ...change });
    expect(response.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', ...(reason ? { reason } : {}) });
    expect(await server.counts()).toEqual(before);
  });
});

async function adminToken() {
  return signStaffToken(JWT_SECRET, { userId: randomUUID(), email: 'admin@shop.test', staffRole: 'admin', audience: 'authenticated', expiresIn: '1h' });
}

describe('createSubscriptionCheckout: who may', () => {
  it('lets a signed-in customer subscribe as themselves', async () => {
    const account = { id: randomUUID(), email: `sub-${randomUUID()}@customers.test` };
    const result = await started({ idempotencyKey: newKey(), track: 'social_media_email_campaign' }, { token: await server.customerToken(account) });
    expect(result).toMatchObject({ error: null, order: { customer: { email: account.email }, amount: { amount: 4900 } } });
  });

  it('refuses staff and anonymous callers, and a customer subscribing as someone else, writing nothing', async () => {
    const before = await server.counts();
    const support = await signStaffToken(JWT_SECRET, { userId: randomUUID(), email: 'support@shop.test', staffRole: 'support', audience: 'authenticated', expiresIn: '1h' });
    const callers: Array<[string, Auth, Record<string, unknown>, string]> = [
      ['support staff', { token: support }, guest(), 'FORBIDDEN'],
      ['admin staff', { token: await adminToken() }, guest(), 'FORBIDDEN'],
      ['an anonymous caller', {}, guest(), 'UNAUTHENTICATED'],
      ['a customer naming another email', { token: await server.customerToken() }, guest(), 'FORBIDDEN'],
    ];
    for (const [who, auth, input, code] of callers) {
      const response = await subscribe(input, auth);
      expect(response.body.errors?.[0]?.extensions?.code, who).toBe(code);
    }
    expect(await server.counts()).toEqual(before);
  });
});
