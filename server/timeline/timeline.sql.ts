// An order's timeline: one statement that merges every source of what happened to the order (payment
// log rows, payment attempts, webhook events about its Stripe objects, refunds, disputes, Make
// deliveries and their attempts, audit entries on it), newest first. Each source is read through an
// index on the order (or on the Stripe object id, or the audit target), so an order with hundreds of
// entries is a few hundred index reads and one small sort; the keyset is (at, entry id) where the
// entry id starts with its source, so entries at the same microsecond still have one order. Only
// (entry id, time, key) are merged and sorted; the fields of the page's entries are read after the
// limit, by primary key, so a page of 50 builds 50 rows' fields however long the timeline. Summaries
// in words are made in summary.ts from each entry's `data`.
import type { Queryable } from '../platform/db/db';
import type { ListKey, ListPage } from '../platform/db/keysetList';
import { pageOf } from '../platform/db/keysetList';

export type TimelineSource = 'PAYMENT_LOG' | 'PAYMENT_ATTEMPT' | 'WEBHOOK_EVENT' | 'REFUND' | 'DISPUTE' | 'MAKE_DELIVERY' | 'MAKE_DELIVERY_ATTEMPT' | 'AUDIT';

export interface TimelineRow {
  /** Source-prefixed and unique in the order's timeline, e.g. log:42, event:evt_…, make_attempt:<uuid>:2. */
  entry_id: string;
  kind: TimelineSource;
  /** ISO 8601 */
  at: string;
  /** The time in microseconds since the epoch, as text: the cursor's half. */
  at_us: string;
  /** The source row's own fields the summary needs (see the statement). */
  data: Record<string, unknown>;
}

export type TimelinePage = ListPage<TimelineRow>;

/** An entry id as the statement makes them: a source prefix, a colon, the source's ids. */
export const TIMELINE_ENTRY_ID = /^(log|attempt|event|refund|dispute|make|make_attempt|audit):[A-Za-z0-9_:.-]{1,300}$/;

