// Make deliveries in the database: syncing the routes, the worker's claim and record, staff resends,
// and what staff read (the list with keyset pagination, one delivery with its attempts, the status
// figures). The multi-row changes are SQL functions in 20261122000600_make_outbox.sql (and the lease
// extension in 20261207000200_make_lease_extend.sql, attempts recorded as a set in
// 20261207003800_event_sql_cost.sql).
import type { Queryable } from '../platform/db/db';
import { keysetList, type ListKey, type ListPage, pageOf } from '../platform/db/keysetList';
import type { MakeKind } from '../config';

export type MakeDeliveryStatus = 'pending' | 'delivering' | 'delivered' | 'dead';
export type AttemptOutcome = 'delivered' | 'retry' | 'dead';
export type RecordedOutcome = AttemptOutcome | 'lease_lost';

/** Replaces the routes the SQL enqueues by: a kind without a URL is not forwarded. */
export async function syncMakeRoutes(db: Queryable, routes: Partial<Record<MakeKind, string>>): Promise<void> {
  await db.query('select make_routes_sync($1::jsonb)', [JSON.stringify(routes)]);
}

export interface ClaimedDelivery {
  id: string;
  kind: MakeKind;
  /** The route's URL now; null when the kind is no longer routed. */
  url: string | null;
  payload: Record<string, unknown>;
  /** The attempt this claim holds (1 for the first). */
  attempt: number;
  created_at: Date;
}

/** Claims up to `limit` due deliveries for one attempt each, leased for `leaseMs`. One statement: committed at once. */
export async function claimDeliveries(db: Queryable, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
  const { rows } = await db.query<ClaimedDelivery>('select * from make_deliveries_claim($1, $2)', [limit, leaseMs]);
  return rows;
}

/** An attempt a worker holds: the claim's token is the attempt number it took. */
export interface HeldAttempt {
  id: string;
  attempt: number;
}

/**
 * Extends the lease of attempts still in flight to `leaseMs` from now (never shortens one). Only an
 * attempt that still holds its row is extended; returns those that were, as `id:attempt` (the others'
 * leases were lost).
 */
export async function extendLeases(db: Queryable, held: HeldAttempt[], leaseMs: number): Promise<Set<string>> {
  if (held.length === 0) return new Set();
  const { rows } = await db.query<HeldAttempt>('select id, attempt from make_deliveries_extend($1::jsonb, $2)', [JSON.stringify(held), leaseMs]);
  return new Set(rows.map((row) => heldKey(row)));
}

export const heldKey = (held: HeldAttempt): string => `${held.id}:${held.attempt}`;

export interface AttemptRecord {
  id: string;
  attempt: number;
  outcome: AttemptOutcome;
  /** For a retry: when, from now. */
  retry_in_ms?: number;
  /** Retries past this long after the retry window opened are dead instead. */
  horizon_ms: number;
  started_at: string;
  latency_ms: number;
  status_code?: number | null;
  error?: string | null;
  response?: string | null;
}

/** Records an attempt; the delivery moves only if this attempt still holds it. Returns what was applied. */
export async function recordAttempt(db: Queryable, record: AttemptRecord): Promise<RecordedOutcome> {
  const { rows } = await db.query<{ outcome: RecordedOutcome }>('select make_delivery_record($1::jsonb) as outcome', [JSON.stringify(record)]);
  return rows[0]!.outcome;
}

/**
 * Records several attempts in one set-based statement (make_delivery_records, migration
 * 20261207003800), each exactly as recordAttempt does (its own outcome, its own lease check),
 * committed together: the POSTs a worker has in flight finish close together, and one statement each
 * was a round trip and a commit per delivery; one call per attempt inside a statement still cost
 * twice the set's database time. Rows are locked in id order, so two workers recording overlapping
 * rows cannot deadlock. One record the database refuses (its delivery is gone) fails them all and
 * records nothing: the caller then records them one by one. Returns each outcome by heldKey.
 */
export async function recordAttempts(db: Queryable, records: readonly AttemptRecord[]): Promise<Map<string, RecordedOutcome>> {
  const { rows } = await db.query<HeldAttempt & { outcome: RecordedOutcome }>('select id, attempt, outcome from make_delivery_records($1::jsonb)', [JSON.stringify(records)]);
  return new Map(rows.map((row) => [heldKey(row), row.outcome]));
}

export type ResendAction = 'retry' | 'replay';

export type ResendResult =
  | { outcome: 'done' | 'repeat'; status: MakeDeliveryStatus }
  | { outcome: 'not_found' }
  | { outcome: 'wrong_state'; status: MakeDeliveryStatus }
  | { outcome: 'conflict'; operation: string };

