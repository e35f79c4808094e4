// changeOrderTrack through the real server against the sandbox: an unpaid order moves to another
// track at that track's price, its open Stripe object closed first; then a new payment for it.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApiKey } from '../../server/auth/apiKeys';
import { signStaffToken } from '../../server/auth/staffTokens';
import { type CheckoutServer, JWT_SECRET, newKey, ORDER_FIELDS, startCheckoutServer } from '../helpers/checkout';

const CHANGE_ORDER_TRACK = `mutation ($input: ChangeOrderTrackInput!) {
  changeOrderTrack(input: $input) { order { ${ORDER_FIELDS} } previousTrack isRepeat error { code message } }
}`;

type Auth = { token?: string; headers?: Record<string, string> };

let server: CheckoutServer;
beforeAll(async () => {
  server = await startCheckoutServer();
});
afterAll(() => server?.stop());
// Nothing reaches our webhook endpoint: what the database shows is the API calls' doing alone.
beforeEach(() => server.app.stripeSandbox!.core.events.stopAutoDelivery());

const RETURN_URL = 'https://shop.test/checkout/return';
const guest = (track = 'business_plan_builder') => ({ idempotencyKey: newKey(), track, email: `guest-${randomUUID()}@example.com` });

const changeTrack = (input: Record<string, unknown>, auth: Auth = server.asStorefront) => server.graphql(CHANGE_ORDER_TRACK, { variables: { input }, ...auth });

async function changed(input: Record<string, unknown>, auth?: Auth) {
  const response = await changeTrack(input, auth);
  expect(response.body.errors).toBeUndefined();
  return response.body.data.changeOrderTrack;
}

async function newIntent(input: Record<string, unknown> = guest(), auth?: Auth) {
  const response = await server.createPaymentIntent(input, auth);
  expect(response.body.errors).toBeUndefined();
  return response.body.data.createPaymentIntent;
}

/** Rows a track change writes, and the effects it has: to prove a refusal or a repeat adds none. */
async function effects(orderId: string) {
  const { rows } = await server.app.db.query<Record<string, unknown>>(
    `select o.product_id, o.amount, o.price_id,
            (select count(*)::int from payment_logs l where l.order_id = o.id and l.event_type = 'order.track_changed') as logs,
            (select count(*)::int from audit_log a where a.target_id = o.id::text and a.action = 'order.change_track') as audits,
            (select count(*)::int from idempotency_keys k where k.order_id = o.id and k.operation = 'changeOrderTrack') as keys,
            (select jsonb_agg(jsonb_build_object('attempt', attempt, 'status', status) order by attempt) from payment_attempts p where p.order_id = o.id) as attempts
       from orders o where o.id = $1`,
    [orderId],
  );
  return rows[0]!;
}

