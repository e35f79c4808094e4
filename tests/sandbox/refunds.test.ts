import type Stripe from 'stripe';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { REFUND_FAILURE_DELAY_SECONDS } from '../../stripe-sandbox/resources/refunds';
import { stripeShapeProblems } from '../helpers/stripeSchema';
import { startSandboxHarness, stripeError } from '../helpers/stripeSandbox';

// One msw server per file: msw patches the process's fetch once.
const h = startSandboxHarness();
afterAll(() => h.close());
beforeEach(() => h.reset());

async function paid(amount = 2000, paymentMethod = 'pm_card_visa'): Promise<{ pi: Stripe.PaymentIntent; chargeId: string }> {
  const pi = await h.stripe.paymentIntents.create({ amount, currency: 'usd', payment_method: paymentMethod, confirm: true, return_url: 'https://shop.example/return' });
  return { pi, chargeId: pi.latest_charge as string };
}

/** A response header (with the fetch HTTP client, lastResponse.headers is a Headers despite the typings). */
function header(response: { lastResponse: { headers: unknown } }, name: string): string | undefined {
  const headers = response.lastResponse.headers as Headers | Record<string, string>;
  return headers instanceof Headers ? (headers.get(name) ?? undefined) : headers[name];
}

async function eventsSince(count: number): Promise<Stripe.Event[]> {
  await h.sandbox.flushWebhooks();
  return h.received.slice(count);
}

