import type Stripe from 'stripe';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { startSandboxHarness } from '../helpers/stripeSandbox';

// One msw server per file: msw patches the process's fetch once.
const h = startSandboxHarness();
afterAll(() => h.close());
beforeEach(() => h.reset());

const DAY = 86400;

async function setup() {
  const customer = await h.stripe.customers.create({ email: 'sub@example.com' });
  const product = await h.stripe.products.create({ name: 'Basic' });
  const premium = await h.stripe.products.create({ name: 'Premium' });
  const basic = await h.stripe.prices.create({ currency: 'usd', unit_amount: 1000, product: product.id, recurring: { interval: 'month' } });
  const pro = await h.stripe.prices.create({ currency: 'usd', unit_amount: 3000, product: premium.id, recurring: { interval: 'month' } });
  await clearEvents();
  return { customer, basic, pro };
}

async function subscribe(customer: string, price: string, extra: Partial<Stripe.SubscriptionCreateParams> = {}) {
  return h.stripe.subscriptions.create({ customer, items: [{ price }], default_payment_method: 'pm_card_visa', ...extra });
}

/** Exact proration as Stripe computes it: round(amount × remaining / period), half away from zero. */
function prorate(amount: number, remaining: number, total: number): number {
  const n = BigInt(amount) * BigInt(remaining);
  const d = BigInt(total);
  return Number((2n * n + d) / (2n * d));
}

/** Delivers what is queued, then forgets it: the next assertions see only new events. */
async function clearEvents() {
  await h.sandbox.flushWebhooks();
  h.received.length = 0;
}

const types = () => h.received.map((e) => e.type);
const prorationLines = (invoice: Stripe.Invoice) => invoice.lines.data.filter((l) => l.parent?.subscription_item_details?.proration);

describe('sandbox subscriptions: create and invoice', () => {
  it('creates an active subscription whose first invoice is paid, with events', async () => {
    const { customer, basic } = await setup();
    const sub = await subscribe(customer.id, basic.id, { metadata: { plan: 'basic' } });
    expect(sub).toMatchObject({ object: 'subscription', status: 'active', customer: customer.id, collection_method: 'charge_automatically', cancel_at_period_end: false, currency: 'usd', metadata: { plan: 'basic' } });
    expect(sub.id).toMatch(/^sub_/);
    expect(sub.default_payment_method).toMatch(/^pm_/);
    const item = sub.items.data[0]!;
    expect(item.id).toMatch(/^si_/);
    expect(item.price.id).toBe(basic.id);
    expect(item.quantity).toBe(1);
    expect(item.current_period_start).toBe(sub.start_date);
    const start = new Date(item.current_period_start * 1000);
    const expectedEnd = Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, Math.min(start.getUTCDate(), new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 2, 0)).getUTCDate()), start.getUTCHours(), start.getUTCMinutes(), start.getUTCSeconds()) / 1000;
    expect(item.current_period_end).toBe(expectedEnd);

    const invoice = await h.stripe.invoices.retrieve(sub.latest_invoice as string);
    expect(invoice).toMatchObject({ status: 'paid', billing_reason: 'subscription_create', amount_due: 1000, amount_paid: 1000, amount_remaining: 0, total: 1000, customer: customer.id, currency: 'usd' });
    expect(invoice.id).toMatch(/^in_/);
    expect(invoice.parent?.subscription_details?.subscription).toBe(sub.id);
    expect(invoice.number).toMatch(/-0001$/);
    const line = invoice.lines.data[0]!;
    expect(line.id).toMatch(/^il_/);
    expect(line).toMatchObject({ amount: 1000, quantity: 1, period: { start: item.current_period_start, end: item.current_period_end }, description: '1 × Basic (at $10.00 / month)' });
    expect(line.pricing?.price_details?.price).toBe(basic.id);
    expect(line.parent?.subscription_item_details).toMatchObject({ subscription: sub.id, subscription_item: item.id, proration: false });

    const expanded = await h.stripe.subscriptions.retrieve(sub.id, { expand: ['latest_invoice'] });
    expect((expanded.latest_invoice as Stripe.Invoice).id).toBe(invoice.id);

    await h.sandbox.flushWebhooks();
    // The invoice is paid through a PaymentIntent (its invoice payment), whose events come in between.
    expect(types()).toEqual(['customer.subscription.created', 'invoice.created', 'invoice.finalized', 'payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded', 'invoice.paid', 'invoice.payment_succeeded', 'invoice_payment.paid']);
    expect((h.received[1]!.data.object as Stripe.Invoice).status).toBe('draft');
    expect((h.received[6]!.data.object as Stripe.Invoice).status).toBe('paid');
  });

  it('lists subscriptions and invoices with filters', async () => {
    const { customer, basic, pro } = await setup();
    const other = await h.stripe.customers.create({ email: 'other@example.com' });
    const s1 = await subscribe(customer.id, basic.id);
    const s2 = await subscribe(other.id, pro.id);
    await h.stripe.subscriptions.cancel(s2.id);
    const ids = async (params: Stripe.SubscriptionListParams) => (await h.stripe.subscriptions.list(params)).data.map((s) => s.id);
    expect(await ids({})).toEqual([s1.id]);
    expect(await ids({ status: 'all' })).toEqual([s2.id, s1.id]);
    expect(await ids({ status: 'ended' })).toEqual([s2.id]);
    expect(await ids({ status: 'canceled', customer: other.id })).toEqual([s2.id]);
    expect(await ids({ price: basic.id })).toEqual([s1.id]);
    expect(await ids({ status: 'all', limit: 1 })).toEqual([s2.id]);
    const invs = await h.stripe.invoices.list({ subscription: s1.id });
    expect(invs.data.map((i) => i.id)).toEqual([s1.latest_invoice]);
    expect((await h.stripe.invoices.list({ customer: other.id, status: 'paid' })).data).toHaveLength(1);
    expect((await h.stripe.invoices.list({ status: 'open' })).data).toHaveLength(0);
  });

  it('rejects unknown parameters, one-time prices and missing items', async () => {
    const { customer, basic } = await setup();
    const product = await h.stripe.products.create({ name: 'Once' });
    const once = await h.stripe.prices.create({ currency: 'usd', unit_amount: 100, product: product.id });
    await expect(h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: basic.id }], bogus: 1 } as never)).rejects.toMatchObject({ statusCode: 400, code: 'parameter_unknown', param: 'bogus' });
    await expect(h.stripe.subscriptions.create({ customer: customer.id } as never)).rejects.toMatchObject({ code: 'parameter_missing', param: 'items' });
    await expect(h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: once.id }] })).rejects.toMatchObject({ statusCode: 400, param: 'items[0][price]' });
    await expect(h.stripe.subscriptions.create({ customer: 'cus_nope', items: [{ price: basic.id }] })).rejects.toMatchObject({ statusCode: 404, code: 'resource_missing' });
  });
});

