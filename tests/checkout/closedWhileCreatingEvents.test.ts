// What follows an attempt the janitor abandoned while Stripe was making its object X (the story of
// closedWhileCreating.test.ts), with Stripe's events delivered: the late object X is closed at Stripe and
// recorded on its attempt (canceled/expired, or needs_cleanup when Stripe refuses the cancel), the call
// carries on with the order's next attempt, and X's canceled/expired event is applied without touching
// that live attempt. It used to find the abandoned attempt by X's metadata and set it `open` next to
// the live one: 23505 on the one-live-attempt index, the event retried and finally failed.
import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReconciliation } from '../../server/reconcile/janitor';
import { type CheckoutServer, newKey, startCheckoutServer } from '../helpers/checkout';

let server: CheckoutServer;
beforeAll(async () => {
  server = await startCheckoutServer({ RECONCILE_INTERVAL: 'off' });
});
afterAll(() => server?.stop());

const sandbox = () => server.app.stripeSandbox!;
const guest = () => ({ idempotencyKey: newKey(), track: 'business_plan_builder', email: `guest-${randomUUID()}@example.com` });

async function janitorPassAfterFiveMinutes() {
  await sandbox().advanceClock(301);
  await runReconciliation(server.app.reconciliation, { trigger: 'manual', actor: 'test' });
}

/**
 * Runs `meanwhile` before the first create of `resource` reaches the sandbox (Stripe still at work),
 * then lets it through and runs `after` once Stripe answered; later creates go straight.
 */
async function withCreateHeldBack<T>(
  resource: { create: (...args: never[]) => Promise<unknown> },
  meanwhile: () => Promise<void>,
  run: () => Promise<T>,
  after: () => void = () => {},
): Promise<T> {
  const original = resource.create;
  let first = true;
  resource.create = async (...args: never[]) => {
    if (!first) return original.apply(resource, args);
    first = false;
    await meanwhile();
    const created = await original.apply(resource, args);
    after();
    return created;
  };
  try {
    return await run();
  } finally {
    delete (resource as { create?: unknown }).create;
    if (resource.create !== original) resource.create = original;
  }
}

/** Every event the sandbox has to deliver reaches the endpoint and is applied. */
async function settleWebhooks() {
  await sandbox().flushWebhooks();
  await server.app.webhookApplier.drain();
}

async function attemptsOf(orderId: string) {
  const { rows } = await server.app.db.query<{ attempt: number; status: string; stripe_object_id: string | null }>(
    'select attempt, status, stripe_object_id from payment_attempts where order_id = $1 order by attempt',
    [orderId],
  );
  return rows;
}

async function eventsFor(objectId: string) {
  const { rows } = await server.app.db.query<{ type: string; status: string; last_error: string | null }>(
    'select type, status, last_error from stripe_events where object_id = $1 order by created, type',
    [objectId],
  );
  return rows;
}

async function unappliedEvents() {
  const { rows } = await server.app.db.query("select type, status, last_error from stripe_events where status not in ('applied', 'ignored')");
  return rows;
}

