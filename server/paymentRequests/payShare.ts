// payMemberShare (issue 20, PAY-004 option C): one PaymentIntent per member, reused while it can still
// be paid.
//
//   1. payment_request_pay_begin() finds the token's member, claims the caller's key (scope
//      member:<member id>: anyone with the token may call), takes the share order, member and request
//      locks, refuses a share that cannot be paid, and returns the share order's live attempt, making
//      one (Stripe key member_share:<member id>:<attempt>, the member's attempt count + 1) when none is.
//   2. A new attempt is created at Stripe and recorded through checkout's own createAtStripe: the same
//      record step (checkout_record_attempt, which completes the key; a trigger keeps the member's
//      PaymentIntent id) and the same compensation (a PaymentIntent we could not record is canceled at
//      Stripe at once, or left needs_cleanup for the janitor).
//   3. An open attempt is retrieved at Stripe: still payable (requires_payment_method, also after a
//      decline; requires_confirmation; requires_action) → its client secret again, no new object;
//      paid or processing meanwhile → recorded and refused; canceled or gone → retired, and step 1 again
//      makes attempt n+1.
import Stripe from 'stripe';
import { applyPayment, isAttemptClosedMeanwhile, markAttempt, type PaymentAttempt, recordAttempt } from '../checkout/checkout.sql';
import { type CheckoutDeps, closeOpenAttempt, createAtStripe, factsFrom } from '../checkout/startPayment';
import { requestHash } from '../idempotency/requestHash';
import type { Db } from '../platform/db/db';
import type { OrderRow } from '../orders/orders.sql';
import { isProviderUnavailable, isStripeNotFound, type PaymentReading, readPaymentIntent } from '../stripe/payments';
import type { PaymentRequestDeps } from './paymentRequests';
import { hashPayToken, isPayTokenShape } from './tokens';
import type { MemberShareView, PayMemberShareResult, PaymentRequestError, PaymentRequestErrorCode } from './service';

const OPERATION = 'payMemberShare';

type BeginAnswer =
  | { outcome: 'not_found' }
  | { outcome: 'refused'; error: PaymentRequestErrorCode; share: MemberShareView }
  | { outcome: 'conflict'; operation: string }
  | { outcome: 'replay'; attempt: PaymentAttempt | null; share: MemberShareView }
  | { outcome: 'attempt'; attempt: PaymentAttempt; order: OrderRow; share: MemberShareView; payment_request_id: string; member_id: string; scope: string };

const MESSAGES: Record<PaymentRequestErrorCode, string> = {
  PAYMENT_REQUEST_NOT_FOUND: 'There is no such payment request.',
  SHARE_NOT_FOUND: 'This pay link is not valid (it may have been replaced by a newer one).',
  SHARE_ALREADY_PAID: 'This share is already paid.',
  SHARE_PROCESSING: 'A payment of this share is being processed.',
  REQUEST_NOT_PAYABLE: 'This payment request can no longer be paid.',
  REQUEST_NOT_CANCELABLE: 'This payment request can no longer be canceled.',
  PAYMENT_PROVIDER_UNAVAILABLE: 'Payments are unavailable for a moment. Nothing was charged. Try again in a minute.',
  SHARE_REFUNDED: 'This share was refunded; ask the requester.',
  REMINDERS_NOT_CONFIGURED: 'Reminders are not set up (no Make route for payment_request_reminder): no link was changed.',
};

export const shareError = (code: PaymentRequestErrorCode): PaymentRequestError => ({ code, message: MESSAGES[code] });

/** The PaymentIntent statuses a member can still pay (option C: reuse it). */
const PAYABLE = new Set(['requires_payment_method', 'requires_confirmation', 'requires_action']);

