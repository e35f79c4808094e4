// The Stripe Elements flow through the real server: createPaymentIntent, the customer confirming at
// Stripe (as Stripe.js would, here through the SDK against the sandbox the server serves), then the
// storefront's success page calling confirmPayment. No webhook is handled yet by design of the test:
// the order must show at once, provisional, without one.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type CheckoutServer, newKey, ORDER, ORDER_BY_PAYMENT, startCheckoutServer } from '../helpers/checkout';

let server: CheckoutServer;
beforeAll(async () => {
  server = await startCheckoutServer();
});
afterAll(() => server?.stop());
// Nothing reaches our webhook endpoint while these tests run: what they see is confirmPayment's doing.
beforeEach(() => {
  server.app.stripeSandbox!.core.events.stopAutoDelivery();
});

const RETURN_URL = 'https://shop.test/checkout/return';
const guest = () => ({ idempotencyKey: newKey(), track: 'business_plan_builder', email: `guest-${randomUUID()}@example.com` });

async function createIntent(input: Record<string, unknown> = guest(), auth?: Parameters<CheckoutServer['createPaymentIntent']>[1]) {
  const response = await server.createPaymentIntent(input, auth);
  expect(response.body.errors).toBeUndefined();
  return response.body.data.createPaymentIntent;
}

/** What Stripe.js does in the customer's browser: confirm the intent with a card. */
const payAtStripe = (paymentIntentId: string, paymentMethod: string) =>
  server.app.stripe.paymentIntents.confirm(paymentIntentId, { payment_method: paymentMethod, return_url: RETURN_URL }).catch((error) => error);

const stripeCallsTo = (path: string) => server.logs.lines.filter((line) => line.msg === 'request' && line.path?.startsWith(path) && line.method === 'POST').length;

async function logRows(orderId: string) {
  const { rows } = await server.app.db.query<{ event_type: string; status: string; amount: number; user_id: string | null; metadata: Record<string, unknown> }>(
    'select event_type, status, amount, user_id, metadata from payment_logs where order_id = $1 order by id',
    [orderId],
  );
  return rows;
}

