// Typed calls of the reconciliation SQL (supabase/migrations/20261207000700_reconciliation.sql). Each
// is one statement, so each is one transaction on both engines.
import type { Queryable } from '../platform/db/db';

export type RunTrigger = 'schedule' | 'manual' | 'cli';
export type RunStatus = 'running' | 'succeeded' | 'failed';
export type FindingKind = 'PROVISIONAL_TOO_LONG' | 'ATTEMPT_WITHOUT_OBJECT' | 'NEEDS_CLEANUP' | 'STRIPE_WITHOUT_RECORD' | 'AMOUNT_MISMATCH';
export type CursorName = 'payment_intents' | 'checkout_sessions' | 'events';

export interface RunCounters {
  synced: number;
  failed: number;
  skipped: number;
  adopted: number;
  canceled: number;
  orphansFound: number;
  eventsBackfilled: number;
}

export const emptyCounters = (): RunCounters => ({ synced: 0, failed: 0, skipped: 0, adopted: 0, canceled: 0, orphansFound: 0, eventsBackfilled: 0 });

export interface RunRow {
  id: string;
  trigger: RunTrigger;
  actor: string;
  status: RunStatus;
  started_at: string;
  finished_at: string | null;
  counters: Partial<RunCounters>;
  error: string | null;
}

export interface FindingRow {
  id: string;
  kind: FindingKind;
  subject: string;
  stripe_object_id: string | null;
  stripe_status: string | null;
  amount: number | null;
  currency: string | null;
  order_id: string | null;
  status: 'open' | 'resolved';
  resolution: string | null;
  first_seen_at: string;
  checks: number;
  last_checked_at: string;
  next_check_at: string | null;
  /** janitor:<run id>, or staff:<user id>. */
  resolved_by: string | null;
  resolved_at: string | null;
  run_id: string | null;
  /** What the janitor saw (an error), and a staff resolution's action and note. */
  details: Record<string, unknown>;
}

// to_jsonb: the functions returning a row type come back as one object, as on every engine and driver.
async function call<T>(db: Queryable, fn: string, argument: object): Promise<T> {
  const { rows } = await db.query<{ result: T }>(`select to_jsonb(${fn}($1::jsonb)) as result`, [JSON.stringify(argument)]);
  return rows[0]!.result;
}

/** Claims the one running pass of this database, or answers the pass that holds it (busy). */
export const beginRun = (db: Queryable, p: { trigger: RunTrigger; actor: string; stale_seconds?: number }) =>
  call<{ busy: boolean; run: RunRow }>(db, 'reconcile_begin_run', p);

/** Ends a pass; the cursors move only when it succeeded. */
export const finishRun = (
  db: Queryable,
  p: { run_id: string; status: 'succeeded' | 'failed'; counters: RunCounters; error?: string; cursors?: Partial<Record<CursorName, string>> },
) => call<RunRow>(db, 'reconcile_finish_run', p);

/** Heartbeat and counters so far of a running pass (none for a staff member's sync: runId null). */
export async function touchRun(db: Queryable, runId: string | null, counters: RunCounters): Promise<void> {
  if (!runId) return;
  await db.query(`update reconciliation_runs set heartbeat_at = now(), counters = $2::jsonb where id = $1 and status = 'running'`, [runId, JSON.stringify(counters)]);
}

export const recordFinding = (
  db: Queryable,
  p: {
    kind: FindingKind;
    subject: string;
    /** null: found by a staff member's sync, not a pass. */
    run_id: string | null;
    stripe_object_id?: string | null;
    stripe_status?: string | null;
    amount?: number | null;
    currency?: string | null;
    order_id?: string | null;
    next_check_at?: string | null;
    details?: Record<string, unknown>;
  },
) => call<FindingRow>(db, 'reconcile_record_finding', p);

export const resolveFindings = (db: Queryable, p: { subject: string; kind?: FindingKind; resolution: string; actor: string; run_id: string | null }) =>
  call<number>(db, 'reconcile_resolve_finding', p);

