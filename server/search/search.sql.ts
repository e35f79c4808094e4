// The lookups behind search anywhere, one per kind of query, each through a unique index:
//   order id       orders_pkey (and customers_pkey: a customer's id finds their page too)
//   email          customers_email_idx (lower(email)): the row the email leads to first
//   pi_            orders_payment_intent_id_key, payments_stripe_payment_intent_id_key, payment_attempts_stripe_object_id_key
//   cs_            orders_checkout_session_id_key, payment_attempts_stripe_object_id_key
//   ch_/py_        payments_stripe_charge_id_key
//   re_            refunds_stripe_refund_id_key, refunds_pkey (refunds made at Stripe keep its id)
//   dp_/du_        disputes_pkey
//   evt_           stripe_events_pkey
//   sub_           subscriptions_pkey
//   in_            subscription_invoices_pkey, then subscriptions_pkey
import type { Queryable } from '../platform/db/db';
import { formatMoney } from '../catalog/money';
import { consoleRoutes } from '../timeline/summary';
import type { ParsedSearch } from './search';

export type SearchMatchKind = 'ORDER' | 'CUSTOMER' | 'REFUND' | 'DISPUTE' | 'WEBHOOK_EVENT' | 'SUBSCRIPTION';

export interface SearchMatchValue {
  kind: SearchMatchKind;
  id: string;
  label: string;
  route: string;
  orderId: string | null;
}

interface OrderHit {
  id: string;
  product_name: string;
  amount: string;
  currency: string;
  status: string;
  email: string;
}

// The order's label: its track, amount, status and customer, as the orders list shows them.
const ORDER_LABEL = `select o.id::text, p.name as product_name, o.amount::text, o.currency, o.status, c.email
                       from orders o join products p on p.id = o.product_id join customers c on c.id = o.customer_id`;

const orderMatch = (hit: OrderHit): SearchMatchValue => ({
  kind: 'ORDER',
  id: hit.id,
  label: `Order: ${hit.product_name}, ${formatMoney({ amount: Number(hit.amount), currency: hit.currency })}, ${hit.status.replaceAll('_', ' ')}, ${hit.email}`,
  route: consoleRoutes.order(hit.id),
  orderId: hit.id,
});

async function ordersWhere(db: Queryable, condition: string, value: string): Promise<SearchMatchValue[]> {
  const { rows } = await db.query<OrderHit>(`${ORDER_LABEL} where ${condition}`, [value]);
  return rows.map(orderMatch);
}

async function byOrderOrCustomerId(db: Queryable, id: string): Promise<SearchMatchValue[]> {
  const orders = await ordersWhere(db, 'o.id = $1::uuid', id);
  const { rows } = await db.query<{ id: string; email: string }>('select id::text, email from customers where id = $1::uuid', [id]);
  return [...orders, ...rows.map((row) => ({ kind: 'CUSTOMER' as const, id: row.id, label: `Customer: ${row.email}`, route: consoleRoutes.customer(row.id), orderId: null }))];
}

async function byEmail(db: Queryable, email: string): Promise<SearchMatchValue[]> {
  // The row the email leads to (email_owner) first; accounts with the email unverified after it.
  const { rows } = await db.query<{ id: string; email: string; name: string | null; email_owner: boolean }>(
    `select id::text, email, name, email_owner from customers where lower(email) = lower($1)
      order by email_owner desc, created_at desc, id limit 20`,
    [email],
  );
  return rows.map((row) => ({
    kind: 'CUSTOMER' as const,
    id: row.id,
    label: `Customer: ${row.name ? `${row.name} <${row.email}>` : row.email}${row.email_owner ? '' : ' (email not verified)'}`,
    route: consoleRoutes.customer(row.id),
    orderId: null,
  }));
}