describe('createPaymentIntent', () => {
  it('creates a pending order for a guest, priced from the database, and a PaymentIntent carrying the order in its metadata', async () => {
    const input = { ...guest(), name: 'Ada Guest', metadata: [{ key: 'campaign', value: 'spring' }] };
    const result = await createIntent(input);

    expect(result).toMatchObject({ isRepeat: false, error: null, paymentIntentId: expect.stringMatching(/^pi_/), clientSecret: expect.stringContaining('_secret_') });
    expect(result.order).toMatchObject({
      status: 'PENDING',
      syncState: null,
      track: 'business_plan_builder',
      amount: { amount: 9900, currency: 'usd', formatted: '$99.00' },
      customer: { email: input.email, name: 'Ada Guest' },
      paymentIntentId: result.paymentIntentId,
      payment: null,
      metadata: [{ key: 'campaign', value: 'spring' }],
    });

    const intent = await server.app.stripe.paymentIntents.retrieve(result.paymentIntentId);
    expect(intent).toMatchObject({ amount: 9900, currency: 'usd', status: 'requires_payment_method', receipt_email: input.email });
    expect(intent.metadata).toEqual({ campaign: 'spring', order_id: result.order.id, customer_id: result.order.customer.id, track: 'business_plan_builder', attempt: '1' });

    const { rows: attempts } = await server.app.db.query('select attempt, kind, status, stripe_idempotency_key, stripe_object_id from payment_attempts where order_id = $1', [result.order.id]);
    expect(attempts).toEqual([
      { attempt: 1, kind: 'payment_intent', status: 'open', stripe_idempotency_key: `create_payment_intent:${result.order.id}:1`, stripe_object_id: result.paymentIntentId },
    ]);
    expect((await logRows(result.order.id)).map((row) => [row.event_type, row.status, row.amount])).toEqual([
      ['order.created', 'pending', 9900],
      ['checkout.attempt_started', 'creating', 9900],
      ['checkout.payment_intent_created', 'open', 9900],
    ]);
  });

  it('returns the first result for the same key and input, without calling Stripe again', async () => {
    const input = guest();
    const first = await createIntent(input);
    const creates = stripeCallsTo('/v1/payment_intents');

    const again = await createIntent(input);
    expect(again).toMatchObject({ isRepeat: true, paymentIntentId: first.paymentIntentId, clientSecret: first.clientSecret, order: { id: first.order.id } });
    expect(stripeCallsTo('/v1/payment_intents')).toBe(creates);
    expect(await logRows(first.order.id)).toHaveLength(3);
  });

  it('treats the same email in another case as the same input', async () => {
    const input = guest();
    const first = await createIntent(input);
    const again = await createIntent({ ...input, email: input.email.toUpperCase() });
    expect(again).toMatchObject({ isRepeat: true, order: { id: first.order.id } });
  });

  it('keeps idempotency keys per caller: another storefront using the same key gets its own order', async () => {
    const input = guest();
    const first = await createIntent(input);
    const { createApiKey } = await import('../../server/auth/apiKeys');
    const { key } = await createApiKey(server.app.db, 'second shop', 'storefront');
    const other = await createIntent(input, { headers: { 'x-api-key': key } });
    expect(other.isRepeat).toBe(false);
    expect(other.order.id).not.toBe(first.order.id);
  });

  it('reuses the open PaymentIntent of an order asked for again with a new key', async () => {
    const first = await createIntent();
    const again = await createIntent({ idempotencyKey: newKey(), orderId: first.order.id });
    expect(again).toMatchObject({ isRepeat: false, paymentIntentId: first.paymentIntentId, clientSecret: first.clientSecret, order: { id: first.order.id } });
    const { rows } = await server.app.db.query('select count(*)::int as n from payment_attempts where order_id = $1', [first.order.id]);
    expect(rows[0]).toEqual({ n: 1 });
  });

  it('reuses a declined PaymentIntent (Stripe lets it be paid again) and replaces a cancelled one with a new attempt', async () => {
    const first = await createIntent();
    await payAtStripe(first.paymentIntentId, 'pm_card_chargeDeclined');
    const afterDecline = await createIntent({ idempotencyKey: newKey(), orderId: first.order.id });
    expect(afterDecline.paymentIntentId).toBe(first.paymentIntentId);

    await server.app.stripe.paymentIntents.cancel(first.paymentIntentId);
    const replaced = await createIntent({ idempotencyKey: newKey(), orderId: first.order.id });
    expect(replaced.paymentIntentId).not.toBe(first.paymentIntentId);
    expect(replaced.order.paymentIntentId).toBe(replaced.paymentIntentId);
    const intent = await server.app.stripe.paymentIntents.retrieve(replaced.paymentIntentId);
    expect(intent.metadata.attempt).toBe('2');

    const { rows } = await server.app.db.query('select attempt, status from payment_attempts where order_id = $1 order by attempt', [first.order.id]);
    expect(rows).toEqual([
      { attempt: 1, status: 'canceled' },
      { attempt: 2, status: 'open' },
    ]);
    // The cancelled intent's order is still found through it.
    const byOld = await server.graphql(ORDER_BY_PAYMENT, { variables: { pi: first.paymentIntentId }, ...server.asStorefront });
    expect(byOld.body.data.orderByPayment.id).toBe(first.order.id);
  });

  it('answers ORDER_ALREADY_PAID for an order that is paid, and records the payment it finds', async () => {
    const first = await createIntent();
    await payAtStripe(first.paymentIntentId, 'pm_card_visa');
    const again = await createIntent({ idempotencyKey: newKey(), orderId: first.order.id });
    expect(again.error).toEqual({ code: 'ORDER_ALREADY_PAID', message: 'This order is already paid.', declineCode: null });
    expect(again.paymentIntentId).toBeNull();
    expect(again.order).toMatchObject({ id: first.order.id, status: 'PAID', syncState: 'PROVISIONAL' });
  });

  it('creates a signed-in customer’s order under their account, and lets them read only their own', async () => {
    const user = { id: randomUUID(), email: `member-${randomUUID()}@example.com` };
    const token = await server.customerToken(user);
    const result = await createIntent({ idempotencyKey: newKey(), track: 'social_media_email_campaign' }, { token });
    expect(result.order).toMatchObject({ amount: { amount: 4900 }, customer: { email: user.email } });
    const { rows } = await server.app.db.query('select user_id from customers where id = $1', [result.order.customer.id]);
    expect(rows[0]).toEqual({ user_id: user.id });
    expect((await logRows(result.order.id))[0]!.user_id).toBe(user.id);

    const own = await server.graphql(ORDER, { variables: { id: result.order.id }, token });
    expect(own.body.data.order.id).toBe(result.order.id);
    const stranger = await server.graphql(ORDER, { variables: { id: result.order.id }, token: await server.customerToken() });
    expect(stranger.body.data.order).toBeNull();
  });

  it('links a guest order to the existing customer with that email', async () => {
    const email = `repeat-${randomUUID()}@example.com`;
    const first = await createIntent({ ...guest(), email });
    const second = await createIntent({ ...guest(), email: email.toUpperCase(), track: 'website_audit_feedback' });
    expect(second.order.customer.id).toBe(first.order.customer.id);
  });
});