describe('sandbox subscriptions: switching prices with prorations', () => {
  it('previews a switch and the real switch with the same proration_date produces the same amounts', async () => {
    const { customer, basic, pro } = await setup();
    const sub = await subscribe(customer.id, basic.id);
    const item = sub.items.data[0]!;
    const { current_period_start: S, current_period_end: E } = item;
    await h.sandbox.advanceClock(10 * DAY + 12_345);
    const T = S + 10 * DAY + 12_345;

    const preview = await h.stripe.invoices.createPreview({
      customer: customer.id,
      subscription: sub.id,
      subscription_details: { items: [{ id: item.id, price: pro.id }], proration_date: T, proration_behavior: 'create_prorations' },
    });
    const credit = -prorate(1000, E - T, E - S);
    const charge = prorate(3000, E - T, E - S);
    const previewProrations = prorationLines(preview);
    expect(previewProrations.map((l) => l.amount)).toEqual([credit, charge]);
    expect(previewProrations.every((l) => l.period.start === T && l.period.end === E)).toBe(true);
    expect(preview.parent?.subscription_details?.subscription_proration_date).toBe(T);
    expect(preview.billing_reason).toBe('upcoming');
    // the next period, at the new price
    const next = preview.lines.data.find((l) => !l.parent?.subscription_item_details?.proration)!;
    expect(next).toMatchObject({ amount: 3000, period: { start: E } });
    expect(preview.amount_due).toBe(credit + charge + 3000);
    // a preview is not saved
    expect((await h.stripe.invoices.list({ subscription: sub.id })).data).toHaveLength(1);

    await clearEvents();
    const updated = await h.stripe.subscriptions.update(sub.id, { items: [{ id: item.id, price: pro.id }], proration_behavior: 'create_prorations', proration_date: T });
    expect(updated.items.data[0]!.price.id).toBe(pro.id);
    expect(updated.items.data[0]!.id).toBe(item.id);
    expect(updated.items.data[0]!.current_period_end).toBe(E);
    expect(updated.latest_invoice).toBe(sub.latest_invoice); // prorations wait for the next invoice

    // The upcoming invoice now carries the same pending prorations.
    const upcoming = await h.stripe.invoices.createPreview({ subscription: sub.id });
    expect(prorationLines(upcoming).map((l) => l.amount)).toEqual([credit, charge]);

    await h.sandbox.flushWebhooks();
    expect(types()).toEqual(['customer.subscription.updated']);
    const previous = h.received[0]!.data.previous_attributes as Partial<Stripe.Subscription>;
    expect(previous.items!.data[0]!.price.id).toBe(basic.id);

    // Renewal: the clock passes the period end; the cycle invoice holds the prorations and the new period.
    await clearEvents();
    const now = S + 10 * DAY + 12_345;
    await h.sandbox.advanceClock(E - now + 60);
    const renewed = await h.stripe.subscriptions.retrieve(sub.id);
    expect(renewed.status).toBe('active');
    expect(renewed.items.data[0]!.current_period_start).toBe(E);
    expect(renewed.items.data[0]!.current_period_end).toBeGreaterThan(E + 27 * DAY);
    const invoice = await h.stripe.invoices.retrieve(renewed.latest_invoice as string);
    expect(invoice).toMatchObject({ billing_reason: 'subscription_cycle', status: 'paid', period_start: S, period_end: E });
    expect(prorationLines(invoice).map((l) => l.amount)).toEqual([credit, charge]);
    expect(invoice.amount_paid).toBe(credit + charge + 3000);
    expect(invoice.amount_due).toBe(preview.amount_due);
    expect(types()).toEqual(['customer.subscription.updated', 'invoice.created', 'invoice.finalized', 'payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded', 'invoice.paid', 'invoice.payment_succeeded', 'invoice_payment.paid']);
    // the prorations were consumed
    const after = await h.stripe.invoices.createPreview({ subscription: sub.id });
    expect(prorationLines(after)).toHaveLength(0);
    expect(after.amount_due).toBe(3000);
  });

  it('always_invoice bills the prorations immediately, and the preview matches', async () => {
    const { customer, basic, pro } = await setup();
    const sub = await subscribe(customer.id, basic.id);
    const item = sub.items.data[0]!;
    const { current_period_start: S, current_period_end: E } = item;
    const T = S + 3 * DAY;
    await h.sandbox.advanceClock(3 * DAY);
    const preview = await h.stripe.invoices.createPreview({ subscription: sub.id, subscription_details: { items: [{ id: item.id, price: pro.id }], proration_date: T, proration_behavior: 'always_invoice' } });
    await clearEvents();
    const updated = await h.stripe.subscriptions.update(sub.id, { items: [{ id: item.id, price: pro.id }], proration_behavior: 'always_invoice', proration_date: T });
    expect(updated.latest_invoice).not.toBe(sub.latest_invoice);
    const invoice = await h.stripe.invoices.retrieve(updated.latest_invoice as string);
    expect(invoice).toMatchObject({ billing_reason: 'subscription_update', status: 'paid' });
    const expected = [-prorate(1000, E - T, E - S), prorate(3000, E - T, E - S)];
    expect(invoice.lines.data.map((l) => l.amount)).toEqual(expected);
    expect(preview.lines.data.map((l) => l.amount)).toEqual(expected);
    expect(invoice.amount_paid).toBe(expected[0]! + expected[1]!);
    await h.sandbox.flushWebhooks();
    expect(types()).toEqual(['customer.subscription.updated', 'invoice.created', 'invoice.finalized', 'payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded', 'invoice.paid', 'invoice.payment_succeeded', 'invoice_payment.paid']);
  });

  it('a downgrade with always_invoice leaves a credit on the customer balance for the next invoice', async () => {
    const { customer, basic, pro } = await setup();
    const sub = await subscribe(customer.id, pro.id);
    const item = sub.items.data[0]!;
    const updated = await h.stripe.subscriptions.update(sub.id, { items: [{ id: item.id, price: basic.id }], proration_behavior: 'always_invoice', proration_date: item.current_period_start + DAY });
    const invoice = await h.stripe.invoices.retrieve(updated.latest_invoice as string);
    expect(invoice.total).toBeLessThan(0);
    expect(invoice.amount_due).toBe(0);
    expect(invoice.ending_balance).toBe(invoice.total);
    expect((await h.stripe.customers.retrieve(customer.id)) as Stripe.Customer).toMatchObject({ balance: invoice.total });
    const upcoming = await h.stripe.invoices.createPreview({ subscription: sub.id });
    expect(upcoming.starting_balance).toBe(invoice.total);
    expect(upcoming.amount_due).toBe(Math.max(0, 1000 + invoice.total));
  });

  it('proration_behavior none switches the price without prorations', async () => {
    const { customer, basic, pro } = await setup();
    const sub = await subscribe(customer.id, basic.id);
    const item = sub.items.data[0]!;
    await h.sandbox.advanceClock(5 * DAY);
    const preview = await h.stripe.invoices.createPreview({ subscription: sub.id, subscription_details: { items: [{ id: item.id, price: pro.id }], proration_behavior: 'none' } });
    expect(prorationLines(preview)).toHaveLength(0);
    expect(preview.amount_due).toBe(3000);
    const updated = await h.stripe.subscriptions.update(sub.id, { items: [{ id: item.id, price: pro.id }], proration_behavior: 'none' });
    expect(updated.items.data[0]!.price.id).toBe(pro.id);
    expect(updated.latest_invoice).toBe(sub.latest_invoice);
    const upcoming = await h.stripe.invoices.createPreview({ subscription: sub.id });
    expect(prorationLines(upcoming)).toHaveLength(0);
    expect(upcoming.amount_due).toBe(3000);
  });

  it('refuses a proration_date outside the current period and unknown items', async () => {
    const { customer, basic, pro } = await setup();
    const sub = await subscribe(customer.id, basic.id);
    const item = sub.items.data[0]!;
    await expect(h.stripe.subscriptions.update(sub.id, { items: [{ id: item.id, price: pro.id }], proration_date: item.current_period_start - 10 })).rejects.toMatchObject({ statusCode: 400, param: 'proration_date' });
    await expect(h.stripe.subscriptions.update(sub.id, { items: [{ id: 'si_nope', price: pro.id }] })).rejects.toMatchObject({ statusCode: 404, param: 'items[0][id]' });
    await expect(h.stripe.subscriptions.update(sub.id, { bogus: true } as never)).rejects.toMatchObject({ code: 'parameter_unknown' });
  });
});