export async function payMemberShare(deps: PaymentRequestDeps, token: string, idempotencyKey: string): Promise<PayMemberShareResult> {
  // Not shaped like a token we make: nothing to look up.
  if (!isPayTokenShape(token)) return { outcome: 'refused', isRepeat: false, share: null, error: shareError('SHARE_NOT_FOUND') };
  const tokenHash = hashPayToken(token);
  const actor = 'member';
  // Each round settles one stale attempt (paid, canceled or gone at Stripe); a fourth means something is wrong.
  for (let round = 0; round < 4; round++) {
    const begun = await begin(deps.db, {
      token_hash: tokenHash,
      key: idempotencyKey,
      operation: OPERATION,
      // Everything about the request but the key: the token is the share, so the same key for the same
      // share is the same request; the member scope already separates shares.
      request_hash: requestHash(`${OPERATION}:${tokenHash}`),
      now: new Date(deps.now()).toISOString(),
      actor,
    });
    switch (begun.outcome) {
      case 'not_found':
        return { outcome: 'refused', isRepeat: false, share: null, error: shareError('SHARE_NOT_FOUND') };
      case 'conflict':
        return { outcome: 'conflict', operation: begun.operation };
      case 'refused':
        return { outcome: 'refused', isRepeat: false, share: begun.share, error: shareError(begun.error) };
      case 'replay':
        return replay(begun);
    }
    const { attempt, order, share, scope } = begun;
    const checkoutDeps = asCheckoutDeps(deps);
    const request = { scope, key: idempotencyKey, actor };
    if (attempt.status === 'creating') {
      let created;
      try {
        created = await createAtStripe(checkoutDeps, request, withShareMetadata(order, begun), attempt);
      } catch (error) {
        // The share was closed while Stripe made its PaymentIntent (the record step refused it, and
        // createAtStripe canceled it at Stripe): nothing to pay.
        if (isShareClosedMeanwhile(error)) return { outcome: 'refused', isRepeat: false, share: null, error: shareError('REQUEST_NOT_PAYABLE') };
        // The attempt was closed meanwhile but the share may still be payable: begin again as it stands.
        if (isAttemptClosedMeanwhile(error)) continue;
        if (!(error instanceof Stripe.errors.StripeInvalidRequestError)) throw error;
        return await refusedByStripe(deps, share, attempt, error, actor);
      }
      if (created.error) return { outcome: 'refused', isRepeat: false, share, error: shareError('PAYMENT_PROVIDER_UNAVAILABLE') };
      return paid(share, created.attempt!, false);
    }
    if (attempt.kind !== 'payment_intent') {
      // A Checkout Session someone started on the share's order: closed (or found paid) the checkout way,
      // so the share is never payable through two objects at once.
      const closed = await closeOpenAttempt(checkoutDeps, actor, order, attempt, 'replaced by the member’s PaymentIntent');
      if (closed?.error) return { outcome: 'refused', isRepeat: false, share, error: shareError(closed.error.code === 'ORDER_ALREADY_PAID' ? 'SHARE_ALREADY_PAID' : 'PAYMENT_PROVIDER_UNAVAILABLE') };
      continue;
    }
    const reused = await reuseOpenAttempt(deps, request, share, attempt);
    if (reused) return reused;
  }
  throw new Error('a member share’s payment attempts did not settle after four rounds');
}

/** checkout_record_attempt's refusal for a share order closed while its PaymentIntent was being made. */
const isShareClosedMeanwhile = (error: unknown): boolean =>
  (error as { code?: unknown })?.code === '55000' && (error as { hint?: unknown })?.hint === 'share_closed_meanwhile';

/**
 * Stripe refused to make the PaymentIntent (a share below its minimum charge made before create checked
 * it, a currency it does not take): asking again would be refused again. The attempt is abandoned, so
 * it holds back neither cancel nor expiry, and the member is told in words.
 */
async function refusedByStripe(deps: PaymentRequestDeps, share: MemberShareView, attempt: PaymentAttempt, error: Stripe.errors.StripeInvalidRequestError, actor: string): Promise<PayMemberShareResult> {
  deps.logger.warn({ orderId: attempt.order_id, attempt: attempt.attempt, code: error.code, param: error.param }, 'Stripe refused a member share’s PaymentIntent');
  await markAttempt(deps.db, { attempt_id: attempt.id, status: 'abandoned', actor, error: `Stripe refused the PaymentIntent: ${error.code ?? 'invalid_request_error'}` });
  return { outcome: 'refused', isRepeat: false, share, error: { code: 'REQUEST_NOT_PAYABLE', message: 'Stripe cannot take a payment of this share (it may be below Stripe’s minimum charge): ask the requester.' } };
}

