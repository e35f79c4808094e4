// Subscriptions with their billing: creation (first invoice paid from the default payment method),
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
import type Stripe from 'stripe';
import type { SandboxCore } from '../core';
import { invalidRequest, missingParam, resourceMissing, StripeApiError } from '../errors';
import { newId } from '../ids';
import { createdFilter, paginate } from '../list';
import {
  applyMetadata,
  optionalArray,
  optionalBoolean,
  optionalEnum,
  optionalInteger,
  optionalObject,
  optionalString,
  type Params,
  rejectUnknown,
  requireString,
} from '../params';
import { previousAttributes } from '../previousAttributes';
import type { Route, RouteContext } from '../router';
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
import { resolvePaymentMethod } from './paymentMethods';
import { createPriceFromData, prices, withPrefix } from './prices';
import { products } from './products';

export const subscriptions = (core: SandboxCore) => core.store.collection<Stripe.Subscription>('subscription');

const DAY = 86400;
const INCOMPLETE_EXPIRY_SECONDS = 23 * 3600;
const PRORATION_BEHAVIORS = ['create_prorations', 'always_invoice', 'none'] as const;
type ProrationBehavior = (typeof PRORATION_BEHAVIORS)[number];

const CREATE_PARAMS = ['customer', 'items', 'metadata', 'proration_behavior', 'collection_method', 'days_until_due', 'default_payment_method', 'trial_period_days', 'trial_end', 'trial_settings', 'cancel_at_period_end', 'payment_behavior', 'description', 'expand', 'off_session', 'payment_settings'];
const UPDATE_PARAMS = ['items', 'metadata', 'proration_behavior', 'proration_date', 'cancel_at_period_end', 'pause_collection', 'default_payment_method', 'payment_behavior', 'description', 'cancellation_details', 'days_until_due', 'expand', 'off_session', 'payment_settings'];
/** Parameters Stripe knows that the sandbox does not emulate: refused explicitly, not as unknown. */
const UNSUPPORTED_PARAMS = ['billing_cycle_anchor', 'billing_cycle_anchor_config', 'cancel_at', 'trial_from_plan', 'add_invoice_items', 'discounts', 'automatic_tax', 'default_tax_rates', 'backdate_start_date', 'currency', 'transfer_data', 'application_fee_percent', 'on_behalf_of', 'billing_thresholds', 'pending_invoice_item_interval', 'trial_end_update', 'default_source', 'invoice_settings', 'billing_mode'];
const ITEM_PARAMS = ['id', 'price', 'price_data', 'quantity', 'deleted', 'metadata', 'clear_usage', 'tax_rates', 'discounts', 'billing_thresholds'];

