// Stored Stripe events as staff see them: the list (newest first, keyset pagination, by status, type
// or object), one event, and the applier's status figures. Reads only; the endpoint and the applier
// write the rows (supabase/migrations/20261122000300_stripe_events.sql, 20261122000400_webhook_apply.sql).
import type { Queryable } from '../platform/db/db';
import { keysetList, type ListKey, type ListPage, pageOf } from '../platform/db/keysetList';

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
export type WebhookEventKey = ListKey;

export interface WebhookEventFilter {
  status?: WebhookEventStatus | null;
  type?: string | null;
  objectId?: string | null;
}

export type WebhookEventPage = ListPage<WebhookEventRow>;

const COLUMNS = `id, type, object_type, object_id, created, livemode, api_version, payload, status, ignored_reason,
       attempts, next_attempt_at, last_error, outcome, received_at, applied_at, failed_at,
       (extract(epoch from created) * 1000000)::bigint::text as created_us`;

/**
 * Newest first by (created desc, id desc), `first` events after `after`; each filter has its own
 * (status|type|object_id, created desc, id desc) index (see platform/db/keysetList.ts for why).
 */
export async function listWebhookEvents(
  db: Queryable,
  options: { filter?: WebhookEventFilter | null; first: number; after?: WebhookEventKey | null },
): Promise<WebhookEventPage> {
  const { filter, first, after } = options;
  const list = keysetList({ time: 'created', id: 'id', idType: 'text' });
  if (filter?.status) list.where(`status = ${list.bind(filter.status)}`);
  if (filter?.type) list.where(`type = ${list.bind(filter.type)}`);
  if (filter?.objectId) list.where(`object_id = ${list.bind(filter.objectId)}`);
  const { rows } = await db.query<WebhookEventRow>(`select ${COLUMNS} from stripe_events ${list.tail(after, first)}`, list.params);
  return pageOf(rows, first);
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
