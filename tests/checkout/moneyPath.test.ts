// Money and fulfilment agree (issue 15): six scenarios through the real server in sandbox mode, its
// storefront mutations, the sandbox's test payment methods and hosted pages, and the events the sandbox
// signs and POSTs to the server's own webhook endpoint. Jobs are off, so the Make outbox keeps what is
// enqueued for these tests to read, and the applier runs when settle() drains it.
import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertFigures, evaluateAlerts } from '../../server/ops/alerts';
import type { StripeSandbox } from '../../stripe-sandbox/sandbox';
import { type CheckoutServer, newKey, startCheckoutServer } from '../helpers/checkout';
import { makeEnv } from '../make/makeHelpers';

const RETURN_URL = 'https://shop.test/checkout/return';

let server: CheckoutServer;
let sandbox: StripeSandbox;
let stripe: Stripe;

beforeAll(async () => {
  server = await startCheckoutServer({ ...makeEnv(['add_project', 'payment_failed', 'dispute_opened', 'refund_completed']), JOBS_ENABLED: 'false' });
  sandbox = server.app.stripeSandbox!;
  stripe = server.app.stripe;
});
afterAll(() => server?.stop());

/** Every event the sandbox has to deliver reaches the endpoint, and every stored event is applied. */
async function settle(): Promise<void> {
  await sandbox.flushWebhooks();
  await server.app.webhookApplier.drain();
  const { rows } = await server.app.db.query("select id, type, last_error from stripe_events where status <> 'applied' and status <> 'ignored'");
  expect(rows).toEqual([]);
}

const guest = () => ({ idempotencyKey: newKey(), track: 'business_plan_builder', email: `guest-${randomUUID()}@example.com` });

async function createIntent(input: Record<string, unknown> = guest()) {
  const response = await server.createPaymentIntent(input);
  expect(response.body.errors).toBeUndefined();
  return response.body.data.createPaymentIntent as { order: { id: string; paymentIntentId: string | null }; paymentIntentId: string; error: unknown };
}

async function createSession(input: Record<string, unknown> = guest()) {
  const response = await server.createCheckoutSession(input);
  expect(response.body.errors).toBeUndefined();
  return response.body.data.createCheckoutSession as { order: { id: string }; checkoutSessionId: string; url: string };
}

/** What Stripe.js does in the customer's browser: confirm the intent with a test payment method. */
const payAtStripe = (id: string, paymentMethod: string) =>
  stripe.paymentIntents.confirm(id, { payment_method: paymentMethod, return_url: RETURN_URL }).catch((error: Stripe.errors.StripeError) => error);

async function payOnHostedPage(url: string): Promise<void> {
  const response = await fetch(url, { method: 'POST', body: new URLSearchParams({ card_number: '4242424242424242', email: 'payer@example.com', name: 'Payer' }), redirect: 'manual' });
  expect(response.status).toBe(303);
}

async function order(orderId: string) {
  const { rows } = await server.app.db.query<Record<string, unknown>>(
    'select status, sync_state, amount::int as amount, currency, customer_id, payment_intent_id, checkout_session_id from orders where id = $1',
    [orderId],
  );
  return rows[0]!;
}

async function payments(orderId: string) {
  const { rows } = await server.app.db.query<{ pi: string; status: string; amount: number; currency: string; amount_refunded: number; finding: string | null }>(
    `select stripe_payment_intent_id as pi, status, amount::int as amount, currency, amount_refunded::int as amount_refunded, finding
       from payments where order_id = $1 order by created_at, id`,
    [orderId],
  );
  return rows;
}

const logTypes = async (orderId: string) =>
  (await server.app.db.query<{ event_type: string }>('select event_type from payment_logs where order_id = $1 order by id', [orderId])).rows.map((r) => r.event_type);

async function makeDeliveries(orderId: string) {
  const { rows } = await server.app.db.query<{ kind: string; payload: { data: Record<string, unknown> } }>(
    'select kind, payload from make_deliveries where order_id = $1 order by created_at',
    [orderId],
  );
  return rows;
}