const begin = async (db: Db, p: Record<string, unknown>): Promise<BeginAnswer> => {
  const { rows } = await db.query<{ result: BeginAnswer }>('select payment_request_pay_begin($1::jsonb) as result', [JSON.stringify(p)]);
  return rows[0]!.result;
};

/**
 * The share order's metadata plus the request's names on the PaymentIntent (checkout's
 * paymentIntentParams adds order_id and attempt, by which the applier and the janitor find the order).
 */
function withShareMetadata(order: OrderRow, begun: { payment_request_id: string; member_id: string }): OrderRow {
  return { ...order, metadata: { ...order.metadata, payment_request_id: begun.payment_request_id, payment_request_member_id: begun.member_id } };
}

/** createAtStripe makes only PaymentIntents here: Checkout's return URLs are never read. */
function asCheckoutDeps(deps: PaymentRequestDeps): CheckoutDeps {
  return { db: deps.db, stripe: deps.stripe, logger: deps.logger, checkoutUrls: { successUrl: '', cancelUrl: '' } };
}

function paid(share: MemberShareView, attempt: PaymentAttempt, isRepeat: boolean): PayMemberShareResult {
  return { outcome: 'pay', isRepeat, share, paymentIntentId: attempt.stripe_object_id!, clientSecret: attempt.client_secret! };
}

/** The key's first answer: the PaymentIntent it handed out. */
function replay(begun: Extract<BeginAnswer, { outcome: 'replay' }>): PayMemberShareResult {
  const attempt = begun.attempt;
  if (!attempt?.stripe_object_id || !attempt.client_secret) throw new Error('a completed payMemberShare key names no recorded attempt');
  return paid(begun.share, attempt, true);
}

/**
 * Option C. The share order's attempt is open: hand out its PaymentIntent again while Stripe says it can
 * still be paid; null when it cannot (canceled, or Stripe no longer has it): retired here, and the caller
 * begins again with a new attempt.
 */
async function reuseOpenAttempt(
  deps: PaymentRequestDeps,
  request: { scope: string; key: string; actor: string },
  share: MemberShareView,
  attempt: PaymentAttempt,
): Promise<PayMemberShareResult | null> {
  const objectId = attempt.stripe_object_id!;
  let intent: Stripe.PaymentIntent;
  try {
    intent = await deps.stripe.paymentIntents.retrieve(objectId);
  } catch (error) {
    if (isProviderUnavailable(error)) return { outcome: 'refused', isRepeat: false, share, error: shareError('PAYMENT_PROVIDER_UNAVAILABLE') };
    if (isStripeNotFound(error)) {
      deps.logger.warn({ orderId: attempt.order_id, attempt: attempt.attempt, stripeObjectId: objectId }, 'Stripe no longer knows a member’s PaymentIntent: replacing the attempt');
      await markAttempt(deps.db, { attempt_id: attempt.id, status: 'canceled', actor: request.actor, error: `Stripe has no PaymentIntent ${objectId} any more (resource_missing): replaced by a new attempt` });
      return null;
    }
    throw error;
  }
  if (PAYABLE.has(intent.status)) {
    try {
      const recorded = await recordAttempt(deps.db, { attempt_id: attempt.id, object_id: objectId, ...request });
      return paid(share, recorded.attempt, false);
    } catch (error) {
      // Retired since we read it (and closed at Stripe by whoever retired it): begin again.
      if (isAttemptClosedMeanwhile(error)) return null;
      throw error;
    }
  }
  if (intent.status === 'canceled') {
    await markAttempt(deps.db, { attempt_id: attempt.id, status: 'canceled', actor: request.actor });
    return null;
  }
  // Paid or processing meanwhile (quicker than its webhook): applied as the webhook would, and the
  // share is refused as it now stands.
  const reading: PaymentReading = readPaymentIntent(intent);
  await applyPayment(deps.db, factsFrom(attempt.kind, objectId, reading, { source: 'storefront', userId: null, actor: request.actor }));
  const code: PaymentRequestErrorCode = reading.outcome === 'PROCESSING' ? 'SHARE_PROCESSING' : reading.outcome === 'SUCCEEDED' ? 'SHARE_ALREADY_PAID' : 'REQUEST_NOT_PAYABLE';
  return { outcome: 'refused', isRepeat: false, share, error: shareError(code) };
}
