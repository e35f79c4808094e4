// refundPayment (issue 18): claim, then Stripe, then record.
//
// refund_claim holds the amount in one statement (key, order lock, remainder, the `creating` row), so
// ten concurrent presses of the full amount make one refund and nine REFUND_EXCEEDS_REMAINING. Stripe
// is then asked with the key create_refund:<refund id>: whatever happens to this process after that,
// every later attempt for the same row (a repeat by the staff key, the janitor) names the same Stripe
// refund, never a second one.
import Stripe from 'stripe';
import { requestHash } from '../idempotency/requestHash';
import type { Db } from '../platform/db/db';
import type { Logger } from '../platform/observability/logger';
import { describeStripeError, isProviderUnavailable } from '../stripe/payments';
import { claimRefund, nameRefundAudit, recordRefund, touchCreatingRefund } from './refunds.sql';
import type { RefundError, RefundRequest, RefundResult, RefundRow, Refunds } from './service';

export interface RefundDeps {
  db: Db;
  stripe: Stripe;
  logger: Logger;
}

/** The failure_reason of a row the janitor found no Stripe refund for (server/refunds/settleCreating.ts). */
export const NOT_CREATED = 'not_created';

/**
 * The Stripe refund made for our refund row, found by metadata.refund_id among the PaymentIntent's
 * refunds; undefined when Stripe lists none for it.
 */
export async function findStripeRefund(stripe: Stripe, paymentIntentId: string, refundId: string): Promise<Stripe.Refund | undefined> {
  for await (const refund of stripe.refunds.list({ payment_intent: paymentIntentId, limit: 100 })) {
    if (refund.metadata?.refund_id === refundId) return refund;
  }
  return undefined;
}

/** Stripe's idempotency key for creating this refund row: one Stripe refund per row, whoever asks. */
export function stripeRefundKey(refundId: string): string {
  return `create_refund:${refundId}`;
}

const UNAVAILABLE: RefundError = {
  code: 'PAYMENT_PROVIDER_UNAVAILABLE',
  message: 'Stripe could not be reached. The refund is held and not yet made; press again with the same request to complete it.',
};

export function createRefunds(deps: RefundDeps): Refunds {
  return {
    async refundPayment(request: RefundRequest): Promise<RefundResult> {
      // Everything about the request but the key: the same key with other input is a conflict.
      const hash = requestHash(JSON.stringify(['refund_payment', request.orderId, request.amount, request.reason, request.note ?? null]));
      const input = {
        scope: request.scope,
        key: request.idempotencyKey,
        request_hash: hash,
        order_id: request.orderId,
        amount: request.amount,
        reason: request.reason,
        note: request.note,
        actor: request.actor,
      };
      const actorName = request.actorName;
      // The claim and the requester's name on its audit row commit together: the row is never seen without it.
      const claim = actorName
        ? await deps.db.transaction(async (tx) => {
            const claimed = await claimRefund(tx, input);
            if (claimed.outcome === 'created') await nameRefundAudit(tx, claimed.refund, actorName);
            return claimed;
          })
        : await claimRefund(deps.db, input);
      if (claim.outcome === 'conflict') return { outcome: 'conflict', operation: claim.operation };
      if (claim.outcome === 'refused') {
        return {
          outcome: 'refused',
          isRepeat: false,
          refund: null,
          orderId: claim.code === 'ORDER_NOT_FOUND' ? null : request.orderId,
          error: refusalBeforeStripe(claim.code, claim.refundable),
          refundable: claim.refundable !== undefined && claim.currency ? { amount: claim.refundable, currency: claim.currency } : null,
        };
      }
      const isRepeat = claim.outcome === 'repeat';
      const row = claim.refund;
      if (row.status === 'creating') return createAtStripe(deps, row, isRepeat);
      if (row.status === 'failed' && row.stripe_refund_id === null && row.failure_reason === NOT_CREATED) {
        // The janitor listed none at Stripe, but a create call under way then may have made it since:
        // Stripe's list says, and a refund found is recorded (refund_record lets it replace not_created).
        return completeNotCreated(deps, row);
      }
      if (row.status === 'failed' && row.stripe_refund_id === null) {
        // Refused by Stripe when first asked: the repeat says so again.
        return { outcome: 'refused', isRepeat, refund: row, orderId: row.order_id, error: refusalByStripe(row.failure_reason, null), refundable: null };
      }
      return { outcome: 'done', isRepeat, refund: row, orderId: row.order_id, error: null };
    },
  };
}