/** What Stripe holds of these PaymentIntents: captured minus refunded, per PaymentIntent. */
async function heldAtStripe(paymentIntentIds: string[]): Promise<Record<string, number>> {
  const held: Record<string, number> = {};
  for (const id of paymentIntentIds) {
    const intent = await stripe.paymentIntents.retrieve(id, { expand: ['latest_charge'] });
    const charge = intent.latest_charge as Stripe.Charge | null;
    held[id] = intent.status === 'succeeded' && charge ? charge.amount_captured - charge.amount_refunded : 0;
  }
  return held;
}

/** What our payments say we hold, per PaymentIntent. */
async function heldByUs(orderId: string): Promise<Record<string, number>> {
  return Object.fromEntries((await payments(orderId)).map((p) => [p.pi, p.status === 'succeeded' ? p.amount - p.amount_refunded : 0]));
}

describe('1. an order made from a payment event is checked against the price and the buyer', () => {
  it('a 1.00 EUR payment from another integration with our track makes no paid order and tells Make nothing', async () => {
    const intent = await stripe.paymentIntents.create({
      amount: 100,
      currency: 'eur',
      receipt_email: `other-shop-${randomUUID()}@example.com`,
      metadata: { track: 'business_plan_builder' },
    });
    await payAtStripe(intent.id, 'pm_card_visa');
    await settle();

    const { rows } = await server.app.db.query<{ order_id: string }>('select order_id from payments where stripe_payment_intent_id = $1', [intent.id]);
    expect(rows).toHaveLength(1);
    const orderId = rows[0]!.order_id;
    expect(await order(orderId)).toMatchObject({ status: 'pending', sync_state: 'failed', amount: 9900, currency: 'usd' });
    // Recorded with what Stripe took, flagged for staff to refund.
    expect(await payments(orderId)).toEqual([{ pi: intent.id, status: 'succeeded', amount: 100, currency: 'eur', amount_refunded: 0, finding: 'amount_mismatch' }]);
    expect(await logTypes(orderId)).toContain('payment.amount_mismatch');
    expect(await makeDeliveries(orderId)).toEqual([]);
    // Staff are alerted: the payment still holds the buyer's money.
    const alerts = evaluateAlerts(await alertFigures(server.app.db)).filter((a) => a.holding).map((a) => a.code);
    expect(alerts).toContain('PAYMENT_FINDINGS');
  });

  it('a payment at the price makes a paid order, for the buyer, not for the customer its metadata names', async () => {
    const someone = await createIntent(); // an existing customer of ours
    const { rows: [victim] } = await server.app.db.query<{ customer_id: string }>('select customer_id from orders where id = $1', [someone.order.id]);
    const buyer = `buyer-${randomUUID()}@example.com`;
    const intent = await stripe.paymentIntents.create({
      amount: 9900,
      currency: 'usd',
      receipt_email: buyer,
      metadata: { track: 'business_plan_builder', customer_id: victim!.customer_id },
    });
    await payAtStripe(intent.id, 'pm_card_visa');
    await settle();

    const { rows } = await server.app.db.query<{ order_id: string; email: string; customer_id: string }>(
      `select o.id as order_id, c.email, c.id as customer_id from payments p join orders o on o.id = p.order_id join customers c on c.id = o.customer_id
        where p.stripe_payment_intent_id = $1`,
      [intent.id],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.customer_id).not.toBe(victim!.customer_id);
    expect(rows[0]!.email).toBe(buyer);
    expect(await order(rows[0]!.order_id)).toMatchObject({ status: 'paid', sync_state: 'confirmed', amount: 9900, currency: 'usd' });
    expect((await makeDeliveries(rows[0]!.order_id)).map((d) => d.kind)).toEqual(['add_project']);
  });
});