describe('changeOrderTrack', () => {
  it('moves an unpaid order to the new track’s price, cancelling its open PaymentIntent first, and a new PaymentIntent is at the new amount', async () => {
    const first = await newIntent();
    expect(first.order).toMatchObject({ track: 'business_plan_builder', amount: { amount: 9900 } });

    const result = await changed({ idempotencyKey: newKey(), orderId: first.order.id, track: 'website_audit_feedback' });
    expect(result).toMatchObject({
      isRepeat: false,
      error: null,
      previousTrack: 'business_plan_builder',
      order: { id: first.order.id, status: 'PENDING', track: 'website_audit_feedback', trackName: 'Website Audit & Feedback', amount: { amount: 7900, currency: 'usd' } },
    });
    // Nobody can pay the old amount any more.
    const old = await server.app.stripe.paymentIntents.retrieve(first.paymentIntentId);
    expect(old).toMatchObject({ status: 'canceled', cancellation_reason: 'abandoned', amount: 9900 });
    expect(await effects(first.order.id)).toMatchObject({
      product_id: 'website_audit_feedback',
      price_id: 'website_audit_feedback_usd',
      amount: 7900,
      logs: 1,
      audits: 1,
      attempts: [{ attempt: 1, status: 'canceled' }],
    });
    const { rows: audit } = await server.app.db.query(`select actor_type, details from audit_log where action = 'order.change_track' and target_id = $1`, [first.order.id]);
    expect(audit).toEqual([{ actor_type: 'api_key', details: expect.objectContaining({ from_track: 'business_plan_builder', to_track: 'website_audit_feedback', from_amount: 9900, amount: 7900 }) }]);

    // The storefront's next step: a new attempt for the order, at the new amount, which can be paid.
    const again = await newIntent({ idempotencyKey: newKey(), orderId: first.order.id });
    expect(again.paymentIntentId).not.toBe(first.paymentIntentId);
    const intent = await server.app.stripe.paymentIntents.retrieve(again.paymentIntentId);
    expect(intent).toMatchObject({ amount: 7900, metadata: expect.objectContaining({ order_id: first.order.id, track: 'website_audit_feedback', attempt: '2' }) });
    const paid = await server.app.stripe.paymentIntents.confirm(again.paymentIntentId, { payment_method: 'pm_card_visa', return_url: RETURN_URL });
    expect(paid.status).toBe('succeeded');
    const confirmed = await server.confirmPayment({ paymentIntentId: again.paymentIntentId });
    expect(confirmed.body.data.confirmPayment).toMatchObject({ outcome: 'SUCCEEDED', order: { status: 'PAID', amount: { amount: 7900 } } });
  });

  it('expires the order’s open Checkout Session before the change', async () => {
    const session = (await server.createCheckoutSession(guest('social_media_email_campaign'))).body.data.createCheckoutSession;
    const result = await changed({ idempotencyKey: newKey(), orderId: session.order.id, track: 'business_plan_builder' });
    expect(result).toMatchObject({ error: null, previousTrack: 'social_media_email_campaign', order: { track: 'business_plan_builder', amount: { amount: 9900 } } });
    expect(await server.app.stripe.checkout.sessions.retrieve(session.checkoutSessionId)).toMatchObject({ status: 'expired' });
    expect(await effects(session.order.id)).toMatchObject({ attempts: [{ attempt: 1, status: 'expired' }] });

    const next = (await server.createCheckoutSession({ idempotencyKey: newKey(), orderId: session.order.id })).body.data.createCheckoutSession;
    expect(next.checkoutSessionId).not.toBe(session.checkoutSessionId);
    expect(await server.app.stripe.checkout.sessions.retrieve(next.checkoutSessionId)).toMatchObject({ amount_total: 9900, status: 'open' });
  });

  it('answers a repeat of the same key with the first answer and changes nothing again, even after the order moved on', async () => {
    const first = await newIntent();
    const input = { idempotencyKey: newKey(), orderId: first.order.id, track: 'website_audit_feedback' };
    const answer = await changed(input);
    // Another request moves it on meanwhile.
    await changed({ idempotencyKey: newKey(), orderId: first.order.id, track: 'social_media_email_campaign' });
    const before = await effects(first.order.id);
    const repeat = await changed(input);
    expect(repeat).toMatchObject({ isRepeat: true, error: null, previousTrack: answer.previousTrack, order: { id: first.order.id } });
    expect(await effects(first.order.id)).toEqual(before);
    expect(before).toMatchObject({ product_id: 'social_media_email_campaign', logs: 2, audits: 2, keys: 2 });
  });

  it('is a CONFLICT when the same key comes with another track, and changes nothing', async () => {
    const first = await newIntent();
    const key = newKey();
    await changed({ idempotencyKey: key, orderId: first.order.id, track: 'website_audit_feedback' });
    const before = await effects(first.order.id);
    const response = await changeTrack({ idempotencyKey: key, orderId: first.order.id, track: 'social_media_email_campaign' });
    expect(response.body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    expect(await effects(first.order.id)).toEqual(before);
  });

  it('does the change once when the same key is sent twice at the same moment', async () => {
    const first = await newIntent();
    const input = { idempotencyKey: newKey(), orderId: first.order.id, track: 'website_audit_feedback' };
    const answers = await Promise.all([changed(input), changed(input)]);
    expect(answers.map((a) => a.previousTrack)).toEqual(['business_plan_builder', 'business_plan_builder']);
    expect(answers.filter((a) => a.isRepeat)).toHaveLength(1);
    expect(await effects(first.order.id)).toMatchObject({ product_id: 'website_audit_feedback', logs: 1, audits: 1, keys: 1, attempts: [{ attempt: 1, status: 'canceled' }] });
  });

  it('never leaves a live payment at the old amount when a payment is started for the order at the same moment', async () => {
    const first = await newIntent();
    const [switched] = await Promise.all([
      changed({ idempotencyKey: newKey(), orderId: first.order.id, track: 'website_audit_feedback' }),
      newIntent({ idempotencyKey: newKey(), orderId: first.order.id }),
    ]);
    expect(switched).toMatchObject({ error: null, order: { amount: { amount: 7900 } } });
    const { rows } = await server.app.db.query<{ stripe_object_id: string }>(`select stripe_object_id from payment_attempts where order_id = $1 and status in ('creating', 'open')`, [first.order.id]);
    for (const { stripe_object_id } of rows) {
      expect((await server.app.stripe.paymentIntents.retrieve(stripe_object_id)).amount).toBe(7900);
    }
    // Whatever the interleaving, the old PaymentIntent can no longer be paid.
    expect((await server.app.stripe.paymentIntents.retrieve(first.paymentIntentId)).status).toBe('canceled');
  });

  it('answers ORDER_ALREADY_PAID for a paid order and changes nothing', async () => {
    const first = await newIntent();
    await server.app.stripe.paymentIntents.confirm(first.paymentIntentId, { payment_method: 'pm_card_visa', return_url: RETURN_URL });
    await server.confirmPayment({ paymentIntentId: first.paymentIntentId });
    const before = { rows: await effects(first.order.id), counts: await server.counts() };
    const result = await changed({ idempotencyKey: newKey(), orderId: first.order.id, track: 'website_audit_feedback' });
    expect(result).toMatchObject({ error: { code: 'ORDER_ALREADY_PAID' }, previousTrack: null, order: { status: 'PAID', track: 'business_plan_builder' } });
    expect({ rows: await effects(first.order.id), counts: await server.counts() }).toEqual(before);
  });

  it('finds a payment made at Stripe before its webhook arrived: ORDER_ALREADY_PAID, the order recorded as paid, the track unchanged', async () => {
    const first = await newIntent();
    await server.app.stripe.paymentIntents.confirm(first.paymentIntentId, { payment_method: 'pm_card_visa', return_url: RETURN_URL });
    const result = await changed({ idempotencyKey: newKey(), orderId: first.order.id, track: 'website_audit_feedback' });
    expect(result).toMatchObject({ error: { code: 'ORDER_ALREADY_PAID' }, order: { status: 'PAID', track: 'business_plan_builder', amount: { amount: 9900 } } });
    expect(await effects(first.order.id)).toMatchObject({ product_id: 'business_plan_builder', logs: 0, audits: 0 });
  });

  it('answers SAME_TRACK for the track the order already has, writing nothing and leaving its payment open', async () => {
    const first = await newIntent();
    const before = { rows: await effects(first.order.id), counts: await server.counts() };
    const result = await changed({ idempotencyKey: newKey(), orderId: first.order.id, track: 'business_plan_builder' });
    expect(result).toMatchObject({ error: { code: 'SAME_TRACK' }, isRepeat: false, order: { track: 'business_plan_builder' } });
    expect({ rows: await effects(first.order.id), counts: await server.counts() }).toEqual(before);
    expect((await server.app.stripe.paymentIntents.retrieve(first.paymentIntentId)).status).toBe('requires_payment_method');
  });

  it.each([
    ['an orderId that is not a UUID', { orderId: 'order-1' }, 'BAD_USER_INPUT'],
    ['an order that does not exist', { orderId: randomUUID() }, 'NOT_FOUND'],
    ['an unknown track', { track: 'no_such_track' }, 'BAD_USER_INPUT'],
    ['a malformed track', { track: 'Robert"); drop table orders;--' }, 'BAD_USER_INPUT'],
    ['an empty idempotency key', { idempotencyKey: '' }, 'BAD_USER_INPUT'],
  ])('refuses %s, writing nothing and closing nothing', async (_what, change, code) => {
    const first = await newIntent();
    const before = await server.counts();
    const response = await changeTrack({ idempotencyKey: newKey(), orderId: first.order.id, track: 'website_audit_feedback', ...change });
    expect(response.body.errors?.[0]?.extensions?.code).toBe(code);
    expect(await server.counts()).toEqual(before);
    expect((await server.app.stripe.paymentIntents.retrieve(first.paymentIntentId)).status).toBe('requires_payment_method');
  });
});

describe('changeOrderTrack: who may', () => {
  it('lets a customer change their own order, audited as the customer', async () => {
    const account = { id: randomUUID(), email: `own-${randomUUID()}@customers.test` };
    const token = await server.customerToken(account);
    const first = await newIntent({ idempotencyKey: newKey(), track: 'business_plan_builder' }, { token });
    const result = await changed({ idempotencyKey: newKey(), orderId: first.order.id, track: 'website_audit_feedback' }, { token });
    expect(result).toMatchObject({ error: null, order: { track: 'website_audit_feedback' } });
    const { rows } = await server.app.db.query(`select actor_type, actor_id from audit_log where action = 'order.change_track' and target_id = $1`, [first.order.id]);
    expect(rows).toEqual([{ actor_type: 'customer', actor_id: account.id }]);
  });

  it('answers another customer’s order as not found, exactly as an order that does not exist, writing nothing', async () => {
    const first = await newIntent();
    const token = await server.customerToken();
    const before = await server.counts();
    const theirs = await changeTrack({ idempotencyKey: newKey(), orderId: first.order.id, track: 'website_audit_feedback' }, { token });
    const none = await changeTrack({ idempotencyKey: newKey(), orderId: randomUUID(), track: 'website_audit_feedback' }, { token });
    expect(theirs.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    // Nothing tells the caller the order exists: the same message and extensions as for none.
    expect(theirs.body.errors?.[0]?.message).toBe(none.body.errors?.[0]?.message);
    expect(theirs.body.errors?.[0]?.extensions).toEqual(none.body.errors?.[0]?.extensions);
    expect(await server.counts()).toEqual(before);
    expect(await effects(first.order.id)).toMatchObject({ product_id: 'business_plan_builder', logs: 0, audits: 0 });
  });

  it('refuses staff, a Make key and anonymous callers, writing nothing', async () => {
    const first = await newIntent();
    const staff = (staffRole: 'support' | 'admin') =>
      signStaffToken(JWT_SECRET, { userId: randomUUID(), email: `${staffRole}@shop.test`, staffRole, audience: 'authenticated', expiresIn: '1h' });
    const callers: Array<[string, Auth, string]> = [
      ['support staff', { token: await staff('support') }, 'FORBIDDEN'],
      ['admin staff', { token: await staff('admin') }, 'FORBIDDEN'],
      ['a make-scope API key', { headers: { 'x-api-key': (await createApiKey(server.app.db, 'make scenario', 'make')).key } }, 'FORBIDDEN'],
      ['an anonymous caller', {}, 'UNAUTHENTICATED'],
    ];
    const before = await server.counts();
    for (const [who, auth, code] of callers) {
      const response = await changeTrack({ idempotencyKey: newKey(), orderId: first.order.id, track: 'website_audit_feedback' }, auth);
      expect(response.body.errors?.[0]?.extensions?.code, who).toBe(code);
    }
    expect(await server.counts()).toEqual(before);
    expect(await effects(first.order.id)).toMatchObject({ product_id: 'business_plan_builder', logs: 0, audits: 0 });
  });
});
