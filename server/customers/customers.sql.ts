// The customer page's reads: the customer, their orders (a keyset page), the ids of their
// subscriptions, payment requests, refunds and disputes, and their totals. Each reads through an index
// on the customer (orders_customer_created_idx, subscriptions_customer_idx, payment_requests'
// creator index and the members' lower(email) index of migration 20261207002000), then the
// order-keyed indexes of refunds, disputes and payments.
import type { Queryable } from '../platform/db/db';
import { keysetList, type ListKey, pageOf } from '../platform/db/keysetList';
import type { OrderListRow, OrderPage } from '../orders/orders.sql';

export interface CustomerValue {
  id: string;
  email: string;
  name: string | null;
}

export interface CustomerRow extends CustomerValue {
  user_id: string | null;
  /** ISO 8601 */
  created_at: string;
}

const CUSTOMER_COLUMNS = `id::text, email, name, user_id::text, to_jsonb(created_at) #>> '{}' as created_at`;

export async function findCustomer(db: Queryable, id: string): Promise<CustomerRow | null> {
  const { rows } = await db.query<CustomerRow>(`select ${CUSTOMER_COLUMNS} from customers where id = $1::uuid`, [id]);
  return rows[0] ?? null;
}

/** The row an email leads to: the guest's or the verified account's (email_owner); else the newest with it. */
export async function findCustomerByEmail(db: Queryable, email: string): Promise<CustomerRow | null> {
  const { rows } = await db.query<CustomerRow>(
    `select ${CUSTOMER_COLUMNS} from customers where lower(email) = lower($1) order by email_owner desc, created_at desc, id limit 1`,
    [email],
  );
  return rows[0] ?? null;
}

/** The customer's orders newest first, as the orders list pages them. */
export async function ordersOfCustomer(db: Queryable, customerId: string, options: { first: number; after?: ListKey | null }): Promise<OrderPage> {
  const list = keysetList({ time: 'o.created_at', id: 'o.id', idType: 'uuid' });
  list.where(`o.customer_id = ${list.bind(customerId)}::uuid`);
  const { rows } = await db.query<OrderListRow>(
    `select order_view(p.id) as order, p.created_us
       from (select o.id, o.created_at, (extract(epoch from o.created_at) * 1000000)::bigint::text as created_us
               from orders o
              ${list.tail(options.after, options.first)}) as p
      order by p.created_at desc, p.id desc`,
    list.params,
  );
  return pageOf(rows, options.first);
}

// A customer page lists at most this many of each kind; the lists behind them page further.
export const CUSTOMER_PAGE_LIMIT = 100;

/** Payment requests the customer made (signed in) or is a member of (by email), newest first. */
export async function paymentRequestIdsOfCustomer(db: Queryable, customer: CustomerRow): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `select r.id::text from payment_requests r
      where r.id in (select payment_request_id from payment_request_members where lower(email) = lower($1)
                     union select id from payment_requests where $2::text is not null and created_by = 'customer:' || $2)
      order by r.created_at desc, r.id desc
      limit ${CUSTOMER_PAGE_LIMIT}`,
    [customer.email, customer.user_id],
  );
  return rows.map((row) => row.id);
}

export interface CustomerTotalRow {
  currency: string;
  paid: number;
  refunded: number;
}

export interface CustomerPaymentSpan {
  first_payment_at: string | null;
  last_payment_at: string | null;
}

// A payment counts once it succeeded at Stripe; refunds once they succeeded. Per currency: money in
// different currencies is never added up.
const PAID_PAYMENT = `p.status = 'succeeded'`;

export async function customerTotals(db: Queryable, customerId: string): Promise<CustomerTotalRow[]> {
  const { rows } = await db.query<CustomerTotalRow>(
    `select t.currency, sum(t.paid)::float8 as paid, sum(t.refunded)::float8 as refunded
       from (select p.currency, p.amount as paid,
                    (select coalesce(sum(r.amount), 0) from refunds r where r.payment_id = p.id and r.status = 'succeeded') as refunded
               from orders o join payments p on p.order_id = o.id
              where o.customer_id = $1::uuid and ${PAID_PAYMENT}) t
      group by t.currency order by t.currency`,
    [customerId],
  );
  return rows;
}

export async function customerPaymentSpan(db: Queryable, customerId: string): Promise<CustomerPaymentSpan> {
  const { rows } = await db.query<CustomerPaymentSpan>(
    `select to_jsonb(min(p.created_at)) #>> '{}' as first_payment_at, to_jsonb(max(p.created_at)) #>> '{}' as last_payment_at
       from orders o join payments p on p.order_id = o.id
      where o.customer_id = $1::uuid and ${PAID_PAYMENT}`,
    [customerId],
  );
  return rows[0] ?? { first_payment_at: null, last_payment_at: null };
}
