// What a Stripe event means for us, in the terms the SQL applier takes (stripe_event_effect() in
// supabase/migrations/20261122000400_webhook_apply.sql): which effect, on which object, and where the
// object's state stands in Stripe's progression (for object order). Pure functions of the payload,
// so every rule here is tested without a database.
import type Stripe from 'stripe';
import type { PaymentObjectFacts } from '../checkout/checkout.sql';
import { readCheckoutSession, readPaymentIntent } from '../stripe/payments';

/** The event types the applier acts on; any other is stored, marked ignored and acknowledged. */
export const HANDLED_EVENT_TYPES: ReadonlySet<string> = new Set([
  'checkout.session.completed',
  'checkout.session.async_payment_succeeded',
  'checkout.session.async_payment_failed',
  'checkout.session.expired',
  'payment_intent.succeeded',
  'payment_intent.payment_failed',
  'payment_intent.canceled',
  'payment_intent.processing',
  'payment_intent.requires_action',
  'charge.refunded',
  'refund.updated',
  'refund.failed',
  'charge.dispute.created',
  'charge.dispute.updated',
  'charge.dispute.closed',
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'customer.subscription.paused',
  'customer.subscription.resumed',
  'invoice.paid',
  'invoice.payment_failed',
  'invoice.voided',
  'invoice.marked_uncollectible',
]);

/** An object's state for object order: equal states are the same; rank orders same-second events. */
export interface ObjectState {
  id: string;
  type: string;
  state: string;
  rank: number;
  terminal: boolean;
}

interface PaymentEffect {
  effect: 'payment';
  object: ObjectState;
  /** An event always carries the amount, and says whether the payment failed. */
  payment: PaymentObjectFacts & { amount: number; currency: string; failure: NonNullable<PaymentObjectFacts['failure']> | null };
  /** From our metadata: enough to make the order if the storefront never told us about it. */
  owner: { track: string | null; customer_id: string | null; email: string | null; name: string | null };
}

/** The PaymentIntent and charge a refund or dispute is about (amount: the charge's, when the payload has it). */
interface ChargeRef {
  payment_intent_id: string | null;
  charge_id: string | null;
  amount: number | null;
  currency: string | null;
  order_id: string | null;
}

interface RefundFacts {
  object: ObjectState;
  amount: number;
  currency: string;
  status: string;
  reason: string | null;
  failure_reason: string | null;
  /** metadata.refund_id: our refund row, for a refund made here whose answer we could not record. */
  refund_id: string | null;
}

type Effect =
  | { effect: 'ignore'; reason: string }
  | PaymentEffect
  | { effect: 'refunds'; charge: ChargeRef; refunds: RefundFacts[] }
  | {
      effect: 'dispute';
      object: ObjectState;
      charge: ChargeRef;
      dispute: {
        amount: number;
        currency: string;
        status: string;
        reason: string | null;
        /** evidence_details.due_by (unix seconds), null when none. */
        evidence_due_by: number | null;
        is_charge_refundable: boolean | null;
      };
    }
  | {
      effect: 'subscription';
      object: ObjectState;
      subscription: {
        status: string;
        stripe_customer_id: string | null;
        customer_id: string | null;
        order_id: string | null;
        price_id: string | null;
        current_period_end: number | null;
        cancel_at_period_end: boolean;
        canceled_at: number | null;
        /** The item's current period start (unix seconds). */
        current_period_start: number | null;
        /** Stripe's pause_collection; null while collecting. */
        pause_collection: { behavior: string; resumes_at: number | null } | null;
      };
    }
  | {
      effect: 'invoice';
      object: ObjectState;
      invoice: {
        status: string;
        amount: number;
        currency: string;
        stripe_customer_id: string | null;
        customer_id: string | null;
        subscription_id: string | null;
        failure: { attempt_count: number; next_payment_attempt: number | null } | null;
        /** What the subscription's invoice list shows (subscription_invoices). */
        amount_due: number;
        amount_paid: number;
        hosted_invoice_url: string | null;
        period_start: number | null;
        period_end: number | null;
        invoice_created: number | null;
        /** The Stripe price the invoice billed, from its own lines (invoicePriceId); null when no line names one. */
        price_id: string | null;
      };
    };

export type EventFacts = { event_id: string; type: string; created: number; retrieved: boolean } & (
  | Effect
  /** The payload cannot settle the object's state: the applier retrieves the object and tries again. */
  | { effect: 'retrieve' }
  /** The payload could not be read: recorded as the event's error and retried (then failed). */
  | { effect: 'error'; error: string }
);

