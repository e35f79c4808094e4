// What happens when a step fails: the database after Stripe succeeded (compensation, then the
// janitor's mark), Stripe itself (outage, rate limit), and a crash between Stripe's answer and our
// record of it. Database failures are injected by a decorator over the real engine (faultyDb); Stripe
// failures by the sandbox's fault injection, so the SDK's own retries are exercised.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CheckoutServer, newKey, startCheckoutServer } from '../helpers/checkout';
import { type FaultyDb, faultyDb } from '../../server/platform/db/faultyDb';

let server: CheckoutServer;
let faults: FaultyDb;
beforeAll(async () => {
  // STRIPE_MAX_NETWORK_RETRIES=1 (the helper's default): each Stripe call is tried twice.
  server = await startCheckoutServer({}, { wrapDb: (db) => (faults = faultyDb(db)).db });
  // The storefront's own paths are under test here: no webhook may settle an order before them.
  server.app.stripeSandbox!.core.events.stopAutoDelivery();
});
afterAll(() => server?.stop());

const guest = () => ({ idempotencyKey: newKey(), track: 'business_plan_builder', email: `guest-${randomUUID()}@example.com` });
const sandbox = () => server.app.stripeSandbox!;
const RECORD = /checkout_record_attempt/;
const MARK = /checkout_mark_attempt/;

async function attemptsOf(email: string) {
  const { rows } = await server.app.db.query<{ order_id: string; attempt: number; kind: string; status: string; stripe_object_id: string | null; last_error: string | null }>(
    `select a.order_id, a.attempt, a.kind, a.status, a.stripe_object_id, a.last_error
       from payment_attempts a join orders o on o.id = a.order_id join customers c on c.id = o.customer_id
      where c.email = $1 order by a.attempt`,
    [email],
  );
  return rows;
}

async function logTypes(orderId: string) {
  const { rows } = await server.app.db.query<{ event_type: string }>('select event_type from payment_logs where order_id = $1 order by id', [orderId]);
  return rows.map((row) => row.event_type);
}

const intentsFor = async (orderId: string) => (await server.app.stripe.paymentIntents.list({ limit: 100 })).data.filter((pi) => pi.metadata.order_id === orderId);

describe('the database fails after Stripe created the object', () => {
  it('cancels the PaymentIntent before answering with the error, and a retry with the same key starts a clean attempt', async () => {
    const input = guest();
    faults.failNext(RECORD);
    const failed = await server.createPaymentIntent(input);
    expect(failed.body.errors?.[0]?.extensions).toMatchObject({ code: 'INTERNAL', requestId: expect.any(String) });
    expect(failed.body.data?.createPaymentIntent ?? null).toBeNull();

    const [attempt] = await attemptsOf(input.email);
    expect(attempt).toMatchObject({ attempt: 1, status: 'canceled', stripe_object_id: expect.stringMatching(/^pi_/) });
    expect(attempt!.last_error).toContain('record step failed');
    const canceled = await server.app.stripe.paymentIntents.retrieve(attempt!.stripe_object_id!);
    expect(canceled).toMatchObject({ status: 'canceled', cancellation_reason: 'abandoned' });
    expect(await logTypes(attempt!.order_id)).toEqual(['order.created', 'checkout.attempt_started', 'checkout.attempt_canceled']);

    const retried = (await server.createPaymentIntent(input)).body.data.createPaymentIntent;
    expect(retried).toMatchObject({ isRepeat: false, error: null, order: { id: attempt!.order_id } });
    expect(retried.paymentIntentId).not.toBe(attempt!.stripe_object_id);
    expect((await attemptsOf(input.email)).map((a) => [a.attempt, a.status])).toEqual([
      [1, 'canceled'],
      [2, 'open'],
    ]);
  });

  it('expires the Checkout Session the same way', async () => {
    const input = { ...guest(), track: 'website_audit_feedback' };
    faults.failNext(RECORD);
    const failed = await server.createCheckoutSession(input);
    expect(failed.body.errors?.[0]?.extensions?.code).toBe('INTERNAL');
    const [attempt] = await attemptsOf(input.email);
    expect(attempt).toMatchObject({ kind: 'checkout_session', status: 'expired', stripe_object_id: expect.stringMatching(/^cs_test_/) });
    expect((await server.app.stripe.checkout.sessions.retrieve(attempt!.stripe_object_id!)).status).toBe('expired');
  });

  it('marks the attempt needs_cleanup for the janitor when cancelling at Stripe fails too', async () => {
    const input = guest();
    // When the record step fails, make Stripe fail the cancel call and its retry.
    faults.failNext(RECORD, { onFail: () => sandbox().failNext('api_error', 'api_error') });
    const failed = await server.createPaymentIntent(input);
    expect(failed.body.errors?.[0]?.extensions?.code).toBe('INTERNAL');

    const [attempt] = await attemptsOf(input.email);
    expect(attempt).toMatchObject({ status: 'needs_cleanup', stripe_object_id: expect.stringMatching(/^pi_/) });
    expect(attempt!.last_error).toMatch(/record step failed.*closing it failed: StripeAPIError 500/);
    expect((await server.app.stripe.paymentIntents.retrieve(attempt!.stripe_object_id!)).status).toBe('requires_payment_method');
    const { rows } = await server.app.db.query("select count(*)::int as n from payment_attempts where status = 'needs_cleanup' and stripe_object_id = $1", [attempt!.stripe_object_id]);
    expect(rows[0]).toEqual({ n: 1 });
  });
});

