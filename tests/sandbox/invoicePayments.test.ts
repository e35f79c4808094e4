// Issue 19's sandbox: what subscription code needs, as Stripe does it for the API version we pin
// (2026-10-28.endive). An invoice is paid through its invoice payment's PaymentIntent (found from
// the invoice's includable `payments`, or GET /v1/invoice_payments?invoice=) so a subscription
// payment can be refunded; pending prorations are invoice items; and the flows a subscription goes
// through: hosted Checkout in subscription mode, a switch whose charge is declined, a failed renewal.
import type Stripe from 'stripe';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { SANDBOX_PUBLIC_URL, startSandboxHarness, stripeError } from '../helpers/stripeSandbox';

// One msw server per file: msw patches the process's fetch once.
const h = startSandboxHarness();
afterAll(() => h.close());
beforeEach(() => h.reset());

const DAY = 86400;

async function setup() {
  const customer = await h.stripe.customers.create({ email: 'sub@example.com' });
  const basicProduct = await h.stripe.products.create({ name: 'Basic' });
  const proProduct = await h.stripe.products.create({ name: 'Premium' });
  const basic = await h.stripe.prices.create({ currency: 'usd', unit_amount: 4900, product: basicProduct.id, recurring: { interval: 'month' } });
  const pro = await h.stripe.prices.create({ currency: 'usd', unit_amount: 9900, product: proProduct.id, recurring: { interval: 'month' } });
  return { customer, basic, pro };
}

async function subscribe(customer: string, price: string, extra: Partial<Stripe.SubscriptionCreateParams> = {}) {
  return h.stripe.subscriptions.create({ customer, items: [{ price }], default_payment_method: 'pm_card_visa', ...extra });
}

async function clearEvents() {
  await h.sandbox.flushWebhooks();
  h.received.length = 0;
}
const types = () => h.received.map((e) => e.type);

/** Exact proration as Stripe computes it: round(amount × remaining / period), half away from zero. */
function prorate(amount: number, remaining: number, total: number): number {
  const n = BigInt(amount) * BigInt(remaining);
  const d = BigInt(total);
  return (n < 0n ? -1 : 1) * Number((2n * (n < 0n ? -n : n) + d) / (2n * d));
}

