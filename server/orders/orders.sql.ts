// The order as the API shows it: the order, its customer, its product track and its latest payment,
// in one query.
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
  created_at: Date;
  updated_at: Date;
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

const ORDER_SELECT = `
  select o.id, o.status, o.sync_state, o.product_id, p.name as product_name, o.amount, o.currency,
         o.checkout_session_id, o.payment_intent_id, o.metadata, o.created_at, o.updated_at,
         c.id as customer_id, c.email as customer_email, c.name as customer_name, c.user_id as customer_user_id,
         (select jsonb_build_object(
                   'payment_intent_id', pay.stripe_payment_intent_id, 'charge_id', pay.stripe_charge_id,
                   'status', pay.status, 'amount', pay.amount, 'amount_refunded', pay.amount_refunded,
                   'currency', pay.currency)
            from payments pay where pay.order_id = o.id
           order by pay.created_at desc limit 1) as payment
    from orders o
    join customers c on c.id = o.customer_id
    join products p on p.id = o.product_id`;

export async function findOrder(db: Queryable, id: string): Promise<OrderRow | null> {
  const { rows } = await db.query<OrderRow>(`${ORDER_SELECT} where o.id = $1`, [id]);
  return rows[0] ?? null;
}

/** The order a PaymentIntent or Checkout Session belongs to: through any attempt, or the payment. */
export async function findOrderByPayment(db: Queryable, stripeObjectId: string): Promise<OrderRow | null> {
  const { rows } = await db.query<OrderRow>(
    `${ORDER_SELECT}
      where o.id = coalesce(
        (select order_id from payment_attempts where stripe_object_id = $1),
        (select order_id from payments where stripe_payment_intent_id = $1),
        (select id from orders where payment_intent_id = $1 or checkout_session_id = $1 limit 1))`,
    [stripeObjectId],
  );
  return rows[0] ?? null;
}