describe('2. a failed bank debit, two tabs, and a second PaymentIntent paid for a paid order', () => {
  it('a debit that fails after processing reopens its attempt: the retry reuses the PaymentIntent, which is paid once', async () => {
    const first = await createIntent();
    const processing = await payAtStripe(first.paymentIntentId, 'pm_usBankAccount_insufficientFunds');
    expect(processing).toMatchObject({ status: 'processing' });
    await settle();
    expect(await order(first.order.id)).toMatchObject({ status: 'processing' });

    await sandbox.advanceClock(1); // the bank returns the debit
    await settle();
    expect(await order(first.order.id)).toMatchObject({ status: 'failed', sync_state: 'confirmed' });
    expect(await payments(first.order.id)).toMatchObject([{ pi: first.paymentIntentId, status: 'requires_payment_method' }]);

    // The customer tries again in a second tab: the same PaymentIntent, no second payable object.
    const retry = await createIntent({ idempotencyKey: newKey(), orderId: first.order.id });
    expect(retry).toMatchObject({ error: null, paymentIntentId: first.paymentIntentId });
    const { rows: attempts } = await server.app.db.query('select attempt, status from payment_attempts where order_id = $1 order by attempt', [first.order.id]);
    expect(attempts).toEqual([{ attempt: 1, status: 'open' }]);

    // Both tabs pay: Stripe takes one payment; the other is refused.
    const [tab1, tab2] = [await payAtStripe(first.paymentIntentId, 'pm_card_visa'), await payAtStripe(retry.paymentIntentId, 'pm_card_visa')];
    expect([tab1, tab2].filter((r) => (r as Stripe.PaymentIntent).status === 'succeeded')).toHaveLength(1);
    await settle();
    expect(await order(first.order.id)).toMatchObject({ status: 'paid', sync_state: 'confirmed', payment_intent_id: first.paymentIntentId });
    expect(await payments(first.order.id)).toEqual([{ pi: first.paymentIntentId, status: 'succeeded', amount: 9900, currency: 'usd', amount_refunded: 0, finding: null }]);
    expect(await heldByUs(first.order.id)).toEqual(await heldAtStripe([first.paymentIntentId]));
    expect((await makeDeliveries(first.order.id)).map((d) => d.kind)).toEqual(['payment_failed', 'add_project']);
  });

  it('another PaymentIntent paid for an order already paid is flagged as a duplicate; refunding it leaves the order paid (bug 3)', async () => {
    const first = await createIntent();
    await payAtStripe(first.paymentIntentId, 'pm_card_visa');
    await settle();
    // An old tab's PaymentIntent for the same order (as the attempt made before this fix could be).
    const { rows: [row] } = await server.app.db.query<{ customer_id: string }>('select customer_id from orders where id = $1', [first.order.id]);
    const second = await stripe.paymentIntents.create({
      amount: 9900,
      currency: 'usd',
      metadata: { order_id: first.order.id, customer_id: row!.customer_id, track: 'business_plan_builder' },
    });
    await payAtStripe(second.id, 'pm_card_visa');
    await settle();

    expect(await order(first.order.id)).toMatchObject({ status: 'paid', sync_state: 'failed', payment_intent_id: first.paymentIntentId });
    expect(await payments(first.order.id)).toEqual([
      { pi: first.paymentIntentId, status: 'succeeded', amount: 9900, currency: 'usd', amount_refunded: 0, finding: null },
      { pi: second.id, status: 'succeeded', amount: 9900, currency: 'usd', amount_refunded: 0, finding: 'duplicate' },
    ]);
    expect((await logTypes(first.order.id)).filter((t) => t === 'payment.duplicate')).toHaveLength(1);
    expect((await makeDeliveries(first.order.id)).map((d) => d.kind)).toEqual(['add_project']);

    // Staff refund the duplicate: the order keeps the 9900 it was paid, and the finding is settled.
    await stripe.refunds.create({ payment_intent: second.id });
    await settle();
    expect(await order(first.order.id)).toMatchObject({ status: 'paid', sync_state: 'confirmed' });
    expect(await payments(first.order.id)).toMatchObject([
      { pi: first.paymentIntentId, amount_refunded: 0 },
      { pi: second.id, amount_refunded: 9900, finding: 'duplicate' },
    ]);
    expect(await heldByUs(first.order.id)).toEqual(await heldAtStripe([first.paymentIntentId, second.id]));

    // Refunding the real payment then refunds the order.
    await stripe.refunds.create({ payment_intent: first.paymentIntentId, amount: 1000 });
    await settle();
    expect(await order(first.order.id)).toMatchObject({ status: 'partially_refunded' });
    expect(await heldByUs(first.order.id)).toEqual(await heldAtStripe([first.paymentIntentId, second.id]));
  });
});