export async function readCursors(db: Queryable): Promise<Partial<Record<CursorName, Date>>> {
  const { rows } = await db.query<{ name: CursorName; position: string | Date }>('select name, position from reconciliation_cursors');
  return Object.fromEntries(rows.map((r) => [r.name, new Date(r.position)]));
}


/** A provisional order due for a check, with the object its latest recorded attempt created. */
export interface DueOrder {
  id: string;
  sync_attempts: number;
  kind: 'payment_intent' | 'checkout_session';
  stripe_object_id: string;
  amount: number;
  currency: string;
}

/**
 * Provisional orders due now (the backoff of seed 002: first after `afterSeconds`, then 5 minutes, 1
 * hour and 1 day after the last check), in id order after `afterId`: a page at a time, memory flat.
 */
export async function dueProvisionalOrders(db: Queryable, p: { now: Date; afterSeconds: number; afterId: string | null; limit: number }): Promise<DueOrder[]> {
  const { rows } = await db.query<DueOrder>(
    `select o.id, o.sync_attempts, a.kind, a.stripe_object_id, o.amount::int as amount, o.currency
       from orders o
       join lateral (select kind, stripe_object_id from payment_attempts
                      where order_id = o.id and stripe_object_id is not null order by attempt desc limit 1) a on true
      where o.sync_state = 'provisional'
        and ($3::uuid is null or o.id > $3::uuid)
        and case o.sync_attempts
              when 0 then o.updated_at <= $1::timestamptz - make_interval(secs => $2)
              when 1 then o.last_sync_at <= $1::timestamptz - interval '5 minutes'
              when 2 then o.last_sync_at <= $1::timestamptz - interval '1 hour'
              else o.last_sync_at <= $1::timestamptz - interval '1 day'
            end
      order by o.id
      limit $4`,
    [p.now.toISOString(), p.afterSeconds, p.afterId, p.limit],
  );
  return rows;
}

/** One more check of an order still provisional: its place on the backoff schedule. */
export async function markOrderChecked(db: Queryable, orderId: string, now: Date): Promise<number> {
  const { rows } = await db.query<{ sync_attempts: number }>(
    `update orders set sync_attempts = sync_attempts + 1, last_sync_at = $2 where id = $1 returning sync_attempts`,
    [orderId, now.toISOString()],
  );
  return rows[0]?.sync_attempts ?? 0;
}

/** An attempt whose Stripe object we do not know for sure: `creating` for over 5 minutes, or `needs_cleanup`. */
export interface UnsettledAttempt {
  id: string;
  order_id: string;
  attempt: number;
  kind: 'payment_intent' | 'checkout_session';
  status: 'creating' | 'needs_cleanup';
  stripe_object_id: string | null;
  created_at: string;
  order_status: string;
}

export async function unsettledAttempts(db: Queryable, p: { now: Date; afterId: string | null; limit: number }): Promise<UnsettledAttempt[]> {
  const { rows } = await db.query<UnsettledAttempt>(
    `select a.id, a.order_id, a.attempt, a.kind, a.status, a.stripe_object_id, a.created_at::text as created_at, o.status as order_status
       from payment_attempts a join orders o on o.id = a.order_id
      where (a.status = 'needs_cleanup' or (a.status = 'creating' and a.updated_at <= $1::timestamptz - interval '5 minutes'))
        and ($2::uuid is null or a.id > $2::uuid)
      order by a.id limit $3`,
    [p.now.toISOString(), p.afterId, p.limit],
  );
  return rows;
}

/**
 * Is this Stripe object ours on record: named by an attempt, a payment or an order, or made under an
 * attempt of ours that is recorded (the PaymentIntent of a recorded Checkout Session carries the
 * session's order and attempt in its metadata)?
 */
export async function isRecorded(db: Queryable, objectId: string, metadata: { orderId: string | null; attempt: number | null }): Promise<boolean> {
  const { rows } = await db.query<{ known: boolean }>(
    `select exists (select 1 from payment_attempts where stripe_object_id = $1)
         or exists (select 1 from payments where stripe_payment_intent_id = $1)
         or exists (select 1 from orders where payment_intent_id = $1 or checkout_session_id = $1)
         or exists (select 1 from payment_attempts where order_id = $2::uuid and attempt = $3 and stripe_object_id is not null) as known`,
    [objectId, metadata.orderId, metadata.attempt],
  );
  return rows[0]!.known;
}