describe('an attempt abandoned while Stripe made its object, with Stripe’s events delivered', () => {
  it('PaymentIntent: the late object is recorded canceled on its attempt, its event applies, and the next attempt stays live', async () => {
    const input = guest();
    const result = await withCreateHeldBack(server.app.stripe.paymentIntents, janitorPassAfterFiveMinutes, () => server.createPaymentIntent(input));
    expect(result.body.errors).toBeUndefined();
    const answer = result.body.data.createPaymentIntent as { paymentIntentId: string; error: unknown; order: { id: string } };
    expect(answer).toMatchObject({ error: null, paymentIntentId: expect.stringMatching(/^pi_/) });
    const orderId = answer.order.id;
    const late = (await server.app.stripe.paymentIntents.list({ limit: 100 })).data.find((pi) => pi.metadata.order_id === orderId && pi.metadata.attempt === '1')!;
    expect(late.status).toBe('canceled');

    await settleWebhooks();
    expect(await unappliedEvents()).toEqual([]);
    expect(await eventsFor(late.id)).toEqual(
      expect.arrayContaining([expect.objectContaining({ type: 'payment_intent.canceled', status: 'applied' })]),
    );
    expect(await attemptsOf(orderId)).toEqual([
      { attempt: 1, status: 'canceled', stripe_object_id: late.id },
      { attempt: 2, status: 'open', stripe_object_id: answer.paymentIntentId },
    ]);
    // The order is still payable through attempt 2.
    const again = await server.createPaymentIntent(guestAgain(input));
    expect(again.body.data.createPaymentIntent).toMatchObject({ isRepeat: true, paymentIntentId: answer.paymentIntentId });
    await server.app.stripe.paymentIntents.confirm(answer.paymentIntentId, { payment_method: 'pm_card_visa', return_url: 'https://shop.test/return' });
    await settleWebhooks();
    expect(await unappliedEvents()).toEqual([]);
    const { rows } = await server.app.db.query('select status from orders where id = $1', [orderId]);
    expect(rows[0]).toEqual({ status: 'paid' });
    expect((await attemptsOf(orderId)).map((a) => a.status)).toEqual(['canceled', 'succeeded']);
  });

  it('Checkout Session: the late session is recorded expired on its attempt, its event applies, and the next attempt stays open', async () => {
    const input = guest();
    const sessions = server.app.stripe.checkout.sessions;
    const result = await withCreateHeldBack(sessions, janitorPassAfterFiveMinutes, () => server.createCheckoutSession(input));
    expect(result.body.errors).toBeUndefined();
    const answer = result.body.data.createCheckoutSession as { checkoutSessionId: string; error: unknown; order: { id: string } };
    expect(answer).toMatchObject({ error: null, checkoutSessionId: expect.stringMatching(/^cs_/) });
    const orderId = answer.order.id;
    const late = (await sessions.list({ limit: 100 })).data.find((s: Stripe.Checkout.Session) => s.metadata?.order_id === orderId && s.metadata?.attempt === '1')!;
    expect(late.status).toBe('expired');

    await settleWebhooks();
    expect(await unappliedEvents()).toEqual([]);
    expect(await eventsFor(late.id)).toEqual(
      expect.arrayContaining([expect.objectContaining({ type: 'checkout.session.expired', status: 'applied' })]),
    );
    expect(await attemptsOf(orderId)).toEqual([
      { attempt: 1, status: 'expired', stripe_object_id: late.id },
      { attempt: 2, status: 'open', stripe_object_id: answer.checkoutSessionId },
    ]);
  });

  it('the cancel at Stripe fails: the late object is recorded needs_cleanup, and a janitor pass cancels it', async () => {
    const input = guest();
    // Once Stripe has made the late object, its next call (the compensating cancel, and its retry) fails.
    const result = await withCreateHeldBack(server.app.stripe.paymentIntents, janitorPassAfterFiveMinutes, () => server.createPaymentIntent(input), () =>
      sandbox().failNext('api_error', 'api_error'),
    );
    expect(result.body.errors).toBeUndefined();
    const answer = result.body.data.createPaymentIntent as { paymentIntentId: string; error: unknown; order: { id: string } };
    expect(answer).toMatchObject({ error: null, paymentIntentId: expect.stringMatching(/^pi_/) });
    const orderId = answer.order.id;
    const late = (await server.app.stripe.paymentIntents.list({ limit: 100 })).data.find((pi) => pi.metadata.order_id === orderId && pi.metadata.attempt === '1')!;
    expect(late.status).toBe('requires_payment_method');
    expect(await attemptsOf(orderId)).toEqual([
      { attempt: 1, status: 'needs_cleanup', stripe_object_id: late.id },
      { attempt: 2, status: 'open', stripe_object_id: answer.paymentIntentId },
    ]);

    await runReconciliation(server.app.reconciliation, { trigger: 'manual', actor: 'test' });
    expect((await server.app.stripe.paymentIntents.retrieve(late.id)).status).toBe('canceled');
    await settleWebhooks();
    expect(await unappliedEvents()).toEqual([]);
    expect(await attemptsOf(orderId)).toEqual([
      { attempt: 1, status: 'canceled', stripe_object_id: late.id },
      { attempt: 2, status: 'open', stripe_object_id: answer.paymentIntentId },
    ]);
  });

  it('an event for the late object of an abandoned attempt with no object recorded (as left before this fix) settles it, never reviving it', async () => {
    sandbox().core.events.stopAutoDelivery();
    try {
      const input = guest();
      const result = await withCreateHeldBack(server.app.stripe.paymentIntents, janitorPassAfterFiveMinutes, () => server.createPaymentIntent(input));
      const answer = result.body.data.createPaymentIntent as { paymentIntentId: string; order: { id: string } };
      const orderId = answer.order.id;
      // What the record of the late object used to be: none, the attempt abandoned.
      await server.app.db.query("update payment_attempts set status = 'abandoned', stripe_object_id = null where order_id = $1 and attempt = 1", [orderId]);
      const late = (await server.app.stripe.paymentIntents.list({ limit: 100 })).data.find((pi) => pi.metadata.order_id === orderId && pi.metadata.attempt === '1')!;

      await settleWebhooks();
      expect(await unappliedEvents()).toEqual([]);
      expect(await eventsFor(late.id)).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'payment_intent.canceled', status: 'applied' })]));
      expect(await attemptsOf(orderId)).toEqual([
        { attempt: 1, status: 'canceled', stripe_object_id: late.id },
        { attempt: 2, status: 'open', stripe_object_id: answer.paymentIntentId },
      ]);
    } finally {
      sandbox().core.events.startAutoDelivery();
    }
  });
});