describe('Refunds', () => {
  it('refunds a PaymentIntent in full: refund.created, charge.refunded, charge fields follow', async () => {
    const { pi, chargeId } = await paid(2000);
    await h.sandbox.flushWebhooks();
    const seen = h.received.length;
    const refund = await h.stripe.refunds.create({ payment_intent: pi.id, reason: 'requested_by_customer', metadata: { ticket: 'T-1' } });
    expect(refund).toMatchObject({
      object: 'refund',
      amount: 2000,
      currency: 'usd',
      charge: chargeId,
      payment_intent: pi.id,
      reason: 'requested_by_customer',
      status: 'succeeded',
      metadata: { ticket: 'T-1' },
    });
    expect(refund.id).toMatch(/^re_/);
    expect(refund.balance_transaction).toMatch(/^txn_/);
    const charge = await h.stripe.charges.retrieve(chargeId);
    expect(charge).toMatchObject({ amount_refunded: 2000, refunded: true, refunds: null });
    const expanded = await h.stripe.charges.retrieve(chargeId, { expand: ['refunds'] });
    expect(expanded.refunds?.data.map((r) => r.id)).toEqual([refund.id]);

    const events = await eventsSince(seen);
    expect(events.map((e) => e.type)).toEqual(['refund.created', 'charge.refunded']);
    expect((events[0]!.data.object as Stripe.Refund).id).toBe(refund.id);
    expect(events[1]!.data.object).toMatchObject({ id: chargeId, amount_refunded: 2000, refunded: true });
    expect(events[1]!.data.previous_attributes).toEqual({ amount_refunded: 0, refunded: false });
  });

  it('refunds partially by charge, then the rest; refuses over-refunds and refunds of a refunded charge', async () => {
    const { pi, chargeId } = await paid(1000);
    // Stripe's over-refund refusal names the param and carries no code.
    expect(await stripeError(h.stripe.refunds.create({ charge: chargeId, amount: 1500 }))).toEqual({
      type: 'StripeInvalidRequestError',
      statusCode: 400,
      code: undefined,
      param: 'amount',
      declineCode: undefined,
      message: 'Refund amount ($15.00) is greater than charge amount ($10.00)',
    });
    const first = await h.stripe.refunds.create({ charge: chargeId, amount: 300 });
    expect(first.amount).toBe(300);
    expect(await h.stripe.charges.retrieve(chargeId)).toMatchObject({ amount_refunded: 300, refunded: false });
    expect(await stripeError(h.stripe.refunds.create({ charge: chargeId, amount: 800 }))).toMatchObject({
      type: 'StripeInvalidRequestError',
      statusCode: 400,
      code: undefined,
      param: 'amount',
      message: 'Refund amount ($8.00) is greater than unrefunded amount on charge ($7.00)',
    });
    // A refusal changes nothing: no refund, the charge as it was.
    expect((await h.stripe.refunds.list({ charge: chargeId })).data.map((r) => r.amount)).toEqual([300]);
    expect(await h.stripe.charges.retrieve(chargeId)).toMatchObject({ amount_refunded: 300, refunded: false });
    const rest = await h.stripe.refunds.create({ payment_intent: pi.id });
    expect(rest.amount).toBe(700);
    expect(await h.stripe.charges.retrieve(chargeId)).toMatchObject({ amount_refunded: 1000, refunded: true });
    await expect(h.stripe.refunds.create({ charge: chargeId })).rejects.toMatchObject({ statusCode: 400, code: 'charge_already_refunded' });
    await expect(h.stripe.refunds.create({ charge: chargeId, amount: 1 })).rejects.toMatchObject({ statusCode: 400, code: 'charge_already_refunded' });
  });

  it('validates parameters the way Stripe does', async () => {
    const { pi, chargeId } = await paid(1000);
    await expect(h.stripe.refunds.create({} as never)).rejects.toMatchObject({ statusCode: 400 });
    await expect(h.stripe.refunds.create({ charge: chargeId, reason: 'changed_mind' } as never)).rejects.toMatchObject({ statusCode: 400, param: 'reason' });
    await expect(h.stripe.refunds.create({ charge: chargeId, bogus: 'x' } as never)).rejects.toMatchObject({ statusCode: 400, code: 'parameter_unknown', param: 'bogus' });
    await expect(h.stripe.refunds.create({ charge: 'ch_missing' })).rejects.toMatchObject({ statusCode: 404, code: 'resource_missing', param: 'charge' });
    const unpaid = await h.stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    await expect(h.stripe.refunds.create({ payment_intent: unpaid.id })).rejects.toMatchObject({ statusCode: 400, param: 'payment_intent' });
    expect((await h.stripe.refunds.list({ payment_intent: pi.id })).data).toEqual([]);
  });

  it('retrieves, lists (charge, payment_intent, created, pagination) and updates metadata (refund.updated)', async () => {
    const a = await paid(1000);
    const b = await paid(2000);
    const r1 = await h.stripe.refunds.create({ charge: a.chargeId, amount: 100 });
    await h.sandbox.advanceClock(60);
    const r2 = await h.stripe.refunds.create({ charge: a.chargeId, amount: 200 });
    await h.sandbox.advanceClock(60);
    const r3 = await h.stripe.refunds.create({ payment_intent: b.pi.id, amount: 300 });

    expect((await h.stripe.refunds.retrieve(r2.id)).amount).toBe(200);
    expect((await h.stripe.refunds.list()).data.map((r) => r.id)).toEqual([r3.id, r2.id, r1.id]);
    expect((await h.stripe.refunds.list({ charge: a.chargeId })).data.map((r) => r.id)).toEqual([r2.id, r1.id]);
    expect((await h.stripe.refunds.list({ payment_intent: b.pi.id })).data.map((r) => r.id)).toEqual([r3.id]);
    expect((await h.stripe.refunds.list({ created: { gte: r2.created } })).data.map((r) => r.id)).toEqual([r3.id, r2.id]);
    const page = await h.stripe.refunds.list({ limit: 1, starting_after: r3.id });
    expect(page.data.map((r) => r.id)).toEqual([r2.id]);
    expect(page.has_more).toBe(true);

    await h.sandbox.flushWebhooks();
    const seen = h.received.length;
    const updated = await h.stripe.refunds.update(r1.id, { metadata: { reason_detail: 'damaged' } });
    expect(updated.metadata).toEqual({ reason_detail: 'damaged' });
    await expect(h.stripe.refunds.update(r1.id, { amount: 5 } as never)).rejects.toMatchObject({ statusCode: 400, code: 'parameter_unknown', param: 'amount' });
    const events = await eventsSince(seen);
    expect(events.map((e) => e.type)).toEqual(['refund.updated']);
    expect(events[0]!.data.previous_attributes).toEqual({ metadata: {} });
  });
});

