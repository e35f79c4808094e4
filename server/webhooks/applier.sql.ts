// The applier's SQL calls (supabase/migrations/20261122000400_webhook_apply.sql and later): claiming
// due events, applying their facts, reading what a claimed event needs, and a staff replay. The
// multi-row work is in the SQL functions; these are the calls, typed.
import type Stripe from 'stripe';
import type { Queryable } from '../platform/db/db';
import type { WebhookEventStatus } from './events.sql';
import type { EventFacts } from './translate';

/** One event's result from stripe_events_apply(): `retrieve` asks for Stripe's current object. */
export interface AppliedEvent {
  event_id: string;
  status: WebhookEventStatus;
  outcome: string;
  error?: string;
}

export interface StoredEvent {
  id: string;
  payload: Stripe.Event;
}

/** Applies each event's facts in its own subtransaction and marks it (after maxAttempts, failed). */
export async function applyEventFacts(tx: Queryable, facts: readonly EventFacts[], maxAttempts: number): Promise<AppliedEvent[]> {
  const { rows } = await tx.query<{ result: AppliedEvent[] }>('select stripe_events_apply($1::jsonb, $2) as result', [JSON.stringify(facts), maxAttempts]);
  return rows[0]!.result;
}

/** The common path in one statement: claims up to `limit` due events and applies their stored facts. */
export async function applyDueEvents(tx: Queryable, limit: number): Promise<{ results: AppliedEvent[]; untranslated: string[] }> {
  const { rows } = await tx.query<{ r: { results: AppliedEvent[]; untranslated: string[] } }>('select stripe_events_apply_due($1) as r', [limit]);
  return rows[0]!.r;
}

/** Locks these events, those still received (a replay), waiting for any other process holding them. */
export async function lockReceivedEvents(tx: Queryable, ids: readonly string[]): Promise<string[]> {
  const { rows } = await tx.query<{ id: string }>(`select id from stripe_events where id = any($1::text[]) and status = 'received' for update`, [[...ids]]);
  return rows.map((row) => row.id);
}

/** Claims up to `limit` due events that no other process holds (FOR UPDATE SKIP LOCKED). */
export async function claimDueEvents(tx: Queryable, limit: number): Promise<string[]> {
  const { rows } = await tx.query<{ id: string }>(
    `select id from stripe_events where status = 'received' and next_attempt_at <= now()
      order by next_attempt_at limit $1 for update skip locked`,
    [limit],
  );
  return rows.map((row) => row.id);
}

/** The stored facts of claimed events, or (where none were stored) their payload to translate. */
export async function storedFactsOrPayloads(tx: Queryable, ids: readonly string[]): Promise<Array<{ facts: EventFacts | null; payload: Stripe.Event | null }>> {
  const { rows } = await tx.query<{ facts: EventFacts | null; payload: Stripe.Event | null }>(
    `select facts, case when facts is null then payload end as payload from stripe_events where id = any($1::text[]) order by next_attempt_at`,
    [[...ids]],
  );
  return rows;
}

export async function storedPayloads(db: Queryable, ids: readonly string[]): Promise<StoredEvent[]> {
  const { rows } = await db.query<StoredEvent>('select id, payload from stripe_events where id = any($1::text[])', [[...ids]]);
  return rows;
}

/** Locks the event if it is still received and no other process holds it; false otherwise. */
export async function lockReceivedEvent(tx: Queryable, id: string): Promise<boolean> {
  const { rows } = await tx.query(`select id from stripe_events where id = $1 and status = 'received' for update skip locked`, [id]);
  return rows.length > 0;
}

export type ReplayClaim = { outcome: 'done' | 'repeat' | 'not_found' | 'conflict' | 'payload_dropped'; operation?: string };

/** Claims the caller's idempotency key for a replay and sets the event received again (once per key). */
export async function claimEventReplay(
  db: Queryable,
  request: { event_id: string; actor: string; scope: string; key: string; request_hash: string },
): Promise<ReplayClaim> {
  const { rows } = await db.query<{ result: ReplayClaim }>('select stripe_event_replay($1::jsonb) as result', [JSON.stringify(request)]);
  return rows[0]!.result;
}

export async function eventStatus(db: Queryable, id: string): Promise<WebhookEventStatus> {
  const { rows } = await db.query<{ status: WebhookEventStatus }>('select status from stripe_events where id = $1', [id]);
  return rows[0]!.status;
}