function refuseUnsupported(params: Params, extra: readonly string[] = []): void {
  for (const name of [...UNSUPPORTED_PARAMS, ...extra]) {
    if (params[name] !== undefined) throw invalidRequest(`The Stripe sandbox does not emulate \`${name}\` on subscriptions.`, name);
  }
}

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
function nextPeriodEnd(anchor: number, recurring: Stripe.Price.Recurring, after: number): number {
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

function buildItem(core: SandboxCore, subscriptionId: string, price: Stripe.Price, quantity: number, metadata: Record<string, string>, start: number, end: number): Stripe.SubscriptionItem {
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

function currentPeriod(sub: Stripe.Subscription): { start: number; end: number } {
  const first = sub.items.data[0];
  if (!first) throw invalidRequest('This subscription has no items.');
  return { start: first.current_period_start, end: first.current_period_end };
}

function paymentMethodFor(core: SandboxCore, sub: Stripe.Subscription): string | null {
  if (sub.default_payment_method) return typeof sub.default_payment_method === 'string' ? sub.default_payment_method : sub.default_payment_method.id;
  const customer = customers(core).get(sub.customer as string);
  const pm = customer?.invoice_settings?.default_payment_method;
  return pm ? (typeof pm === 'string' ? pm : pm.id) : null;
}

function periodLines(core: SandboxCore, sub: Stripe.Subscription, start: number, end: number): LineSpec[] {
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

function pendingLinesFor(core: SandboxCore, subscriptionId: string): LineSpec[] {
  return pendingItems(core)
    .newestFirst((p) => p.subscription === subscriptionId)
    .reverse()
    .map((p) => p.line);
}

function consumePending(core: SandboxCore, subscriptionId: string): void {
  for (const p of pendingItems(core).newestFirst((i) => i.subscription === subscriptionId)) pendingItems(core).delete(p.id);
}

// ---------------------------------------------------------------------------------------------
// Item changes and prorations (shared by update and preview)

interface ItemChange {
  itemId: string;
  before: { price: Stripe.Price; quantity: number } | null;
  after: { price: Stripe.Price; quantity: number } | null;
  metadata?: Params;
}

function resolvePrice(ctx: RouteContext, entry: Params, prefix: string): Stripe.Price | undefined {
  const priceId = optionalString(entry, 'price');
  const priceData = optionalObject(entry, 'price_data');
  if (priceId && priceData) throw invalidRequest('You may only specify one of these parameters: price, price_data.', `${prefix}[price]`);
  let price: Stripe.Price | undefined;
  if (priceId) {
    price = prices(ctx.core).require(priceId, `${prefix}[price]`);
    if (!price.active) throw invalidRequest(`The price specified is inactive. This field only accepts active prices.`, `${prefix}[price]`);
  } else if (priceData) {
    if (!priceData.recurring) throw missingParam(`${prefix}[price_data][recurring]`);
    price = createPriceFromData(ctx, priceData, `${prefix}[price_data]`);
  }
  if (price && price.type !== 'recurring') {
    throw invalidRequest(`The price specified is set to \`type=one_time\` but this field only accepts prices with \`type=recurring\`.`, `${prefix}[price]`);
  }
  return price;
}

function sameCycle(a: Stripe.Price, b: Stripe.Price): boolean {
  return a.recurring!.interval === b.recurring!.interval && a.recurring!.interval_count === b.recurring!.interval_count;
}

function parseItemChanges(ctx: RouteContext, sub: Stripe.Subscription, entries: Params[], prefix: string): ItemChange[] {
  const changes: ItemChange[] = [];
  entries.forEach((entry, i) => {
    const name = `${prefix}[${i}]`;
    rejectUnknown(entry, ITEM_PARAMS, name);
    const id = optionalString(entry, 'id');
    const price = resolvePrice(ctx, entry, name);
    const quantity = optionalInteger(entry, 'quantity', { min: 0 });
    const deleted = optionalBoolean(entry, 'deleted') ?? false;
    const metadata = entry.metadata !== undefined ? entry : undefined;
    if (id) {
      const item = sub.items.data.find((it) => it.id === id);
      if (!item) throw resourceMissing('subscription_item', id, `${name}[id]`);
      const before = { price: item.price, quantity: item.quantity ?? 1 };
      const after = deleted ? null : { price: price ?? item.price, quantity: quantity ?? item.quantity ?? 1 };
      changes.push({ itemId: id, before, after, ...(metadata ? { metadata } : {}) });
    } else {
      if (deleted) throw missingParam(`${name}[id]`);
      if (!price) throw missingParam(`${name}[price]`);
      changes.push({ itemId: newId('si', 14), before: null, after: { price, quantity: quantity ?? 1 }, ...(metadata ? { metadata } : {}) });
    }
  });
  const reference = sub.items.data[0]?.price;
  for (const change of changes) {
    const price = change.after?.price;
    if (!price || !reference) continue;
    if (price.currency !== sub.currency) throw invalidRequest(`The price specified uses currency \`${price.currency}\`, but this subscription uses \`${sub.currency}\`.`, `${prefix}`);
    if (!sameCycle(price, reference)) {
      throw invalidRequest('The Stripe sandbox does not emulate switching a subscription to a price with a different billing interval (which resets the billing cycle).', prefix);
    }
  }
  if (changes.filter((c) => c.after).length + sub.items.data.filter((it) => !changes.some((c) => c.itemId === it.id)).length === 0) {
    throw invalidRequest('A subscription must have at least one active item.', prefix);
  }
  return changes;
}

/** The proration lines for `changes` made at time `at` (credit for the old, charge for the new). */
function prorationLines(core: SandboxCore, sub: Stripe.Subscription, changes: ItemChange[], at: number, behavior: ProrationBehavior): LineSpec[] {
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

function applyChanges(core: SandboxCore, sub: Stripe.Subscription, changes: ItemChange[]): void {
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

function prorationDate(params: Params, sub: Stripe.Subscription, name: string): number {
  const value = optionalInteger(params, name, { min: 0 });
  if (value === undefined) return -1;
  const { start, end } = currentPeriod(sub);
  if (value < start || value > end) throw invalidRequest(`The proration_date must be within the subscription's current period (${start} to ${end}).`, name);
  return value;
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
  consumePending(core, sub.id);
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

function cardError(declineCode: string): StripeApiError {
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

/** Creates a subscription from API parameters (also usable by Checkout's subscription mode). */
export function createSubscription(ctx: RouteContext, params: Params): Stripe.Subscription {
  const { core } = ctx;
  refuseUnsupported(params);
  const customer = customers(core).require(requireString(params, 'customer'), 'customer');
  const entries = optionalArray(params, 'items');
  if (!entries || entries.length === 0) throw missingParam('items');
  const items = entries.map((entry, i) => {
    const name = `items[${i}]`;
    rejectUnknown(entry, ITEM_PARAMS.filter((p) => !['id', 'deleted', 'clear_usage'].includes(p)), name);
    const price = resolvePrice(ctx, entry, name);
    if (!price) throw missingParam(`${name}[price]`);
    return { price, quantity: optionalInteger(entry, 'quantity', { min: 0 }) ?? 1, metadata: applyMetadata({}, entry) };
  });
  const first = items[0]!.price;
  if (items.some((it) => it.price.currency !== first.currency || !sameCycle(it.price, first))) {
    throw invalidRequest('Currency and interval fields must match across all prices on this subscription.', 'items');
  }
  const collectionMethod = optionalEnum(params, 'collection_method', ['charge_automatically', 'send_invoice'] as const) ?? 'charge_automatically';
  const daysUntilDue = optionalInteger(params, 'days_until_due', { min: 0, max: 730 });
  if (collectionMethod === 'send_invoice' && daysUntilDue === undefined) throw missingParam('days_until_due');
  if (collectionMethod === 'charge_automatically' && daysUntilDue !== undefined) throw invalidRequest('`days_until_due` can only be set when `collection_method=send_invoice`.', 'days_until_due');
  const dpmParam = optionalString(params, 'default_payment_method');
  // A magic test id (pm_card_visa) becomes a pm_ object, as at Stripe; other ids must exist.
  const defaultPaymentMethod = dpmParam ? resolvePaymentMethod(core, dpmParam, 'default_payment_method').id : null;
  const paymentBehavior = optionalEnum(params, 'payment_behavior', ['allow_incomplete', 'default_incomplete', 'error_if_incomplete', 'pending_if_incomplete'] as const) ?? 'allow_incomplete';
  if (paymentBehavior === 'pending_if_incomplete') throw invalidRequest('`payment_behavior=pending_if_incomplete` can only be used when updating a subscription.', 'payment_behavior');
  optionalEnum(params, 'proration_behavior', PRORATION_BEHAVIORS);

  const now = core.clock.now();
  let trialEnd: number | null = null;
  const trialDays = optionalInteger(params, 'trial_period_days', { min: 0, max: 730 });
  if (trialDays) trialEnd = now + trialDays * DAY;
  const trialEndParam = optionalString(params, 'trial_end');
  if (trialEndParam !== undefined && trialEndParam !== 'now') {
    if (trialDays !== undefined) throw invalidRequest('You may only specify one of these parameters: trial_end, trial_period_days.', 'trial_end');
    const ts = optionalInteger(params, 'trial_end', { min: now + 1 });
    if (ts !== undefined) trialEnd = ts;
  }
  let missingPaymentMethod: Stripe.Subscription.TrialSettings.EndBehavior.MissingPaymentMethod = 'create_invoice';
  const trialSettings = optionalObject(params, 'trial_settings');
  if (trialSettings) {
    rejectUnknown(trialSettings, ['end_behavior'], 'trial_settings');
    const endBehavior = optionalObject(trialSettings, 'end_behavior');
    if (endBehavior) {
      rejectUnknown(endBehavior, ['missing_payment_method'], 'trial_settings[end_behavior]');
      missingPaymentMethod = optionalEnum(endBehavior, 'missing_payment_method', ['cancel', 'create_invoice', 'pause'] as const) ?? 'create_invoice';
    }
  }

  const recurring = first.recurring!;
  const anchor = trialEnd ?? now;
  const periodEnd = trialEnd ?? addInterval(now, recurring.interval, recurring.interval_count);
  const id = newId('sub', 24);
  const cancelAtPeriodEnd = optionalBoolean(params, 'cancel_at_period_end') ?? false;
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
    description: optionalString(params, 'description') || null,
    discounts: [],
    ended_at: null,
    invoice_settings: { account_tax_ids: null, custom_fields: null, description: null, footer: null, issuer: { type: 'self' } },
    items: { object: 'list', data: [], has_more: false, url: `/v1/subscription_items?subscription=${id}` },
    latest_invoice: null,
    livemode: false,
    managed_payments: null,
    metadata: applyMetadata({}, params),
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
  const sink = new EventSink(core, ctx.eventRequest);
  const { paid } = billSubscription(core, sub, lines, 'subscription_create', { start: now, end: now }, sink, { attemptPayment: paymentBehavior !== 'default_incomplete' });
  if (trialEnd) sub.status = 'trialing';
  else if (collectionMethod === 'send_invoice' || paid) sub.status = 'active';
  else sub.status = 'incomplete';
  core.events.emit('customer.subscription.created', sub, { request: ctx.eventRequest });
  sink.flush();
  return sub;
}

// ---------------------------------------------------------------------------------------------
// Update, cancel, resume

function updateSubscription(ctx: RouteContext): Stripe.Subscription {
  const { core, params, path } = ctx;
  rejectUnknown(params, [...UPDATE_PARAMS, ...UNSUPPORTED_PARAMS, 'trial_end', 'trial_settings', 'collection_method']);
  refuseUnsupported(params, ['trial_end', 'trial_settings', 'collection_method']);
  const sub = subscriptions(core).require(path.subscription!, 'subscription');
  const before = structuredClone(sub);
  if (sub.status === 'canceled' || sub.status === 'incomplete_expired') {
    const allowed = ['metadata', 'cancellation_details', 'expand'];
    const other = Object.keys(params).find((k) => !allowed.includes(k));
    if (other) throw invalidRequest('A canceled subscription can only update its cancellation_details and metadata.', other);
  }
  const now = core.clock.now();
  const behavior = optionalEnum(params, 'proration_behavior', PRORATION_BEHAVIORS) ?? 'create_prorations';
  const paymentBehavior = optionalEnum(params, 'payment_behavior', ['allow_incomplete', 'default_incomplete', 'error_if_incomplete', 'pending_if_incomplete'] as const) ?? 'allow_incomplete';
  if (paymentBehavior === 'pending_if_incomplete') throw invalidRequest('The Stripe sandbox does not emulate `payment_behavior=pending_if_incomplete` (pending updates).', 'payment_behavior');
  const entries = optionalArray(params, 'items');
  const changes = entries ? parseItemChanges(ctx, sub, entries, 'items') : [];
  const explicitDate = prorationDate(params, sub, 'proration_date');
  const at = explicitDate >= 0 ? explicitDate : now;

  const dpmParam = optionalString(params, 'default_payment_method');
  const dpm = dpmParam ? resolvePaymentMethod(core, dpmParam, 'default_payment_method').id : dpmParam;

  const lines = prorationLines(core, sub, changes, at, behavior);
  const invoiceNow = behavior === 'always_invoice' && (lines.length > 0 || pendingLinesFor(core, sub.id).length > 0) && changes.length > 0;
  if (invoiceNow && paymentBehavior === 'error_if_incomplete' && sub.collection_method === 'charge_automatically') {
    const customer = customers(core).require(sub.customer as string, 'customer');
    const due = [...pendingLinesFor(core, sub.id), ...lines].reduce((s, l) => s + l.amount, 0) + (customer.balance ?? 0);
    const decline = due > 0 ? declineCodeFor(core, dpm || paymentMethodFor(core, sub)) : null;
    if (decline) throw cardError(decline);
  }

  // Plain fields first (the payment method counts for an immediate invoice).
  if (dpm !== undefined) sub.default_payment_method = dpm || null;
  const description = optionalString(params, 'description');
  if (description !== undefined) sub.description = description || null;
  const daysUntilDue = optionalInteger(params, 'days_until_due', { min: 0, max: 730 });
  if (daysUntilDue !== undefined) {
    if (sub.collection_method !== 'send_invoice') throw invalidRequest('`days_until_due` can only be set when `collection_method=send_invoice`.', 'days_until_due');
    sub.days_until_due = daysUntilDue;
  }
  sub.metadata = applyMetadata(sub.metadata, params);
  const details = optionalObject(params, 'cancellation_details');
  if (details) {
    rejectUnknown(details, ['comment', 'feedback'], 'cancellation_details');
    const base = sub.cancellation_details ?? { comment: null, feedback: null, feedback_option: null, reason: null };
    const comment = optionalString(details, 'comment');
    const feedback = optionalEnum(details, 'feedback', ['customer_service', 'low_quality', 'missing_features', 'other', 'switched_service', 'too_complex', 'too_expensive', 'unused'] as const);
    sub.cancellation_details = { ...base, ...(comment !== undefined ? { comment: comment || null } : {}), ...(feedback ? { feedback } : {}) };
  }
  const cancelAtPeriodEnd = optionalBoolean(params, 'cancel_at_period_end');
  if (cancelAtPeriodEnd !== undefined && cancelAtPeriodEnd !== sub.cancel_at_period_end) {
    sub.cancel_at_period_end = cancelAtPeriodEnd;
    sub.cancel_at = cancelAtPeriodEnd ? currentPeriod(sub).end : null;
    // As at Stripe, canceled_at records when the cancellation was requested.
    sub.canceled_at = cancelAtPeriodEnd ? now : null;
    const base = sub.cancellation_details ?? { comment: null, feedback: null, feedback_option: null, reason: null };
    sub.cancellation_details = { ...base, reason: cancelAtPeriodEnd ? 'cancellation_requested' : null };
  }
  if (params.pause_collection !== undefined) {
    if (params.pause_collection === '') sub.pause_collection = null;
    else {
      const pause = optionalObject(params, 'pause_collection')!;
      rejectUnknown(pause, ['behavior', 'resumes_at'], 'pause_collection');
      const pauseBehavior = optionalEnum(pause, 'behavior', ['keep_as_draft', 'mark_uncollectible', 'void'] as const);
      if (!pauseBehavior) throw missingParam('pause_collection[behavior]');
      const resumesAt = optionalInteger(pause, 'resumes_at', { min: now + 1 });
      sub.pause_collection = { behavior: pauseBehavior, resumes_at: resumesAt ?? null };
    }
  }

  applyChanges(core, sub, changes);
  const sink = new EventSink(core, ctx.eventRequest);
  let paid = true;
  if (lines.length > 0 && behavior === 'create_prorations') {
    for (const line of lines) {
      pendingItems(core).insert({ id: line.invoiceItem!, object: 'invoiceitem', created: now, customer: sub.customer as string, subscription: sub.id, line });
    }
  }
  if (invoiceNow) {
    const result = billSubscription(core, sub, [...pendingLinesFor(core, sub.id), ...lines], 'subscription_update', { start: at, end: at }, sink, { attemptPayment: paymentBehavior !== 'default_incomplete' });
    paid = result.paid;
  }
  if (!paid && sub.collection_method === 'charge_automatically' && paymentBehavior === 'allow_incomplete' && sub.status === 'active') sub.status = 'past_due';

  const previous = previousAttributes(before, sub);
  if (Object.keys(previous).length > 0) core.events.emit('customer.subscription.updated', sub, { previousAttributes: previous, request: ctx.eventRequest });
  sink.flush();
  return sub;
}

function cancelSubscription(ctx: RouteContext): Stripe.Subscription {
  const { core, params, path } = ctx;
  rejectUnknown(params, ['cancellation_details', 'invoice_now', 'prorate', 'expand']);
  const sub = subscriptions(core).require(path.subscription!, 'subscription');
  if (sub.status === 'canceled' || sub.status === 'incomplete_expired') throw invalidRequest(`This subscription has already been canceled: ${sub.id}.`, undefined, 'resource_missing');
  if (optionalBoolean(params, 'invoice_now') || optionalBoolean(params, 'prorate')) {
    throw invalidRequest('The Stripe sandbox does not emulate `invoice_now` or `prorate` on cancellation.', params.invoice_now !== undefined ? 'invoice_now' : 'prorate');
  }
  const now = core.clock.now();
  const details = optionalObject(params, 'cancellation_details');
  let comment: string | null = sub.cancellation_details?.comment ?? null;
  let feedback: Stripe.Subscription.CancellationDetails.Feedback | null = sub.cancellation_details?.feedback ?? null;
  if (details) {
    rejectUnknown(details, ['comment', 'feedback'], 'cancellation_details');
    const c = optionalString(details, 'comment');
    if (c !== undefined) comment = c || null;
    feedback = optionalEnum(details, 'feedback', ['customer_service', 'low_quality', 'missing_features', 'other', 'switched_service', 'too_complex', 'too_expensive', 'unused'] as const) ?? feedback;
  }
  endSubscription(core, sub, now, now, { comment, feedback, feedback_option: null, reason: 'cancellation_requested' }, ctx.eventRequest);
  return sub;
}

function endSubscription(
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

function resumeSubscription(ctx: RouteContext): Stripe.Subscription {
  const { core, params, path } = ctx;
  rejectUnknown(params, ['billing_cycle_anchor', 'payment_behavior', 'proration_behavior', 'proration_date', 'expand']);
  const sub = subscriptions(core).require(path.subscription!, 'subscription');
  if (sub.status !== 'paused') throw invalidRequest('Only subscriptions with status `paused` can be resumed.', undefined, 'resource_missing');
  // endive: billing_cycle_anchor is `{ type: now | unchanged }` (older versions sent a string).
  const anchorParam = params.billing_cycle_anchor;
  const anchorType = typeof anchorParam === 'object' && anchorParam !== null ? (anchorParam as Params).type : anchorParam;
  if (anchorType !== undefined && anchorType !== 'now') {
    throw invalidRequest('The Stripe sandbox only emulates resuming with `billing_cycle_anchor[type]=now`.', 'billing_cycle_anchor');
  }
  optionalEnum(params, 'proration_behavior', PRORATION_BEHAVIORS);
  const paymentBehavior = optionalEnum(params, 'payment_behavior', ['resume_on_payment_attempt', 'resume_on_payment_success'] as const) ?? 'resume_on_payment_attempt';
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
  const sink = new EventSink(core, ctx.eventRequest);
  const { paid } = billSubscription(core, sub, lines, 'subscription_update', { start: now, end: now }, sink);
  sub.status = paid || sub.collection_method === 'send_invoice' ? 'active' : 'past_due';
  const previous = previousAttributes(before, sub);
  core.events.emit('customer.subscription.resumed', sub, { request: ctx.eventRequest });
  core.events.emit('customer.subscription.updated', sub, { previousAttributes: previous, request: ctx.eventRequest });
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

// ---------------------------------------------------------------------------------------------
// Preview (POST /v1/invoices/create_preview)

const PREVIEW_DETAILS = ['items', 'proration_behavior', 'proration_date', 'cancel_at_period_end', 'cancel_now', 'cancel_at', 'billing_cycle_anchor', 'default_tax_rates', 'resume_at', 'start_date', 'trial_end', 'billing_mode'];

export function previewInvoice(ctx: RouteContext): Stripe.Invoice {
  const { core, params } = ctx;
  rejectUnknown(params, ['customer', 'subscription', 'subscription_details', 'expand', 'preview_mode', 'automatic_tax', 'currency', 'discounts', 'invoice_items', 'customer_details', 'issuer', 'on_behalf_of', 'schedule', 'schedule_details', 'customer_account']);
  for (const name of ['automatic_tax', 'discounts', 'invoice_items', 'customer_details', 'schedule', 'schedule_details', 'on_behalf_of']) {
    if (params[name] !== undefined) throw invalidRequest(`The Stripe sandbox does not emulate \`${name}\` in invoice previews.`, name);
  }
  const details = optionalObject(params, 'subscription_details') ?? {};
  rejectUnknown(details, PREVIEW_DETAILS, 'subscription_details');
  for (const name of ['cancel_at', 'billing_cycle_anchor', 'resume_at', 'start_date', 'trial_end', 'default_tax_rates', 'billing_mode']) {
    if (details[name] !== undefined) throw invalidRequest(`The Stripe sandbox does not emulate \`subscription_details[${name}]\`.`, `subscription_details[${name}]`);
  }
  const subscriptionId = optionalString(params, 'subscription');
  const customerId = optionalString(params, 'customer');
  const now = core.clock.now();
  const behavior = optionalEnum(details, 'proration_behavior', PRORATION_BEHAVIORS) ?? 'create_prorations';
  const entries = optionalArray(details, 'items');

  if (!subscriptionId) {
    if (!customerId) throw invalidRequest('You must specify one of these parameters: customer, subscription, schedule.', 'customer');
    const customer = customers(core).require(customerId, 'customer');
    if (!entries) throw invalidRequest(`No upcoming invoices for customer: ${customer.id}`, undefined, 'invoice_upcoming_none');
    // A new subscription: its first invoice.
    const sub = {
      id: 'sub_preview',
      status: 'incomplete',
      currency: '',
      items: { object: 'list', data: [] as Stripe.SubscriptionItem[], has_more: false, url: '' },
    } as unknown as Stripe.Subscription; // a stand-in only used to build line specs
    const specs = entries.map((entry, i) => {
      const name = `subscription_details[items][${i}]`;
      rejectUnknown(entry, ITEM_PARAMS, name);
      const price = resolvePrice(ctx, entry, name);
      if (!price) throw missingParam(`${name}[price]`);
      return { price, quantity: optionalInteger(entry, 'quantity', { min: 0 }) ?? 1 };
    });
    const recurring = specs[0]!.price.recurring!;
    const end = addInterval(now, recurring.interval, recurring.interval_count);
    sub.items.data = specs.map((s) => buildItem(core, sub.id, s.price, s.quantity, {}, now, end));
    const lines = periodLines(core, sub, now, end).map((l) => ({ ...l, subscription: null }));
    return draftInvoice(core, { customer, subscription: null, billingReason: 'upcoming', lines, periodStart: now, periodEnd: now, currency: specs[0]!.price.currency, preview: true });
  }

  const real = subscriptions(core).require(subscriptionId, 'subscription');
  if (customerId && customerId !== real.customer) throw invalidRequest(`The subscription ${real.id} does not belong to customer ${customerId}.`, 'customer');
  if (real.status === 'canceled' || real.status === 'incomplete_expired') throw invalidRequest(`No upcoming invoices for customer: ${real.customer as string}`, undefined, 'invoice_upcoming_none');
  const customer = customers(core).require(real.customer as string, 'customer');
  const sub = structuredClone(real);
  const changes = entries ? parseItemChanges(ctx, sub, entries, 'subscription_details[items]') : [];
  const explicitDate = withPrefix('subscription_details', () => prorationDate(details, sub, 'proration_date'));
  const at = explicitDate >= 0 ? explicitDate : now;
  const prorations = prorationLines(core, sub, changes, at, behavior);
  applyChanges(core, sub, changes);
  const pending = pendingLinesFor(core, sub.id);
  const prorationDateField = changes.length > 0 ? at : undefined;
  const { start, end } = currentPeriod(sub);

  if (behavior === 'always_invoice' && changes.length > 0 && (prorations.length > 0 || pending.length > 0)) {
    return draftInvoice(core, { customer, subscription: sub, billingReason: 'upcoming', lines: [...pending, ...prorations], periodStart: at, periodEnd: at, currency: sub.currency, preview: true, ...(prorationDateField !== undefined ? { prorationDate: prorationDateField } : {}) });
  }
  const cancelAtPeriodEnd = optionalBoolean(details, 'cancel_at_period_end') ?? sub.cancel_at_period_end;
  const cancelNow = optionalBoolean(details, 'cancel_now') ?? false;
  const lines = [...pending, ...prorations];
  if (!cancelAtPeriodEnd && !cancelNow && sub.status !== 'paused') {
    const recurring = sub.items.data[0]!.price.recurring!;
    lines.push(...periodLines(core, sub, end, nextPeriodEnd(sub.billing_cycle_anchor, recurring, end)));
  }
  if (lines.length === 0) throw invalidRequest(`No upcoming invoices for customer: ${customer.id}`, undefined, 'invoice_upcoming_none');
  return draftInvoice(core, { customer, subscription: sub, billingReason: 'upcoming', lines, periodStart: start, periodEnd: end, currency: sub.currency, preview: true, ...(prorationDateField !== undefined ? { prorationDate: prorationDateField } : {}) });
}

// ---------------------------------------------------------------------------------------------
// Routes

const LIST_STATUSES = ['active', 'all', 'canceled', 'ended', 'incomplete', 'incomplete_expired', 'past_due', 'paused', 'trialing', 'unpaid'] as const;

export const subscriptionRoutes: Route[] = [
  {
    method: 'POST',
    path: '/v1/subscriptions',
    handler: (ctx) => {
      rejectUnknown(ctx.params, [...CREATE_PARAMS, ...UNSUPPORTED_PARAMS]);
      return createSubscription(ctx, ctx.params);
    },
  },
  {
    method: 'GET',
    path: '/v1/subscriptions',
    handler: ({ core, params }) => {
      rejectUnknown(params, ['automatic_tax', 'collection_method', 'created', 'current_period_end', 'current_period_start', 'customer', 'ending_before', 'expand', 'limit', 'price', 'starting_after', 'status', 'test_clock']);
      const customer = optionalString(params, 'customer');
      const price = optionalString(params, 'price');
      const status = optionalEnum(params, 'status', LIST_STATUSES);
      const collection = optionalEnum(params, 'collection_method', ['charge_automatically', 'send_invoice'] as const);
      const inRange = createdFilter(params);
      const statusMatches = (s: string) => {
        if (status === 'all') return true;
        if (status === 'ended') return s === 'canceled' || s === 'incomplete_expired';
        if (status) return s === status;
        return s !== 'canceled' && s !== 'incomplete_expired';
      };
      const list = subscriptions(core).newestFirst(
        (s) =>
          inRange(s.created) &&
          statusMatches(s.status) &&
          (!customer || s.customer === customer) &&
          (!price || s.items.data.some((it) => it.price.id === price)) &&
          (!collection || s.collection_method === collection),
      );
      return paginate(list, params, '/v1/subscriptions', 'subscription');
    },
  },
  {
    method: 'GET',
    path: '/v1/subscriptions/:subscription',
    handler: ({ core, params, path }) => {
      rejectUnknown(params, ['expand']);
      return subscriptions(core).require(path.subscription!, 'subscription');
    },
  },
  { method: 'POST', path: '/v1/subscriptions/:subscription', handler: updateSubscription },
  { method: 'DELETE', path: '/v1/subscriptions/:subscription', handler: cancelSubscription },
  { method: 'POST', path: '/v1/subscriptions/:subscription/resume', handler: resumeSubscription },
];