describe('the refund-failure test card (pm_card_refundFail, 4000 0000 0000 5126)', () => {
  it('pays; its refund is created succeeded, then fails later: failure_reason, failure_balance_transaction, refund.failed, the charge’s amount_refunded back down', async () => {
    const { pi, chargeId } = await paid(5000, 'pm_card_refundFail');
    expect(pi.status).toBe('succeeded');
    await h.sandbox.flushWebhooks();
    const seen = h.received.length;

    const refund = await h.stripe.refunds.create({ payment_intent: pi.id, amount: 2000, metadata: { refund_id: 'ours-1' } });
    expect(refund).toMatchObject({ status: 'succeeded', amount: 2000, metadata: { refund_id: 'ours-1' } });
    expect(refund.failure_reason).toBeUndefined();
    expect(await h.stripe.charges.retrieve(chargeId)).toMatchObject({ amount_refunded: 2000, refunded: false });
    // Until sandbox time moves on, nothing more happens.
    expect((await eventsSince(seen)).map((e) => e.type)).toEqual(['refund.created', 'charge.refunded']);
    expect((await h.stripe.refunds.retrieve(refund.id)).status).toBe('succeeded');

    await h.sandbox.advanceClock(REFUND_FAILURE_DELAY_SECONDS);
    const failed = await h.stripe.refunds.retrieve(refund.id);
    expect(failed).toMatchObject({ status: 'failed', failure_reason: 'expired_or_canceled_card', amount: 2000, metadata: { refund_id: 'ours-1' } });
    expect(failed.failure_balance_transaction).toMatch(/^txn_/);
    expect(failed.failure_balance_transaction).not.toBe(failed.balance_transaction);
    expect(stripeShapeProblems(failed as never, 'refund')).toEqual([]);
    expect(await h.stripe.charges.retrieve(chargeId)).toMatchObject({ amount_refunded: 0, refunded: false });

    const events = (await eventsSince(seen)).slice(2);
    expect(events.map((e) => e.type)).toEqual(['refund.updated', 'charge.refund.updated', 'refund.failed']);
    for (const event of events) {
      expect(event.data.object).toMatchObject({ id: refund.id, status: 'failed', failure_reason: 'expired_or_canceled_card' });
      expect(event.request).toEqual({ id: null, idempotency_key: null });
    }
    expect(events[0]!.data.previous_attributes).toEqual({ status: 'succeeded', failure_reason: null, failure_balance_transaction: null });

    // The failed amount can be refunded again (and that refund fails too, being on the same card).
    const again = await h.stripe.refunds.create({ charge: chargeId });
    expect(again).toMatchObject({ status: 'succeeded', amount: 5000 });
    await h.sandbox.advanceClock(REFUND_FAILURE_DELAY_SECONDS);
    expect((await h.stripe.refunds.list({ payment_intent: pi.id })).data.map((r) => [r.amount, r.status])).toEqual([[5000, 'failed'], [2000, 'failed']]);
    expect(await h.stripe.charges.retrieve(chargeId)).toMatchObject({ amount_refunded: 0, refunded: false });
    // Each refund fails once.
    await h.sandbox.advanceClock(REFUND_FAILURE_DELAY_SECONDS);
    expect(h.received.filter((e) => e.type === 'refund.failed').map((e) => (e.data.object as Stripe.Refund).id)).toEqual([refund.id, again.id]);
  });

  it('refunds of other cards still succeed for good when sandbox time moves on', async () => {
    const { pi } = await paid(1000);
    const refund = await h.stripe.refunds.create({ payment_intent: pi.id });
    await h.sandbox.advanceClock(REFUND_FAILURE_DELAY_SECONDS * 10);
    expect(await h.stripe.refunds.retrieve(refund.id)).toMatchObject({ status: 'succeeded' });
    expect(h.received.map((e) => e.type)).not.toContain('refund.failed');
  });

  it('the hosted payment page takes the card number 4000 0000 0000 5126 as that card', async () => {
    const { paymentMethodForCardNumber } = await import('../../stripe-sandbox/resources/paymentMethods');
    expect(paymentMethodForCardNumber('4000 0000 0000 5126')).toBe('pm_card_refundFail');
  });
});

describe('what already matched Stripe stays so', () => {
  it('a repeated Idempotency-Key replays the same refund (Idempotent-Replayed) and refunds once', async () => {
    const { pi, chargeId } = await paid(3000);
    const first = await h.stripe.refunds.create({ payment_intent: pi.id, amount: 1000, metadata: { refund_id: 'r-1' } }, { idempotencyKey: 'create_refund:r-1' });
    const second = await h.stripe.refunds.create({ payment_intent: pi.id, amount: 1000, metadata: { refund_id: 'r-1' } }, { idempotencyKey: 'create_refund:r-1' });
    expect(second.id).toBe(first.id);
    expect(header(second, 'idempotent-replayed')).toBe('true');
    expect(header(first, 'idempotent-replayed')).toBeUndefined();
    expect(second.metadata).toEqual({ refund_id: 'r-1' });
    expect((await h.stripe.refunds.list({ payment_intent: pi.id })).data.map((r) => r.id)).toEqual([first.id]);
    expect(await h.stripe.charges.retrieve(chargeId)).toMatchObject({ amount_refunded: 1000 });
  });
});
