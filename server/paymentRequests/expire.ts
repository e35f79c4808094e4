// Expiry of payment requests (issue 20): a step of every reconciliation pass (server/reconcile/janitor.ts).
//
// A request still open or partially paid past its expires_at (Stripe's clock) is closed in two steps:
//   1. each unpaid share's open PaymentIntent is canceled at Stripe (key cancel_member_share:<attempt id>,
//      so a pass that dies half-way and the next one ask Stripe once), and the attempt marked canceled;
//      a PaymentIntent found paid or processing is applied instead, and that share stays paid;
//   2. payment_request_expire(), under the locks (the share orders in id order, members, request),
//      makes the request `expired` and its unpaid shares (orders and members) `canceled`.
// No Stripe call runs inside a transaction. A share whose attempt is being created (no object yet) holds
// its request back: the janitor's unsettled-attempt step records or abandons it, and a later pass ends it.
// A request whose only unpaid shares are processing (a bank debit on its way) is not expired yet
// (in_flight): if every debit succeeds it is paid, and if one fails a later pass expires it.
//
// Then closed requests' reopened PaymentIntents (closeStaleShares): a share's bank debit processing at
// cancel or expiry that fails reopens its PaymentIntent (money_path.sql checkout.attempt_reopened), which
// the member's page could then pay on a request that will never complete. Each is canceled at Stripe
// with cancelPaymentRequest's key and parameters, and its attempt and share order canceled.
import type Stripe from 'stripe';
import { applyPayment, markAttempt } from '../checkout/checkout.sql';
import { factsFrom } from '../checkout/startPayment';
import type { Db } from '../platform/db/db';
import type { Logger } from '../platform/observability/logger';
import { isStripeNotFound, readPaymentIntent } from '../stripe/payments';
import { cancelMemberShareKey } from './cancel';

export interface ExpireDeps {
  db: Db;
  stripe: Stripe;
  logger: Logger;
  actor: string;
}

/** Requests expired per call: a pass ends the rest next time. */
const BATCH = 100;

interface OpenAttempt {
  id: string;
  order_id: string;
  attempt: number;
  stripe_object_id: string;
}

export async function expireDuePaymentRequests(deps: ExpireDeps, now: Date): Promise<{ expired: number; canceledIntents: number }> {
  const { rows: due } = await deps.db.query<{ id: string }>(
    `select id from payment_requests
      where status in ('open', 'partially_paid') and expires_at is not null and expires_at <= $1
      order by expires_at, id limit ${BATCH}`,
    [now.toISOString()],
  );
  let expired = 0;
  let canceledIntents = 0;
  for (const request of due) {
    canceledIntents += await closeOpenIntents(deps, request.id);
    const { rows } = await deps.db.query<{ result: { outcome: string } }>('select payment_request_expire($1::jsonb) as result', [
      JSON.stringify({ request_id: request.id, now: now.toISOString(), actor: deps.actor }),
    ]);
    const outcome = rows[0]!.result.outcome;
    if (outcome === 'expired') expired += 1;
    else if (outcome === 'live_attempt') deps.logger.info({ paymentRequestId: request.id }, 'payment request past expiry waits for a share’s attempt being created');
    else if (outcome === 'in_flight') deps.logger.info({ paymentRequestId: request.id }, 'payment request past expiry waits for its processing shares to settle');
  }
  canceledIntents += await closeStaleShares(deps);
  return { expired, canceledIntents };
}

interface StaleShareAttempt {
  attempt_id: string;
  order_id: string;
  attempt: number;
  stripe_object_id: string;
  payment_request_id: string;
}

/** Open PaymentIntents of unpaid shares of canceled or expired requests: canceled at Stripe, then the attempt and share order. */
export async function closeStaleShares(deps: ExpireDeps): Promise<number> {
  const { rows } = await deps.db.query<StaleShareAttempt>('select * from payment_request_stale_share_attempts($1)', [BATCH]);
  let canceled = 0;
  for (const row of rows) {
    const attempt: OpenAttempt = { id: row.attempt_id, order_id: row.order_id, attempt: row.attempt, stripe_object_id: row.stripe_object_id };
    // Paid or processing at Stripe after all: applied (a share paid on a closed request is logged for a refund).
    if (!(await cancelIntent(deps, attempt, { markCanceled: false }))) continue;
    const { rows: closed } = await deps.db.query<{ result: { outcome: string } }>('select payment_request_close_share($1::jsonb) as result', [
      JSON.stringify({ attempt_id: row.attempt_id, actor: deps.actor }),
    ]);
    deps.logger.info({ paymentRequestId: row.payment_request_id, orderId: row.order_id, outcome: closed[0]!.result.outcome }, 'closed request’s reopened share PaymentIntent canceled');
    canceled += 1;
  }
  return canceled;
}

/** Step 1 for one request: its unpaid shares' open PaymentIntents, canceled (or found paid and applied). */
async function closeOpenIntents(deps: ExpireDeps, requestId: string): Promise<number> {
  const { rows: open } = await deps.db.query<OpenAttempt>(
    `select a.id, a.order_id, a.attempt, a.stripe_object_id
       from payment_attempts a join orders o on o.id = a.order_id
      where o.payment_request_id = $1 and o.status in ('pending', 'requires_action', 'failed')
        and a.status = 'open' and a.kind = 'payment_intent' and a.stripe_object_id is not null
      order by o.id`,
    [requestId],
  );
  let canceled = 0;
  for (const attempt of open) {
    if (await cancelIntent(deps, attempt)) canceled += 1;
  }
  return canceled;
}

/** True when the PaymentIntent is canceled now; a paid or processing one is applied and left alone. */
async function cancelIntent(deps: ExpireDeps, attempt: OpenAttempt, options = { markCanceled: true }): Promise<boolean> {
  const objectId = attempt.stripe_object_id;
  let intent: Stripe.PaymentIntent;
  try {
    // The same key and parameters as cancelPaymentRequest: whichever of the two asks first, the other
    // gets Stripe's stored answer rather than an idempotency error.
    intent = await deps.stripe.paymentIntents.cancel(objectId, {}, { idempotencyKey: cancelMemberShareKey(attempt.id) });
  } catch (error) {
    if (isStripeNotFound(error)) {
      await markAttempt(deps.db, { attempt_id: attempt.id, status: 'canceled', actor: deps.actor, error: `Stripe has no PaymentIntent ${objectId} any more (resource_missing)` });
      return false;
    }
    // Stripe refuses to cancel a PaymentIntent that succeeded or is processing: what it says is applied
    // (the share is paid), as the webhook would; any other failure fails the pass, which tries again.
    intent = await deps.stripe.paymentIntents.retrieve(objectId);
    if (intent.status !== 'succeeded' && intent.status !== 'processing' && intent.status !== 'canceled') throw error;
  }
  if (intent.status === 'canceled') {
    if (!options.markCanceled) return true;
    await markAttempt(deps.db, { attempt_id: attempt.id, status: 'canceled', actor: deps.actor, error: 'payment request expired' });
    return true;
  }
  await applyPayment(deps.db, factsFrom('payment_intent', objectId, readPaymentIntent(intent), { source: 'janitor', userId: null, actor: deps.actor }));
  return false;
}