describe('invoice payments', () => {
  it('pays a subscription invoice through an invoice payment and its PaymentIntent, which can be refunded', async () => {
    const { customer, basic } = await setup();
    const sub = await subscribe(customer.id, basic.id);
    const invoiceId = sub.latest_invoice as string;

    // `payments` is includable: absent unless expanded.
    const plain = await h.stripe.invoices.retrieve(invoiceId);
    expect('payments' in plain).toBe(false);
    const invoice = await h.stripe.invoices.retrieve(invoiceId, { expand: ['payments.data.payment.payment_intent'] });
    expect(invoice.payments!.data).toHaveLength(1);
    const payment = invoice.payments!.data[0]!;
    expect(payment).toMatchObject({
      object: 'invoice_payment',
      invoice: invoiceId,
      is_default: true,
      status: 'paid',
      amount_requested: 4900,
      amount_paid: 4900,
      currency: 'usd',
      livemode: false,
      payment: { type: 'payment_intent' },
      status_transitions: { canceled_at: null, paid_at: invoice.status_transitions.paid_at },
    });
    expect(payment.id).toMatch(/^inpay_/);
    const intent = payment.payment.payment_intent as Stripe.PaymentIntent;
    expect(intent).toMatchObject({ object: 'payment_intent', status: 'succeeded', amount: 4900, amount_received: 4900, customer: customer.id, payment_method: sub.default_payment_method, description: 'Subscription creation' });
    // The object has exactly stripe-node's InvoicePayment fields (the vendored spec predates it).
    expect(Object.keys(payment).sort()).toEqual(['amount_paid', 'amount_requested', 'created', 'currency', 'id', 'invoice', 'is_default', 'livemode', 'object', 'payment', 'status', 'status_transitions']);

    // Found by invoice, and by PaymentIntent, and one by one.
    const byInvoice = await h.stripe.invoicePayments.list({ invoice: invoiceId });
    expect(byInvoice.data.map((p) => p.id)).toEqual([payment.id]);
    const byIntent = await h.stripe.invoicePayments.list({ payment: { type: 'payment_intent', payment_intent: intent.id } });
    expect(byIntent.data.map((p) => p.id)).toEqual([payment.id]);
    expect((await h.stripe.invoicePayments.list({ invoice: invoiceId, status: 'open' })).data).toEqual([]);
    expect((await h.stripe.invoicePayments.retrieve(payment.id)).payment.payment_intent).toBe(intent.id);
    // Also through the subscription.
    const withInvoice = await h.stripe.subscriptions.retrieve(sub.id, { expand: ['latest_invoice.payments'] });
    expect((withInvoice.latest_invoice as Stripe.Invoice).payments!.data[0]!.id).toBe(payment.id);

    // A subscription payment is refunded like any other, through its PaymentIntent.
    const refund = await h.stripe.refunds.create({ payment_intent: intent.id, amount: 1000 });
    expect(refund).toMatchObject({ status: 'succeeded', amount: 1000, charge: intent.latest_charge });
    expect(await h.stripe.charges.retrieve(intent.latest_charge as string)).toMatchObject({ amount_refunded: 1000, refunded: false });
  });

  it('sends the payment’s PaymentIntent and Charge events between invoice.finalized and invoice.paid', async () => {
    const { customer, basic } = await setup();
    await clearEvents();
    const sub = await subscribe(customer.id, basic.id);
    await h.sandbox.flushWebhooks();
    expect(types()).toEqual([
      'customer.subscription.created',
      'invoice.created',
      'invoice.finalized',
      'payment_intent.created',
      'charge.succeeded',
      'payment_intent.succeeded',
      'invoice.paid',
      'invoice.payment_succeeded',
      'invoice_payment.paid',
    ]);
    const paid = h.received.find((e) => e.type === 'invoice_payment.paid')!.data.object as Stripe.InvoicePayment;
    expect(paid).toMatchObject({ invoice: sub.latest_invoice, status: 'paid' });
  });

  it('a declined renewal leaves its invoice payment open, its PaymentIntent carrying the decline, the subscription past_due', async () => {
    const { customer, basic } = await setup();
    const sub = await subscribe(customer.id, basic.id);
    const end = sub.items.data[0]!.current_period_end;
    // 4000 0000 0000 0341 attaches, then every charge is declined.
    await h.stripe.subscriptions.update(sub.id, { default_payment_method: 'pm_card_chargeCustomerFail' });
    await clearEvents();
    await h.sandbox.advanceClock(end - sub.start_date);
    const pastDue = await h.stripe.subscriptions.retrieve(sub.id);
    expect(pastDue.status).toBe('past_due');
    // Stripe expands at most 4 levels: from the invoice, not the subscription.
    expect(await stripeError(h.stripe.subscriptions.retrieve(sub.id, { expand: ['latest_invoice.payments.data.payment.payment_intent'] }))).toMatchObject({ statusCode: 400, param: 'expand' });
    const invoice = await h.stripe.invoices.retrieve(pastDue.latest_invoice as string, { expand: ['payments.data.payment.payment_intent'] });
    expect(invoice).toMatchObject({ status: 'open', billing_reason: 'subscription_cycle', amount_due: 4900, amount_paid: 0, attempt_count: 1 });
    const [payment] = invoice.payments!.data;
    expect(payment).toMatchObject({ status: 'open', amount_paid: null, amount_requested: 4900 });
    const intent = payment!.payment.payment_intent as Stripe.PaymentIntent;
    expect(intent).toMatchObject({ status: 'requires_payment_method', description: 'Subscription cycle', last_payment_error: { code: 'card_declined', decline_code: 'generic_decline' } });
    await h.sandbox.flushWebhooks();
    expect(types()).toEqual(['customer.subscription.updated', 'invoice.created', 'invoice.finalized', 'payment_intent.created', 'charge.failed', 'payment_intent.payment_failed', 'invoice.payment_failed']);
  });

  it('refuses bad list parameters the way Stripe does', async () => {
    expect(await stripeError(h.stripe.invoicePayments.list({ payment: { payment_intent: 'pi_x' } } as never))).toMatchObject({ statusCode: 400, code: 'parameter_missing', param: 'payment[type]' });
    expect(await stripeError(h.stripe.invoicePayments.list({ bogus: 1 } as never))).toMatchObject({ statusCode: 400, code: 'parameter_unknown' });
    expect(await stripeError(h.stripe.invoicePayments.retrieve('inpay_missing'))).toMatchObject({ statusCode: 404, code: 'resource_missing' });
    expect(await stripeError(h.stripe.invoiceItems.retrieve('ii_missing'))).toMatchObject({ statusCode: 404, code: 'resource_missing' });
  });
});