/** The same call again (same key): the storefront retrying. */
const guestAgain = (input: ReturnType<typeof guest>) => ({ ...input });

/** An order whose attempt 1 is abandoned with its late PaymentIntent payable and unrecorded, and attempt 2 open. */
async function abandonedWithPayableLateObject() {
  const input = guest();
  // The compensating cancel fails (twice: the SDK's retry too), as a crash before it would leave it.
  const result = await withCreateHeldBack(server.app.stripe.paymentIntents, janitorPassAfterFiveMinutes, () => server.createPaymentIntent(input), () =>
    sandbox().failNext('api_error', 'api_error'),
  );
  const answer = result.body.data.createPaymentIntent as { paymentIntentId: string; order: { id: string } };
  const orderId = answer.order.id;
  // What a crash between Stripe's answer and the compensation leaves: the attempt as the janitor left it.
  await server.app.db.query("update payment_attempts set status = 'abandoned', stripe_object_id = null where order_id = $1 and attempt = 1", [orderId]);
  const late = (await server.app.stripe.paymentIntents.list({ limit: 100 })).data.find((pi) => pi.metadata.order_id === orderId && pi.metadata.attempt === '1')!;
  expect(late.status).toBe('requires_payment_method');
  return { orderId, late, live: answer.paymentIntentId };
}

const pay = (paymentIntentId: string) =>
  server.app.stripe.paymentIntents.confirm(paymentIntentId, { payment_method: 'pm_card_visa', return_url: 'https://shop.test/return' });