describe('a crash between Stripe’s answer and our record of it', () => {
  it('leaves the attempt with its Stripe key, so the retry gets the same PaymentIntent back instead of a second one', async () => {
    const input = guest();
    // Simulate the process dying right after Stripe answered: the record fails, the compensation
    // cannot reach Stripe, and nothing more reaches the database. The attempt stays `creating`.
    faults.failNext(RECORD, { onFail: () => sandbox().failNext('connection_reset', 'connection_reset') });
    faults.failNext(MARK);
    await server.createPaymentIntent(input);
    const [stranded] = await attemptsOf(input.email);
    expect(stranded).toMatchObject({ status: 'creating', stripe_object_id: null });
    const [made] = await intentsFor(stranded!.order_id);
    expect(made).toBeDefined();

    const retried = (await server.createPaymentIntent(input)).body.data.createPaymentIntent;
    expect(retried).toMatchObject({ error: null, paymentIntentId: made!.id, order: { id: stranded!.order_id } });
    expect((await intentsFor(stranded!.order_id)).map((pi) => pi.id)).toEqual([made!.id]);
    expect(await attemptsOf(input.email)).toMatchObject([{ attempt: 1, status: 'open', stripe_object_id: made!.id }]);
  });

  it('lets confirmPayment find an unrecorded PaymentIntent through its metadata', async () => {
    const input = guest();
    faults.failNext(RECORD, { onFail: () => sandbox().failNext('connection_reset', 'connection_reset') });
    faults.failNext(MARK);
    await server.createPaymentIntent(input);
    const [stranded] = await attemptsOf(input.email);
    const [made] = await intentsFor(stranded!.order_id);
    await server.app.stripe.paymentIntents.confirm(made!.id, { payment_method: 'pm_card_visa', return_url: 'https://shop.test/return' });

    const confirmed = (await server.confirmPayment({ paymentIntentId: made!.id })).body.data.confirmPayment;
    expect(confirmed).toMatchObject({ outcome: 'SUCCEEDED', order: { id: stranded!.order_id, status: 'PAID', syncState: 'PROVISIONAL' } });
    expect(await attemptsOf(input.email)).toMatchObject([{ status: 'succeeded', stripe_object_id: made!.id }]);
  });
});

describe('Stripe is unavailable', () => {
  it.each([
    ['a 500 outage', ['api_error', 'api_error']],
    ['rate limiting', ['rate_limit', 'rate_limit']],
    ['dropped connections', ['connection_reset', 'connection_reset']],
  ] as const)('answers PAYMENT_PROVIDER_UNAVAILABLE on %s that outlasts the SDK’s retries, with no object and nothing open', async (_name, stripeFaults) => {
    const input = guest();
    sandbox().failNext(...stripeFaults);
    const result = (await server.createPaymentIntent(input)).body.data.createPaymentIntent;
    expect(result).toMatchObject({
      paymentIntentId: null,
      clientSecret: null,
      error: { code: 'PAYMENT_PROVIDER_UNAVAILABLE', message: 'Payments are unavailable for a moment. Nothing was charged. Try again in a minute.' },
    });
    const [attempt] = await attemptsOf(input.email);
    expect(attempt).toMatchObject({ status: 'creating', stripe_object_id: null });
    expect(await intentsFor(attempt!.order_id)).toEqual([]);
    const { rows } = await server.app.db.query('select status, payment_intent_id from orders where id = $1', [attempt!.order_id]);
    expect(rows).toEqual([{ status: 'pending', payment_intent_id: null }]);

    // Once Stripe is back, the same key completes the same attempt: one object.
    const retried = (await server.createPaymentIntent(input)).body.data.createPaymentIntent;
    expect(retried).toMatchObject({ error: null, paymentIntentId: expect.stringMatching(/^pi_/) });
    expect((await intentsFor(attempt!.order_id)).map((pi) => pi.id)).toEqual([retried.paymentIntentId]);
  });

  it('rides out a single failure with the SDK’s retry, under the same idempotency key', async () => {
    const input = guest();
    sandbox().failNext('api_error');
    const result = (await server.createPaymentIntent(input)).body.data.createPaymentIntent;
    expect(result).toMatchObject({ error: null, paymentIntentId: expect.stringMatching(/^pi_/) });
  });

  it('answers PAYMENT_PROVIDER_UNAVAILABLE from confirmPayment and changes nothing', async () => {
    const created = (await server.createPaymentIntent(guest())).body.data.createPaymentIntent;
    const before = await server.counts();
    sandbox().failNext('api_error', 'api_error');
    const result = (await server.confirmPayment({ paymentIntentId: created.paymentIntentId })).body.data.confirmPayment;
    expect(result).toMatchObject({ outcome: null, order: null, error: { code: 'PAYMENT_PROVIDER_UNAVAILABLE' } });
    expect(await server.counts()).toEqual(before);
  });
});
