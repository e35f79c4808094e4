// The janitor's refund step (issue 18): a refund row still `creating` 5 minutes after it was claimed
// or last pressed again (a repeat touches updated_at before it asks Stripe) means Stripe's answer was never recorded (Stripe unreachable, or our write failed after Stripe made
// it) and no webhook has linked it since. Stripe's list of the PaymentIntent's refunds says which:
// - listed (metadata.refund_id is the row's id): recorded, as the create call would have;
// - not listed: Stripe made none for it. The row is marked failed (reason `not_created`), giving its
//   amount back to the order's remainder. We do not create it from here: staff were told it was not
//   made, and a refund nobody is pressing for now is not ours to send. Should a call still in flight
//   make it after all, its answer (refund_record) or its webhook (by metadata.refund_id) replaces the
//   not_created failure with the real refund, so the amount is not offered a second time.
import type Stripe from 'stripe';
import type { Db } from '../platform/db/db';
import type { Logger } from '../platform/observability/logger';
import { findStripeRefund, NOT_CREATED } from './refundPayment';
import { recordRefund, staleCreatingRefunds } from './refunds.sql';

/** How long a refund may stay creating before the janitor asks Stripe: longer than any create call with its retries. */
export const CREATING_REFUND_AGE_SECONDS = 300;
const BATCH = 100;

export interface SettleCreatingDeps {
  db: Db;
  stripe: Stripe;
  logger: Logger;
  actor: string;
  ageSeconds?: number;
}

/** Settles every refund stuck creating; returns how many were recorded from Stripe and how many marked failed. */
export async function settleCreatingRefunds(deps: SettleCreatingDeps): Promise<{ recorded: number; failed: number }> {
  const counts = { recorded: 0, failed: 0 };
  const rows = await staleCreatingRefunds(deps.db, deps.ageSeconds ?? CREATING_REFUND_AGE_SECONDS, BATCH);
  for (const row of rows) {
    if (!row.payment_intent_id) continue;
    // Stripe unreachable fails the step (the caller records it); the row waits for the next pass.
    const found: Stripe.Refund | undefined = await findStripeRefund(deps.stripe, row.payment_intent_id, row.id);
    await recordRefund(deps.db, {
      refund_id: row.id,
      stripe_refund_id: found?.id ?? null,
      status: found ? (found.status ?? 'pending') : 'failed',
      failure_reason: found ? (found.failure_reason ?? null) : NOT_CREATED,
      actor: deps.actor,
    });
    if (found) counts.recorded += 1;
    else counts.failed += 1;
    deps.logger.info({ refundId: row.id, orderId: row.order_id, stripeRefundId: found?.id }, found ? 'janitor: creating refund recorded from Stripe' : 'janitor: creating refund not made at Stripe, marked failed');
  }
  return counts;
}