/** isRecorded for a page of listed objects in one statement: the ids of those that are ours on record. */
export async function recordedObjects(db: Queryable, objects: { id: string; orderId: string; attempt: number | null }[]): Promise<Set<string>> {
  if (objects.length === 0) return new Set();
  const { rows } = await db.query<{ id: string }>(
    `select o.id from unnest($1::text[], $2::uuid[], $3::int[]) as o(id, order_id, attempt)
      where exists (select 1 from payment_attempts where stripe_object_id = o.id)
         or exists (select 1 from payments where stripe_payment_intent_id = o.id)
         or exists (select 1 from orders where payment_intent_id = o.id or checkout_session_id = o.id)
         or exists (select 1 from payment_attempts where order_id = o.order_id and attempt = o.attempt and stripe_object_id is not null)`,
    [objects.map((o) => o.id), objects.map((o) => o.orderId), objects.map((o) => o.attempt)],
  );
  return new Set(rows.map((row) => row.id));
}

/**
 * Open orphan findings not yet looked at in this pass, a page at a time: an open PaymentIntent stays
 * ours to watch after the list window has moved past its creation (it may be paid, or due for cancel).
 */
export async function openOrphansToRecheck(db: Queryable, p: { runId: string | null; afterId: string | null; limit: number }): Promise<{ id: string; stripe_object_id: string }[]> {
  const { rows } = await db.query<{ id: string; stripe_object_id: string }>(
    `select id, stripe_object_id from reconciliation_findings
      where kind = 'STRIPE_WITHOUT_RECORD' and status = 'open' and stripe_object_id is not null
        and run_id is distinct from $1::uuid and ($2::uuid is null or id > $2::uuid)
      order by id limit $3`,
    [p.runId, p.afterId, p.limit],
  );
  return rows;
}

/** Makes an order from a paid object's metadata, as the webhook applier does (strict on price and buyer). */
export async function createOrderFromPayment(db: Queryable, p: Record<string, unknown>): Promise<string | null> {
  const { rows } = await db.query<{ id: string | null }>('select order_create_from_payment($1::jsonb) as id', [JSON.stringify(p)]);
  return rows[0]!.id;
}

/** A payment_logs row of the janitor's (reconcile.*), with the run id, on the order when there is one. */
export async function logAction(db: Queryable, p: { eventType: `reconcile.${string}`; status: string; orderId: string | null; metadata: Record<string, unknown> }): Promise<void> {
  const metadata = JSON.stringify(p.metadata);
  if (p.orderId) {
    await db.query(`select payment_log_for_order(o, $2, $3, $4::jsonb) from orders o where o.id = $1`, [p.orderId, p.eventType, p.status, metadata]);
  } else {
    await db.query(`insert into payment_logs (event_type, status, metadata) values ($1, $2, $3::jsonb)`, [p.eventType, p.status, metadata]);
  }
}

/** payment_logs rows of the janitor's on no order, in this order, in one statement (a backfilled page's events). */
export async function logActionsWithoutOrder(db: Queryable, rows: Array<{ eventType: `reconcile.${string}`; status: string; metadata: Record<string, unknown> }>): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `insert into payment_logs (event_type, status, metadata)
     select r->>'event_type', r->>'status', r->'metadata' from jsonb_array_elements($1::jsonb) with ordinality as t(r, n) order by n`,
    [JSON.stringify(rows.map((row) => ({ event_type: row.eventType, status: row.status, metadata: row.metadata })))],
  );
}

/** Which of these event ids are stored already (delivered, or backfilled by an earlier pass): one statement for a page of Stripe's list. */
export async function storedEventIds(db: Queryable, ids: string[]): Promise<Set<string>> {
  const { rows } = await db.query<{ id: string }>('select id from stripe_events where id = any($1::text[])', [ids]);
  return new Set(rows.map((row) => row.id));
}
