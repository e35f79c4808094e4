// Refunds staff make here (issue 18): the types the GraphQL resolver and the service
// (refundPayment.ts) share. One SQL function claims the idempotency key, locks the order, checks the
// refundable remainder and inserts the refund `creating`; then Stripe is called with the key
// create_refund:<refund id> and its answer recorded (docs/refunds.md).
//
// Tables (migration 20261207001000_refunds.sql):
//   refunds: id text (our UUID for refunds made here; Stripe's re_… for refunds made at Stripe),
//     stripe_refund_id text unique (null while creating), order_id, payment_id, amount, currency,
//     status ('creating' | 'pending' | 'requires_action' | 'succeeded' | 'failed' | 'canceled'),
//     reason (Stripe's: requested_by_customer | duplicate | fraudulent, or 'other'), failure_reason,
//     requested_by (staff:<id>, null for refunds made at Stripe), created_at, updated_at.
//   disputes gains: evidence_due_by timestamptz, is_charge_refundable boolean.

export type RefundStatus = 'creating' | 'pending' | 'requires_action' | 'succeeded' | 'failed' | 'canceled';
export type RefundReason = 'requested_by_customer' | 'duplicate' | 'fraudulent' | 'other';

export interface RefundRow {
  id: string;
  stripe_refund_id: string | null;
  order_id: string;
  payment_id: string;
  amount: number;
  currency: string;
  status: RefundStatus;
  reason: RefundReason | null;
  failure_reason: string | null;
  requested_by: string | null;
  created_at: string;
  updated_at: string;
}

export type RefundErrorCode =
  | 'ORDER_NOT_FOUND'
  | 'ORDER_NOT_REFUNDABLE'
  | 'REFUND_EXCEEDS_REMAINING'
  | 'CHARGE_DISPUTED'
  | 'REFUND_REFUSED'
  | 'PAYMENT_PROVIDER_UNAVAILABLE';

export interface RefundError {
  code: RefundErrorCode;
  /** In words for staff; never a secret or a stack. */
  message: string;
}

export interface RefundRequest {
  orderId: string;
  /** Minor units, >= 1 (checked by the resolver); null: the whole refundable remainder. */
  amount: number | null;
  reason: RefundReason;
  /** Up to 500 characters (checked by the resolver); kept in audit_log only, never sent to Stripe. */
  note: string | null;
  /** staff:<user id>. */
  actor: string;
  /** Who that is in words (the staff member's email), kept in the audit row for the order timeline. */
  actorName?: string | null;
  /** Whose key: `${viewer.kind}:${viewer.id}`. */
  scope: string;
  idempotencyKey: string;
}

export type RefundResult =
  /** Stripe answered (refund pending/succeeded/...), or could not be reached (refund creating, error PAYMENT_PROVIDER_UNAVAILABLE). */
  | { outcome: 'done'; isRepeat: boolean; refund: RefundRow; orderId: string; error: RefundError | null }
  /** Refused before or by Stripe: nothing held (a refused row is `failed`, its amount no longer held). */
  | { outcome: 'refused'; isRepeat: boolean; refund: RefundRow | null; orderId: string | null; error: RefundError; refundable: { amount: number; currency: string } | null }
  /** The key was used with other input (or another operation): CONFLICT. */
  | { outcome: 'conflict'; operation: string };

export interface Refunds {
  refundPayment(request: RefundRequest): Promise<RefundResult>;
}