export interface TranslateOptions {
  /** This server's mode: live events for a live key, test events otherwise. */
  expectLive: boolean;
  /** data.object was retrieved from Stripe just now: Stripe's current state, not the event's. */
  retrieved?: boolean;
}

/** Why an event is stored and not applied: the other mode's, or a type we do not handle. */
export function reasonToIgnore(event: { livemode: boolean; type: string }, expectLive: boolean): string | null {
  if (event.livemode !== expectLive) return `${event.livemode ? 'live' : 'test'}-mode event, but this server runs in ${expectLive ? 'live' : 'test'} mode`;
  return HANDLED_EVENT_TYPES.has(event.type) ? null : `unhandled event type ${event.type}`;
}

/**
 * What the endpoint stores with a verified event: why it is ignored, or its facts for the applier.
 * Facts are null where the payload cannot be read: the applier translates it again and records why.
 */
export function factsAtIngest(event: Stripe.Event, expectLive: boolean): { ignoredReason: string | null; facts: EventFacts | null } {
  const ignoredReason = reasonToIgnore(event, expectLive);
  if (ignoredReason) return { ignoredReason, facts: null };
  const facts = translateEvent(event, { expectLive });
  return { ignoredReason: null, facts: facts.effect === 'error' ? null : facts };
}

export function translateEvent(event: Stripe.Event, options: TranslateOptions): EventFacts {
  const base = { event_id: event.id, type: event.type, created: event.created, retrieved: options.retrieved ?? false };
  const reason = reasonToIgnore(event, options.expectLive);
  if (reason) return { ...base, effect: 'ignore', reason };
  try {
    return { ...base, ...effectOf(event) };
  } catch (error) {
    return { ...base, effect: 'error', error: `unreadable ${event.type} payload: ${error instanceof Error ? error.message : String(error)}` };
  }
}

function effectOf(event: Stripe.Event): Effect | { effect: 'retrieve' } {
  const object = event.data?.object as { id?: unknown; object?: unknown } | undefined;
  if (!object || typeof object.id !== 'string') throw new Error('data.object has no id');
  const [prefix] = event.type.split('.', 1);
  switch (event.type.startsWith('charge.dispute.') ? 'dispute' : prefix) {
    case 'payment_intent':
      return paymentIntentEffect(object as Stripe.PaymentIntent);
    case 'checkout':
      return checkoutSessionEffect(object as Stripe.Checkout.Session, event.type);
    case 'charge':
      return chargeRefundedEffect(object as Stripe.Charge);
    case 'refund': {
      const refund = object as Stripe.Refund;
      return { effect: 'refunds', charge: chargeRefOfRefund(refund), refunds: [refundFacts(refund)] };
    }
    case 'dispute':
      return disputeEffect(object as Stripe.Dispute);
    case 'customer':
      return subscriptionEffect(object as Stripe.Subscription);
    case 'invoice':
      return invoiceEffect(object as Stripe.Invoice);
    default:
      throw new Error(`no translation for ${event.type}`);
  }
}

// Stripe's progressions. A PaymentIntent can go back to requires_payment_method (a declined retry)
// from any unpaid state: a lower rank in the same second is settled by retrieving the object.
const PAYMENT_INTENT_RANK: Record<string, number> = {
  requires_payment_method: 0,
  requires_confirmation: 1,
  requires_action: 2,
  processing: 3,
  requires_capture: 4,
  succeeded: 5,
  canceled: 5,
};
const PAYMENT_INTENT_TERMINAL = new Set(['succeeded', 'canceled']);

function state(id: string, type: string, value: string, ranks: Record<string, number>, terminal: ReadonlySet<string>, status = value): ObjectState {
  const rank = ranks[status];
  if (rank === undefined) throw new Error(`unknown ${type} status ${JSON.stringify(status)}`);
  return { id, type, state: value, rank, terminal: terminal.has(status) };
}

const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);
const idOf = (value: unknown): string | null => (typeof value === 'string' ? value : text((value as { id?: unknown } | null)?.id));

function attemptOf(metadata: Stripe.Metadata | null | undefined): number | null {
  const value = Number(metadata?.attempt);
  return Number.isInteger(value) && value >= 1 && value <= 1_000_000 ? value : null;
}

function amountOf(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new Error(`${field} is not an amount`);
  return value;
}

function currencyOf(value: unknown): string {
  if (typeof value !== 'string' || !/^[a-z]{3}$/.test(value)) throw new Error('currency is not an ISO code');
  return value;
}

