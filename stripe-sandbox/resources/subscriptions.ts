// Subscriptions routes: create, retrieve, list, update (price switches with prorations,
// pause_collection, cancel at period end), cancel, resume, and the invoice preview
// (POST /v1/invoices/create_preview) that shares the update's proration arithmetic. Each reads and
// checks the request's parameters and calls the state machine in ./subscriptions.machine.ts, which
// holds the billing rules and the emulation choices (see its header).
import type Stripe from 'stripe';
import { invalidRequest, missingParam, resourceMissing } from '../errors';
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
import type { Route, RouteContext } from '../router';
import { customers } from './customers';
import { draftInvoice } from './invoices';
import { resolvePaymentMethod } from './paymentMethods';
import { createPriceFromData, prices, withPrefix } from './prices';
import {
  addInterval,
  applyChanges,
  applySubscriptionUpdate,
  buildItem,
  currentPeriod,
  DAY,
  endSubscription,
  type ItemChange,
  nextPeriodEnd,
  openSubscription,
  pendingLinesFor,
  periodLines,
  planSubscriptionUpdate,
  PRORATION_BEHAVIORS,
  prorationLines,
  resumePausedSubscription,
  sameCycle,
  subscriptions,
} from './subscriptions.machine';

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
// Item changes (shared by update and preview)

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

function prorationDate(params: Params, sub: Stripe.Subscription, name: string): number {
  const value = optionalInteger(params, name, { min: 0 });
  if (value === undefined) return -1;
  const { start, end } = currentPeriod(sub);
  if (value < start || value > end) throw invalidRequest(`The proration_date must be within the subscription's current period (${start} to ${end}).`, name);
  return value;
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

  const cancelAtPeriodEnd = optionalBoolean(params, 'cancel_at_period_end') ?? false;
  const description = optionalString(params, 'description') || null;
  const metadata = applyMetadata({}, params);
  return openSubscription(ctx, { customer, items, collectionMethod, daysUntilDue, defaultPaymentMethod, paymentBehavior, trialEnd, missingPaymentMethod, cancelAtPeriodEnd, description, metadata });
}

// ---------------------------------------------------------------------------------------------
// Update, cancel, resume

function updateSubscription(ctx: RouteContext): Stripe.Subscription {
  const { core, params, path } = ctx;
  rejectUnknown(params, [...UPDATE_PARAMS, ...UNSUPPORTED_PARAMS, 'trial_end', 'trial_settings', 'collection_method']);
  refuseUnsupported(params, ['trial_end', 'trial_settings', 'collection_method']);
  const sub = subscriptions(core).require(path.subscription!, 'subscription');
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
  const defaultPaymentMethod = dpmParam ? resolvePaymentMethod(core, dpmParam, 'default_payment_method').id : dpmParam;
  const update = { behavior, paymentBehavior, changes, at, defaultPaymentMethod };
  // error_if_incomplete: an immediate invoice whose payment would fail is refused here, before anything changes.
  const plan = planSubscriptionUpdate(core, sub, update);

  // The plain fields, all read before the subscription changes.
  const description = optionalString(params, 'description');
  const daysUntilDue = optionalInteger(params, 'days_until_due', { min: 0, max: 730 });
  if (daysUntilDue !== undefined && sub.collection_method !== 'send_invoice') throw invalidRequest('`days_until_due` can only be set when `collection_method=send_invoice`.', 'days_until_due');
  const metadata = applyMetadata(sub.metadata, params);
  const details = optionalObject(params, 'cancellation_details');
  let cancellationDetails: { comment: string | undefined; feedback: Stripe.Subscription.CancellationDetails.Feedback | undefined } | undefined;
  if (details) {
    rejectUnknown(details, ['comment', 'feedback'], 'cancellation_details');
    const comment = optionalString(details, 'comment');
    const feedback = optionalEnum(details, 'feedback', ['customer_service', 'low_quality', 'missing_features', 'other', 'switched_service', 'too_complex', 'too_expensive', 'unused'] as const);
    cancellationDetails = { comment, feedback };
  }
  const cancelAtPeriodEnd = optionalBoolean(params, 'cancel_at_period_end');
  let pauseCollection: Stripe.Subscription.PauseCollection | null | undefined;
  if (params.pause_collection !== undefined) {
    if (params.pause_collection === '') pauseCollection = null;
    else {
      const pause = optionalObject(params, 'pause_collection')!;
      rejectUnknown(pause, ['behavior', 'resumes_at'], 'pause_collection');
      const pauseBehavior = optionalEnum(pause, 'behavior', ['keep_as_draft', 'mark_uncollectible', 'void'] as const);
      if (!pauseBehavior) throw missingParam('pause_collection[behavior]');
      const resumesAt = optionalInteger(pause, 'resumes_at', { min: now + 1 });
      pauseCollection = { behavior: pauseBehavior, resumes_at: resumesAt ?? null };
    }
  }
  return applySubscriptionUpdate(ctx, sub, update, plan, { description, daysUntilDue, metadata, cancellationDetails, cancelAtPeriodEnd, pauseCollection });
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
  return resumePausedSubscription(ctx, sub, paymentBehavior);
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