describe('confirmPayment', () => {
  it('shows a paid order at once as provisional, before any webhook, with its payment', async () => {
    const created = await createIntent();
    await payAtStripe(created.paymentIntentId, 'pm_card_visa');
    expect(server.app.stripeSandbox!.core.events.pendingDeliveries()).toBeGreaterThan(0); // held back: no webhook has arrived

    const response = await server.confirmPayment({ paymentIntentId: created.paymentIntentId });
    const result = response.body.data.confirmPayment;
    expect(result).toMatchObject({ outcome: 'SUCCEEDED', error: null, nextActionUrl: null });
    expect(result.order).toMatchObject({
      id: created.order.id,
      status: 'PAID',
      syncState: 'PROVISIONAL',
      payment: { paymentIntentId: created.paymentIntentId, chargeId: expect.stringMatching(/^ch_/), status: 'succeeded', amount: { amount: 9900 }, amountRefunded: { amount: 0 } },
    });
    const byPayment = await server.graphql(ORDER_BY_PAYMENT, { variables: { pi: created.paymentIntentId }, ...server.asStorefront });
    expect(byPayment.body.data.orderByPayment).toMatchObject({ id: created.order.id, status: 'PAID', syncState: 'PROVISIONAL' });

    const logs = await logRows(created.order.id);
    expect(logs.at(-1)).toMatchObject({ event_type: 'payment.paid', status: 'paid', amount: 9900, metadata: { source: 'storefront', sync_state: 'provisional' } });
  });

  it('shows a payment made after a confirmed decline as provisional: the webhook confirmed the decline, not the payment', async () => {
    const created = await createIntent();
    await payAtStripe(created.paymentIntentId, 'pm_card_chargeDeclined');
    // The decline's webhook arrives and is applied: the order is FAILED, confirmed by Stripe.
    await server.app.stripeSandbox!.core.events.flush();
    await vi.waitFor(
      async () => {
        const order = (await server.graphql(ORDER_BY_PAYMENT, { variables: { pi: created.paymentIntentId }, ...server.asStorefront })).body.data.orderByPayment;
        expect(order).toMatchObject({ status: 'FAILED', syncState: 'CONFIRMED' });
      },
      { timeout: 10_000, interval: 50 },
    );
    // The customer pays on the same PaymentIntent; its webhook is held back, so only the success page tells us.
    await payAtStripe(created.paymentIntentId, 'pm_card_visa');
    const result = (await server.confirmPayment({ paymentIntentId: created.paymentIntentId })).body.data.confirmPayment;
    expect(result.order).toMatchObject({ status: 'PAID', syncState: 'PROVISIONAL' });
  });

  it('applies a payment once however often the success page calls', async () => {
    const created = await createIntent();
    await payAtStripe(created.paymentIntentId, 'pm_card_visa');
    await Promise.all(Array.from({ length: 5 }, () => server.confirmPayment({ paymentIntentId: created.paymentIntentId })));
    const logs = await logRows(created.order.id);
    expect(logs.filter((row) => row.event_type === 'payment.paid')).toHaveLength(1);
    const { rows } = await server.app.db.query('select count(*)::int as n from payments where order_id = $1', [created.order.id]);
    expect(rows[0]).toEqual({ n: 1 });
  });

  it('returns the 3-D Secure redirect, then the paid order once the customer authenticated', async () => {
    const created = await createIntent();
    const confirmed = await payAtStripe(created.paymentIntentId, 'pm_card_threeDSecure2Required');
    expect(confirmed.status).toBe('requires_action');

    const pending = (await server.confirmPayment({ paymentIntentId: created.paymentIntentId })).body.data.confirmPayment;
    expect(pending).toMatchObject({ outcome: 'REQUIRES_ACTION', error: null, order: { status: 'REQUIRES_ACTION', syncState: null } });
    expect(pending.nextActionUrl).toMatch(new RegExp(`^${server.url}/3ds/`));

    // The customer completes the challenge on the page Stripe sent them to.
    const challenge = await fetch(pending.nextActionUrl, { method: 'POST', body: new URLSearchParams({ outcome: 'complete' }), redirect: 'manual' });
    expect(challenge.status).toBe(303);
    expect(challenge.headers.get('location')).toContain(RETURN_URL);

    const paid = (await server.confirmPayment({ paymentIntentId: created.paymentIntentId })).body.data.confirmPayment;
    expect(paid).toMatchObject({ outcome: 'SUCCEEDED', order: { status: 'PAID', syncState: 'PROVISIONAL' } });
  });

  it('tells a customer whose 3-D Secure failed what to do, in words for them; Stripe’s developer text goes to the log only', async () => {
    const created = await createIntent();
    await payAtStripe(created.paymentIntentId, 'pm_card_threeDSecure2Required');
    const pending = (await server.confirmPayment({ paymentIntentId: created.paymentIntentId })).body.data.confirmPayment;
    const challenge = await fetch(pending.nextActionUrl, { method: 'POST', body: new URLSearchParams({ outcome: 'fail' }), redirect: 'manual' });
    expect(challenge.status).toBe(303);
    const developerText = (await server.app.stripe.paymentIntents.retrieve(created.paymentIntentId)).last_payment_error?.message;
    expect(developerText).toMatch(/PaymentMethod has failed authentication/);

    const response = await server.confirmPayment({ paymentIntentId: created.paymentIntentId });
    const result = response.body.data.confirmPayment;
    expect(result).toMatchObject({
      outcome: 'DECLINED',
      nextActionUrl: null,
      error: { code: 'AUTHENTICATION_FAILED', message: 'Your bank could not confirm it was you. Try again, or use another card.', declineCode: 'payment_intent_authentication_failure' },
      order: { id: created.order.id, payment: null },
    });
    expect(JSON.stringify(response.body)).not.toMatch(/PaymentMethod|payment_method_data/);
    expect(server.logs.lines).toContainEqual(
      expect.objectContaining({ msg: 'payment not completed', paymentIntentId: created.paymentIntentId, stripeError: expect.objectContaining({ code: 'payment_intent_authentication_failure', message: developerText }) }),
    );

    // The order stays payable: the same PaymentIntent with another card.
    await payAtStripe(created.paymentIntentId, 'pm_card_visa');
    expect((await server.confirmPayment({ paymentIntentId: created.paymentIntentId })).body.data.confirmPayment).toMatchObject({ outcome: 'SUCCEEDED', error: null });
  });

  it.each([
    ['pm_card_chargeDeclined', 'CARD_DECLINED', 'Your card was declined. Try another card.', 'generic_decline'],
    ['pm_card_chargeDeclinedInsufficientFunds', 'INSUFFICIENT_FUNDS', 'Your card has insufficient funds. Try another card.', 'insufficient_funds'],
    ['pm_card_chargeDeclinedExpiredCard', 'EXPIRED_CARD', 'Your card has expired. Check the expiry date or try another card.', 'expired_card'],
  ])('turns a decline (%s) into a typed result the customer can act on, leaving the order payable', async (card, code, message, declineCode) => {
    const created = await createIntent();
    await payAtStripe(created.paymentIntentId, card);
    const result = (await server.confirmPayment({ paymentIntentId: created.paymentIntentId })).body.data.confirmPayment;
    expect(result).toMatchObject({ outcome: 'DECLINED', error: { code, message, declineCode }, order: { status: 'PENDING', syncState: null, payment: null } });

    // Another card on the same order and the same PaymentIntent succeeds.
    const retry = await createIntent({ idempotencyKey: newKey(), orderId: created.order.id });
    expect(retry.paymentIntentId).toBe(created.paymentIntentId);
    await payAtStripe(created.paymentIntentId, 'pm_card_visa');
    const paid = (await server.confirmPayment({ paymentIntentId: created.paymentIntentId })).body.data.confirmPayment;
    expect(paid).toMatchObject({ outcome: 'SUCCEEDED', error: null, order: { status: 'PAID' } });
  });

  it('reports a payment the customer has not finished as NOT_COMPLETED and changes nothing', async () => {
    const created = await createIntent();
    const before = await logRows(created.order.id);
    const result = (await server.confirmPayment({ paymentIntentId: created.paymentIntentId })).body.data.confirmPayment;
    expect(result).toMatchObject({ outcome: 'NOT_COMPLETED', error: null, order: { status: 'PENDING' } });
    expect(await logRows(created.order.id)).toEqual(before);
  });

  it('marks a cancelled PaymentIntent’s attempt, so the next request for the order starts a new one', async () => {
    const created = await createIntent();
    await server.app.stripe.paymentIntents.cancel(created.paymentIntentId);
    const result = (await server.confirmPayment({ paymentIntentId: created.paymentIntentId })).body.data.confirmPayment;
    expect(result).toMatchObject({ outcome: 'CANCELED', order: { status: 'PENDING' } });
    const { rows } = await server.app.db.query('select status from payment_attempts where stripe_object_id = $1', [created.paymentIntentId]);
    expect(rows).toEqual([{ status: 'canceled' }]);
  });

  it('shows a delayed payment (bank debit) as processing, provisional', async () => {
    const created = await createIntent();
    await payAtStripe(created.paymentIntentId, 'pm_usBankAccount_success');
    const result = (await server.confirmPayment({ paymentIntentId: created.paymentIntentId })).body.data.confirmPayment;
    expect(result).toMatchObject({ outcome: 'PROCESSING', order: { status: 'PROCESSING', syncState: 'PROVISIONAL', payment: { status: 'processing' } } });
  });

  it('refuses a payment whose amount was changed at Stripe, and marks the order for staff', async () => {
    const created = await createIntent();
    await server.app.stripe.paymentIntents.update(created.paymentIntentId, { amount: 100 });
    await payAtStripe(created.paymentIntentId, 'pm_card_visa');
    const response = await server.confirmPayment({ paymentIntentId: created.paymentIntentId });
    expect(response.body.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'AMOUNT_MISMATCH' });
    const { rows } = await server.app.db.query('select status, sync_state from orders where id = $1', [created.order.id]);
    expect(rows).toEqual([{ status: 'pending', sync_state: 'failed' }]);
    expect((await logRows(created.order.id)).at(-1)).toMatchObject({ event_type: 'payment.amount_mismatch', metadata: { stripe_amount: 100 } });
  });

  it('keeps the client secret out of the logs and the payment log', async () => {
    const created = await createIntent();
    await payAtStripe(created.paymentIntentId, 'pm_card_visa');
    await server.confirmPayment({ paymentIntentId: created.paymentIntentId });
    expect(server.logs.text).not.toContain(created.clientSecret);
    expect(JSON.stringify(await logRows(created.order.id))).not.toContain('_secret_');
  });

  it('lets a signed-in customer confirm their own payment', async () => {
    const token = await server.customerToken();
    const created = await createIntent({ idempotencyKey: newKey(), track: 'website_audit_feedback' }, { token });
    await payAtStripe(created.paymentIntentId, 'pm_card_visa');
    const result = (await server.confirmPayment({ paymentIntentId: created.paymentIntentId }, { token })).body.data.confirmPayment;
    expect(result).toMatchObject({ outcome: 'SUCCEEDED', order: { status: 'PAID', syncState: 'PROVISIONAL' } });
  });
});