function paymentIntentEffect(intent: Stripe.PaymentIntent): PaymentEffect {
  const reading = readPaymentIntent(intent);
  const error = intent.last_payment_error;
  const failed = intent.status === 'requires_payment_method' && error != null;
  return {
    effect: 'payment',
    object: state(intent.id, 'payment_intent', intent.status, PAYMENT_INTENT_RANK, PAYMENT_INTENT_TERMINAL),
    payment: {
      kind: 'payment_intent',
      object_id: intent.id,
      order_id: text(intent.metadata?.order_id),
      attempt: attemptOf(intent.metadata),
      order_status: failed ? 'failed' : reading.orderStatus,
      attempt_status: intent.status === 'canceled' ? 'canceled' : null,
      payment_intent_id: intent.id,
      charge_id: reading.chargeId,
      payment_status: intent.status,
      amount: amountOf(intent.amount, 'amount'),
      currency: currencyOf(intent.currency),
      failure: failed ? { code: error.decline_code ?? error.code ?? null, message: error.message ?? null } : null,
    },
    owner: { track: text(intent.metadata?.track), customer_id: text(intent.metadata?.customer_id), email: text(intent.receipt_email), name: null },
  };
}

// A session's state is its status with its payment status: complete-and-unpaid (a bank debit on its
// way) is not complete-and-paid. async_payment_failed leaves both unchanged, so the event type says it.
const SESSION_RANK: Record<string, number> = { open: 0, 'complete:unpaid': 1, 'complete:paid': 2, 'complete:no_payment_required': 2, 'complete:failed': 2, expired: 2 };
const SESSION_TERMINAL = new Set(['complete:paid', 'complete:no_payment_required', 'complete:failed', 'expired']);

function checkoutSessionEffect(session: Stripe.Checkout.Session, type: string): PaymentEffect {
  const asyncFailed = type === 'checkout.session.async_payment_failed';
  const value = session.status === 'complete' ? `complete:${asyncFailed ? 'failed' : session.payment_status}` : String(session.status);
  const reading = readCheckoutSession(session);
  const paid = reading.orderStatus === 'paid';
  return {
    effect: 'payment',
    object: state(session.id, 'checkout_session', value, SESSION_RANK, SESSION_TERMINAL),
    payment: {
      kind: 'checkout_session',
      object_id: session.id,
      order_id: text(session.metadata?.order_id) ?? text(session.client_reference_id),
      attempt: attemptOf(session.metadata),
      order_status: asyncFailed ? 'failed' : reading.orderStatus,
      attempt_status: session.status === 'expired' ? 'expired' : null,
      payment_intent_id: reading.paymentIntentId,
      charge_id: reading.chargeId,
      payment_status: asyncFailed ? 'requires_payment_method' : paid ? 'succeeded' : reading.orderStatus === 'processing' ? 'processing' : null,
      amount: amountOf(session.amount_total, 'amount_total'),
      currency: currencyOf(session.currency),
      failure: asyncFailed ? { code: 'async_payment_failed', message: 'The delayed payment failed' } : null,
    },
    owner: {
      track: text(session.metadata?.track),
      customer_id: text(session.metadata?.customer_id),
      email: text(session.customer_details?.email) ?? text(session.customer_email),
      name: text(session.customer_details?.name),
    },
  };
}

const REFUND_RANK: Record<string, number> = { pending: 0, requires_action: 0, succeeded: 1, failed: 2, canceled: 2 };
const REFUND_TERMINAL = new Set(['failed', 'canceled']);

function refundFacts(refund: Stripe.Refund): RefundFacts {
  // Stripe's refund.status is nullable: null is a refund not yet settled, 'pending' (String(null) would
  // store 'null', which refunds_status_known refuses, so the event could never apply).
  const status = refund.status ?? 'pending';
  return {
    object: state(refund.id, 'refund', status, REFUND_RANK, REFUND_TERMINAL),
    amount: amountOf(refund.amount, 'amount'),
    currency: currencyOf(refund.currency),
    status,
    reason: text(refund.reason),
    failure_reason: text(refund.failure_reason),
    refund_id: text(refund.metadata?.refund_id),
  };
}

/** Our order id: in the object's own metadata, or in its PaymentIntent's when that was expanded. */
function orderIdOf(metadata: Stripe.Metadata | null | undefined, paymentIntent: unknown): string | null {
  return text(metadata?.order_id) ?? text((paymentIntent as Stripe.PaymentIntent | null)?.metadata?.order_id);
}