async function byPaymentObject(db: Queryable, id: string, orderColumn: 'payment_intent_id' | 'checkout_session_id'): Promise<SearchMatchValue[]> {
  // The order knows its PaymentIntent once paid; before that the attempt (or the payment) that made it does.
  const payments = orderColumn === 'payment_intent_id' ? 'union select order_id from payments where stripe_payment_intent_id = $1' : '';
  return ordersWhere(
    db,
    `o.id = (select order_id from (select id as order_id from orders where ${orderColumn} = $1
                                   union select order_id from payment_attempts where stripe_object_id = $1 ${payments}) found limit 1)`,
    id,
  );
}

async function byRefund(db: Queryable, id: string): Promise<SearchMatchValue[]> {
  const { rows } = await db.query<{ id: string; order_id: string; amount: string; currency: string; status: string }>(
    `select id, order_id::text, amount::text, currency, status from refunds where stripe_refund_id = $1
     union select id, order_id::text, amount::text, currency, status from refunds where id = $1`,
    [id],
  );
  return rows.map((row) => ({
    kind: 'REFUND' as const,
    id: row.id,
    label: `Refund of ${formatMoney({ amount: Number(row.amount), currency: row.currency })}, ${row.status.replaceAll('_', ' ')}`,
    route: consoleRoutes.order(row.order_id),
    orderId: row.order_id,
  }));
}

async function byDispute(db: Queryable, id: string): Promise<SearchMatchValue[]> {
  const { rows } = await db.query<{ id: string; order_id: string; amount: string; currency: string; status: string }>(
    'select id, order_id::text, amount::text, currency, status from disputes where id = $1',
    [id],
  );
  return rows.map((row) => ({
    kind: 'DISPUTE' as const,
    id: row.id,
    label: `Dispute of ${formatMoney({ amount: Number(row.amount), currency: row.currency })}, ${row.status.replaceAll('_', ' ')}`,
    route: consoleRoutes.dispute(row.id),
    orderId: row.order_id,
  }));
}

async function byEvent(db: Queryable, id: string): Promise<SearchMatchValue[]> {
  const { rows } = await db.query<{ id: string; type: string; status: string }>('select id, type, status from stripe_events where id = $1', [id]);
  return rows.map((row) => ({ kind: 'WEBHOOK_EVENT' as const, id: row.id, label: `Stripe event ${row.type}, ${row.status}`, route: consoleRoutes.webhookEvent(row.id), orderId: null }));
}

async function bySubscription(db: Queryable, condition: string, id: string): Promise<SearchMatchValue[]> {
  const { rows } = await db.query<{ id: string; status: string; order_id: string | null; email: string }>(
    `select s.id, s.status, s.order_id::text, c.email from subscriptions s join customers c on c.id = s.customer_id where ${condition}`,
    [id],
  );
  return rows.map((row) => ({
    kind: 'SUBSCRIPTION' as const,
    id: row.id,
    label: `Subscription ${row.status.replaceAll('_', ' ')}, ${row.email}`,
    route: consoleRoutes.subscription(row.id),
    orderId: row.order_id,
  }));
}

/** What the parsed query names; nothing is read for an UNKNOWN one. */
export async function searchRecords(db: Queryable, search: ParsedSearch): Promise<SearchMatchValue[]> {
  const { term } = search;
  switch (search.kind) {
    case 'ORDER_ID':
      return byOrderOrCustomerId(db, term);
    case 'EMAIL':
      return byEmail(db, term);
    case 'PAYMENT_INTENT':
      return byPaymentObject(db, term, 'payment_intent_id');
    case 'CHECKOUT_SESSION':
      return byPaymentObject(db, term, 'checkout_session_id');
    case 'CHARGE':
      return ordersWhere(db, 'o.id = (select order_id from payments where stripe_charge_id = $1)', term);
    case 'REFUND':
      return byRefund(db, term);
    case 'DISPUTE':
      return byDispute(db, term);
    case 'WEBHOOK_EVENT':
      return byEvent(db, term);
    case 'SUBSCRIPTION':
      return bySubscription(db, 's.id = $1', term);
    case 'INVOICE':
      return bySubscription(db, 's.id = (select subscription_id from subscription_invoices where id = $1)', term);
    case 'UNKNOWN':
      return [];
  }
}
