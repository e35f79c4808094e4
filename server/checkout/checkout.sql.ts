// Typed calls of the checkout SQL functions (supabase/migrations/20261122000200_checkout.sql). Each
// is one statement, so each is one transaction on both engines.
import type { Queryable } from '../platform/db/db';
import type { OrderRow } from '../orders/orders.sql';
import type { AttemptKind, CheckoutRequest } from './input';

/** abandoned: left creating, and Stripe had nothing for it (the janitor's step 2). */
export type AttemptStatus = 'creating' | 'open' | 'succeeded' | 'canceled' | 'expired' | 'needs_cleanup' | 'abandoned';

export interface PaymentAttempt {
  id: string;
  order_id: string;
  attempt: number;
  kind: AttemptKind;
  stripe_idempotency_key: string;
  stripe_object_id: string | null;
  status: AttemptStatus;
  client_secret: string | null;
  url: string | null;
  expires_at: string | null;
  last_error: string | null;
}

export type BeginError =
  | 'order_not_found'
  | 'order_of_another_customer'
  | 'order_not_payable'
  | 'unknown_track'
  | 'inactive_product'
  | 'no_price'
  | 'email_of_another_customer'
  | 'claim_without_order'
  /** The order is a subscription's and this is a one-time payment, or the other way round. */
  | 'order_of_other_mode';

export type BeginResult =
  | { outcome: 'error'; error: BeginError; order?: OrderRow; status?: string }
  | { outcome: 'conflict'; operation: string }
  | { outcome: 'repeat' | 'attempt'; order: OrderRow; attempt: PaymentAttempt };

async function call<T>(db: Queryable, fn: string, argument: object): Promise<T> {
  const { rows } = await db.query<{ result: T }>(`select ${fn}($1::jsonb) as result`, [JSON.stringify(argument)]);
  return rows[0]!.result;
}

// checkout_begin() answers a repeated idempotency key with outcome 'replay' (a landed, forward-only
// function); here it is named 'repeat', as the API's isRepeat, so it is not read as a replay of the
// payment (replaying is a staff action of its own).
type BeginAnswer = Exclude<BeginResult, { outcome: 'repeat' }> | { outcome: 'replay'; order: OrderRow; attempt: PaymentAttempt };

export async function beginCheckout(db: Queryable, request: CheckoutRequest): Promise<BeginResult> {
  const answer = await call<BeginAnswer>(db, 'checkout_begin', request);
  return answer.outcome === 'replay' ? { ...answer, outcome: 'repeat' } : answer;
}

export const recordAttempt = (
  db: Queryable,
  record: {
    attempt_id: string;
    object_id: string;
    client_secret?: string | null;
    url?: string | null;
    expires_at?: string | null;
    scope?: string;
    key?: string;
    actor: string;
  },
) => call<{ attempt: PaymentAttempt; order: OrderRow }>(db, 'checkout_record_attempt', record);

/**
 * checkout_record_attempt's refusal of an attempt closed while Stripe was making its object (the
 * janitor abandoned it, or another request retired it): the object must be closed at Stripe, and the
 * caller begins again with the order's next attempt.
 */
export const isAttemptClosedMeanwhile = (error: unknown): boolean =>
  (error as { code?: unknown })?.code === '55000' && (error as { hint?: unknown })?.hint === 'attempt_closed_meanwhile';

export const markAttempt = (
  db: Queryable,
  mark: { attempt_id: string; status: 'canceled' | 'expired' | 'needs_cleanup' | 'abandoned' | null; error?: string; object_id?: string; actor: string },
) => call<PaymentAttempt>(db, 'checkout_mark_attempt', mark);

/**
 * What a Stripe payment object (PaymentIntent or Checkout Session) says about its order, in the terms
 * order_apply_payment() takes: the one shape both the storefront's confirm path and a webhook event
 * (webhooks/translate.ts, applied by stripe_events_apply()) feed it.
 */
export interface PaymentObjectFacts {
  kind: AttemptKind;
  object_id: string;
  /** From the object's metadata: finds an attempt whose record step never ran. */
  order_id: string | null;
  attempt: number | null;
  order_status: 'pending' | 'requires_action' | 'processing' | 'paid' | 'failed';
  /** Set when the object can no longer be paid. */
  attempt_status: 'canceled' | 'expired' | null;
  payment_intent_id: string | null;
  charge_id: string | null;
  payment_status: string | null;
  amount: number | null;
  currency: string | null;
  /** Why the last payment failed, where the object says. */
  failure?: { code: string | null; message: string | null } | null;
}

/** A payment's facts as TypeScript applies them (confirm, janitor, staff): who applies them, too. */
export interface PaymentFacts extends PaymentObjectFacts {
  source: 'storefront' | 'webhook' | 'janitor' | 'staff';
  /** A customer's user id: the order must be theirs, or nothing is applied. */
  user_id: string | null;
  actor: string;
}

export type ApplyResult =
  | { outcome: 'applied' | 'unchanged'; order: OrderRow }
  | { outcome: 'error'; error: 'unknown_payment' | 'order_of_another_customer' | 'amount_mismatch'; order_id?: string };

export const applyPayment = (db: Queryable, facts: PaymentFacts) => call<ApplyResult>(db, 'order_apply_payment', facts);