/**
 * What the charge took, when the payload has it: the charge's own amount if expanded, else its
 * PaymentIntent's (the applier retrieves refunds and disputes with the PaymentIntent expanded). Null
 * otherwise: never the order's, which would make the amount check a tautology.
 */
function chargeAmountOf(charge: unknown, paymentIntent: unknown): { amount: number; currency: string } | { amount: null; currency: null } {
  const source = (charge && typeof charge === 'object' ? charge : paymentIntent && typeof paymentIntent === 'object' ? paymentIntent : null) as {
    amount?: unknown;
    currency?: unknown;
  } | null;
  // An expanded object without its amount (a partial fixture) says nothing of it: Stripe is asked.
  if (!source || source.amount === undefined || source.currency === undefined) return { amount: null, currency: null };
  return { amount: amountOf(source.amount, 'charge amount'), currency: currencyOf(source.currency) };
}

function chargeRefOfRefund(refund: Stripe.Refund): ChargeRef {
  return {
    payment_intent_id: idOf(refund.payment_intent),
    charge_id: idOf(refund.charge),
    ...chargeAmountOf(refund.charge, refund.payment_intent),
    order_id: orderIdOf(refund.metadata, refund.payment_intent),
  };
}

function chargeRefundedEffect(charge: Stripe.Charge): Effect | { effect: 'retrieve' } {
  const list = charge.refunds;
  // Since API 2022-11-15 the charge's refunds come only when expanded: without the full list the
  // payload cannot say which refunds make up amount_refunded, so Stripe is asked.
  if (!list || list.has_more || !Array.isArray(list.data)) return { effect: 'retrieve' };
  return {
    effect: 'refunds',
    charge: {
      payment_intent_id: idOf(charge.payment_intent),
      charge_id: charge.id,
      amount: amountOf(charge.amount, 'amount'),
      currency: currencyOf(charge.currency),
      order_id: orderIdOf(charge.metadata, charge.payment_intent),
    },
    refunds: list.data.map(refundFacts),
  };
}

const DISPUTE_RANK: Record<string, number> = {
  warning_needs_response: 0,
  needs_response: 0,
  warning_under_review: 1,
  under_review: 1,
  won: 2,
  lost: 2,
  warning_closed: 2,
  prevented: 2,
};
const DISPUTE_TERMINAL = new Set(['won', 'lost', 'warning_closed', 'prevented']);

function disputeEffect(dispute: Stripe.Dispute): Effect {
  return {
    effect: 'dispute',
    object: state(dispute.id, 'dispute', dispute.status, DISPUTE_RANK, DISPUTE_TERMINAL),
    charge: {
      payment_intent_id: idOf(dispute.payment_intent),
      charge_id: idOf(dispute.charge),
      ...chargeAmountOf(dispute.charge, dispute.payment_intent),
      order_id: orderIdOf(dispute.metadata, dispute.payment_intent),
    },
    dispute: {
      amount: amountOf(dispute.amount, 'amount'),
      currency: currencyOf(dispute.currency),
      status: dispute.status,
      reason: text(dispute.reason),
      evidence_due_by: typeof dispute.evidence_details?.due_by === 'number' ? dispute.evidence_details.due_by : null,
      is_charge_refundable: typeof dispute.is_charge_refundable === 'boolean' ? dispute.is_charge_refundable : null,
    },
  };
}

const SUBSCRIPTION_RANK: Record<string, number> = { incomplete: 0, trialing: 1, active: 2, past_due: 2, unpaid: 2, paused: 2, canceled: 3, incomplete_expired: 3 };
const SUBSCRIPTION_TERMINAL = new Set(['canceled', 'incomplete_expired']);

/** Exported for the subscription actions (server/subscriptions/actions.ts): Stripe's answer is read as a webhook's object is. */
export function subscriptionEffect(subscription: Stripe.Subscription): Effect {
  const item = subscription.items?.data?.[0] as (Stripe.SubscriptionItem & { current_period_end?: number; current_period_start?: number }) | undefined;
  const periodEnd = item?.current_period_end ?? (subscription as { current_period_end?: number }).current_period_end ?? null;
  const periodStart = item?.current_period_start ?? (subscription as { current_period_start?: number }).current_period_start ?? null;
  const pause = subscription.pause_collection;
  const facts = {
    status: subscription.status,
    stripe_customer_id: idOf(subscription.customer),
    customer_id: text(subscription.metadata?.customer_id),
    order_id: text(subscription.metadata?.order_id),
    price_id: idOf(item?.price),
    current_period_end: periodEnd,
    cancel_at_period_end: subscription.cancel_at_period_end === true,
    canceled_at: subscription.canceled_at ?? null,
    current_period_start: periodStart,
    pause_collection: pause ? { behavior: String(pause.behavior), resumes_at: pause.resumes_at ?? null } : null,
  };
  // Everything we keep is part of the state: two updates in one second that differ in any of it
  // (say, cancel at period end set and unset, or a pause) are settled by asking Stripe.
  const value = [facts.status, facts.price_id, facts.current_period_end, facts.cancel_at_period_end, facts.canceled_at, ...(pause ? [`pause:${pause.behavior}:${pause.resumes_at ?? ''}`] : [])].join('|');
  return { effect: 'subscription', object: state(subscription.id, 'subscription', value, SUBSCRIPTION_RANK, SUBSCRIPTION_TERMINAL, facts.status), subscription: facts };
}

