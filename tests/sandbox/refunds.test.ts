import type Stripe from 'stripe';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { startSandboxHarness } from '../helpers/stripeSandbox';

// One msw server per file: msw patches the process's fetch once.
const h = startSandboxHarness();
afterAll(() => h.close());
beforeEach(() => h.reset());

async function paid(amount = 2000): Promise<{ pi: Stripe.PaymentIntent; chargeId: string }> {
  const pi = await h.stripe.paymentIntents.create({ amount, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, return_url: 'https://shop.example/return' });
  return { pi, chargeId: pi.latest_charge as string };
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
    await expect(h.stripe.refunds.create({ charge: chargeId, amount: 1500 })).rejects.toMatchObject({
      type: 'StripeInvalidRequestError',
      statusCode: 400,
      code: 'amount_too_large',
      param: 'amount',
      message: 'Refund amount ($15.00) is greater than charge amount ($10.00)',
    });
    const first = await h.stripe.refunds.create({ charge: chargeId, amount: 300 });
    expect(first.amount).toBe(300);
    expect(await h.stripe.charges.retrieve(chargeId)).toMatchObject({ amount_refunded: 300, refunded: false });
    await expect(h.stripe.refunds.create({ charge: chargeId, amount: 800 })).rejects.toMatchObject({
      statusCode: 400,
      code: 'amount_too_large',
      message: 'Refund amount ($8.00) is greater than unrefunded amount on charge ($7.00)',
    });
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
