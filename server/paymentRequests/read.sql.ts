// What the API reads of payment requests: one request, a keyset page of them (newest first), a
// request's members, and the share a pay token opens. Amounts as float8 (exact to 2^53) so both
// drivers hand back numbers; times as ISO 8601 text, as to_jsonb writes them.
import type { Queryable } from '../platform/db/db';
import { keysetList, pageOf } from '../platform/db/keysetList';
import type { MemberShareView, PaymentRequestListOptions, PaymentRequestMemberRow, PaymentRequestRow } from './service';

const iso = (column: string) => `to_jsonb(${column}) #>> '{}'`;

// Refunded: refunds of the share's order that succeeded.
const REFUNDED = `(select coalesce(sum(f.amount), 0) from refunds f where f.order_id = m.order_id and f.status = 'succeeded')`;

const REQUEST_COLUMNS = `r.id, r.title, r.product_id, p.name as product_name, r.description, r.currency, r.total::float8 as total,
       agg.amount_paid::float8 as amount_paid, agg.amount_refunded::float8 as amount_refunded, r.status,
       agg.members_count::int as members_count, agg.members_paid::int as members_paid,
       ${iso('r.expires_at')} as expires_at, r.created_by, r.created_by_name, r.metadata,
       ${iso('r.completed_at')} as completed_at, ${iso('r.canceled_at')} as canceled_at,
       ${iso('r.created_at')} as created_at, ${iso('r.updated_at')} as updated_at,
       (extract(epoch from r.created_at) * 1000000)::bigint::text as created_us`;

const REQUEST_FROM = `payment_requests r
  left join products p on p.id = r.product_id
  cross join lateral (
    select count(*) as members_count,
           count(*) filter (where m.status = 'paid') as members_paid,
           coalesce(sum(m.amount_pence) filter (where m.status in ('paid', 'processing')), 0) as amount_paid,
           coalesce(sum(${REFUNDED}), 0) as amount_refunded
      from payment_request_members m where m.payment_request_id = r.id) agg`;

export async function findRequest(db: Queryable, id: string): Promise<PaymentRequestRow | null> {
  const { rows } = await db.query<PaymentRequestRow>(`select ${REQUEST_COLUMNS} from ${REQUEST_FROM} where r.id = $1`, [id]);
  return rows[0] ?? null;
}

export async function listRequests(db: Queryable, options: PaymentRequestListOptions): Promise<{ rows: PaymentRequestRow[]; hasNextPage: boolean }> {
  const list = keysetList({ time: 'r.created_at', id: 'r.id', idType: 'uuid' });
  if (options.status) list.where(`r.status = ${list.bind(options.status)}`);
  if (options.createdBy) list.where(`r.created_by = ${list.bind(options.createdBy)}`);
  const { rows } = await db.query<PaymentRequestRow>(`select ${REQUEST_COLUMNS} from ${REQUEST_FROM} ${list.tail(options.after, options.first)}`, list.params);
  return pageOf(rows, options.first);
}

export async function membersOf(db: Queryable, requestId: string): Promise<PaymentRequestMemberRow[]> {
  return (await membersOfRequests(db, [requestId]))[0]!;
}

/** The members of each request, in the order given (a list's page reads them in one query: the GraphQL loader). */
export async function membersOfRequests(db: Queryable, requestIds: readonly string[]): Promise<PaymentRequestMemberRow[][]> {
  const { rows } = await db.query<PaymentRequestMemberRow>(
    `select m.id, m.payment_request_id, m.email, m.name, m.amount_pence::float8 as amount_pence, m.status, m.payment_attempt_count,
            m.stripe_payment_intent_id, m.order_id, ${iso('m.paid_at')} as paid_at, ${REFUNDED}::float8 as amount_refunded,
            ${iso('m.created_at')} as created_at, ${iso('m.updated_at')} as updated_at
       from payment_request_members m where m.payment_request_id = any($1::uuid[]) order by m.payment_request_id, m.position, m.created_at, m.id`,
    [[...requestIds]],
  );
  const byRequest = new Map<string, PaymentRequestMemberRow[]>(requestIds.map((id) => [id, []]));
  for (const row of rows) byRequest.get(row.payment_request_id)?.push(row);
  return requestIds.map((id) => byRequest.get(id)!);
}

/** The share whose token hashes to tokenHash, as its pay page shows it; null for none. */
export async function shareByTokenHash(db: Queryable, tokenHash: string): Promise<MemberShareView | null> {
  const { rows } = await db.query<MemberShareView>(
    `select m.id as member_id, m.payment_request_id, r.title, r.description, p.name as track_name,
            coalesce(m.name, m.email) as member_name, m.amount_pence::float8 as amount_pence, r.currency,
            m.status, r.status as request_status, ${iso('r.expires_at')} as expires_at
       from payment_request_members m
       join payment_requests r on r.id = m.payment_request_id
       left join products p on p.id = r.product_id
      where m.token_hash = $1`,
    [tokenHash],
  );
  return rows[0] ?? null;
}

/** Members a reminder goes to (the SQL checks again under its locks). */
export async function unpaidMemberIds(db: Queryable, requestId: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    "select id from payment_request_members where payment_request_id = $1 and status in ('pending', 'failed') order by id",
    [requestId],
  );
  return rows.map((row) => row.id);
}