// Stripe's invoice progression: draft, open, then paid or void, which are final. Uncollectible is not:
// Stripe lets an uncollectible invoice still be paid or voided, so a later paid or void event moves it on
// (and in the same second its higher rank does), while nothing moves a paid or void invoice back.
const INVOICE_RANK: Record<string, number> = { draft: 0, open: 1, uncollectible: 2, paid: 3, void: 3 };
const INVOICE_TERMINAL = new Set(['paid', 'void']);

function invoiceEffect(invoice: Stripe.Invoice): Effect {
  const status = String(invoice.status);
  const details = invoice.parent?.subscription_details;
  const legacySubscription = (invoice as { subscription?: unknown }).subscription;
  const paid = status === 'paid';
  return {
    effect: 'invoice',
    object: state(invoice.id ?? '', 'invoice', status, INVOICE_RANK, INVOICE_TERMINAL),
    invoice: {
      status,
      amount: amountOf(paid ? invoice.amount_paid : invoice.amount_due, paid ? 'amount_paid' : 'amount_due'),
      currency: currencyOf(invoice.currency),
      stripe_customer_id: idOf(invoice.customer),
      customer_id: text(details?.metadata?.customer_id) ?? text(invoice.metadata?.customer_id),
      subscription_id: idOf(details?.subscription) ?? idOf(legacySubscription),
      // Only an open invoice is waiting on a payment that failed; a void or uncollectible one is not.
      failure: status === 'open' ? { attempt_count: invoice.attempt_count ?? 0, next_payment_attempt: invoice.next_payment_attempt ?? null } : null,
      amount_due: amountOf(invoice.amount_due, 'amount_due'),
      amount_paid: amountOf(invoice.amount_paid, 'amount_paid'),
      hosted_invoice_url: text(invoice.hosted_invoice_url),
      period_start: typeof invoice.period_start === 'number' ? invoice.period_start : null,
      period_end: typeof invoice.period_end === 'number' ? invoice.period_end : null,
      invoice_created: typeof invoice.created === 'number' ? invoice.created : null,
      price_id: invoicePriceId(invoice),
    },
  };
}

/**
 * The price a subscription invoice billed, from its own lines, so the invoice keeps the track it was paid
 * on after the subscription moves to another price (the Overview's revenue by track). Only the
 * subscription's item lines count (parent subscription_item_details; the price in pricing.price_details).
 * A line that is not a proration is the period's charge (a first invoice, a renewal, a switch that
 * restarts the period) and names the price, even when the renewal also carries a switch's pending
 * prorations; an invoice of prorations alone (a switch invoiced at once) is named by its largest positive
 * line, the new price's remaining time, not the old price's credit. Null when no line qualifies (a
 * credit-only invoice, no lines in the payload): the Overview falls back to the subscription's price.
 * Stripe's payload embeds the first page of lines; a one-item subscription's invoice fits in it.
 */
export function invoicePriceId(invoice: Pick<Stripe.Invoice, 'lines'>): string | null {
  let best: { price: string; proration: boolean; amount: number } | null = null;
  for (const line of invoice.lines?.data ?? []) {
    const item = line.parent?.type === 'subscription_item_details' ? line.parent.subscription_item_details : null;
    const price = text(line.pricing?.price_details?.price);
    if (!item || !price || typeof line.amount !== 'number') continue;
    const proration = item.proration === true;
    if (proration && line.amount <= 0) continue;
    // A period's charge beats any proration; then the larger amount.
    if (!best || (best.proration && !proration) || (best.proration === proration && line.amount > best.amount)) best = { price, proration, amount: line.amount };
  }
  return best?.price ?? null;
}
