// The subscription state machine and its billing: creation (first invoice paid from the default payment method),
// price switches with prorations (create_prorations | always_invoice | none, `proration_date`),
// the invoice preview sharing the same proration arithmetic, cancellation (now or at period end),
// pause_collection, the `paused` status and /resume, and a clock handler that rolls billing periods.
//
// Choices (API 2026-10-28.endive):
// - Periods live on each subscription ITEM (`current_period_start/end`); all items share one cycle,
//   anchored on `billing_cycle_anchor` (calendar months/years in UTC, day of month clamped).
// - Prorations: for a change at time T in the period [S, E), the old price is credited and the new
//   one charged for E - T seconds of E - S: round(unit_amount × quantity × (E - T) / (E - S)) with
//   exact integer arithmetic (half away from zero). The preview and the real update use one function,
//   so a preview and an update with the same `proration_date` give identical amounts.
// - `pause_collection` is an ordinary update (customer.subscription.updated); while set, renewal
//   invoices are kept as drafts, voided or marked uncollectible per its `behavior`, and `resumes_at`
//   clears it. The `paused` STATUS is different, as at Stripe: it happens only when a trial ends
//   without a payment method and `trial_settings[end_behavior][missing_payment_method]=pause`
//   (customer.subscription.paused), and `POST /v1/subscriptions/:id/resume` leaves it
//   (customer.subscription.resumed), starting a new period now and invoicing it.
// - Payments: the subscription's `default_payment_method`, else the customer's
//   `invoice_settings.default_payment_method`; declining test cards (pm_card_chargeDeclined, ...)
//   fail. A first payment that fails leaves the subscription `incomplete` (allow_incomplete), which
//   expires after 23 hours (`incomplete_expired`, invoice voided); a failed renewal makes it `past_due`.
// - Not emulated: switching between different billing intervals, `billing_cycle_anchor`,
//   `cancel_at`, `pending_if_incomplete` / `pending_update`, `trial_end` updates, metered prices,
//   discounts and taxes, Smart Retries. Such parameters are refused with an explicit message.
//
// This file holds the transitions (each changes the subscription, bills it and emits the events
// Stripe emits); the routes in ./subscriptions.ts read and check the request's parameters and call
// them, the way stripe-node keeps its resources thin. Checkout and the clock call them too.
import type Stripe from 'stripe';
import type { SandboxCore } from '../core';
import { invalidRequest, StripeApiError } from '../errors';
import { newId } from '../ids';
import { applyMetadata, type Params } from '../params';
import { previousAttributes } from '../previousAttributes';
import type { Actor } from './charges';
import { customers } from './customers';
import {
  declineCodeFor,
  draftInvoice,
  EventSink,
  finalizeInvoice,
  insertInvoice,
  invoices,
  type LineSpec,
  markUncollectible,
  payInvoice,
  pendingItems,
  voidInvoice,
} from './invoices';
import { products } from './products';

export const subscriptions = (core: SandboxCore) => core.store.collection<Stripe.Subscription>('subscription');

export const DAY = 86400;
const INCOMPLETE_EXPIRY_SECONDS = 23 * 3600;
export const PRORATION_BEHAVIORS = ['create_prorations', 'always_invoice', 'none'] as const;
export type ProrationBehavior = (typeof PRORATION_BEHAVIORS)[number];

// ---------------------------------------------------------------------------------------------
// Time and money arithmetic

/** `anchor` moved by `n` intervals; months and years keep the anchor's day (clamped) and time, in UTC. */
export function addInterval(anchor: number, interval: string, n: number): number {
  if (interval === 'day') return anchor + n * DAY;
  if (interval === 'week') return anchor + n * 7 * DAY;
  const months = interval === 'year' ? 12 * n : n;
  const d = new Date(anchor * 1000);
  const year = d.getUTCFullYear();
  const month = d.getUTCMonth() + months;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const day = Math.min(d.getUTCDate(), lastDay);
  return Date.UTC(year, month, day, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()) / 1000;
}

