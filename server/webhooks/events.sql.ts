// Stored Stripe events as staff see them: the list (newest first, keyset pagination, by status, type
// or object), one event, and the applier's status figures. Reads only; the endpoint and the applier
// write the rows (supabase/migrations/20261122000300_stripe_events.sql, 20261122000400_webhook_apply.sql).
import type { Queryable, SqlParam } from '../platform/db/db';

export type WebhookEventStatus = 'received' | 'applied' | 'ignored' | 'failed';

/** Stripe's event id, as the table's check constraint has it. */
export const EVENT_ID = /^evt_[A-Za-z0-9_]{1,250}$/;

export interface WebhookEventRow {
  id: string;
  type: string;
  object_type: string | null;
  object_id: string | null;
  /** The event's own `created`. */
  created: Date;
  livemode: boolean;
  api_version: string | null;
  /** The event as Stripe sent it (jsonb). */
  payload: unknown;
  status: WebhookEventStatus;
  ignored_reason: string | null;
  attempts: number;
  next_attempt_at: Date;
  last_error: string | null;
  outcome: string | null;
  received_at: Date;
  applied_at: Date | null;
  failed_at: Date | null;
  /** `created` in microseconds since the Unix epoch, exactly (a JS Date keeps only milliseconds): the cursor's time. */
  created_us: string;
}

/** A position in the list: the (created, id) of the last event seen. */
export interface WebhookEventKey {
  createdUs: string;
  id: string;
}

export interface WebhookEventFilter {
  status?: WebhookEventStatus | null;
  type?: string | null;
  objectId?: string | null;
}

export interface WebhookEventPage {
  rows: WebhookEventRow[];
  hasNextPage: boolean;
}

const COLUMNS = `id, type, object_type, object_id, created, livemode, api_version, payload, status, ignored_reason,
       attempts, next_attempt_at, last_error, outcome, received_at, applied_at, failed_at,
       (extract(epoch from created) * 1000000)::bigint::text as created_us`;

/**
 * Newest first by (created desc, id desc), `first` events after `after`.
 *
 * The statement holds only the conditions given, rather than one text with `($1 is null or status =
 * $1)` for every filter: a generic plan of that shape cannot use the filter's index, and each single
 * filter has its own (status|type|object_id, created desc, id desc) index that serves both the WHERE
 * and the ORDER BY, so a page reads `first + 1` index entries however many events are stored. The
 * keyset is a row comparison, which a btree index scan takes as its start position. Values are bound.
 */
export async function listWebhookEvents(
  db: Queryable,
  options: { filter?: WebhookEventFilter | null; first: number; after?: WebhookEventKey | null },
): Promise<WebhookEventPage> {
  const { filter, first, after } = options;
  const params: SqlParam[] = [];
  const bind = (value: SqlParam) => `$${params.push(value)}`;
  const where: string[] = [];
  if (filter?.status) where.push(`status = ${bind(filter.status)}`);
  if (filter?.type) where.push(`type = ${bind(filter.type)}`);
  if (filter?.objectId) where.push(`object_id = ${bind(filter.objectId)}`);
  if (after) {
    where.push(`(created, id) < ('epoch'::timestamptz + ${bind(after.createdUs)}::bigint * interval '1 microsecond', ${bind(after.id)}::text)`);
  }
  // One row more than asked tells whether another page follows.
  const { rows } = await db.query<WebhookEventRow>(
    `select ${COLUMNS}
       from stripe_events
      ${where.length > 0 ? `where ${where.join(' and ')}` : ''}
      order by created desc, id desc
      limit ${bind(first + 1)}`,
    params,
  );
  return { rows: rows.slice(0, first), hasNextPage: rows.length > first };
}

export async function findWebhookEvent(db: Queryable, id: string): Promise<WebhookEventRow | null> {
  const { rows } = await db.query<WebhookEventRow>(`select ${COLUMNS} from stripe_events where id = $1`, [id]);
  return rows[0] ?? null;
}

export interface WebhookStatusRow {
  received: number;
  applied: number;
  ignored: number;
  failed: number;
  /** Whole seconds since the oldest `received` event was stored; null when none waits. */
  oldest_unapplied_age_seconds: number | null;
  failed_last_hour: number;
  /** `received` events with at least one failed attempt behind them. */
  retrying: number;
}

/**
 * The applier's figures in one statement. The count by status reads the status index only; the
 * others read only waiting or failed rows. `failed_at` is set only on failed rows (the applier clears
 * it when an event is applied or replayed), so `status = 'failed'` changes no answer and lets the
 * partial index on failed rows serve the last hour.
 */
export async function webhookStatus(db: Queryable): Promise<WebhookStatusRow> {
  const { rows } = await db.query<WebhookStatusRow>(
    `with by_status as (select status, count(*)::int as n from stripe_events group by status)
     select coalesce((select n from by_status where status = 'received'), 0) as received,
            coalesce((select n from by_status where status = 'applied'), 0) as applied,
            coalesce((select n from by_status where status = 'ignored'), 0) as ignored,
            coalesce((select n from by_status where status = 'failed'), 0) as failed,
            (select floor(extract(epoch from now() - min(received_at)))::int
               from stripe_events where status = 'received') as oldest_unapplied_age_seconds,
            (select count(*)::int from stripe_events
              where status = 'failed' and failed_at > now() - interval '1 hour') as failed_last_hour,
            (select count(*)::int from stripe_events where status = 'received' and attempts > 0) as retrying`,
  );
  return rows[0]!;
}