describe('pending proration items', () => {
  it('lists a switch’s prorations as pending invoice items, equal to the preview’s lines, until the renewal takes them', async () => {
    const { customer, basic, pro } = await setup();
    const sub = await subscribe(customer.id, basic.id);
    const item = sub.items.data[0]!;
    const { current_period_start: S, current_period_end: E } = item;
    await h.sandbox.advanceClock(10 * DAY);
    const T = S + 10 * DAY;
    const preview = await h.stripe.invoices.createPreview({ subscription: sub.id, subscription_details: { items: [{ id: item.id, price: pro.id }], proration_date: T } });
    await h.stripe.subscriptions.update(sub.id, { items: [{ id: item.id, price: pro.id }], proration_date: T, proration_behavior: 'create_prorations' });

    const pending = await h.stripe.invoiceItems.list({ customer: customer.id, pending: true });
    const expected = [-prorate(4900, E - T, E - S), prorate(9900, E - T, E - S)];
    expect(pending.data.map((ii) => ii.amount).sort((a, b) => a - b)).toEqual(expected);
    expect(preview.lines.data.filter((l) => l.parent?.subscription_item_details?.proration).map((l) => l.amount)).toEqual(expected);
    for (const ii of pending.data) {
      expect(ii).toMatchObject({ object: 'invoiceitem', customer: customer.id, invoice: null, proration: true, currency: 'usd', period: { start: T, end: E }, parent: { type: 'subscription_details', subscription_details: { subscription: sub.id, subscription_item: item.id } } });
      expect(ii.id).toMatch(/^ii_/);
      expect((await h.stripe.invoiceItems.retrieve(ii.id)).amount).toBe(ii.amount);
    }

    await h.sandbox.advanceClock(E - T);
    const renewal = await h.stripe.invoices.retrieve((await h.stripe.subscriptions.retrieve(sub.id)).latest_invoice as string);
    expect(renewal).toMatchObject({ billing_reason: 'subscription_cycle', status: 'paid', amount_paid: expected[0]! + expected[1]! + 9900 });
    expect((await h.stripe.invoiceItems.list({ customer: customer.id, pending: true })).data).toEqual([]);
    const taken = await h.stripe.invoiceItems.list({ invoice: renewal.id });
    expect(taken.data.map((ii) => ii.id).sort()).toEqual(pending.data.map((ii) => ii.id).sort());
    const fromItems = renewal.lines.data.map((l) => l.parent?.subscription_item_details?.invoice_item).filter(Boolean);
    expect(fromItems.sort()).toEqual(pending.data.map((ii) => ii.id).sort());
  });
});

