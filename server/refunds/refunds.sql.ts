// The refund SQL functions of 20261207001000_refunds.sql: claim (key, lock, guard, insert) and record.
import type { Queryable } from '../platform/db/db';
import type { RefundRow } from './service';

export type ClaimOutcome =
  | { outcome: 'created' | 'repeat'; refund: RefundRow }
  | { outcome: 'conflict'; operation: string }
  | { outcome: 'refused'; code: 'ORDER_NOT_FOUND' | 'ORDER_NOT_REFUNDABLE' | 'REFUND_EXCEEDS_REMAINING' | 'CHARGE_DISPUTED'; refundable?: number; currency?: string };

export interface ClaimInput {
  scope: string;
  key: string;
  request_hash: string;
  order_id: string;
  amount: number | null;
  reason: string;
  note: string | null;
  actor: string;
}

export async function claimRefund(db: Queryable, input: ClaimInput): Promise<ClaimOutcome> {
  const { rows } = await db.query<{ r: ClaimOutcome }>('select refund_claim($1::jsonb) as r', [JSON.stringify(input)]);
  return rows[0]!.r;
}

/**
 * Adds who requested the refund in words to the audit row refund_claim wrote for it, in the claim's
 * transaction (refund_claim records the actor's id only).
 */
export async function nameRefundAudit(db: Queryable, refund: { id: string; order_id: string }, actorName: string): Promise<void> {
  await db.query(
    `update audit_log set details = details || jsonb_build_object('actor_name', $3::text)
      where target_type = 'order' and target_id = $1 and action = 'refund.create' and details->>'refund_id' = $2`,
    [refund.order_id, refund.id, actorName],
  );
}

export interface RecordInput {
  refund_id: string;
  stripe_refund_id: string | null;
  status: string;
  failure_reason: string | null;
  actor: string;
}

/** Stripe's answer recorded; a row no longer `creating` (the webhook linked it first) is returned as it is. */
export async function recordRefund(db: Queryable, input: RecordInput): Promise<RefundRow> {
  const { rows } = await db.query<{ r: RefundRow }>('select to_jsonb(refund_record($1::jsonb)) as r', [JSON.stringify(input)]);
  return rows[0]!.r;
}

/**
 * A repeat about to ask Stripe again marks the row as touched now, so the janitor (which settles rows
 * untouched for 5 minutes) does not list Stripe's refunds and mark it failed while this call is under way.
 */
export async function touchCreatingRefund(db: Queryable, refundId: string): Promise<void> {
  await db.query("update refunds set updated_at = now() where id = $1 and status = 'creating'", [refundId]);
}

/** Refunds still `creating` and untouched for ageSeconds (by the database's clock), with their PaymentIntent. */
export async function staleCreatingRefunds(db: Queryable, ageSeconds: number, limit: number) {
  const { rows } = await db.query<{ id: string; payment_intent_id: string | null; order_id: string }>(
    `select r.id, p.stripe_payment_intent_id as payment_intent_id, r.order_id::text as order_id
       from refunds r join payments p on p.id = r.payment_id
      where r.status = 'creating' and r.updated_at < now() - make_interval(secs => $1::integer)
      order by r.updated_at, r.id limit $2`,
    [ageSeconds, limit],
  );
  return rows;
}