/** Asks Stripe to make the refund row's refund (again, with the same key, for a repeat) and records the answer. */
async function createAtStripe(deps: RefundDeps, row: RefundRow, isRepeat: boolean): Promise<RefundResult> {
  let refund: Stripe.Refund;
  try {
    let made: Stripe.Refund | undefined;
    if (isRepeat) {
      // Touched first, so the janitor leaves the row alone while this call is under way. Then Stripe's
      // list: Stripe keeps an idempotency key 24 hours, and a repeat after that must not make a second.
      await touchCreatingRefund(deps.db, row.id);
      made = await findStripeRefund(deps.stripe, await paymentIntentOf(deps.db, row), row.id);
    }
    refund = made ?? await deps.stripe.refunds.create(
      {
        payment_intent: await paymentIntentOf(deps.db, row),
        amount: row.amount,
        // Stripe knows three reasons; 'other' is ours only (the note says why, in the audit log).
        ...(row.reason && row.reason !== 'other' ? { reason: row.reason } : {}),
        metadata: { order_id: row.order_id, refund_id: row.id, requested_by: row.requested_by ?? '' },
      },
      { idempotencyKey: stripeRefundKey(row.id) },
    );
  } catch (error) {
    if (isProviderUnavailable(error)) {
      // Stripe may or may not have made it: the row stays creating (its amount held), and a repeat,
      // the webhook or the janitor settles it.
      deps.logger.warn({ refundId: row.id, err: describeStripeError(error) }, 'refund: Stripe unavailable, the refund stays creating');
      return { outcome: 'done', isRepeat, refund: row, orderId: row.order_id, error: UNAVAILABLE };
    }
    if (error instanceof Stripe.errors.StripeInvalidRequestError || error instanceof Stripe.errors.StripeCardError) {
      // Stripe refused: nothing was made, so the row is failed and its amount no longer held.
      const recorded = await recordRefund(deps.db, {
        refund_id: row.id,
        stripe_refund_id: null,
        status: 'failed',
        failure_reason: error.code ?? 'refused',
        actor: row.requested_by ?? 'system',
      });
      return { outcome: 'refused', isRepeat, refund: recorded, orderId: row.order_id, error: refusalByStripe(error.code ?? null, error.message), refundable: null };
    }
    throw error;
  }
  // Stripe made it. Should this write fail, the row stays creating (a refund is never undone here);
  // the webhook links it by metadata.refund_id, or the janitor by listing the PaymentIntent's refunds.
  return recordMade(deps, row, refund, isRepeat);
}

async function recordMade(deps: RefundDeps, row: RefundRow, refund: Stripe.Refund, isRepeat: boolean): Promise<RefundResult> {
  const recorded = await recordRefund(deps.db, {
    refund_id: row.id,
    stripe_refund_id: refund.id,
    status: refund.status ?? 'pending',
    failure_reason: refund.failure_reason ?? null,
    actor: row.requested_by ?? 'system',
  });
  return { outcome: 'done', isRepeat, refund: recorded, orderId: row.order_id, error: null };
}

/** A repeat of a row the janitor marked not_created: recorded if Stripe made it after all, else said so. */
async function completeNotCreated(deps: RefundDeps, row: RefundRow): Promise<RefundResult> {
  let made: Stripe.Refund | undefined;
  try {
    made = await findStripeRefund(deps.stripe, await paymentIntentOf(deps.db, row), row.id);
  } catch (error) {
    if (isProviderUnavailable(error)) return { outcome: 'done', isRepeat: true, refund: row, orderId: row.order_id, error: UNAVAILABLE };
    throw error;
  }
  if (made) return recordMade(deps, row, made, true);
  return { outcome: 'refused', isRepeat: true, refund: row, orderId: row.order_id, error: refusalByStripe(NOT_CREATED, null), refundable: null };
}

export async function paymentIntentOf(db: Db, row: Pick<RefundRow, 'payment_id'>): Promise<string> {
  const { rows } = await db.query<{ id: string | null }>('select stripe_payment_intent_id as id from payments where id = $1', [row.payment_id]);
  const id = rows[0]?.id;
  if (!id) throw new Error(`payment ${row.payment_id} has no PaymentIntent`);
  return id;
}

function refusalBeforeStripe(code: 'ORDER_NOT_FOUND' | 'ORDER_NOT_REFUNDABLE' | 'REFUND_EXCEEDS_REMAINING' | 'CHARGE_DISPUTED', refundable?: number): RefundError {
  switch (code) {
    case 'CHARGE_DISPUTED':
      return { code, message: 'The charge is disputed and Stripe will not refund it (the dispute is lost, or open and not refundable).' };
    case 'ORDER_NOT_FOUND':
      return { code, message: 'No such order.' };
    case 'ORDER_NOT_REFUNDABLE':
      return { code, message: 'This order has nothing to refund: it is unpaid, failed or already refunded in full.' };
    case 'REFUND_EXCEEDS_REMAINING':
      return { code, message: `The amount is more than what is left to refund (${refundable ?? 0} in minor units).` };
  }
}

function refusalByStripe(code: string | null, message: string | null): RefundError {
  if (code === NOT_CREATED) {
    // Not a refusal: Stripe was never reached for it and it is given up; a new press makes a new one.
    return { code: 'REFUND_REFUSED', message: 'This refund was not made at Stripe and is given up; its amount is refundable again: press Refund… again to make a new one.' };
  }
  if (code === 'charge_disputed') {
    return { code: 'CHARGE_DISPUTED', message: message ?? 'The charge is disputed: Stripe does not refund a disputed charge.' };
  }
  return { code: 'REFUND_REFUSED', message: message ?? `Stripe refused this refund (${code ?? 'refused'}).` };
}
