// Refunds: create (with `charge` or `payment_intent`, full or partial, `reason`, `metadata`),
// retrieve, list (charge, payment_intent, created, pagination), update (metadata only). The charge's
// amount_refunded and refunded follow; events refund.created and charge.refunded (refund.updated on
// update). Refunds succeed at once, as card refunds do in test mode, except a refund of a payment made
// with the refund-failure test card (pm_card_refundFail, 4000 0000 0000 5126): created `succeeded`,
// it fails REFUND_FAILURE_DELAY_SECONDS of sandbox time later (failDueRefunds), as Stripe's does.
import type Stripe from 'stripe';
import type { SandboxCore } from '../core';
import { invalidRequest, StripeApiError } from '../errors';
import { newId } from '../ids';
import { createdFilter, paginate } from '../list';
import { applyMetadata, optionalEnum, optionalInteger, optionalString, type Params, rejectUnknown } from '../params';
import { previousAttributes } from '../previousAttributes';
import type { Route } from '../router';
import { type Actor, automatic, charges } from './charges';
import { behaviourOf } from './paymentMethods';

export const refunds = (core: SandboxCore) => core.store.collection<Stripe.Refund>('refund');

const REASONS = ['duplicate', 'fraudulent', 'requested_by_customer'] as const;

const ZERO_DECIMAL = new Set(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf']);
const SYMBOLS: Record<string, string> = { usd: '$', eur: '€', gbp: '£', cad: '$', aud: '$', jpy: '¥' };

/** An amount the way Stripe's error messages print it, e.g. `$10.00`. */
export function formatAmount(amount: number, currency: string): string {
  const value = ZERO_DECIMAL.has(currency) ? String(amount) : (amount / 100).toFixed(2);
  const symbol = SYMBOLS[currency];
  return symbol ? `${symbol}${value}` : `${value} ${currency.toUpperCase()}`;
}

/** What can still be refunded: the captured amount less refunds (and released, uncaptured amounts). */
export const refundableAmount = (charge: Stripe.Charge) => charge.amount - charge.amount_refunded;

/**
 * Refunds `amount` (default: all that remains) of a charge, with Stripe's errors for a charge that
 * failed, is disputed, is already fully refunded, or has less left than asked.
 */
export function refundCharge(
  actor: Actor,
  charge: Stripe.Charge,
  options: { amount?: number; reason?: Stripe.Refund.Reason | null; metadata?: Record<string, string> } = {},
): Stripe.Refund {
  const { core } = actor;
  if (charge.status !== 'succeeded') throw invalidRequest(`Charge ${charge.id} has a status of ${charge.status} and cannot be refunded.`, 'charge', 'charge_not_refundable');
  if (charge.disputed) throw invalidRequest(`Charge ${charge.id} has been charged back; cannot issue a refund.`, 'charge', 'charge_disputed');
  const remaining = refundableAmount(charge);
  if (remaining <= 0) throw invalidRequest(`Charge ${charge.id} has already been refunded.`, 'charge', 'charge_already_refunded');
  const amount = options.amount ?? remaining;
  if (amount > remaining) {
    const released = charge.amount - charge.amount_captured;
    const whole = charge.amount_refunded === released && charge.captured;
    throw invalidRequest(
      whole
        ? `Refund amount (${formatAmount(amount, charge.currency)}) is greater than charge amount (${formatAmount(charge.amount_captured, charge.currency)})`
        : `Refund amount (${formatAmount(amount, charge.currency)}) is greater than unrefunded amount on charge (${formatAmount(remaining, charge.currency)})`,
      // Stripe sends no `code` for this refusal (only type, param and message): a client must not
      // rely on one, so the sandbox invents none.
      'amount',
    );
  }
  const refund: Stripe.Refund = {
    id: newId('re'),
    object: 'refund',
    amount,
    balance_transaction: newId('txn'),
    charge: charge.id,
    created: core.clock.now(),
    currency: charge.currency,
    customer: charge.customer as string | null,
    customer_account: null,
    destination_details: {
      card: { reference_status: 'pending', reference_type: 'acquirer_reference_number', type: 'refund' },
      type: 'card',
    },
    metadata: options.metadata ?? {},
    payment_intent: charge.payment_intent as string | null,
    payment_method: charge.payment_method,
    reason: options.reason ?? null,
    receipt_number: null,
    source_transfer_reversal: null,
    status: 'succeeded',
    transfer_reversal: null,
  };
  refunds(core).insert(refund);
  const before = structuredClone(charge);
  charge.amount_refunded += amount;
  charge.refunded = charge.amount_refunded >= charge.amount;
  core.events.emit('refund.created', refund, { request: actor.eventRequest });
  core.events.emit('charge.refunded', charge, { previousAttributes: previousAttributes(before, charge), request: actor.eventRequest });
  return refund;
}

/**
 * How long after its creation a refund of a pm_card_refundFail payment fails, in sandbox seconds.
 * Stripe says only "some time later"; tests reach it at once with sandbox.advanceClock(this), and a
 * sandbox delivering webhooks on its own timer (npm start) fails it once this much real time passed.
 */
export const REFUND_FAILURE_DELAY_SECONDS = 5;

/** Why a pm_card_refundFail refund fails: the card can no longer take the money back. */
const REFUND_FAILURE_REASON = 'expired_or_canceled_card';

/**
 * Fails every refund of a refund-failure test card payment that is due (created
 * REFUND_FAILURE_DELAY_SECONDS ago or more): status failed with failure_reason and a
 * failure_balance_transaction (the refunded amount credited back), the charge's amount_refunded
 * back down, and Stripe's events refund.updated, charge.refund.updated and refund.failed.
 * Registered as a clock handler and a timer handler; returns how many refunds failed.
 */
export function failDueRefunds(core: SandboxCore): number {
  const actor = automatic(core);
  const now = core.clock.now();
  let failed = 0;
  for (const refund of refunds(core).all()) {
    if (refund.status !== 'succeeded' || refund.created + REFUND_FAILURE_DELAY_SECONDS > now) continue;
    if (typeof refund.payment_method !== 'string' || behaviourOf(core, refund.payment_method).kind !== 'refund_failure') continue;
    const before = structuredClone(refund);
    refund.status = 'failed';
    refund.failure_reason = REFUND_FAILURE_REASON;
    refund.failure_balance_transaction = newId('txn');
    const charge = typeof refund.charge === 'string' ? charges(core).get(refund.charge) : undefined;
    if (charge) {
      charge.amount_refunded = Math.max(0, charge.amount_refunded - refund.amount);
      charge.refunded = charge.amount_refunded >= charge.amount;
    }
    const previous = previousAttributes(before, refund);
    core.events.emit('refund.updated', refund, { previousAttributes: previous, request: actor.eventRequest });
    core.events.emit('charge.refund.updated', refund, { previousAttributes: previous, request: actor.eventRequest });
    core.events.emit('refund.failed', refund, { request: actor.eventRequest });
    failed++;
  }
  return failed;
}

function chargeToRefund(core: SandboxCore, params: Params): Stripe.Charge {
  const chargeId = optionalString(params, 'charge');
  const intentId = optionalString(params, 'payment_intent');
  if (!chargeId && !intentId) throw invalidRequest('One of the following params should be provided for this request: charge or payment_intent.', undefined, 'parameter_missing');
  if (chargeId) {
    const charge = charges(core).require(chargeId, 'charge');
    if (intentId && charge.payment_intent !== intentId) throw invalidRequest(`Charge ${chargeId} does not belong to PaymentIntent ${intentId}.`, 'payment_intent');
    return charge;
  }
  const intent = core.store.collection<Stripe.PaymentIntent>('payment_intent').require(intentId!, 'payment_intent');
  const latest = typeof intent.latest_charge === 'string' ? intent.latest_charge : intent.latest_charge?.id;
  const charge = latest ? charges(core).get(latest) : undefined;
  if (!charge || charge.status !== 'succeeded') {
    throw invalidRequest(`This PaymentIntent (${intent.id}) does not have a successful charge to refund.`, 'payment_intent', 'charge_not_refundable');
  }
  return charge;
}

export const refundRoutes: Route[] = [
  {
    method: 'POST',
    path: '/v1/refunds',
    handler: (ctx) => {
      const { core, params } = ctx;
      rejectUnknown(params, ['amount', 'charge', 'currency', 'customer', 'expand', 'instructions_email', 'metadata', 'origin', 'payment_intent', 'reason', 'refund_application_fee', 'reverse_transfer']);
      const amount = optionalInteger(params, 'amount');
      if (amount !== undefined && amount < 1) throw invalidRequest('Invalid positive integer', 'amount', 'parameter_invalid_integer');
      const reason = optionalEnum(params, 'reason', REASONS);
      const metadata = applyMetadata({}, params);
      const charge = chargeToRefund(core, params);
      return refundCharge(ctx, charge, { amount, reason: reason ?? null, metadata });
    },
  },
  {
    method: 'GET',
    path: '/v1/refunds',
    handler: ({ core, params }) => {
      rejectUnknown(params, ['charge', 'created', 'ending_before', 'expand', 'limit', 'payment_intent', 'starting_after']);
      const charge = optionalString(params, 'charge');
      const paymentIntent = optionalString(params, 'payment_intent');
      const inRange = createdFilter(params);
      const list = refunds(core).newestFirst((r) => inRange(r.created) && (!charge || r.charge === charge) && (!paymentIntent || r.payment_intent === paymentIntent));
      return paginate(list, params, '/v1/refunds', 'refund');
    },
  },
  {
    method: 'GET',
    path: '/v1/refunds/:refund',
    handler: ({ core, params, path }) => {
      rejectUnknown(params, ['expand']);
      return refunds(core).require(path.refund!, 'refund');
    },
  },
  {
    method: 'POST',
    path: '/v1/refunds/:refund',
    handler: (ctx) => {
      const { core, params, path } = ctx;
      rejectUnknown(params, ['expand', 'metadata']);
      const refund = refunds(core).require(path.refund!, 'refund');
      const before = structuredClone(refund);
      refund.metadata = applyMetadata(refund.metadata ?? {}, params);
      const previous = previousAttributes(before, refund);
      if (Object.keys(previous).length > 0) core.events.emit('refund.updated', refund, { previousAttributes: previous, request: ctx.eventRequest });
      return refund;
    },
  },
  {
    method: 'POST',
    path: '/v1/refunds/:refund/cancel',
    handler: ({ core, params, path }) => {
      rejectUnknown(params, ['expand']);
      const refund = refunds(core).require(path.refund!, 'refund');
      throw new StripeApiError(400, {
        type: 'invalid_request_error',
        message: `Can't cancel a refund that is in state ${refund.status}. Only refunds in state requires_action can be canceled.`,
      });
    },
  },
];
