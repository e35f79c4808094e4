// Every object type the sandbox returns, built through the official SDK, checked against Stripe's
// published OpenAPI description and Stripe's own sample objects (their trimmed copy in
// tests/fixtures/stripe-openapi/): types, enums, required fields, and the presence of every field
// Stripe returns. The fields that changed in API versions after the spec's are excused by name in
// tests/helpers/stripeSchema.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stripeSchemaErrors, stripeShapeProblems } from '../helpers/stripeSchema';
import { DISPUTE_WITHDRAWAL_DELAY_SECONDS } from '../../stripe-sandbox/resources/disputes';
import { REFUND_FAILURE_DELAY_SECONDS } from '../../stripe-sandbox/resources/refunds';
import { startSandboxHarness } from '../helpers/stripeSandbox';

const h = startSandboxHarness();
afterAll(() => h.close());

const shape = (value: unknown, schema?: string) => stripeShapeProblems(value as Record<string, unknown>, schema);

describe('sandbox conformance with Stripe’s OpenAPI description', () => {
  let objects: Record<string, unknown> = {};

  beforeAll(async () => {
    const { stripe } = h;
    const customer = await stripe.customers.create({ email: 'conformance@example.com', name: 'Conformance' });
    const product = await stripe.products.create({ name: 'Business Plan Builder' });
    const price = await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 9900 });
    const monthly = await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 4900, recurring: { interval: 'month' } });
    const premium = await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 9900, recurring: { interval: 'month' } });
    const paymentIntent = await stripe.paymentIntents.create({ amount: 9900, currency: 'usd', customer: customer.id, payment_method: 'pm_card_visa', confirm: true, return_url: 'https://shop.example/return' });
    const charge = await stripe.charges.retrieve(paymentIntent.latest_charge as string);
    const refund = await stripe.refunds.create({ payment_intent: paymentIntent.id, amount: 1000 });
    const disputed = await stripe.paymentIntents.create({ amount: 4900, currency: 'usd', payment_method: 'pm_card_createDispute', confirm: true, return_url: 'https://shop.example/return' });
    const refundFail = await stripe.paymentIntents.create({ amount: 2500, currency: 'usd', payment_method: 'pm_card_refundFail', confirm: true, return_url: 'https://shop.example/return' });
    const toFail = await stripe.refunds.create({ payment_intent: refundFail.id });
    // Sandbox time moves on: the dispute's funds are withdrawn and the refund-failure card's refund fails.
    await h.sandbox.advanceClock(Math.max(DISPUTE_WITHDRAWAL_DELAY_SECONDS, REFUND_FAILURE_DELAY_SECONDS));
    const failedRefund = await stripe.refunds.retrieve(toFail.id);
    const disputes = await stripe.disputes.list({ limit: 1 });
    const session = await stripe.checkout.sessions.create({
      mode: 'payment',
      line_items: [{ price: price.id, quantity: 1 }],
      success_url: 'https://shop.example/success?session_id={CHECKOUT_SESSION_ID}',
      cancel_url: 'https://shop.example/cancel',
    });
    const subscription = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: monthly.id }], default_payment_method: 'pm_card_visa' });
    const invoice = await stripe.invoices.retrieve(subscription.latest_invoice as string);
    const preview = await stripe.invoices.createPreview({
      customer: customer.id,
      subscription: subscription.id,
      subscription_details: { items: [{ id: subscription.items.data[0]!.id, price: premium.id }], proration_behavior: 'create_prorations' },
    });
    const endpoint = await stripe.webhookEndpoints.create({ url: 'https://shop.example/hook', enabled_events: ['*'] });
    await h.sandbox.flushWebhooks();
    const events = await stripe.events.list({ limit: 100 });
    objects = { customer, product, price, paymentIntent, disputed, charge, refund, failedRefund, dispute: disputes.data[0], session, subscription, invoice, preview, endpoint, events };
  }, 60_000);

  it.each([
    ['customer', 'customer'],
    ['product', 'product'],
    ['price', 'price'],
    ['paymentIntent', 'payment_intent'],
    ['disputed', 'payment_intent'],
    ['charge', 'charge'],
    ['refund', 'refund'],
    ['failedRefund', 'refund'],
    ['dispute', 'dispute'],
    ['session', 'checkout.session'],
    ['subscription', 'subscription'],
    ['invoice', 'invoice'],
    ['preview', 'invoice'],
    ['endpoint', 'webhook_endpoint'],
  ])('%s matches the %s schema', (name, schema) => {
    expect(objects[name], name).toBeDefined();
    expect(shape(objects[name], schema)).toEqual([]);
  }, 30_000);

  it('the failed refund and the dispute’s withdrawal are as Stripe sends them', () => {
    expect(objects.failedRefund).toMatchObject({ status: 'failed', failure_reason: 'expired_or_canceled_card', failure_balance_transaction: expect.stringMatching(/^txn_/) });
    const dispute = objects.dispute as { balance_transactions: unknown[] };
    expect(dispute.balance_transactions).toHaveLength(1);
    for (const transaction of dispute.balance_transactions) expect(shape(transaction, 'balance_transaction')).toEqual([]);
  });

  it('subscription items and invoice lines match their schemas', () => {
    const subscription = objects.subscription as { items: { data: unknown[] } };
    for (const item of subscription.items.data) expect(shape(item, 'subscription_item')).toEqual([]);
    const invoice = objects.invoice as { lines: { data: unknown[] } };
    for (const line of invoice.lines.data) expect(shape(line, 'line_item')).toEqual([]);
  });

  /** Object types added after the vendored spec: invoice_payment came with API 2025-03-31.basil. */
  const NEWER_THAN_SPEC = ['invoice_payment'];

  it('every event matches the event schema, and its object the schema its type names', () => {
    const events = (objects.events as { data: Array<{ type: string; data: { object: { object: string } } }> }).data;
    expect(events.length).toBeGreaterThan(10);
    for (const event of events) {
      expect(shape(event, 'event'), event.type).toEqual([]);
      const inner = event.data.object;
      // The vendored spec (2024-04-10) predates these objects; tests/sandbox/invoicePayments.test.ts
      // checks their fields against stripe-node's types instead.
      if (NEWER_THAN_SPEC.includes(inner.object)) continue;
      expect(stripeSchemaErrors(inner.object, inner), `${event.type} → ${inner.object}`).toEqual([]);
    }
  });

  it('errors match the error schema', async () => {
    const response = await h.sandbox.handle(new Request('https://api.stripe.com/v1/payment_intents/pi_missing', { headers: { authorization: 'Bearer sk_test_x' } }));
    expect(response.status).toBe(404);
    expect(stripeSchemaErrors('error', await response.json())).toEqual([]);
  });
});