describe('sandbox subscriptions: renewals, cancellation, pausing, declines', () => {
  it('renews each month when the clock passes the period end', async () => {
    const { customer, basic } = await setup();
    const sub = await subscribe(customer.id, basic.id);
    const E1 = sub.items.data[0]!.current_period_end;
    await clearEvents();
    await h.sandbox.advanceClock(E1 - sub.start_date);
    let current = await h.stripe.subscriptions.retrieve(sub.id);
    const E2 = current.items.data[0]!.current_period_end;
    expect(current.items.data[0]!.current_period_start).toBe(E1);
    await h.sandbox.advanceClock(E2 - E1);
    current = await h.stripe.subscriptions.retrieve(sub.id);
    expect(current.items.data[0]!.current_period_start).toBe(E2);
    const invs = await h.stripe.invoices.list({ subscription: sub.id });
    expect(invs.data.map((i) => [i.billing_reason, i.status, i.amount_paid])).toEqual([
      ['subscription_cycle', 'paid', 1000],
      ['subscription_cycle', 'paid', 1000],
      ['subscription_create', 'paid', 1000],
    ]);
    expect(types().filter((t) => t === 'invoice.paid')).toHaveLength(2);
  });

  it('cancels immediately', async () => {
    const { customer, basic } = await setup();
    const sub = await subscribe(customer.id, basic.id);
    await clearEvents();
    await h.sandbox.advanceClock(DAY);
    const before = h.sandbox.core.clock.now();
    const canceled = await h.stripe.subscriptions.cancel(sub.id, { cancellation_details: { comment: 'too pricey', feedback: 'too_expensive' } });
    const after = h.sandbox.core.clock.now();
    expect(canceled).toMatchObject({ status: 'canceled', cancellation_details: { reason: 'cancellation_requested', feedback: 'too_expensive', comment: 'too pricey' } });
    // Sandbox time is real time plus an offset: bound it by readings taken around the call.
    expect(canceled.canceled_at).toBeGreaterThanOrEqual(Math.max(before, sub.start_date + DAY));
    expect(canceled.canceled_at).toBeLessThanOrEqual(after);
    expect(canceled.ended_at).toBe(canceled.canceled_at);
    await h.sandbox.flushWebhooks();
    expect(types()).toEqual(['customer.subscription.deleted']);
    await expect(h.stripe.subscriptions.update(sub.id, { cancel_at_period_end: true })).rejects.toMatchObject({ statusCode: 400 });
    // no renewal after cancellation
    await h.sandbox.advanceClock(40 * DAY);
    expect((await h.stripe.invoices.list({ subscription: sub.id })).data).toHaveLength(1);
  });

  it('cancels at period end', async () => {
    const { customer, basic } = await setup();
    const sub = await subscribe(customer.id, basic.id);
    const E = sub.items.data[0]!.current_period_end;
    const flagged = await h.stripe.subscriptions.update(sub.id, { cancel_at_period_end: true });
    expect(flagged).toMatchObject({ status: 'active', cancel_at_period_end: true, cancel_at: E });
    await h.sandbox.flushWebhooks();
    expect(h.received.at(-1)!.type).toBe('customer.subscription.updated');
    expect(h.received.at(-1)!.data.previous_attributes).toMatchObject({ cancel_at_period_end: false, cancel_at: null });
    const upcoming = h.stripe.invoices.createPreview({ subscription: sub.id });
    await expect(upcoming).rejects.toMatchObject({ code: 'invoice_upcoming_none' });
    await clearEvents();
    await h.sandbox.advanceClock(E - sub.start_date + 1);
    const ended = await h.stripe.subscriptions.retrieve(sub.id);
    expect(ended).toMatchObject({ status: 'canceled', ended_at: E });
    expect(types()).toEqual(['customer.subscription.deleted']);
    expect((await h.stripe.invoices.list({ subscription: sub.id })).data).toHaveLength(1);
  });

  it('pauses and resumes collection', async () => {
    const { customer, basic } = await setup();
    const sub = await subscribe(customer.id, basic.id);
    const E = sub.items.data[0]!.current_period_end;
    const paused = await h.stripe.subscriptions.update(sub.id, { pause_collection: { behavior: 'void' } });
    expect(paused.pause_collection).toEqual({ behavior: 'void', resumes_at: null });
    expect(paused.status).toBe('active');
    await clearEvents();
    await h.sandbox.advanceClock(E - sub.start_date);
    const voided = await h.stripe.invoices.retrieve((await h.stripe.subscriptions.retrieve(sub.id)).latest_invoice as string);
    expect(voided).toMatchObject({ status: 'void', billing_reason: 'subscription_cycle' });
    expect(types()).toContain('invoice.voided');
    expect(types()).not.toContain('invoice.payment_succeeded');

    await clearEvents();
    const resumed = await h.stripe.subscriptions.update(sub.id, { pause_collection: '' });
    expect(resumed.pause_collection).toBeNull();
    await h.sandbox.flushWebhooks();
    expect(types()).toEqual(['customer.subscription.updated']);
    expect(h.received[0]!.data.previous_attributes).toMatchObject({ pause_collection: { behavior: 'void' } });
    const E2 = resumed.items.data[0]!.current_period_end;
    await h.sandbox.advanceClock(E2 - E);
    const next = await h.stripe.invoices.retrieve((await h.stripe.subscriptions.retrieve(sub.id)).latest_invoice as string);
    expect(next).toMatchObject({ status: 'paid', amount_paid: 1000 });
  });

  it('keep_as_draft leaves renewal invoices as drafts and resumes_at ends the pause', async () => {
    const { customer, basic } = await setup();
    const sub = await subscribe(customer.id, basic.id);
    const E = sub.items.data[0]!.current_period_end;
    await h.stripe.subscriptions.update(sub.id, { pause_collection: { behavior: 'keep_as_draft', resumes_at: E + 5 * DAY } });
    await h.sandbox.advanceClock(E - sub.start_date);
    const draft = await h.stripe.invoices.retrieve((await h.stripe.subscriptions.retrieve(sub.id)).latest_invoice as string);
    expect(draft.status).toBe('draft');
    await h.sandbox.advanceClock(5 * DAY);
    expect((await h.stripe.subscriptions.retrieve(sub.id)).pause_collection).toBeNull();
  });

  it('a trial without a payment method pauses the subscription at trial end; /resume restarts it', async () => {
    const { customer, basic } = await setup();
    const sub = await h.stripe.subscriptions.create({ customer: customer.id, items: [{ price: basic.id }], trial_period_days: 7, trial_settings: { end_behavior: { missing_payment_method: 'pause' } } });
    expect(sub).toMatchObject({ status: 'trialing', trial_start: sub.start_date, trial_end: sub.start_date + 7 * DAY });
    expect(sub.items.data[0]!.current_period_end).toBe(sub.start_date + 7 * DAY);
    const trialInvoice = await h.stripe.invoices.retrieve(sub.latest_invoice as string);
    expect(trialInvoice).toMatchObject({ amount_due: 0, status: 'paid' });
    await expect(h.stripe.subscriptions.resume(sub.id)).rejects.toMatchObject({ statusCode: 400 });
    await clearEvents();
    await h.sandbox.advanceClock(7 * DAY);
    expect((await h.stripe.subscriptions.retrieve(sub.id)).status).toBe('paused');
    expect(types()).toEqual(['customer.subscription.updated', 'customer.subscription.paused']);

    await h.stripe.subscriptions.update(sub.id, { default_payment_method: 'pm_card_visa' });
    await clearEvents();
    const resumed = await h.stripe.subscriptions.resume(sub.id, { billing_cycle_anchor: { type: 'now' } });
    expect(resumed.status).toBe('active');
    expect(resumed.items.data[0]!.current_period_start).toBeGreaterThanOrEqual(sub.start_date + 7 * DAY);
    expect(resumed.billing_cycle_anchor).toBe(resumed.items.data[0]!.current_period_start);
    const invoice = await h.stripe.invoices.retrieve(resumed.latest_invoice as string);
    expect(invoice).toMatchObject({ status: 'paid', amount_paid: 1000 });
    await h.sandbox.flushWebhooks();
    expect(types()).toEqual(expect.arrayContaining(['customer.subscription.resumed', 'customer.subscription.updated', 'invoice.paid']));
  });

  it('a trial with a payment method becomes active and is charged at trial end', async () => {
    const { customer, basic } = await setup();
    const sub = await subscribe(customer.id, basic.id, { trial_period_days: 14 });
    await h.sandbox.advanceClock(14 * DAY);
    const active = await h.stripe.subscriptions.retrieve(sub.id);
    expect(active.status).toBe('active');
    expect(active.items.data[0]!.current_period_start).toBe(sub.start_date + 14 * DAY);
    expect(await h.stripe.invoices.retrieve(active.latest_invoice as string)).toMatchObject({ amount_paid: 1000, billing_reason: 'subscription_cycle' });
  });

  it('a declining default payment method makes the renewal fail: past_due and invoice.payment_failed', async () => {
    const { customer, basic } = await setup();
    const sub = await subscribe(customer.id, basic.id);
    const E = sub.items.data[0]!.current_period_end;
    await h.stripe.subscriptions.update(sub.id, { default_payment_method: 'pm_card_chargeDeclined' });
    await clearEvents();
    await h.sandbox.advanceClock(E - sub.start_date);
    const pastDue = await h.stripe.subscriptions.retrieve(sub.id);
    expect(pastDue.status).toBe('past_due');
    const invoice = await h.stripe.invoices.retrieve(pastDue.latest_invoice as string);
    expect(invoice).toMatchObject({ status: 'open', attempted: true, attempt_count: 1, amount_paid: 0, amount_remaining: 1000 });
    expect(types()).toEqual(['customer.subscription.updated', 'invoice.created', 'invoice.finalized', 'payment_intent.created', 'charge.failed', 'payment_intent.payment_failed', 'invoice.payment_failed']);
    expect(types()).toContain('invoice.payment_failed');
    const updated = h.received.filter((e) => e.type === 'customer.subscription.updated').at(-1)!;
    expect((updated.data.object as Stripe.Subscription).status).toBe('past_due');
    expect(updated.data.previous_attributes).toMatchObject({ status: 'active' });
  });

  it('a declining card on creation leaves the subscription incomplete, or refuses it with error_if_incomplete', async () => {
    const { customer, basic } = await setup();
    await expect(subscribe(customer.id, basic.id, { default_payment_method: 'pm_card_chargeDeclined', payment_behavior: 'error_if_incomplete' })).rejects.toMatchObject({ statusCode: 402, type: 'StripeCardError', code: 'card_declined' });
    expect((await h.stripe.subscriptions.list({ status: 'all' })).data).toHaveLength(0);
    const sub = await subscribe(customer.id, basic.id, { default_payment_method: 'pm_card_chargeDeclined' });
    expect(sub.status).toBe('incomplete');
    await h.sandbox.flushWebhooks();
    expect(types()).toContain('invoice.payment_failed');
    await h.sandbox.advanceClock(23 * 3600);
    expect((await h.stripe.subscriptions.retrieve(sub.id)).status).toBe('incomplete_expired');
    expect((await h.stripe.invoices.retrieve(sub.latest_invoice as string)).status).toBe('void');
  });
});
