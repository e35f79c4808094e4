// Disputes as Stripe makes them in test mode (pm_card_createDispute, 4000 0000 0000 0259): the
// dispute opens, then the funds are withdrawn (a balance transaction on the dispute: minus the amount,
// plus the dispute fee; charge.dispute.funds_withdrawn); a refund of the disputed charge is refused.
// Driven through the official SDK; shapes checked against Stripe's OpenAPI description.
import Stripe from 'stripe';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { SandboxClock } from '../../stripe-sandbox/clock';
import { DISPUTE_FEE, DISPUTE_WITHDRAWAL_DELAY_SECONDS } from '../../stripe-sandbox/resources/disputes';
import { REFUND_FAILURE_DELAY_SECONDS } from '../../stripe-sandbox/resources/refunds';
import { createStripeSandbox } from '../../stripe-sandbox/sandbox';
import { stripeShapeProblems } from '../helpers/stripeSchema';
import { startSandboxHarness, stripeError } from '../helpers/stripeSandbox';

// One msw server per file: msw patches the process's fetch once.
const h = startSandboxHarness();
afterAll(() => h.close());
beforeEach(() => h.reset());

async function disputedPayment(amount = 5000) {
  const pi = await h.stripe.paymentIntents.create({ amount, currency: 'usd', payment_method: 'pm_card_createDispute', confirm: true, return_url: 'https://shop.example/return' });
  const [dispute] = (await h.stripe.disputes.list({ payment_intent: pi.id })).data;
  return { pi, chargeId: pi.latest_charge as string, dispute: dispute! };
}

describe('a dispute withdraws the funds', () => {
  it('opens with nothing withdrawn, then shows the withdrawal (amount and dispute fee) and sends charge.dispute.funds_withdrawn once', async () => {
    const { chargeId, dispute } = await disputedPayment(5000);
    expect(dispute).toMatchObject({ status: 'needs_response', reason: 'fraudulent', amount: 5000, charge: chargeId, balance_transactions: [], is_charge_refundable: false });
    await h.sandbox.flushWebhooks();
    expect(h.received.map((e) => e.type)).toEqual(['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded', 'charge.dispute.created']);

    await h.sandbox.advanceClock(DISPUTE_WITHDRAWAL_DELAY_SECONDS);
    const withdrawn = await h.stripe.disputes.retrieve(dispute.id);
    expect(withdrawn.balance_transactions).toEqual([
      {
        id: expect.stringMatching(/^txn_/),
        object: 'balance_transaction',
        amount: -5000,
        available_on: expect.any(Number),
        balance_type: 'payments',
        created: expect.any(Number),
        currency: 'usd',
        description: `Chargeback withdrawal for ${chargeId}`,
        exchange_rate: null,
        fee: DISPUTE_FEE,
        fee_details: [{ amount: DISPUTE_FEE, application: null, currency: 'usd', description: 'Dispute fee', type: 'stripe_fee' }],
        net: -5000 - DISPUTE_FEE,
        reporting_category: 'dispute',
        source: dispute.id,
        status: 'available',
        type: 'adjustment',
      },
    ]);
    expect(stripeShapeProblems(withdrawn as never, 'dispute')).toEqual([]);
    expect(stripeShapeProblems(withdrawn.balance_transactions[0] as never, 'balance_transaction')).toEqual([]);

    const event = h.received.at(-1)!;
    expect(event.type).toBe('charge.dispute.funds_withdrawn');
    expect(event.data.object).toEqual(withdrawn);
    expect(event.request).toEqual({ id: null, idempotency_key: null });

    await h.sandbox.advanceClock(3600);
    expect(h.received.filter((e) => e.type === 'charge.dispute.funds_withdrawn')).toHaveLength(1);
    expect((await h.stripe.disputes.retrieve(dispute.id)).balance_transactions).toHaveLength(1);
  });

  it('has its evidence due at the end of a day (23:59:59 UTC) at least a week out, and says the charge is no longer refundable', async () => {
    const { dispute } = await disputedPayment();
    const dueBy = dispute.evidence_details.due_by!;
    expect(dueBy % 86400).toBe(86399);
    expect(dueBy).toBeGreaterThanOrEqual(dispute.created + 7 * 86400);
    expect(dueBy).toBeLessThan(dispute.created + 8 * 86400);
    expect(dispute.evidence_details).toMatchObject({ has_evidence: false, past_due: false, submission_count: 0 });
    expect(dispute.is_charge_refundable).toBe(false);
  });

  it('a refund of the disputed charge is refused with charge_disputed and changes nothing', async () => {
    const { pi, chargeId } = await disputedPayment(4000);
    for (const call of [h.stripe.refunds.create({ charge: chargeId }), h.stripe.refunds.create({ payment_intent: pi.id, amount: 100 })]) {
      expect(await stripeError(call)).toMatchObject({ type: 'StripeInvalidRequestError', statusCode: 400, code: 'charge_disputed', param: 'charge' });
    }
    expect((await h.stripe.refunds.list({ payment_intent: pi.id })).data).toEqual([]);
    expect(await h.stripe.charges.retrieve(chargeId)).toMatchObject({ amount_refunded: 0, refunded: false, disputed: true });
  });

  it('a dispute closed (lost) before the withdrawal still has its funds withdrawn', async () => {
    const { dispute } = await disputedPayment(1000);
    await h.stripe.disputes.close(dispute.id);
    await h.sandbox.advanceClock(DISPUTE_WITHDRAWAL_DELAY_SECONDS);
    const after = await h.stripe.disputes.retrieve(dispute.id);
    expect(after.status).toBe('lost');
    expect(after.balance_transactions.map((t) => t.amount)).toEqual([-1000]);
  });
});

describe('the delayed steps on a sandbox delivering on its own timer (npm start)', () => {
  it('withdraw a dispute’s funds and fail a pm_card_refundFail refund once real time has passed, without a clock advance', async () => {
    let realNowMs = Date.UTC(2026, 11, 7, 12, 0, 0);
    const sandbox = createStripeSandbox({ publicUrl: 'http://127.0.0.1', clock: new SandboxClock(() => realNowMs), log: () => {} });
    const stripe = new Stripe('sk_test_timer', {
      httpClient: Stripe.createFetchHttpClient((input, init) => sandbox.handle(new Request(input as string, init))),
      maxNetworkRetries: 0,
    });
    sandbox.core.events.startAutoDelivery(5);
    try {
      const disputed = await stripe.paymentIntents.create({ amount: 2000, currency: 'usd', payment_method: 'pm_card_createDispute', confirm: true, return_url: 'https://shop.example/return' });
      const paid = await stripe.paymentIntents.create({ amount: 3000, currency: 'usd', payment_method: 'pm_card_refundFail', confirm: true, return_url: 'https://shop.example/return' });
      const refund = await stripe.refunds.create({ payment_intent: paid.id });
      const [dispute] = (await stripe.disputes.list({ payment_intent: disputed.id })).data;

      realNowMs += Math.max(DISPUTE_WITHDRAWAL_DELAY_SECONDS, REFUND_FAILURE_DELAY_SECONDS) * 1000;
      await vi.waitFor(async () => {
        expect((await stripe.refunds.retrieve(refund.id)).status).toBe('failed');
        expect((await stripe.disputes.retrieve(dispute!.id)).balance_transactions).toHaveLength(1);
      });
      const types = (await stripe.events.list({ limit: 100 })).data.map((e) => e.type);
      expect(types).toEqual(expect.arrayContaining(['refund.failed', 'charge.dispute.funds_withdrawn']));
    } finally {
      sandbox.core.events.stopAutoDelivery();
    }
  });
});
