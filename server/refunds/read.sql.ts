// What the API reads of refunds: one order's refunds and what may still be refunded of it, and the
// staff list, newest first by (created_at desc, id desc) as a keyset page (server/platform/db/keysetList.ts).
// Refunds are few next to orders and payments; the list's filters use the (order_id) index or scan.
import type { Queryable } from '../platform/db/db';
import { keysetList, type ListKey, type ListPage, pageOf } from '../platform/db/keysetList';
import type { RefundRow, RefundStatus } from './service';

/** A refund as listed: its row and its creation in microseconds, the keyset of the list. */
export interface RefundRecord extends RefundRow {
  created_us: string;
}

export type RefundPage = ListPage<RefundRecord>;

/** Refund ids: our UUIDs, or Stripe's re_… (pyr_… for some methods) for refunds made at Stripe. */
export const REFUND_ID = /^[A-Za-z0-9_-]{1,255}$/;

// Amounts as float8 (exact to 2^53), so both drivers hand back a number, not bigint text; times as
// ISO 8601 text, as to_jsonb writes them, so PGlite and node-postgres agree.
const REFUND_COLUMNS = `id, stripe_refund_id, order_id, payment_id, amount::float8 as amount, currency, status, reason, failure_reason, requested_by,
       to_jsonb(created_at) #>> '{}' as created_at, to_jsonb(updated_at) #>> '{}' as updated_at,
       (extract(epoch from created_at) * 1000000)::bigint::text as created_us`;

/** An order's refunds, newest first. */
export async function refundsOfOrder(db: Queryable, orderId: string): Promise<RefundRecord[]> {
  const { rows } = await db.query<RefundRecord>(
    `select ${REFUND_COLUMNS} from refunds where order_id = $1 order by created_at desc, id desc`,
    [orderId],
  );
  return rows;
}

/** Refunds of a customer's orders, newest first (the customer page); at most `limit`. */
export async function refundsOfCustomer(db: Queryable, customerId: string, limit: number): Promise<RefundRecord[]> {
  const { rows } = await db.query<RefundRecord>(
    `select ${REFUND_COLUMNS} from refunds
      where order_id in (select id from orders where customer_id = $1::uuid)
      order by created_at desc, id desc limit $2`,
    [customerId, limit],
  );
  return rows;
}

export interface RefundListFilter {
  status?: RefundStatus | null;
  orderId?: string | null;
}

/** Refunds newest first by (created_at desc, id desc), only the conditions given. */
export async function listRefunds(db: Queryable, options: { filter?: RefundListFilter | null; first: number; after?: ListKey | null }): Promise<RefundPage> {
  const { filter, first, after } = options;
  const list = keysetList({ time: 'created_at', id: 'id', idType: 'text' });
  if (filter?.status) list.where(`status = ${list.bind(filter.status)}`);
  if (filter?.orderId) list.where(`order_id = ${list.bind(filter.orderId)}::uuid`);
  const { rows } = await db.query<RefundRecord>(`select ${REFUND_COLUMNS} from refunds ${list.tail(after, first)}`, list.params);
  return pageOf(rows, first);
}

/**
 * What may still be refunded of an order, in its currency, by the very definitions refund_claim
 * guards with (20261207001000_refunds.sql): the payment refund_payment_of picks, less every refund of
 * it that refund_holds (creating, pending, requires action, succeeded); zero for an order that is not
 * paid, partially refunded, refunded or disputed, has no such payment, or whose charge a dispute stops
 * Stripe refunding (refund_blocked_by_dispute). Null when there is no such order.
 */
export async function refundableAmount(db: Queryable, orderId: string): Promise<{ amount: number; currency: string } | null> {
  const { rows } = await db.query<{ amount: number; currency: string }>(
    `select case when o.status in ('paid', 'partially_refunded', 'disputed', 'refunded') and pay.id is not null
                      and not refund_blocked_by_dispute(pay.id)
                 then greatest(0, pay.amount - coalesce((select sum(r.amount) from refunds r where r.payment_id = pay.id and refund_holds(r.status)), 0))
                 else 0
            end::float8 as amount,
            o.currency
       from orders o left join lateral refund_payment_of(o) as pay on true
      where o.id = $1`,
    [orderId],
  );
  return rows[0] ?? null;
}

/**
 * Who requested each refund in words, by refund id: the name its refund.create audit row recorded
 * (the staff member's email when they asked), as the order's timeline says it; null when none was.
 * Ids without a refund are answered null. One query for a page of refunds (the API's loader).
 */
export async function requesterNamesOfRefunds(db: Queryable, ids: readonly string[]): Promise<Array<string | null>> {
  const { rows } = await db.query<{ id: string; name: string | null }>(
    `select r.id,
            (select g.details->>'actor_name' from audit_log g
              where g.target_type = 'order' and g.target_id = r.order_id::text
                and g.action = 'refund.create' and g.details->>'refund_id' = r.id
              order by g.created_at limit 1) as name
       from refunds r where r.id = any($1::text[])`,
    [[...ids]],
  );
  const names = new Map(rows.map((row) => [row.id, row.name]));
  return ids.map((id) => names.get(id) ?? null);
}
