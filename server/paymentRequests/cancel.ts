// cancelPaymentRequest: every unpaid member's open PaymentIntent is canceled at Stripe first (outside
// any transaction, key cancel_member_share:<attempt id>), and what Stripe answers is recorded through
// order_apply_payment: a PaymentIntent that turns out paid is recorded as paid, so its share stays
// paid. Then payment_request_cancel_finish closes the request under the locks (share orders in id
// order, members, the request). A PaymentIntent made meanwhile makes finish answer `again`, and the
// round is run once more. Stripe unreachable: nothing is closed, the key is given back, and the same
// request again cancels with the same Stripe keys.
import Stripe from 'stripe';
import type { Viewer } from '../auth/viewer';
import { factsFrom } from '../checkout/startPayment';
import { applyPayment } from '../checkout/checkout.sql';
import { runStaffAction } from '../idempotency/staffAction';
import { describeStripeError, isProviderUnavailable, readPaymentIntent } from '../stripe/payments';
import { actorTypeOf, isUuid, mayCancel, mayRead } from './access';
import type { PaymentRequestDeps } from './paymentRequests';
import { cancelTargets, type CancelTarget, finishCancel } from './paymentRequests.sql';
import { findRequest } from './read.sql';
import type { PaymentRequestActionResult, PaymentRequestError } from './service';
import { ForbiddenError } from '../platform/errors';

/** Rounds of cancel-then-close before giving up on members who keep starting payments meanwhile. */
const MAX_ROUNDS = 3;

export const cancelMemberShareKey = (attemptId: string) => `cancel_member_share:${attemptId}`;

export const NOT_FOUND: PaymentRequestError = { code: 'PAYMENT_REQUEST_NOT_FOUND', message: 'No such payment request.' };
const NOT_CANCELABLE: PaymentRequestError = { code: 'REQUEST_NOT_CANCELABLE', message: 'The request is already paid, canceled or expired.' };
const UNAVAILABLE: PaymentRequestError = {
  code: 'PAYMENT_PROVIDER_UNAVAILABLE',
  message: 'Stripe could not be reached, so the request is not canceled yet: send the same request again.',
};

const PAYMENT_STARTING: PaymentRequestError = {
  code: 'PAYMENT_PROVIDER_UNAVAILABLE',
  message: 'A member is starting a payment at Stripe right now, so the request is not canceled yet: send the same request again in a moment.',
};

/** Nothing closed; the answer to give (the key is given back, so the same request may try again). */
class ProviderUnavailable extends Error {
  constructor(readonly answer: PaymentRequestError = UNAVAILABLE) {
    super(answer.message);
  }
}

/** What the key keeps: ids and outcomes only (a repeat reads the request as it stands). */
interface CancelResponse {
  paymentRequestId: string;
  outcome: 'done' | 'refused';
  error?: PaymentRequestError;
}

export async function cancelPaymentRequest(deps: PaymentRequestDeps, viewer: Viewer, id: string, idempotencyKey: string): Promise<PaymentRequestActionResult> {
  const request = isUuid(id) ? await findRequest(deps.db, id) : null;
  if (!request || !mayRead(viewer, request)) return { outcome: 'refused', isRepeat: false, request: null, error: NOT_FOUND };
  if (!mayCancel(viewer, request)) throw new ForbiddenError('Only the request\'s creator or an admin may cancel it');
  const actorType = actorTypeOf(viewer);
  const actor = `${actorType}:${viewer.id}`;
  let result;
  try {
    result = await runStaffAction<CancelResponse>(deps.db, {
      viewer,
      key: idempotencyKey,
      operation: 'cancel_payment_request',
      canonicalInput: { id },
      actorType,
      logger: deps.logger,
      work: async () => {
        const response = await cancelWork(deps, id, actor);
        return { response, keep: response.outcome === 'done' };
      },
      audit: () => ({ action: 'payment_request.cancel', targetType: 'payment_request', targetId: id }),
    });
  } catch (error) {
    if (error instanceof ProviderUnavailable) {
      return { outcome: 'refused', isRepeat: false, request: await findRequest(deps.db, id), error: error.answer };
    }
    throw error;
  }
  const now = await findRequest(deps.db, id);
  if (result.response.outcome === 'refused') return { outcome: 'refused', isRepeat: result.isRepeat, request: now, error: result.response.error ?? NOT_CANCELABLE };
  return { outcome: 'done', isRepeat: result.isRepeat, request: now! };
}

async function cancelWork(deps: PaymentRequestDeps, id: string, actor: string): Promise<CancelResponse> {
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const targets = await cancelTargets(deps.db, id);
    if (!targets) return { paymentRequestId: id, outcome: 'refused', error: NOT_FOUND };
    if (targets.status !== 'open' && targets.status !== 'partially_paid') return { paymentRequestId: id, outcome: 'refused', error: NOT_CANCELABLE };
    for (const target of targets.attempts) await cancelAtStripe(deps, target, actor);
    const finish = await finishCancel(deps.db, { id, actor });
    if (finish.outcome === 'canceled') return { paymentRequestId: id, outcome: 'done' };
    if (finish.outcome === 'not_found') return { paymentRequestId: id, outcome: 'refused', error: NOT_FOUND };
    if (finish.outcome === 'not_cancelable') return { paymentRequestId: id, outcome: 'refused', error: NOT_CANCELABLE };
    // A member's PaymentIntent is being made or was made meanwhile: a moment for its record, then again.
    await new Promise((resolve) => setTimeout(resolve, 200 * (round + 1)));
  }
  // Members kept starting payments while we canceled: nothing is closed; the same request again tries anew.
  deps.logger.warn({ paymentRequestId: id }, 'payment request cancel: a member payment kept being started, not canceled');
  throw new ProviderUnavailable(PAYMENT_STARTING);
}

/** Cancels one share's PaymentIntent at Stripe and records what it is now (canceled, or paid after all). */
async function cancelAtStripe(deps: PaymentRequestDeps, target: CancelTarget, actor: string): Promise<void> {
  let intent: Stripe.PaymentIntent;
  try {
    try {
      intent = await deps.stripe.paymentIntents.cancel(target.payment_intent_id, {}, { idempotencyKey: cancelMemberShareKey(target.attempt_id) });
    } catch (error) {
      // Refused: it succeeded, is processing or was canceled already. Recorded as it stands.
      if (!(error instanceof Stripe.errors.StripeInvalidRequestError)) throw error;
      intent = await deps.stripe.paymentIntents.retrieve(target.payment_intent_id);
    }
  } catch (error) {
    if (isProviderUnavailable(error)) {
      deps.logger.warn({ attemptId: target.attempt_id, err: describeStripeError(error) }, 'payment request cancel: Stripe unavailable');
      throw new ProviderUnavailable();
    }
    throw error;
  }
  const applied = await applyPayment(deps.db, factsFrom('payment_intent', intent.id, readPaymentIntent(intent), { source: 'staff', userId: null, actor }));
  if (applied.outcome === 'error') throw new Error(`order_apply_payment: ${applied.error}`);
}
