// Hosted Stripe Checkout through the real server: createCheckoutSession, the customer paying on the
// sandbox's hosted page, and the storefront's details page calling confirmPayment with the session id
// Stripe filled into the success URL.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type CheckoutServer, newKey, ORDER_BY_PAYMENT, startCheckoutServer } from '../helpers/checkout';

const SUCCESS_URL = 'https://shop.test/checkout/details?session_id={CHECKOUT_SESSION_ID}&order={ORDER_ID}';
const CANCEL_URL = 'https://shop.test/checkout?order={ORDER_ID}';

let server: CheckoutServer;
beforeAll(async () => {
  server = await startCheckoutServer({ CHECKOUT_SUCCESS_URL: SUCCESS_URL, CHECKOUT_CANCEL_URL: CANCEL_URL });
});
afterAll(() => server?.stop());
beforeEach(() => server.app.stripeSandbox!.core.events.stopAutoDelivery());

const guest = () => ({ idempotencyKey: newKey(), track: 'website_audit_feedback', email: `guest-${randomUUID()}@example.com` });

async function createSession(input: Record<string, unknown> = guest()) {
  const response = await server.createCheckoutSession(input);
  expect(response.body.errors).toBeUndefined();
  return response.body.data.createCheckoutSession;
}

/** The customer fills in the hosted page; returns where Stripe redirects them. */
async function payOnHostedPage(url: string, cardNumber = '4242424242424242'): Promise<string> {
  const response = await fetch(url, { method: 'POST', body: new URLSearchParams({ card_number: cardNumber, email: 'payer@example.com', name: 'Payer' }), redirect: 'manual' });
  expect(response.status).toBe(303);
  return response.headers.get('location')!;
}

describe('createCheckoutSession', () => {
  it('creates a session for the track’s database price, with our metadata and the storefront’s return pages', async () => {
    const input = guest();
    const result = await createSession(input);
    expect(result).toMatchObject({
      isRepeat: false,
      error: null,
      checkoutSessionId: expect.stringMatching(/^cs_test_/),
      url: expect.stringContaining('/checkout/'),
      order: { status: 'PENDING', amount: { amount: 7900, currency: 'usd' }, customer: { email: input.email } },
    });
    expect(new Date(result.expiresAt).getTime()).toBeGreaterThan(Date.now());

    const session = await server.app.stripe.checkout.sessions.retrieve(result.checkoutSessionId, { expand: ['line_items'] });
    const orderId = result.order.id;
    expect(session).toMatchObject({
      mode: 'payment',
      amount_total: 7900,
      currency: 'usd',
      customer_email: input.email,
      client_reference_id: orderId,
      success_url: `https://shop.test/checkout/details?session_id={CHECKOUT_SESSION_ID}&order=${orderId}`,
      cancel_url: `https://shop.test/checkout?order=${orderId}`,
    });
    expect(session.metadata).toEqual({ order_id: orderId, customer_id: result.order.customer.id, track: 'website_audit_feedback', attempt: '1' });
    expect(session.line_items!.data[0]).toMatchObject({ quantity: 1, amount_total: 7900, description: 'Website Audit & Feedback' });
  });

  it('answers a repeat of the same key with the first result (isRepeat), and reuses the open session for the order with a new key', async () => {
    const input = guest();
    const first = await createSession(input);
    expect(await createSession(input)).toMatchObject({ isRepeat: true, checkoutSessionId: first.checkoutSessionId, url: first.url });
    expect(await createSession({ idempotencyKey: newKey(), orderId: first.order.id })).toMatchObject({ isRepeat: false, checkoutSessionId: first.checkoutSessionId });
  });

  it('replaces an expired session with a new attempt', async () => {
    const first = await createSession();
    await server.app.stripe.checkout.sessions.expire(first.checkoutSessionId);
    const second = await createSession({ idempotencyKey: newKey(), orderId: first.order.id });
    expect(second.checkoutSessionId).not.toBe(first.checkoutSessionId);
    expect(second.order.checkoutSessionId).toBe(second.checkoutSessionId);
    const { rows } = await server.app.db.query('select attempt, status from payment_attempts where order_id = $1 order by attempt', [first.order.id]);
    expect(rows).toEqual([
      { attempt: 1, status: 'expired' },
      { attempt: 2, status: 'open' },
    ]);
  });

  it('replaces an open session that is about to expire instead of handing it out', async () => {
    const first = await createSession();
    await server.app.db.query("update payment_attempts set expires_at = now() + interval '5 minutes' where stripe_object_id = $1", [first.checkoutSessionId]);
    const second = await createSession({ idempotencyKey: newKey(), orderId: first.order.id });
    expect(second.checkoutSessionId).not.toBe(first.checkoutSessionId);
    expect((await server.app.stripe.checkout.sessions.retrieve(first.checkoutSessionId)).status).toBe('expired');
  });

  it('never leaves an order payable twice: switching to Elements expires the open session first', async () => {
    const session = await createSession();
    const intentResponse = await server.createPaymentIntent({ idempotencyKey: newKey(), orderId: session.order.id });
    const intent = intentResponse.body.data.createPaymentIntent;
    expect(intent.paymentIntentId).toMatch(/^pi_/);
    expect((await server.app.stripe.checkout.sessions.retrieve(session.checkoutSessionId)).status).toBe('expired');
    const { rows } = await server.app.db.query("select kind, status from payment_attempts where order_id = $1 order by attempt", [session.order.id]);
    expect(rows).toEqual([
      { kind: 'checkout_session', status: 'expired' },
      { kind: 'payment_intent', status: 'open' },
    ]);
  });
});