describe('subscription flows', () => {
  it('Checkout in subscription mode on the hosted page: the completed event names the subscription and its paid invoice', async () => {
    const { basic } = await setup();
    const session = await h.stripe.checkout.sessions.create({
      mode: 'subscription',
      line_items: [{ price: basic.id, quantity: 1 }],
      success_url: 'https://shop.example/thanks?session_id={CHECKOUT_SESSION_ID}',
      cancel_url: 'https://shop.example/pricing',
      customer_email: 'new@example.com',
      subscription_data: { metadata: { track: 'basic' } },
      metadata: { order: 'x' },
    });
    expect(session.url).toBe(`${SANDBOX_PUBLIC_URL}/checkout/${session.id}`);
    await clearEvents();
    const response = await fetch(session.url!, { method: 'POST', body: new URLSearchParams({ email: 'new@example.com', card_number: '4242424242424242' }), redirect: 'manual' });
    expect(response.status).toBe(303);
    await h.sandbox.flushWebhooks();
    const completed = h.received.find((e) => e.type === 'checkout.session.completed')!.data.object as Stripe.Checkout.Session;
    expect(completed).toMatchObject({ mode: 'subscription', status: 'complete', payment_status: 'paid', subscription: expect.stringMatching(/^sub_/), invoice: expect.stringMatching(/^in_/), metadata: { order: 'x' } });
    const sub = await h.stripe.subscriptions.retrieve(completed.subscription as string);
    expect(sub).toMatchObject({ status: 'active', latest_invoice: completed.invoice, metadata: { track: 'basic' } });
    const payments = await h.stripe.invoicePayments.list({ invoice: completed.invoice as string });
    expect(payments.data).toEqual([expect.objectContaining({ status: 'paid', amount_paid: 4900 })]);
    // The subscription's own events come before the session's completion.
    expect(types().indexOf('invoice.paid')).toBeLessThan(types().indexOf('checkout.session.completed'));
  });

  it('a switch with always_invoice on a declining card: refused with nothing changed (error_if_incomplete), or past_due', async () => {
    const { customer, basic, pro } = await setup();
    const sub = await subscribe(customer.id, basic.id);
    const item = sub.items.data[0]!;
    await h.stripe.subscriptions.update(sub.id, { default_payment_method: 'pm_card_chargeCustomerFail' });
    await h.sandbox.advanceClock(3 * DAY);
    const switchTo = { items: [{ id: item.id, price: pro.id }], proration_behavior: 'always_invoice' as const, proration_date: item.current_period_start + 3 * DAY };

    expect(await stripeError(h.stripe.subscriptions.update(sub.id, { ...switchTo, payment_behavior: 'error_if_incomplete' }))).toMatchObject({ statusCode: 402, type: 'StripeCardError', code: 'card_declined' });
    const unchanged = await h.stripe.subscriptions.retrieve(sub.id);
    expect(unchanged).toMatchObject({ status: 'active', latest_invoice: sub.latest_invoice });
    expect(unchanged.items.data[0]!.price.id).toBe(basic.id);

    const switched = await h.stripe.subscriptions.update(sub.id, switchTo);
    expect(switched.status).toBe('past_due');
    expect(switched.items.data[0]!.price.id).toBe(pro.id);
    const invoice = await h.stripe.invoices.retrieve(switched.latest_invoice as string, { expand: ['payments'] });
    expect(invoice).toMatchObject({ billing_reason: 'subscription_update', status: 'open', amount_paid: 0 });
    expect(invoice.payments!.data[0]).toMatchObject({ status: 'open', amount_requested: invoice.amount_due });
  });

  it('pause_collection set and removed: a renewal while paused is voided and nothing is charged', async () => {
    const { customer, basic } = await setup();
    const sub = await subscribe(customer.id, basic.id);
    const end = sub.items.data[0]!.current_period_end;
    const paused = await h.stripe.subscriptions.update(sub.id, { pause_collection: { behavior: 'void' } });
    expect(paused).toMatchObject({ status: 'active', pause_collection: { behavior: 'void', resumes_at: null } });
    await h.sandbox.advanceClock(end - sub.start_date);
    const renewal = await h.stripe.invoices.retrieve((await h.stripe.subscriptions.retrieve(sub.id)).latest_invoice as string, { expand: ['payments'] });
    expect(renewal).toMatchObject({ billing_reason: 'subscription_cycle', status: 'void', amount_paid: 0 });
    expect(renewal.payments!.data).toEqual([]);
    const resumed = await h.stripe.subscriptions.update(sub.id, { pause_collection: '' });
    expect(resumed).toMatchObject({ status: 'active', pause_collection: null });
  });
});
