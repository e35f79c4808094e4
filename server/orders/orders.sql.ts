// The order as the API shows it: the order, its customer, its product track and its latest payment.
// One SQL function (order_view) builds it, so the checkout functions can return it in the same call
// that changes the order.
import type { Queryable } from '../platform/db/db';
import { keysetList, type ListKey, type ListPage, pageOf } from '../platform/db/keysetList';
import { type PaymentSearch, searchCondition } from './search';

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
  /** How often reconciliation asked Stripe about it (the janitor's backoff), and when last (ISO 8601). */
  sync_attempts: number;
  last_sync_at: string | null;
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

/** Several orders in one query, in the order of `ids` (null for an id that is no order). */
export async function findOrders(db: Queryable, ids: readonly string[]): Promise<Array<OrderRow | null>> {
  const { rows } = await db.query<{ id: string; order: OrderRow | null }>('select id::text, order_view(id) as order from unnest($1::uuid[]) as id', [[...ids]]);
  const byId = new Map(rows.map((row) => [row.id, row.order]));
  return ids.map((id) => byId.get(id) ?? null);
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

export type OrderStatus = 'pending' | 'requires_action' | 'processing' | 'paid' | 'failed' | 'canceled' | 'refunded' | 'partially_refunded' | 'disputed';

export interface OrderListFilter {
  status?: OrderStatus | null;
  syncState?: 'provisional' | 'confirmed' | 'failed' | null;
  search?: PaymentSearch | null;
}

/** A position in the list: the (created_at, id) of the last order seen. */
export type OrderKey = ListKey;

export interface OrderListRow {
  order: OrderRow;
  /** `created_at` in microseconds since the Unix epoch, exactly: the cursor's time. */
  created_us: string;
}

/**
 * Orders newest first by (created_at desc, id desc), `first` after `after`, each as order_view builds
 * it. As for the payment logs, the statement holds only the filters given, so the (status|sync_state,
 * created_at desc, id desc) index serves the WHERE and the ORDER BY, and a search narrows to one order
 * or one customer's orders first.
 */
export type OrderPage = ListPage<OrderListRow>;

export async function listOrders(db: Queryable, options: { filter?: OrderListFilter | null; first: number; after?: OrderKey | null }): Promise<OrderPage> {
  const { filter, first, after } = options;
  const list = keysetList({ time: 'o.created_at', id: 'o.id', idType: 'uuid' });
  if (filter?.status) list.where(`o.status = ${list.bind(filter.status)}`);
  if (filter?.syncState) list.where(`o.sync_state = ${list.bind(filter.syncState)}`);
  if (filter?.search) list.where(searchCondition(filter.search, { orderId: 'o.id', customerId: 'o.customer_id' }, list.bind));
  // The views are built for the page's orders only.
  const { rows } = await db.query<OrderListRow>(
    `select order_view(p.id) as order, p.created_us
       from (select o.id, o.created_at, (extract(epoch from o.created_at) * 1000000)::bigint::text as created_us
               from orders o
              ${list.tail(after, first)}) as p
      order by p.created_at desc, p.id desc`,
    list.params,
  );
  return pageOf(rows, first);
}