describe('confirmPayment with a Checkout Session', () => {
  it('shows the paid order at once as provisional, found by the session id the success URL carries', async () => {
    const created = await createSession();
    const redirect = new URL(await payOnHostedPage(created.url));
    const sessionId = redirect.searchParams.get('session_id')!;
    expect(sessionId).toBe(created.checkoutSessionId);
    expect(redirect.searchParams.get('order')).toBe(created.order.id);

    const result = (await server.confirmPayment({ checkoutSessionId: sessionId })).body.data.confirmPayment;
    expect(result).toMatchObject({
      outcome: 'SUCCEEDED',
      error: null,
      order: { id: created.order.id, status: 'PAID', syncState: 'PROVISIONAL', checkoutSessionId: sessionId, paymentIntentId: expect.stringMatching(/^pi_/) },
    });
    expect(result.order.payment).toMatchObject({ paymentIntentId: result.order.paymentIntentId, status: 'succeeded', amount: { amount: 7900 } });

    // The session's PaymentIntent finds the order too (that is what payment_intent events will carry).
    const byIntent = await server.graphql(ORDER_BY_PAYMENT, { variables: { pi: result.order.paymentIntentId }, ...server.asStorefront });
    expect(byIntent.body.data.orderByPayment.id).toBe(created.order.id);
    const intent = await server.app.stripe.paymentIntents.retrieve(result.order.paymentIntentId);
    expect(intent.metadata.order_id).toBe(created.order.id);
  });

  it('reports an unpaid session as NOT_COMPLETED and an expired one as EXPIRED', async () => {
    const open = await createSession();
    expect((await server.confirmPayment({ checkoutSessionId: open.checkoutSessionId })).body.data.confirmPayment).toMatchObject({ outcome: 'NOT_COMPLETED', order: { status: 'PENDING' } });
    await server.app.stripe.checkout.sessions.expire(open.checkoutSessionId);
    expect((await server.confirmPayment({ checkoutSessionId: open.checkoutSessionId })).body.data.confirmPayment).toMatchObject({ outcome: 'EXPIRED', order: { status: 'PENDING' } });
    const { rows } = await server.app.db.query('select status from payment_attempts where stripe_object_id = $1', [open.checkoutSessionId]);
    expect(rows).toEqual([{ status: 'expired' }]);
  });

  it('refuses a new session for an order paid through the first', async () => {
    const created = await createSession();
    await payOnHostedPage(created.url);
    const again = await createSession({ idempotencyKey: newKey(), orderId: created.order.id });
    expect(again).toMatchObject({ checkoutSessionId: null, url: null, error: { code: 'ORDER_ALREADY_PAID' }, order: { status: 'PAID' } });
  });
});

describe('the hosted page after a failed 3-D Secure', () => {
  it('tells the customer in their words, not Stripe’s developer text, and lets them pay again', async () => {
    const created = await createSession();
    const authenticate = await payOnHostedPage(created.url, '4000000000003220'); // pm_card_threeDSecure2Required
    expect(authenticate).toMatch(/\/authenticate$/);
    const failed = await fetch(authenticate, { method: 'POST', body: new URLSearchParams({ outcome: 'fail' }), redirect: 'manual' });
    expect(failed.status).toBe(402);
    const page = await failed.text();
    expect(page).toContain('Your card failed authentication with your bank. Try again, or choose another payment method.');
    expect(page).not.toMatch(/PaymentMethod|payment_method_data/);

    const paid = new URL(await payOnHostedPage(created.url));
    const result = (await server.confirmPayment({ checkoutSessionId: paid.searchParams.get('session_id') })).body.data.confirmPayment;
    expect(result).toMatchObject({ outcome: 'SUCCEEDED', error: null, order: { id: created.order.id, status: 'PAID' } });
  });
});