// The late object of an abandoned attempt is paid after all (it was payable: the process died between
// Stripe's answer and the compensation, so nothing closed it or recorded it). Stripe holds the money,
// so we must record it, once, against the order: the order's payment if the order is unpaid, a
// duplicate to refund (a finding for staff) if another attempt already paid it.
describe('the late object of an abandoned attempt is paid at Stripe', () => {
  async function paymentsOf(orderId: string) {
    const { rows } = await server.app.db.query<{ stripe_payment_intent_id: string; status: string; amount: string; finding: string | null }>(
      'select stripe_payment_intent_id, status, amount::text, finding from payments where order_id = $1 order by created_at, stripe_payment_intent_id',
      [orderId],
    );
    return rows;
  }

  async function orderRow(orderId: string) {
    const { rows } = await server.app.db.query<{ status: string; sync_state: string | null; payment_intent_id: string | null; amount: string }>(
      'select status, sync_state, payment_intent_id, amount::text from orders where id = $1',
      [orderId],
    );
    return rows[0]!;
  }

  it('unpaid order: the storefront’s confirmPayment, then the webhook, record the money once and the order ends paid by it', async () => {
    sandbox().core.events.stopAutoDelivery();
    try {
      const { orderId, late } = await abandonedWithPayableLateObject();
      await pay(late.id);

      const confirmed = await server.confirmPayment({ paymentIntentId: late.id });
      expect(confirmed.body.errors).toBeUndefined();
      expect(confirmed.body.data.confirmPayment).toMatchObject({ outcome: 'SUCCEEDED', error: null, order: { id: orderId, status: 'PAID', paymentIntentId: late.id } });

      await settleWebhooks();
      expect(await unappliedEvents()).toEqual([]);
      expect(await eventsFor(late.id)).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'payment_intent.succeeded', status: 'applied' })]));
      const order = await orderRow(orderId);
      expect(order).toMatchObject({ status: 'paid', sync_state: 'confirmed', payment_intent_id: late.id });
      expect(await paymentsOf(orderId)).toEqual([{ stripe_payment_intent_id: late.id, status: 'succeeded', amount: order.amount, finding: null }]);
      // The attempt that made the paying object holds it (its status stays as the janitor left it).
      expect((await attemptsOf(orderId))[0]).toMatchObject({ attempt: 1, stripe_object_id: late.id });

      // A janitor pass afterwards changes none of it.
      await runReconciliation(server.app.reconciliation, { trigger: 'manual', actor: 'test' });
      await settleWebhooks();
      expect(await orderRow(orderId)).toEqual(order);
      expect(await paymentsOf(orderId)).toHaveLength(1);
    } finally {
      sandbox().core.events.startAutoDelivery();
    }
  });

  it('unpaid order, the webhook alone (no storefront call): the money is recorded once and the order ends paid', async () => {
    sandbox().core.events.stopAutoDelivery();
    try {
      const { orderId, late } = await abandonedWithPayableLateObject();
      await pay(late.id);
      await settleWebhooks();
      expect(await unappliedEvents()).toEqual([]);
      const order = await orderRow(orderId);
      expect(order).toMatchObject({ status: 'paid', sync_state: 'confirmed', payment_intent_id: late.id });
      expect(await paymentsOf(orderId)).toEqual([{ stripe_payment_intent_id: late.id, status: 'succeeded', amount: order.amount, finding: null }]);
    } finally {
      sandbox().core.events.startAutoDelivery();
    }
  });

  it('order already paid by its live attempt: the late payment is recorded as a duplicate to refund, for staff, and the order stays paid by the first', async () => {
    sandbox().core.events.stopAutoDelivery();
    try {
      const { orderId, late, live } = await abandonedWithPayableLateObject();
      await pay(live);
      await settleWebhooks();
      expect(await orderRow(orderId)).toMatchObject({ status: 'paid', sync_state: 'confirmed', payment_intent_id: live });

      await pay(late.id);
      const confirmed = await server.confirmPayment({ paymentIntentId: late.id });
      expect(confirmed.body.errors).toBeUndefined();
      expect(confirmed.body.data.confirmPayment).toMatchObject({ outcome: 'SUCCEEDED', order: { id: orderId, status: 'PAID', paymentIntentId: live } });
      await settleWebhooks();
      expect(await unappliedEvents()).toEqual([]);

      const order = await orderRow(orderId);
      expect(order).toMatchObject({ status: 'paid', sync_state: 'failed', payment_intent_id: live });
      expect(await paymentsOf(orderId)).toEqual(
        expect.arrayContaining([
          { stripe_payment_intent_id: live, status: 'succeeded', amount: order.amount, finding: null },
          { stripe_payment_intent_id: late.id, status: 'succeeded', amount: order.amount, finding: 'duplicate' },
        ]),
      );
      expect(await paymentsOf(orderId)).toHaveLength(2);
      const { rows: flagged } = await server.app.db.query<{ metadata: { payment_intent_id: string; to_refund: boolean } }>(
        "select metadata from payment_logs where order_id = $1 and event_type = 'payment.duplicate'",
        [orderId],
      );
      expect(flagged).toEqual([{ metadata: expect.objectContaining({ payment_intent_id: late.id, to_refund: true }) }]);
    } finally {
      sandbox().core.events.startAutoDelivery();
    }
  });
});

