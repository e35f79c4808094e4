// Payment logs as staff read them in the console: newest first, keyset pagination, filters by event
// type, status, customer and date range, and a search box that finds the rows of one order (by its id,
// its PaymentIntent or its Checkout Session) or of one customer (by email). Reads only: the SQL
// functions that change orders write the rows (payment_log_for_order and friends).
import type { Queryable } from '../platform/db/db';
import { keysetList, type ListKey, type ListPage, pageOf } from '../platform/db/keysetList';
import { type PaymentSearch, searchCondition } from '../orders/search';

export interface PaymentLogRow {
  id: string;
  event_type: string;
  status: string;
  amount: number | null;
  currency: string | null;
  order_id: string | null;
  customer_id: string | null;
  customer_email: string | null;
  user_id: string | null;
  metadata: Record<string, unknown>;
  created_at: Date;
  /** `created_at` in microseconds since the Unix epoch, exactly (a JS Date keeps only milliseconds): the cursor's time. */
  created_us: string;
}

/** A position in the list: the (created_at, id) of the last row seen. */
export type PaymentLogKey = ListKey;

export interface PaymentLogFilter {
  eventType?: string | null;
  status?: string | null;
  customerId?: string | null;
  /** Rows created at or after this time. */
  from?: Date | null;
  /** Rows created before this time. */
  to?: Date | null;
  search?: PaymentSearch | null;
}

const SELECT_ROWS = `
  select l.id::text as id, l.event_type, l.status, l.amount::float8 as amount, l.currency, l.order_id, l.customer_id,
         c.email as customer_email, l.user_id, l.metadata, l.created_at,
         (extract(epoch from l.created_at) * 1000000)::bigint::text as created_us
    from payment_logs l
    left join customers c on c.id = l.customer_id`;

export type PaymentLogPage = ListPage<PaymentLogRow>;

/**
 * Newest first by (created_at desc, id desc), `first` rows after `after`.
 *
 * As listWebhookEvents does, the statement holds only the conditions given, so that each filter's
 * (column, created_at desc, id desc) index serves both the WHERE and the ORDER BY and a page reads
 * `first + 1` entries whatever the table holds. A search narrows to one order's or one customer's
 * rows first (a handful, through the unique ids and the order and customer indexes).
 */
export async function listPaymentLogs(
  db: Queryable,
  options: { filter?: PaymentLogFilter | null; first: number; after?: PaymentLogKey | null },
): Promise<PaymentLogPage> {
  const { filter, first, after } = options;
  const list = keysetList({ time: 'l.created_at', id: 'l.id', idType: 'bigint' });
  const { bind } = list;
  if (filter?.eventType) list.where(`l.event_type = ${bind(filter.eventType)}`);
  if (filter?.status) list.where(`l.status = ${bind(filter.status)}`);
  if (filter?.customerId) list.where(`l.customer_id = ${bind(filter.customerId)}::uuid`);
  if (filter?.from) list.where(`l.created_at >= ${bind(filter.from)}`);
  if (filter?.to) list.where(`l.created_at < ${bind(filter.to)}`);
  if (filter?.search) list.where(searchCondition(filter.search, { orderId: 'l.order_id', customerId: 'l.customer_id' }, bind));
  const { rows } = await db.query<PaymentLogRow>(`${SELECT_ROWS} ${list.tail(after, first)}`, list.params);
  return pageOf(rows, first);
}

/** One row by id (a shared link to a row that is not on the first page); null when there is none. */
export async function findPaymentLog(db: Queryable, id: string): Promise<PaymentLogRow | null> {
  const { rows } = await db.query<PaymentLogRow>(`${SELECT_ROWS} where l.id = $1::bigint`, [id]);
  return rows[0] ?? null;
}