describe('4. refund and dispute events are checked against the charge’s own amount', () => {
  it('a mismatched payment that is then disputed stays flagged: never paid, never fulfilled', async () => {
    const created = await createIntent();
    // Someone changes the amount at Stripe before the customer pays.
    await stripe.paymentIntents.update(created.paymentIntentId, { amount: 100 });
    await payAtStripe(created.paymentIntentId, 'pm_card_createDispute');
    await settle();

    expect(await order(created.order.id)).toMatchObject({ status: 'pending', sync_state: 'failed' });
    expect(await payments(created.order.id)).toEqual([{ pi: created.paymentIntentId, status: 'succeeded', amount: 100, currency: 'usd', amount_refunded: 0, finding: 'amount_mismatch' }]);
    const { rows: disputes } = await server.app.db.query('select amount::int as amount from disputes where order_id = $1', [created.order.id]);
    expect(disputes).toEqual([{ amount: 100 }]);
    expect(await makeDeliveries(created.order.id)).toEqual([]);
  });
});

describe('5. the order names the object that paid it', () => {
  it('Elements, then hosted Checkout, paid: the session and its PaymentIntent, in the order and in add_project', async () => {
    const intent = await createIntent();
    const session = await createSession({ idempotencyKey: newKey(), orderId: intent.order.id });
    expect((await stripe.paymentIntents.retrieve(intent.paymentIntentId)).status).toBe('canceled');
    await payOnHostedPage(session.url);
    await settle();

    const paidBy = (await stripe.checkout.sessions.retrieve(session.checkoutSessionId)).payment_intent as string;
    expect(paidBy).not.toBe(intent.paymentIntentId);
    expect(await order(intent.order.id)).toMatchObject({ status: 'paid', payment_intent_id: paidBy, checkout_session_id: session.checkoutSessionId });
    const [delivery] = await makeDeliveries(intent.order.id);
    expect(delivery).toMatchObject({ kind: 'add_project', payload: { data: { payment_intent_id: paidBy, checkout_session_id: session.checkoutSessionId } } });
  });

  it('hosted Checkout, then Elements, paid: no session id is left on the order', async () => {
    const session = await createSession();
    const intent = await createIntent({ idempotencyKey: newKey(), orderId: session.order.id });
    await payAtStripe(intent.paymentIntentId, 'pm_card_visa');
    await settle();
    expect(await order(session.order.id)).toMatchObject({ status: 'paid', payment_intent_id: intent.paymentIntentId, checkout_session_id: null });
    const [delivery] = await makeDeliveries(session.order.id);
    expect(delivery).toMatchObject({ kind: 'add_project', payload: { data: { payment_intent_id: intent.paymentIntentId, checkout_session_id: null } } });
  });
});

describe('6. one clock orders unpaid states', () => {
  it('a 3-D Secure failure in the same second as the confirm that saw requires_action fails the order and tells Make', async () => {
    sandbox.core.clock.freeze(); // every Stripe event from here on is in one second (this test runs last)
    // Deliveries wait a minute of sandbox time: the storefront's confirm is the first to tell us.
    sandbox.webhookFaults.delaySeconds = 60;
    const created = await createIntent();
    const challenged = (await payAtStripe(created.paymentIntentId, 'pm_card_threeDSecure2Required')) as Stripe.PaymentIntent;
    expect(challenged.status).toBe('requires_action');
    const confirmed = await server.confirmPayment({ paymentIntentId: created.paymentIntentId });
    expect(confirmed.body.data.confirmPayment.order).toMatchObject({ status: 'REQUIRES_ACTION' });

    const page = await fetch(challenged.next_action!.redirect_to_url!.url!, { method: 'POST', body: new URLSearchParams({ outcome: 'fail' }), redirect: 'manual' });
    expect(page.status).toBe(303);
    sandbox.webhookFaults.delaySeconds = 0;
    await sandbox.advanceClock(60); // the events, created in the confirm's second, fall due
    await settle();

    expect(await order(created.order.id)).toMatchObject({ status: 'failed', sync_state: 'confirmed' });
    expect((await makeDeliveries(created.order.id)).map((d) => d.kind)).toEqual(['payment_failed']);
  });
});