// The order paid by that late object still had its live attempt (attempt n+1, its own PaymentIntent or
// Session): payable at Stripe on a paid order, nothing closed it, and the customer could be charged
// twice (the second a duplicate to refund). The order becoming paid (or processing) by another object
// hands its live attempt to the janitor (needs_cleanup), which closes the object with the attempt's key.
describe('an order paid by an object that is not its live attempt’s', () => {
  /** The customer pays on the sandbox's hosted Checkout page (as checkoutSession.test.ts does). */
  async function payOnHostedPage(url: string) {
    const response = await fetch(url, { method: 'POST', body: new URLSearchParams({ card_number: '4242424242424242', email: 'payer@example.com', name: 'Payer' }), redirect: 'manual' });
    expect(response.status).toBe(303);
  }

  async function orderState(orderId: string) {
    const { rows: [order] } = await server.app.db.query<{ status: string; sync_state: string | null; payment_intent_id: string | null; amount: string }>(
      'select status, sync_state, payment_intent_id, amount::text from orders where id = $1',
      [orderId],
    );
    const { rows: payments } = await server.app.db.query<{ stripe_payment_intent_id: string; status: string; finding: string | null }>(
      'select stripe_payment_intent_id, status, finding from payments where order_id = $1',
      [orderId],
    );
    const { rows: logs } = await server.app.db.query<{ event_type: string; status: string; metadata: Record<string, unknown> }>(
      `select event_type, status, metadata from payment_logs
        where order_id = $1 and (event_type = 'payment.duplicate' or metadata->>'reason' = 'order_paid_by_another_object')
        order by created_at, id`,
      [orderId],
    );
    return { order: order!, payments, logs };
  }

  it('the late PaymentIntent paid: the live attempt is handed to cleanup, the janitor cancels its PaymentIntent, and the order keeps one payment', async () => {
    sandbox().core.events.stopAutoDelivery();
    try {
      const { orderId, late, live } = await abandonedWithPayableLateObject();
      await pay(late.id);
      const confirmed = await server.confirmPayment({ paymentIntentId: late.id });
      expect(confirmed.body.data.confirmPayment).toMatchObject({ outcome: 'SUCCEEDED', error: null, order: { status: 'PAID', paymentIntentId: late.id } });

      // Handed to cleanup in the transaction that paid the order, and the log says why.
      expect(await attemptsOf(orderId)).toEqual([
        { attempt: 1, status: 'abandoned', stripe_object_id: late.id },
        { attempt: 2, status: 'needs_cleanup', stripe_object_id: live },
      ]);
      const { logs } = await orderState(orderId);
      expect(logs).toEqual([
        {
          event_type: 'checkout.attempt_needs_cleanup',
          status: 'needs_cleanup',
          metadata: expect.objectContaining({ actor: 'system', attempt: 2, stripe_object_id: live, reason: 'order_paid_by_another_object', paid_by: late.id, order_status: 'paid' }),
        },
      ]);
      // Nobody is handed the live PaymentIntent again: the order is paid.
      const again = await server.createPaymentIntent({ idempotencyKey: newKey(), orderId });
      expect(again.body.data.createPaymentIntent).toMatchObject({ error: { code: 'ORDER_ALREADY_PAID' }, paymentIntentId: null });

      await runReconciliation(server.app.reconciliation, { trigger: 'manual', actor: 'test' });
      // A second live PaymentIntent of a paid order: Stripe's 'duplicate', not 'abandoned'.
      expect(await server.app.stripe.paymentIntents.retrieve(live)).toMatchObject({ status: 'canceled', cancellation_reason: 'duplicate' });
      await settleWebhooks();
      expect(await unappliedEvents()).toEqual([]);
      expect(await attemptsOf(orderId)).toEqual([
        { attempt: 1, status: 'abandoned', stripe_object_id: late.id },
        { attempt: 2, status: 'canceled', stripe_object_id: live },
      ]);
      const after = await orderState(orderId);
      expect(after.order).toMatchObject({ status: 'paid', sync_state: 'confirmed', payment_intent_id: late.id });
      expect(after.payments).toEqual([{ stripe_payment_intent_id: late.id, status: 'succeeded', finding: null }]);
      expect(after.logs.map((l) => l.event_type)).toEqual(['checkout.attempt_needs_cleanup']);
    } finally {
      sandbox().core.events.startAutoDelivery();
    }
  });

  it('the live attempt still being created when the late PaymentIntent pays the order: its object is closed and the caller told the order is paid', async () => {
    sandbox().core.events.stopAutoDelivery();
    try {
      const { orderId, late, live } = await abandonedWithPayableLateObject();
      // The customer switches to hosted Checkout: attempt 2 is retired, attempt 3's session is being made
      // at Stripe when the late PaymentIntent is paid and confirmed.
      let confirmed: unknown;
      let meanwhile: Awaited<ReturnType<typeof attemptsOf>> = [];
      const result = await withCreateHeldBack(
        server.app.stripe.checkout.sessions,
        async () => {
          await pay(late.id);
          confirmed = (await server.confirmPayment({ paymentIntentId: late.id })).body.data.confirmPayment;
          meanwhile = await attemptsOf(orderId);
        },
        () => server.createCheckoutSession({ idempotencyKey: newKey(), orderId }),
      );
      expect(confirmed).toMatchObject({ outcome: 'SUCCEEDED', order: { status: 'PAID' } });
      expect(meanwhile[2]).toEqual({ attempt: 3, status: 'needs_cleanup', stripe_object_id: null });
      expect(result.body.errors).toBeUndefined();
      expect(result.body.data.createCheckoutSession).toMatchObject({ error: { code: 'ORDER_ALREADY_PAID' }, checkoutSessionId: null, url: null });
      const session = (await server.app.stripe.checkout.sessions.list({ limit: 100 })).data.find((s: Stripe.Checkout.Session) => s.metadata?.order_id === orderId)!;
      expect(session.status).toBe('expired');
      expect(await attemptsOf(orderId)).toEqual([
        { attempt: 1, status: 'abandoned', stripe_object_id: late.id },
        { attempt: 2, status: 'canceled', stripe_object_id: live },
        { attempt: 3, status: 'expired', stripe_object_id: session.id },
      ]);

      await runReconciliation(server.app.reconciliation, { trigger: 'manual', actor: 'test' });
      await settleWebhooks();
      expect(await unappliedEvents()).toEqual([]);
      const after = await orderState(orderId);
      expect(after.order).toMatchObject({ status: 'paid', sync_state: 'confirmed', payment_intent_id: late.id });
      expect(after.payments).toEqual([{ stripe_payment_intent_id: late.id, status: 'succeeded', finding: null }]);
      expect(after.logs).toEqual([expect.objectContaining({ event_type: 'checkout.attempt_needs_cleanup', metadata: expect.objectContaining({ attempt: 3 }) })]);
    } finally {
      sandbox().core.events.startAutoDelivery();
    }
  });

  it('paid by its live attempt (Elements, hosted Checkout, and Checkout after a switch from Elements): nothing is handed to cleanup', async () => {
    const elements = await server.createPaymentIntent(guest());
    const pi = elements.body.data.createPaymentIntent as { paymentIntentId: string; order: { id: string } };
    await pay(pi.paymentIntentId);

    const hosted = await server.createCheckoutSession(guest());
    const cs = hosted.body.data.createCheckoutSession as { url: string; order: { id: string } };
    await payOnHostedPage(cs.url);

    const first = await server.createPaymentIntent(guest());
    const switched = first.body.data.createPaymentIntent as { paymentIntentId: string; order: { id: string } };
    const then = await server.createCheckoutSession({ idempotencyKey: newKey(), orderId: switched.order.id });
    const switchedTo = then.body.data.createCheckoutSession as { url: string };
    await payOnHostedPage(switchedTo.url);

    await settleWebhooks();
    expect(await unappliedEvents()).toEqual([]);
    await runReconciliation(server.app.reconciliation, { trigger: 'manual', actor: 'test' });
    await settleWebhooks();
    expect((await attemptsOf(pi.order.id)).map((a) => a.status)).toEqual(['succeeded']);
    expect((await attemptsOf(cs.order.id)).map((a) => a.status)).toEqual(['succeeded']);
    expect((await attemptsOf(switched.order.id)).map((a) => a.status)).toEqual(['canceled', 'succeeded']);
    for (const orderId of [pi.order.id, cs.order.id, switched.order.id]) {
      const { order, payments, logs } = await orderState(orderId);
      expect(order).toMatchObject({ status: 'paid', sync_state: 'confirmed' });
      expect(payments).toEqual([expect.objectContaining({ status: 'succeeded', finding: null })]);
      expect(logs).toEqual([]);
    }
  });
});