/** The end of the billing period that starts at or after `after`, counted from `anchor`. */
export function nextPeriodEnd(anchor: number, recurring: Stripe.Price.Recurring, after: number): number {
  for (let k = 1; ; k++) {
    const end = addInterval(anchor, recurring.interval, k * recurring.interval_count);
    if (end > after) return end;
  }
}

/** round(numerator / denominator), half away from zero, exact for any integer sizes. */
function roundDiv(numerator: bigint, denominator: bigint): number {
  const negative = numerator < 0n;
  const a = negative ? -numerator : numerator;
  const q = (2n * a + denominator) / (2n * denominator);
  return Number(negative ? -q : q);
}

/** The share of `unitAmount × quantity` for `remaining` seconds of a `total`-second period. */
export function prorate(unitAmount: number, quantity: number, remaining: number, total: number): number {
  if (total <= 0) return 0;
  return roundDiv(BigInt(unitAmount) * BigInt(quantity) * BigInt(remaining), BigInt(total));
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
function formatDate(ts: number): string {
  const d = new Date(ts * 1000);
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
}

function money(amount: number, currency: string): string {
  const symbol = currency === 'usd' ? '$' : currency === 'eur' ? '€' : currency === 'gbp' ? '£' : `${currency.toUpperCase()} `;
  return `${symbol}${(amount / 100).toFixed(2)}`;
}

function productName(core: SandboxCore, price: Stripe.Price): string {
  const id = typeof price.product === 'string' ? price.product : price.product.id;
  return products(core).get(id)?.name ?? id;
}

function intervalText(r: Stripe.Price.Recurring): string {
  return r.interval_count === 1 ? r.interval : `every ${r.interval_count} ${r.interval}s`;
}

// ---------------------------------------------------------------------------------------------
// Objects

function planFor(price: Stripe.Price): Stripe.Plan {
  const recurring = price.recurring!;
  return {
    id: price.id,
    object: 'plan',
    active: price.active,
    amount: price.unit_amount,
    amount_decimal: price.unit_amount_decimal,
    billing_scheme: 'per_unit',
    created: price.created,
    currency: price.currency,
    interval: recurring.interval,
    interval_count: recurring.interval_count,
    livemode: false,
    metadata: { ...price.metadata },
    meter: null,
    nickname: price.nickname,
    product: price.product,
    tiers_mode: null,
    transform_usage: null,
    trial_period_days: recurring.trial_period_days,
    usage_type: 'licensed',
  };
}

export function buildItem(core: SandboxCore, subscriptionId: string, price: Stripe.Price, quantity: number, metadata: Record<string, string>, start: number, end: number): Stripe.SubscriptionItem {
  return {
    id: newId('si', 14),
    object: 'subscription_item',
    billing_thresholds: null,
    created: core.clock.now(),
    current_period_end: end,
    current_period_start: start,
    current_trial: null,
    discounts: [],
    metadata,
    plan: planFor(price),
    price: structuredClone(price),
    quantity,
    subscription: subscriptionId,
    tax_rates: [],
  };
}

function setItemPrice(item: Stripe.SubscriptionItem, price: Stripe.Price, quantity: number): void {
  item.price = structuredClone(price);
  item.plan = planFor(price);
  item.quantity = quantity;
}

export function currentPeriod(sub: Stripe.Subscription): { start: number; end: number } {
  const first = sub.items.data[0];
  if (!first) throw invalidRequest('This subscription has no items.');
  return { start: first.current_period_start, end: first.current_period_end };
}

export function paymentMethodFor(core: SandboxCore, sub: Stripe.Subscription): string | null {
  if (sub.default_payment_method) return typeof sub.default_payment_method === 'string' ? sub.default_payment_method : sub.default_payment_method.id;
  const customer = customers(core).get(sub.customer as string);
  const pm = customer?.invoice_settings?.default_payment_method;
  return pm ? (typeof pm === 'string' ? pm : pm.id) : null;
}

export function periodLines(core: SandboxCore, sub: Stripe.Subscription, start: number, end: number): LineSpec[] {
  return sub.items.data.map((item) => {
    const quantity = item.quantity ?? 1;
    const price = item.price;
    return {
      amount: (price.unit_amount ?? 0) * quantity,
      quantity,
      price,
      description: `${quantity} × ${productName(core, price)} (at ${money(price.unit_amount ?? 0, price.currency)} / ${intervalText(price.recurring!)})`,
      period: { start, end },
      proration: false,
      subscription: sub.id,
      subscriptionItem: item.id,
      invoiceItem: null,
    };
  });
}

function trialLines(core: SandboxCore, sub: Stripe.Subscription, start: number, end: number): LineSpec[] {
  return sub.items.data.map((item) => ({
    amount: 0,
    quantity: item.quantity ?? 1,
    price: item.price,
    description: `Trial period for ${productName(core, item.price)}`,
    period: { start, end },
    proration: false,
    subscription: sub.id,
    subscriptionItem: item.id,
    invoiceItem: null,
  }));
}

export function pendingLinesFor(core: SandboxCore, subscriptionId: string): LineSpec[] {
  return pendingItems(core)
    .newestFirst((p) => p.subscription === subscriptionId && !p.invoice)
    .reverse()
    .map((p) => p.line);
}

/** The invoice took the pending items: they stay listable under /v1/invoiceitems, with `invoice` set, as at Stripe. */
function consumePending(core: SandboxCore, subscriptionId: string, invoiceId: string): void {
  for (const p of pendingItems(core).newestFirst((i) => i.subscription === subscriptionId && !i.invoice)) p.invoice = invoiceId;
}

// ---------------------------------------------------------------------------------------------
// Item changes and prorations (shared by update and preview)

/** One item added, changed or deleted by an update (or a preview), read from its `items[]` entry. */
export interface ItemChange {
  itemId: string;
  before: { price: Stripe.Price; quantity: number } | null;
  after: { price: Stripe.Price; quantity: number } | null;
  metadata?: Params;
}

/** Whether two recurring prices bill on the same interval (the sandbox switches only between those). */
export function sameCycle(a: Stripe.Price, b: Stripe.Price): boolean {
  return a.recurring!.interval === b.recurring!.interval && a.recurring!.interval_count === b.recurring!.interval_count;
}

/** The proration lines for `changes` made at time `at` (credit for the old, charge for the new). */
export function prorationLines(core: SandboxCore, sub: Stripe.Subscription, changes: ItemChange[], at: number, behavior: ProrationBehavior): LineSpec[] {
  if (behavior === 'none' || sub.status === 'trialing') return [];
  const { start, end } = currentPeriod(sub);
  const remaining = end - at;
  const total = end - start;
  const lines: LineSpec[] = [];
  const after = formatDate(at);
  for (const change of changes) {
    const { before, after: next } = change;
    if (before && next && before.price.id === next.price.id && before.quantity === next.quantity) continue;
    const label = (p: { price: Stripe.Price; quantity: number }) => `${p.quantity > 1 ? `${p.quantity} × ` : ''}${productName(core, p.price)}`;
    // Credit the unused time on the old item, charge the remaining time on the new one.
    const prorationLine = (p: { price: Stripe.Price; quantity: number }, sign: 1 | -1, what: string) =>
      lines.push({
        amount: sign * prorate(p.price.unit_amount ?? 0, p.quantity, remaining, total),
        quantity: p.quantity,
        price: p.price,
        description: `${what} on ${label(p)} after ${after}`,
        period: { start: at, end },
        proration: true,
        subscription: sub.id,
        subscriptionItem: change.itemId,
        invoiceItem: newId('ii', 24),
      });
    if (before) prorationLine(before, -1, 'Unused time');
    if (next) prorationLine(next, 1, 'Remaining time');
  }
  return lines;
}

export function applyChanges(core: SandboxCore, sub: Stripe.Subscription, changes: ItemChange[]): void {
  const { start, end } = currentPeriod(sub);
  for (const change of changes) {
    const index = sub.items.data.findIndex((it) => it.id === change.itemId);
    if (!change.after) {
      if (index >= 0) sub.items.data.splice(index, 1);
      continue;
    }
    if (index >= 0) {
      const item = sub.items.data[index]!;
      setItemPrice(item, change.after.price, change.after.quantity);
      if (change.metadata) item.metadata = applyMetadata(item.metadata, change.metadata);
    } else {
      const item = buildItem(core, sub.id, change.after.price, change.after.quantity, change.metadata ? applyMetadata({}, change.metadata) : {}, start, end);
      item.id = change.itemId;
      sub.items.data.push(item);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Billing steps

/** Builds, stores, finalizes and (for charge_automatically) pays a subscription invoice. */
function billSubscription(
  core: SandboxCore,
  sub: Stripe.Subscription,
  lines: LineSpec[],
  billingReason: Stripe.Invoice.BillingReason,
  period: { start: number; end: number },
  sink: EventSink,
  options: { attemptPayment?: boolean } = {},
): { invoice: Stripe.Invoice; paid: boolean } {
  const customer = customers(core).require(sub.customer as string, 'customer');
  const invoice = draftInvoice(core, { customer, subscription: sub, billingReason, lines, periodStart: period.start, periodEnd: period.end, currency: sub.currency });
  insertInvoice(core, invoice, sink);
  consumePending(core, sub.id, invoice.id);
  sub.latest_invoice = invoice.id;
  const pause = sub.pause_collection?.behavior;
  if (pause === 'keep_as_draft') return { invoice, paid: false };
  finalizeInvoice(core, invoice, sink);
  if (pause === 'void') {
    voidInvoice(core, invoice, sink);
    return { invoice, paid: false };
  }
  if (pause === 'mark_uncollectible') {
    markUncollectible(core, invoice, sink);
    return { invoice, paid: false };
  }
  if (sub.collection_method === 'send_invoice' || options.attemptPayment === false) return { invoice, paid: invoice.amount_due === 0 && payZero(core, invoice, sink) };
  const paid = payInvoice(core, invoice, paymentMethodFor(core, sub), sink);
  return { invoice, paid };
}

function payZero(core: SandboxCore, invoice: Stripe.Invoice, sink: EventSink): boolean {
  return payInvoice(core, invoice, null, sink);
}

export function cardError(declineCode: string): StripeApiError {
  const messages: Record<string, string> = {
    insufficient_funds: 'Your card has insufficient funds.',
    expired_card: 'Your card has expired.',
    incorrect_cvc: "Your card's security code is incorrect.",
    processing_error: 'An error occurred while processing your card. Try again in a little bit.',
    no_payment_method: 'This customer has no attached payment source or default payment method.',
  };
  if (declineCode === 'no_payment_method') return invalidRequest(messages.no_payment_method!, undefined, 'resource_missing');
  return new StripeApiError(402, { type: 'card_error', code: declineCode === 'expired_card' || declineCode === 'incorrect_cvc' || declineCode === 'processing_error' ? declineCode : 'card_declined', decline_code: declineCode, message: messages[declineCode] ?? 'Your card was declined.' });
}

// ---------------------------------------------------------------------------------------------
// Create

/** What a new subscription is made of, read from the request (or a Checkout Session) by the caller. */
export interface NewSubscription {
  customer: Stripe.Customer;
  items: Array<{ price: Stripe.Price; quantity: number; metadata: Record<string, string> }>;
  collectionMethod: Stripe.Subscription.CollectionMethod;
  daysUntilDue: number | undefined;
  defaultPaymentMethod: string | null;
  paymentBehavior: 'allow_incomplete' | 'default_incomplete' | 'error_if_incomplete';
  trialEnd: number | null;
  missingPaymentMethod: Stripe.Subscription.TrialSettings.EndBehavior.MissingPaymentMethod;
  cancelAtPeriodEnd: boolean;
  description: string | null;
  metadata: Record<string, string>;
}

/**
 * Creates a subscription and bills its first period (or its trial): active when paid, incomplete
 * when the payment failed, trialing during a trial. With error_if_incomplete, a payment that would
 * fail creates nothing and answers Stripe's card error.
 */
export function openSubscription(actor: Actor, fields: NewSubscription): Stripe.Subscription {
  const { core } = actor;
  const { customer, items, collectionMethod, daysUntilDue, defaultPaymentMethod, paymentBehavior, trialEnd, missingPaymentMethod, cancelAtPeriodEnd } = fields;
  const first = items[0]!.price;
  const now = core.clock.now();
  const recurring = first.recurring!;
  const anchor = trialEnd ?? now;
  const periodEnd = trialEnd ?? addInterval(now, recurring.interval, recurring.interval_count);
  const id = newId('sub', 24);
  const sub: Stripe.Subscription = {
    id,
    object: 'subscription',
    application: null,
    application_fee_percent: null,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null },
    billing_cycle_anchor: anchor,
    billing_cycle_anchor_config: null,
    billing_mode: { flexible: null, type: 'classic' },
    billing_schedules: [],
    billing_thresholds: null,
    cancel_at: cancelAtPeriodEnd ? periodEnd : null,
    cancel_at_period_end: cancelAtPeriodEnd,
    canceled_at: cancelAtPeriodEnd ? now : null,
    cancellation_details: { comment: null, feedback: null, feedback_option: null, reason: cancelAtPeriodEnd ? 'cancellation_requested' : null },
    collection_method: collectionMethod,
    created: now,
    currency: first.currency,
    customer: customer.id,
    customer_account: null,
    days_until_due: daysUntilDue ?? null,
    default_payment_method: defaultPaymentMethod,
    default_source: null,
    default_tax_rates: [],
    description: fields.description,
    discounts: [],
    ended_at: null,
    invoice_settings: { account_tax_ids: null, custom_fields: null, description: null, footer: null, issuer: { type: 'self' } },
    items: { object: 'list', data: [], has_more: false, url: `/v1/subscription_items?subscription=${id}` },
    latest_invoice: null,
    livemode: false,
    managed_payments: null,
    metadata: fields.metadata,
    next_pending_invoice_item_invoice: null,
    on_behalf_of: null,
    pause_collection: null,
    payment_settings: { payment_method_options: null, payment_method_types: null, save_default_payment_method: 'off' },
    pending_invoice_item_interval: null,
    pending_setup_intent: null,
    pending_update: null,
    schedule: null,
    start_date: now,
    status: 'incomplete',
    test_clock: null,
    transfer_data: null,
    trial_end: trialEnd,
    trial_settings: { end_behavior: { billing_cycle_anchor: null, missing_payment_method: missingPaymentMethod } },
    trial_start: trialEnd ? now : null,
  };
  sub.items.data = items.map((it) => {
    const item = buildItem(core, id, it.price, it.quantity, it.metadata, now, periodEnd);
    if (trialEnd) item.current_trial = null;
    return item;
  });

  const lines = trialEnd ? trialLines(core, sub, now, trialEnd) : periodLines(core, sub, now, periodEnd);
  const due = lines.reduce((s, l) => s + l.amount, 0) + (customer.balance ?? 0);
  const decline = collectionMethod === 'charge_automatically' && !trialEnd && due > 0 ? declineCodeFor(core, paymentMethodFor(core, sub)) : null;
  // error_if_incomplete: nothing is created when the first payment would fail.
  if (decline && paymentBehavior === 'error_if_incomplete') throw cardError(decline);

  subscriptions(core).insert(sub);
  const sink = new EventSink(core, actor.eventRequest);
  const { paid } = billSubscription(core, sub, lines, 'subscription_create', { start: now, end: now }, sink, { attemptPayment: paymentBehavior !== 'default_incomplete' });
  if (trialEnd) sub.status = 'trialing';
  else if (collectionMethod === 'send_invoice' || paid) sub.status = 'active';
  else sub.status = 'incomplete';
  core.events.emit('customer.subscription.created', sub, { request: actor.eventRequest });
  sink.flush();
  return sub;
}

// ---------------------------------------------------------------------------------------------
// Update, cancel, resume

/** What an update asks for, read from the request by the route. Absent fields stay as they are. */
export interface SubscriptionUpdate {
  behavior: ProrationBehavior;
  paymentBehavior: 'allow_incomplete' | 'default_incomplete' | 'error_if_incomplete';
  changes: ItemChange[];
  /** When the item changes take effect (proration_date, else now). */
  at: number;
  /** A payment method id, '' to clear it, undefined to keep it. */
  defaultPaymentMethod: string | undefined;
}

/**
 * The prorations an update makes and whether it invoices them at once (always_invoice). With
 * error_if_incomplete, an immediate invoice whose payment would fail is refused here, before
 * anything changes.
 */
export function planSubscriptionUpdate(core: SandboxCore, sub: Stripe.Subscription, update: SubscriptionUpdate): { lines: LineSpec[]; invoiceNow: boolean } {
  const { behavior, paymentBehavior, changes, at } = update;
  const dpm = update.defaultPaymentMethod;
  const lines = prorationLines(core, sub, changes, at, behavior);
  const invoiceNow = behavior === 'always_invoice' && (lines.length > 0 || pendingLinesFor(core, sub.id).length > 0) && changes.length > 0;
  if (invoiceNow && paymentBehavior === 'error_if_incomplete' && sub.collection_method === 'charge_automatically') {
    const customer = customers(core).require(sub.customer as string, 'customer');
    const due = [...pendingLinesFor(core, sub.id), ...lines].reduce((s, l) => s + l.amount, 0) + (customer.balance ?? 0);
    const decline = due > 0 ? declineCodeFor(core, dpm || paymentMethodFor(core, sub)) : null;
    if (decline) throw cardError(decline);
  }
  return { lines, invoiceNow };
}

/** The plain fields an update sets; undefined leaves a field as it is. */
export interface SubscriptionFields {
  description: string | undefined;
  daysUntilDue: number | undefined;
  metadata: Record<string, string>;
  cancellationDetails: { comment: string | undefined; feedback: Stripe.Subscription.CancellationDetails.Feedback | undefined } | undefined;
  cancelAtPeriodEnd: boolean | undefined;
  /** null resumes collection. */
  pauseCollection: Stripe.Subscription.PauseCollection | null | undefined;
}

/**
 * Applies an update planned by planSubscriptionUpdate: plain fields first (the payment method counts
 * for an immediate invoice), then the item changes; prorations wait on the next invoice
 * (create_prorations) or are invoiced now (always_invoice). Emits customer.subscription.updated when
 * anything changed.
 */
export function applySubscriptionUpdate(
  actor: Actor,
  sub: Stripe.Subscription,
  update: SubscriptionUpdate,
  plan: { lines: LineSpec[]; invoiceNow: boolean },
  fields: SubscriptionFields,
): Stripe.Subscription {
  const { core } = actor;
  const { behavior, paymentBehavior, changes, at } = update;
  const { lines, invoiceNow } = plan;
  const dpm = update.defaultPaymentMethod;
  const before = structuredClone(sub);
  const now = core.clock.now();
  if (dpm !== undefined) sub.default_payment_method = dpm || null;
  if (fields.description !== undefined) sub.description = fields.description || null;
  if (fields.daysUntilDue !== undefined) sub.days_until_due = fields.daysUntilDue;
  sub.metadata = fields.metadata;
  const details = fields.cancellationDetails;
  if (details) {
    const base = sub.cancellation_details ?? { comment: null, feedback: null, feedback_option: null, reason: null };
    sub.cancellation_details = { ...base, ...(details.comment !== undefined ? { comment: details.comment || null } : {}), ...(details.feedback ? { feedback: details.feedback } : {}) };
  }
  const cancelAtPeriodEnd = fields.cancelAtPeriodEnd;
  if (cancelAtPeriodEnd !== undefined && cancelAtPeriodEnd !== sub.cancel_at_period_end) {
    sub.cancel_at_period_end = cancelAtPeriodEnd;
    sub.cancel_at = cancelAtPeriodEnd ? currentPeriod(sub).end : null;
    // As at Stripe, canceled_at records when the cancellation was requested.
    sub.canceled_at = cancelAtPeriodEnd ? now : null;
    const base = sub.cancellation_details ?? { comment: null, feedback: null, feedback_option: null, reason: null };
    sub.cancellation_details = { ...base, reason: cancelAtPeriodEnd ? 'cancellation_requested' : null };
  }
  if (fields.pauseCollection !== undefined) sub.pause_collection = fields.pauseCollection;

  applyChanges(core, sub, changes);
  const sink = new EventSink(core, actor.eventRequest);
  let paid = true;
  if (lines.length > 0 && behavior === 'create_prorations') {
    for (const line of lines) {
      pendingItems(core).insert({ id: line.invoiceItem!, object: 'invoiceitem', created: now, customer: sub.customer as string, subscription: sub.id, line, invoice: null });
    }
  }
  if (invoiceNow) {
    const result = billSubscription(core, sub, [...pendingLinesFor(core, sub.id), ...lines], 'subscription_update', { start: at, end: at }, sink, { attemptPayment: paymentBehavior !== 'default_incomplete' });
    paid = result.paid;
  }
  if (!paid && sub.collection_method === 'charge_automatically' && paymentBehavior === 'allow_incomplete' && sub.status === 'active') sub.status = 'past_due';

  const previous = previousAttributes(before, sub);
  if (Object.keys(previous).length > 0) core.events.emit('customer.subscription.updated', sub, { previousAttributes: previous, request: actor.eventRequest });
  sink.flush();
  return sub;
}

/** Ends `sub` (canceled) and emits customer.subscription.deleted. */
export function endSubscription(
  core: SandboxCore,
  sub: Stripe.Subscription,
  endedAt: number,
  canceledAt: number,
  details: Stripe.Subscription.CancellationDetails,
  request?: { id: string | null; idempotency_key: string | null },
): void {
  sub.status = 'canceled';
  sub.ended_at = endedAt;
  sub.canceled_at = sub.canceled_at ?? canceledAt;
  sub.cancellation_details = details;
  // Open invoices of an ended subscription stay open (as at Stripe); no further invoices.
  core.events.emit('customer.subscription.deleted', sub, request ? { request } : {});
}

/**
 * A paused subscription (its trial ended without a payment method) resumes: a new period starts now
 * and is invoiced. With resume_on_payment_success, a payment that would fail leaves it paused and
 * answers Stripe's card error.
 */
export function resumePausedSubscription(actor: Actor, sub: Stripe.Subscription, paymentBehavior: 'resume_on_payment_attempt' | 'resume_on_payment_success'): Stripe.Subscription {
  const { core } = actor;
  const before = structuredClone(sub);
  const now = core.clock.now();
  const recurring = sub.items.data[0]!.price.recurring!;
  const end = addInterval(now, recurring.interval, recurring.interval_count);
  const lines = [...pendingLinesFor(core, sub.id), ...periodLines(core, sub, now, end)];
  // resume_on_payment_success: a payment that would fail leaves the subscription paused (no change).
  if (paymentBehavior === 'resume_on_payment_success' && sub.collection_method === 'charge_automatically') {
    const customer = customers(core).require(sub.customer as string, 'customer');
    const due = lines.reduce((s2, l) => s2 + l.amount, 0) + (customer.balance ?? 0);
    const decline = due > 0 ? declineCodeFor(core, paymentMethodFor(core, sub)) : null;
    if (decline) throw cardError(decline);
  }
  sub.billing_cycle_anchor = now;
  for (const item of sub.items.data) {
    item.current_period_start = now;
    item.current_period_end = end;
  }
  const sink = new EventSink(core, actor.eventRequest);
  const { paid } = billSubscription(core, sub, lines, 'subscription_update', { start: now, end: now }, sink);
  sub.status = paid || sub.collection_method === 'send_invoice' ? 'active' : 'past_due';
  const previous = previousAttributes(before, sub);
  core.events.emit('customer.subscription.resumed', sub, { request: actor.eventRequest });
  core.events.emit('customer.subscription.updated', sub, { previousAttributes: previous, request: actor.eventRequest });
  sink.flush();
  return sub;
}

// ---------------------------------------------------------------------------------------------
// Time: renewals, trial ends, cancellations at period end, incomplete expiry

/** Rolls every subscription whose period ended by sandbox time `now`. Registered as a clock handler. */
export function advanceSubscriptions(core: SandboxCore): void {
  const now = core.clock.now();
  for (const sub of subscriptions(core).newestFirst().reverse()) {
    if (sub.status === 'incomplete') {
      if (now >= sub.created + INCOMPLETE_EXPIRY_SECONDS) expireIncomplete(core, sub);
      continue;
    }
    if (!['active', 'past_due', 'trialing'].includes(sub.status)) continue;
    for (let guard = 0; guard < 10_000; guard++) {
      if (!rollOnce(core, sub, now)) break;
    }
  }
}

function expireIncomplete(core: SandboxCore, sub: Stripe.Subscription): void {
  const before = structuredClone(sub);
  const sink = new EventSink(core);
  const invoice = typeof sub.latest_invoice === 'string' ? invoices(core).get(sub.latest_invoice) : undefined;
  if (invoice && invoice.status === 'open') voidInvoice(core, invoice, sink);
  sub.status = 'incomplete_expired';
  sub.ended_at = sub.created + INCOMPLETE_EXPIRY_SECONDS;
  sink.flush();
  // Stripe documents incomplete_expired as terminal; the sandbox reports it as an update.
  core.events.emit('customer.subscription.updated', sub, { previousAttributes: previousAttributes(before, sub) });
}

/** Handles the next period boundary if it has passed; returns whether there may be another. */
function rollOnce(core: SandboxCore, sub: Stripe.Subscription, now: number): boolean {
  const { start, end } = currentPeriod(sub);
  const resumesAt = sub.pause_collection?.resumes_at;
  if (resumesAt && resumesAt <= Math.min(now, end)) {
    const previous = { pause_collection: structuredClone(sub.pause_collection) };
    sub.pause_collection = null;
    core.events.emit('customer.subscription.updated', sub, { previousAttributes: previous });
  }
  if (end > now) return false;
  if (sub.cancel_at !== null && sub.cancel_at <= end) {
    endSubscription(core, sub, sub.cancel_at, sub.cancel_at, sub.cancellation_details ?? { comment: null, feedback: null, feedback_option: null, reason: 'cancellation_requested' });
    return false;
  }
  const before = structuredClone(sub);
  const trialEnding = sub.status === 'trialing' && sub.trial_end !== null && sub.trial_end <= end;
  if (trialEnding && !paymentMethodFor(core, sub) && sub.collection_method === 'charge_automatically') {
    const behavior = sub.trial_settings?.end_behavior.missing_payment_method;
    if (behavior === 'pause') {
      sub.status = 'paused';
      core.events.emit('customer.subscription.updated', sub, { previousAttributes: previousAttributes(before, sub) });
      core.events.emit('customer.subscription.paused', sub);
      return false;
    }
    if (behavior === 'cancel') {
      endSubscription(core, sub, end, end, { comment: null, feedback: null, feedback_option: null, reason: null });
      return false;
    }
  }
  const recurring = sub.items.data[0]!.price.recurring!;
  const nextEnd = nextPeriodEnd(sub.billing_cycle_anchor, recurring, end);
  for (const item of sub.items.data) {
    item.current_period_start = end;
    item.current_period_end = nextEnd;
  }
  const sink = new EventSink(core);
  if (trialEnding) sub.status = 'active';
  const lines = [...pendingLinesFor(core, sub.id), ...periodLines(core, sub, end, nextEnd)];
  // The invoice covers the period that ended (period_start/period_end), billing the next in advance.
  const { invoice, paid } = billSubscription(core, sub, lines, 'subscription_cycle', { start, end }, sink);
  if (invoice.status !== 'draft' && invoice.status !== 'void' && invoice.status !== 'uncollectible' && sub.collection_method === 'charge_automatically') {
    sub.status = paid ? 'active' : 'past_due';
  }
  core.events.emit('customer.subscription.updated', sub, { previousAttributes: previousAttributes(before, sub) });
  sink.flush();
  return true;
}
