// What the API reads of disputes (chargebacks): one order's, the staff list and the Overview's counts.
// The list puts open disputes first, then by evidence due date (soonest first, none last), then id:
// the order staff work them in. Its keyset is that triple, carried in the usual opaque cursor
// (../api/graphql/pagination.ts) as "<due in microseconds>|<0 open, 1 closed>:<id>", a dispute with no
// due date keyed at the latest time the cursor allows so it sorts after every dated one.
import type { Queryable, SqlParam } from '../platform/db/db';
import { type ListPage, pageOf } from '../platform/db/keysetList';

export type DisputeStatus =
  | 'warning_needs_response'
  | 'warning_under_review'
  | 'warning_closed'
  | 'needs_response'
  | 'under_review'
  | 'won'
  | 'lost'
  | 'prevented';

/** While staff can still act on it: a response is needed or the evidence is under review. */
export const OPEN_DISPUTE_STATUSES: readonly DisputeStatus[] = ['warning_needs_response', 'warning_under_review', 'needs_response', 'under_review'];

export interface DisputeRecord {
  id: string;
  order_id: string;
  payment_id: string;
  amount: number;
  currency: string;
  status: DisputeStatus;
  reason: string | null;
  evidence_due_by: string | null;
  is_charge_refundable: boolean;
  created_at: string;
  updated_at: string;
  /** The list's keyset: 0 open, 1 closed; the due date in microseconds (NO_DUE_DATE_US when none). */
  closed_rank: number;
  due_us: string;
}

export type DisputePage = ListPage<DisputeRecord>;

/** Where a dispute without an evidence due date sorts: 9999-12-31T23:59:59.999999Z, the cursor's upper bound. */
export const NO_DUE_DATE_US = '253402300799999999';

/** The cursor's id part: the open rank and Stripe's dispute id (du_…, or dp_… for some methods). */
export const DISPUTE_CURSOR_ID = /^[01]:[A-Za-z0-9_]{1,255}$/;

export interface DisputeKey {
  closedRank: number;
  dueUs: string;
  id: string;
}

const OPEN = `status = any('{${OPEN_DISPUTE_STATUSES.join(',')}}'::text[])`;
const CLOSED_RANK = `(case when ${OPEN} then 0 else 1 end)`;
const DUE_US = `coalesce((extract(epoch from evidence_due_by) * 1000000)::bigint, ${NO_DUE_DATE_US}::bigint)`;

const DISPUTE_COLUMNS = `id, order_id, payment_id, amount::float8 as amount, currency, status, reason,
       to_jsonb(evidence_due_by) #>> '{}' as evidence_due_by, coalesce(is_charge_refundable, false) as is_charge_refundable,
       to_jsonb(created_at) #>> '{}' as created_at, to_jsonb(updated_at) #>> '{}' as updated_at,
       ${CLOSED_RANK} as closed_rank, ${DUE_US}::text as due_us`;

/** An order's disputes, newest first. */
export async function disputesOfOrder(db: Queryable, orderId: string): Promise<DisputeRecord[]> {
  const { rows } = await db.query<DisputeRecord>(`select ${DISPUTE_COLUMNS} from disputes where order_id = $1 order by created_at desc, id desc`, [orderId]);
  return rows;
}

/** Disputes of a customer's orders, newest first (the customer page); at most `limit`. */
export async function disputesOfCustomer(db: Queryable, customerId: string, limit: number): Promise<DisputeRecord[]> {
  const { rows } = await db.query<DisputeRecord>(
    `select ${DISPUTE_COLUMNS} from disputes where order_id in (select id from orders where customer_id = $1::uuid)
      order by created_at desc, id desc limit $2`,
    [customerId, limit],
  );
  return rows;
}

export interface DisputeListFilter {
  status?: DisputeStatus | null;
  /** Only open disputes whose evidence is due before this time. */
  evidenceDueBefore?: Date | null;
}

/** Disputes open first, then evidence due soonest (none last), then id; only the conditions given. */
export async function listDisputes(
  db: Queryable,
  options: { filter?: DisputeListFilter | null; first: number; after?: DisputeKey | null },
): Promise<DisputePage> {
  const { filter, first, after } = options;
  const params: SqlParam[] = [];
  const bind = (value: SqlParam) => `$${params.push(value)}`;
  const conditions: string[] = [];
  if (filter?.status) conditions.push(`status = ${bind(filter.status)}`);
  if (filter?.evidenceDueBefore) conditions.push(`${OPEN} and evidence_due_by < ${bind(filter.evidenceDueBefore)}`);
  if (after) conditions.push(`(${CLOSED_RANK}, ${DUE_US}, id) > (${bind(after.closedRank)}::int, ${bind(after.dueUs)}::bigint, ${bind(after.id)}::text)`);
  // One row more than asked tells whether another page follows.
  const { rows } = await db.query<DisputeRecord>(
    `select ${DISPUTE_COLUMNS} from disputes ${conditions.length > 0 ? `where ${conditions.join(' and ')}` : ''}
      order by ${CLOSED_RANK}, ${DUE_US}, id
      limit ${bind(first + 1)}`,
    params,
  );
  return pageOf(rows, first);
}

/** The Overview's counts: open disputes, and those of them whose evidence is due within 72 hours (not yet past). */
export async function disputeCounts(db: Queryable): Promise<{ open: number; dueSoon: number }> {
  const { rows } = await db.query<{ open: number; due_soon: number }>(
    `select count(*)::int as open,
            count(*) filter (where evidence_due_by > now() and evidence_due_by <= now() + interval '72 hours')::int as due_soon
       from disputes where ${OPEN}`,
  );
  return { open: rows[0]!.open, dueSoon: rows[0]!.due_soon };
}