export async function resendDelivery(
  db: Queryable,
  request: { id: string; action: ResendAction; actor: string; scope: string; key: string; request_hash: string },
): Promise<ResendResult> {
  const { rows } = await db.query<{ result: ResendResult }>('select make_delivery_resend($1::jsonb) as result', [JSON.stringify(request)]);
  return rows[0]!.result;
}

export interface MakeDeliveryRow {
  id: string;
  kind: MakeKind;
  status: MakeDeliveryStatus;
  order_id: string | null;
  customer_id: string | null;
  subject_id: string | null;
  payload: Record<string, unknown>;
  attempts: number;
  next_attempt_at: Date;
  replays: number;
  last_status_code: number | null;
  last_error: string | null;
  last_response: string | null;
  created_at: Date;
  updated_at: Date;
  delivered_at: Date | null;
  dead_at: Date | null;
  /** `created_at` in microseconds since the Unix epoch, exactly: the cursor's time. */
  created_us: string;
}

export type MakeDeliveryKey = ListKey;

export type MakeDeliveryPage = ListPage<MakeDeliveryRow>;

const COLUMNS = `id, kind, status, order_id, customer_id, subject_id, payload, attempts, next_attempt_at, replays,
       last_status_code, last_error, last_response, created_at, updated_at, delivered_at, dead_at,
       (extract(epoch from created_at) * 1000000)::bigint::text as created_us`;

/**
 * Newest first by (created_at desc, id desc), `first` deliveries after `after`. As for webhook events
 * (server/webhooks/events.sql.ts), the statement holds only the conditions given, so each filter's
 * (status|kind, created_at desc, id desc) index serves both the WHERE and the ORDER BY.
 */
export async function listMakeDeliveries(
  db: Queryable,
  options: { filter?: { status?: MakeDeliveryStatus | null; kind?: MakeKind | null } | null; first: number; after?: MakeDeliveryKey | null },
): Promise<MakeDeliveryPage> {
  const { filter, first, after } = options;
  const list = keysetList({ time: 'created_at', id: 'id', idType: 'uuid' });
  if (filter?.status) list.where(`status = ${list.bind(filter.status)}`);
  if (filter?.kind) list.where(`kind = ${list.bind(filter.kind)}`);
  const { rows } = await db.query<MakeDeliveryRow>(`select ${COLUMNS} from make_deliveries ${list.tail(after, first)}`, list.params);
  return pageOf(rows, first);
}

export async function findMakeDelivery(db: Queryable, id: string): Promise<MakeDeliveryRow | null> {
  const { rows } = await db.query<MakeDeliveryRow>(`select ${COLUMNS} from make_deliveries where id = $1`, [id]);
  return rows[0] ?? null;
}

export interface MakeAttemptRow {
  delivery_id: string;
  attempt: number;
  started_at: Date;
  finished_at: Date;
  status_code: number | null;
  latency_ms: number;
  outcome: RecordedOutcome;
  error: string | null;
  response: string | null;
}

/** A delivery's attempts, first to last. */
export async function listMakeAttempts(db: Queryable, deliveryId: string): Promise<MakeAttemptRow[]> {
  const { rows } = await db.query<MakeAttemptRow>('select * from make_delivery_attempts where delivery_id = $1 order by attempt', [deliveryId]);
  return rows;
}

export interface MakeStatusRow {
  pending: number;
  delivering: number;
  delivered: number;
  dead: number;
  /** Pending deliveries with at least one failed attempt behind them. */
  failing: number;
  /** Whole seconds since the oldest waiting delivery was enqueued (or re-sent by staff); null when none waits. */
  oldest_pending_age_seconds: number | null;
}

export async function makeStatus(db: Queryable): Promise<MakeStatusRow> {
  const { rows } = await db.query<MakeStatusRow>(
    `with by_status as (select status, count(*)::int as n from make_deliveries group by status)
     select coalesce((select n from by_status where status = 'pending'), 0) as pending,
            coalesce((select n from by_status where status = 'delivering'), 0) as delivering,
            coalesce((select n from by_status where status = 'delivered'), 0) as delivered,
            coalesce((select n from by_status where status = 'dead'), 0) as dead,
            (select count(*)::int from make_deliveries where status = 'pending' and attempts > 0) as failing,
            (select floor(extract(epoch from now() - min(retry_window_from)))::int
               from make_deliveries where status in ('pending', 'delivering')) as oldest_pending_age_seconds`,
  );
  return rows[0]!;
}