// Entry ids compare byte-wise ("C"), so PGlite, PostgreSQL and the cursor agree on ties.
const TIMELINE_STATEMENT = `
with the_order as (
  select id, payment_intent_id, checkout_session_id from orders where id = $1::uuid
),
stripe_ids as (
  select stripe_object_id as id from payment_attempts where order_id = $1::uuid and stripe_object_id is not null
  union select payment_intent_id from the_order where payment_intent_id is not null
  union select checkout_session_id from the_order where checkout_session_id is not null
  union select stripe_payment_intent_id from payments where order_id = $1::uuid
  union select stripe_charge_id from payments where order_id = $1::uuid and stripe_charge_id is not null
  union select stripe_refund_id from refunds where order_id = $1::uuid and stripe_refund_id is not null
  union select id from disputes where order_id = $1::uuid
),
audit_targets as (
  select 'order'::text as target_type, $1::text as target_id
  union all select 'refund', id from refunds where order_id = $1::uuid
  union all select 'dispute', id from disputes where order_id = $1::uuid
  union all select 'payment', id::text from payments where order_id = $1::uuid
  union all select 'make_delivery', id::text from make_deliveries where order_id = $1::uuid
  union all select 'stripe_event', e.id from stripe_events e join stripe_ids s on e.object_id = s.id
),
entries as (
  select 'log:' || l.id as entry_id, 'PAYMENT_LOG' as kind, l.created_at as at, l.id::text as ref
    from payment_logs l where l.order_id = $1::uuid
  union all
  select 'attempt:' || a.id, 'PAYMENT_ATTEMPT', a.created_at, a.id::text from payment_attempts a where a.order_id = $1::uuid
  union all
  select 'event:' || e.id, 'WEBHOOK_EVENT', e.created, e.id from stripe_events e where e.object_id in (select id from stripe_ids)
  union all
  select 'refund:' || r.id, 'REFUND', r.created_at, r.id from refunds r where r.order_id = $1::uuid
  union all
  select 'dispute:' || d.id, 'DISPUTE', d.created_at, d.id from disputes d where d.order_id = $1::uuid
  union all
  select 'make:' || m.id, 'MAKE_DELIVERY', m.created_at, m.id::text from make_deliveries m where m.order_id = $1::uuid
  union all
  select 'make_attempt:' || t.delivery_id || ':' || t.attempt, 'MAKE_DELIVERY_ATTEMPT', t.finished_at, t.delivery_id || ':' || t.attempt
    from make_delivery_attempts t join make_deliveries m on m.id = t.delivery_id where m.order_id = $1::uuid
  union all
  select 'audit:' || g.id, 'AUDIT', g.created_at, g.id::text
    from audit_log g join audit_targets x on g.target_type = x.target_type and g.target_id = x.target_id
),
page as (
  select entry_id, kind, at, ref from entries
   where $2::bigint is null
      or (at, entry_id collate "C") < ('epoch'::timestamptz + $2::bigint * interval '1 microsecond', $3::text collate "C")
   order by at desc, entry_id collate "C" desc
   limit $4
)
-- The fields of the page's entries only: each CASE branch reads its one row by primary key.
select p.entry_id, p.kind, p.at, (extract(epoch from p.at) * 1000000)::bigint::text as at_us,
       case p.kind
         when 'PAYMENT_LOG' then (
           select jsonb_build_object('id', l.id, 'event_type', l.event_type, 'status', l.status, 'amount', l.amount,
                                     'currency', l.currency, 'actor', l.metadata->>'actor', 'source', l.metadata->>'source',
                                     -- An API key is named by its name, not the id the row holds (api_key:<id>).
                                     'actor_name', case when l.metadata->>'actor' like 'api_key:%' then
                                       (select k.name from api_keys k where k.id = uuid_or_null(substr(l.metadata->>'actor', 9))) end,
                                     'stripe_object_id', l.metadata->>'stripe_object_id', 'refund_id', l.metadata->>'refund_id',
                                     -- A refund's or dispute's row carries the order's amount (payment_log_for_order):
                                     -- what it moved is in its metadata, else on the refund row it names.
                                     'refund_amount', case when l.event_type like 'refund.%' then coalesce(l.metadata->'refund_amount',
                                       (select to_jsonb(r.amount) from refunds r where r.id = l.metadata->>'refund_id'),
                                       (select to_jsonb(r.amount) from refunds r where r.stripe_refund_id = l.metadata->>'refund_id')) end,
                                     'dispute_amount', case when l.event_type like 'dispute.%' then l.metadata->'dispute_amount' end)
             from payment_logs l where l.id = p.ref::bigint)
         when 'PAYMENT_ATTEMPT' then (
           select jsonb_build_object('attempt', a.attempt, 'attempt_kind', a.kind, 'status', a.status,
                                     'stripe_object_id', a.stripe_object_id, 'stripe_state', so.state, 'last_error', a.last_error)
             from payment_attempts a left join stripe_objects so on so.id = a.stripe_object_id where a.id = p.ref::uuid)
         when 'WEBHOOK_EVENT' then (
           select jsonb_build_object('id', e.id, 'type', e.type, 'status', e.status, 'object_id', e.object_id,
                                     'outcome', e.outcome, 'ignored_reason', e.ignored_reason, 'source', e.source)
             from stripe_events e where e.id = p.ref)
         when 'REFUND' then (
           select jsonb_build_object('id', r.id, 'stripe_refund_id', r.stripe_refund_id, 'status', r.status, 'amount', r.amount,
                                     'currency', r.currency, 'reason', r.reason, 'failure_reason', r.failure_reason, 'requested_by', r.requested_by,
                                     -- Who requested it in words: the name its refund.create audit row recorded.
                                     'requested_by_name', (select g.details->>'actor_name' from audit_log g
                                                            where g.target_type = 'order' and g.target_id = r.order_id::text
                                                              and g.action = 'refund.create' and g.details->>'refund_id' = r.id
                                                            order by g.created_at limit 1))
             from refunds r where r.id = p.ref)
         when 'DISPUTE' then (
           select jsonb_build_object('id', d.id, 'status', d.status, 'amount', d.amount, 'currency', d.currency, 'reason', d.reason,
                                     'evidence_due_by', d.evidence_due_by)
             from disputes d where d.id = p.ref)
         when 'MAKE_DELIVERY' then (
           select jsonb_build_object('id', m.id, 'make_kind', m.kind, 'status', m.status, 'attempts', m.attempts, 'replays', m.replays)
             from make_deliveries m where m.id = p.ref::uuid)
         when 'MAKE_DELIVERY_ATTEMPT' then (
           select jsonb_build_object('delivery_id', t.delivery_id, 'make_kind', m.kind, 'attempt', t.attempt, 'outcome', t.outcome,
                                     'status_code', t.status_code, 'latency_ms', t.latency_ms, 'error', t.error)
             from make_delivery_attempts t join make_deliveries m on m.id = t.delivery_id
            where t.delivery_id = split_part(p.ref, ':', 1)::uuid and t.attempt = split_part(p.ref, ':', 2)::int)
         when 'AUDIT' then (
           select jsonb_build_object('action', g.action, 'actor_type', g.actor_type, 'actor_id', g.actor_id,
                                     'target_type', g.target_type, 'target_id', g.target_id,
                                     'amount', g.details->'amount', 'currency', g.details->>'currency', 'reason', g.details->>'reason',
                                     'refund_id', g.details->>'refund_id', 'actor_name', g.details->>'actor_name', 'outcome', g.details->>'outcome')
             from audit_log g where g.id = p.ref::bigint)
       end as data
  from page p
 order by p.at desc, p.entry_id collate "C" desc`;

/** Whether the order exists: a timeline of an unknown order is none, not an empty page. */
export async function orderExists(db: Queryable, orderId: string): Promise<boolean> {
  const { rows } = await db.query('select 1 from orders where id = $1::uuid', [orderId]);
  return rows.length > 0;
}

/** The page of the order's timeline after `after` (newest first), `first` entries. */
export async function orderTimeline(db: Queryable, orderId: string, options: { first: number; after?: ListKey | null }): Promise<TimelinePage> {
  const { first, after } = options;
  const { rows } = await db.query<TimelineRow & { at: Date | string }>(TIMELINE_STATEMENT, [orderId, after?.createdUs ?? null, after?.id ?? null, first + 1]);
  const entries = rows.map((row) => ({ ...row, at: new Date(row.at).toISOString() }));
  return pageOf(entries, first);
}

/** The statement, for the benchmark's EXPLAIN. */
export const timelineStatement = TIMELINE_STATEMENT;
