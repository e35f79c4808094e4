// The order as the API shows it: the order, its customer, its product track and its latest payment.
// One SQL function (order_view) builds it, so the checkout functions can return it in the same call
// that changes the order.
import type { Queryable } from '../db/db';

export interface OrderRow {
  id: string;
  status: string;
  sync_state: 'provisional' | 'confirmed' | 'failed' | null;
  product_id: string;
  product_name: string;
  amount: number;
  currency: string;
  checkout_session_id: string | null;
  payment_intent_id: string | null;
  metadata: Record<string, string>;
  /** ISO 8601 */
  created_at: string;
  updated_at: string;
  customer_id: string;
  customer_email: string;
  customer_name: string | null;
  customer_user_id: string | null;
  payment: OrderPayment | null;
}

export interface OrderPayment {
  payment_intent_id: string;
  charge_id: string | null;
  status: string;
  amount: number;
  amount_refunded: number;
  currency: string;
}

export async function findOrder(db: Queryable, id: string): Promise<OrderRow | null> {
  const { rows } = await db.query<{ order: OrderRow | null }>('select order_view($1::uuid) as order', [id]);
  return rows[0]?.order ?? null;
}

/** The order a PaymentIntent or Checkout Session belongs to: through any attempt, or the payment. */
export async function findOrderByPayment(db: Queryable, stripeObjectId: string): Promise<OrderRow | null> {
  const { rows } = await db.query<{ order: OrderRow | null }>(
    `select order_view(coalesce(
              (select order_id from payment_attempts where stripe_object_id = $1),
              (select order_id from payments where stripe_payment_intent_id = $1),
              (select id from orders where payment_intent_id = $1 or checkout_session_id = $1 limit 1))) as order`,
    [stripeObjectId],
  );
  return rows[0]?.order ?? null;
}
