// The webhook applier (DESIGN.md decision 6): applies stored Stripe events exactly once, in object
// order. It is woken after each stored batch and by a timer (the safety net: a wake lost to a crash
// or another process's lock), claims due events with FOR UPDATE SKIP LOCKED, so any number of
// processes can run it, and applies a batch in one transaction: the SQL applies each event in its own
// subtransaction and marks it (stripe_events_apply() in 20261122000400_webhook_apply.sql).
//
// Where an event's payload cannot settle the object's state (two states in the same second that
// Stripe's progression does not order; a charge without its refunds), the SQL leaves the event
// received and leased, and the applier retrieves the object from Stripe, outside any transaction,
// then applies the event again with Stripe's current state.
import type Stripe from 'stripe';
import { describeStripeError, isStripeNotFound } from '../stripe/payments';
import type { Db, Queryable } from '../platform/db/db';
import { isDatabaseUnavailable } from '../platform/db/errors';
import { createDrainLoop } from '../platform/jobs/drainLoop';
import { objectOperationHash } from '../idempotency/requestHash';
import type { Logger } from '../platform/observability/logger';
import {
  type AppliedEvent,
  applyDueEvents,
  applyEventFacts,
  claimDueEvents,
  claimEventReplay,
  eventStatus,
  lockReceivedEvent,
  lockReceivedEvents,
  type StoredEvent,
  storedFactsOrPayloads,
  storedPayloads,
} from './applier.sql';
import type { WebhookEventStatus } from './events.sql';
import { type EventFacts, translateEvent } from './translate';

/** A staff replay, idempotent by the caller's key (scope: whose key it is). */
export interface ReplayRequest {
  eventId: string;
  actor: string;
  scope: string;
  key: string;
}

export type ReplayOutcome =
  | { outcome: 'not_found' }
  /** Retention dropped the event's payload, which a replay translates again: nothing done. */
  | { outcome: 'payload_dropped' }
  /** The key was used before for something else: nothing done. */
  | { outcome: 'conflict'; operation: string }
  /** The key was used before for this event: nothing done again; the event as it stands. */
  | { outcome: 'repeat'; status: WebhookEventStatus }
  /** The event was applied again through the same path (a no-op where it had been applied). */
  | { outcome: 'replayed'; status: WebhookEventStatus };

/** Every stored batch with an event to apply NOTIFYs here at commit (migration 20261207002100): workers LISTEN. */
export const STRIPE_EVENTS_NOTIFY_CHANNEL = 'stripe_events';

export interface WebhookApplier {
  /** Wakes the worker: new events were stored. Returns at once. */
  wake(): void;
  /** Applies due events until none is due; resolves with how many were processed. */
  drain(): Promise<number>;
  /** Staff replay: applies one stored event again now, whatever its status; once per key. */
  replay(request: ReplayRequest): Promise<ReplayOutcome>;
  /** Stops waking and waits for the batch in flight. */
  stop(): Promise<void>;
}

export interface WebhookApplierDeps {
  db: Db;
  stripe: () => Stripe;
  logger: Logger;
  /** This server's mode: live events for a live key, test events otherwise. */
  expectLive: boolean;
  /** After this many failed attempts an event is `failed` and waits for a replay. */
  maxAttempts: number;
  /** Events per transaction (default: 200 on PostgreSQL, 25 on PGlite). */
  batchSize?: number;
}

export function createWebhookApplier(deps: WebhookApplierDeps): WebhookApplier {
  // PGlite runs queries on this thread: a long batch holds every request (webhook acknowledgements
  // included) behind it, so its batches are short.
  const batchSize = deps.batchSize ?? (deps.db.engine === 'pglite' ? 25 : 200);

  async function applyFacts(tx: Queryable, facts: EventFacts[]): Promise<AppliedEvent[]> {
    const results = await applyEventFacts(tx, facts, deps.maxAttempts);
    for (const result of results) {
      if (result.outcome === 'error') deps.logger.warn({ eventId: result.event_id, status: result.status, error: result.error }, 'webhook event not applied: will retry');
    }
    return results;
  }

  /** Applies due events (or the given ones); resolves with how many were claimed. */
  async function applyBatch(ids?: readonly string[]): Promise<number> {
    if (ids) return applyIsolated(ids);
    let claimed: { count: number; toRetrieve: string[]; untranslated: string[] };
    try {
      // One statement, its own transaction: no BEGIN and COMMIT around it, which were two of the three
      // round trips of every batch (and of every wake that found nothing due).
      claimed = await applyDue(deps.db);
    } catch (error) {
      // The database is away: the one-by-one path would fail the same way. The job backs off and the
      // next stored batch, or the job once its backoff ends, wakes the applier when it is back.
      if (isDatabaseUnavailable(error)) throw error;
      // One of the events failed the one-statement path, which undid it all: the same events
      // again, each in its own subtransaction, so the error lands on its own event.
      deps.logger.warn({ err: error }, 'webhook batch failed as a whole: applying its events one by one');
      return applyIsolated();
    }
    await retrieveAndApply(claimed.toRetrieve);
    // Claimed and left received (their locks ended with the statement): locked again, translated and
    // applied event by event, as a replay is. Still received, so no other process has applied them.
    if (claimed.untranslated.length > 0) await applyIsolated(claimed.untranslated);
    return claimed.count + claimed.untranslated.length;
  }

  /**
   * The common path: one statement claims due events and applies the facts the endpoint stored with
   * them. Events without facts (stored by an older server, replayed, unreadable at ingest) are
   * returned untouched, for the caller to translate and apply.
   */
  async function applyDue(db: Queryable): Promise<{ count: number; toRetrieve: string[]; untranslated: string[] }> {
    const { results, untranslated } = await applyDueEvents(db, batchSize);
    return { count: results.length, untranslated, toRetrieve: results.filter((result) => result.outcome === 'retrieve').map((result) => result.event_id) };
  }

  /** Each event in its own subtransaction: due events, or the given ones (a replay). */
  async function applyIsolated(ids?: readonly string[]): Promise<number> {
    const claimed = await deps.db.transaction(async (tx) => {
      const locked = ids ? await lockReceivedEvents(tx, ids) : await claimDueEvents(tx, batchSize);
      if (locked.length === 0) return { count: 0, toRetrieve: [] };
      const results = await applyFacts(tx, await translateStored(tx, locked));
      return { count: locked.length, toRetrieve: results.filter((result) => result.outcome === 'retrieve').map((result) => result.event_id) };
    });
    await retrieveAndApply(claimed.toRetrieve);
    return claimed.count;
  }

  /** Facts for claimed events: the stored ones, else translated from the payload now. */
  async function translateStored(tx: Queryable, ids: readonly string[]): Promise<EventFacts[]> {
    const rows = await storedFactsOrPayloads(tx, ids);
    return rows.map((row) => row.facts ?? translateEvent(row.payload!, { expectLive: deps.expectLive }));
  }

  async function retrieveAndApply(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    for (const event of await storedPayloads(deps.db, ids)) await applyRetrieved(event);
  }

  async function applyRetrieved(event: StoredEvent): Promise<void> {
    let facts: EventFacts;
    const base = { event_id: event.id, type: event.payload.type, created: event.payload.created, retrieved: true };
    try {
      const object = await retrieveObject(deps.stripe(), event.payload);
      facts = translateEvent({ ...event.payload, data: { ...event.payload.data, object } } as Stripe.Event, { expectLive: deps.expectLive, retrieved: true });
    } catch (error) {
      facts = isStripeNotFound(error)
        ? { ...base, effect: 'ignore', reason: `not ours: Stripe has no such object for this account (${describeStripeError(error)})` }
        : { ...base, effect: 'error', error: `could not retrieve the object from Stripe: ${describeStripeError(error)}` };
    }
    await deps.db.transaction(async (tx) => {
      if (await lockReceivedEvent(tx, event.id)) await applyFacts(tx, [facts]);
    });
  }

  // A pass applies batch after batch until one claims less than a full batch: it took every event due
  // that no other process holds, so a further claim would find nothing (one more statement per wake,
  // which at a trickle of events was one per event). Events stored meanwhile wake the loop again.
  const loop = createDrainLoop({
    async pass() {
      let total = 0;
      for (;;) {
        const applied = await applyBatch();
        total += applied;
        if (applied < batchSize || loop.stopped) return total;
      }
    },
    onWakeError: (error) => deps.logger.error({ err: error }, 'webhook applier failed: the timer will try again'),
  });

  return {
    wake: loop.wake,
    drain: loop.drain,
    async replay({ eventId, actor, scope, key }) {
      const requestHash = objectOperationHash('webhook_event_replay', eventId);
      const { outcome, operation } = await claimEventReplay(deps.db, { event_id: eventId, actor, scope, key, request_hash: requestHash });
      if (outcome === 'not_found' || outcome === 'payload_dropped') return { outcome };
      if (outcome === 'conflict') return { outcome, operation: operation! };
      if (outcome === 'done') await applyBatch([eventId]);
      return { outcome: outcome === 'done' ? 'replayed' : 'repeat', status: await eventStatus(deps.db, eventId) };
    },
    stop: loop.stop,
  };
}

/** Stripe's current state of the event's object, in the shape the event carries it. */
async function retrieveObject(stripe: Stripe, event: Stripe.Event): Promise<unknown> {
  const id = (event.data.object as { id: string }).id;
  const type = event.type;
  if (type.startsWith('payment_intent.')) return stripe.paymentIntents.retrieve(id);
  if (type.startsWith('checkout.session.')) return stripe.checkout.sessions.retrieve(id);
  // Refunds and disputes name their order only through their PaymentIntent's metadata.
  const withPaymentIntent = { expand: ['payment_intent'] };
  if (type.startsWith('charge.dispute.')) return stripe.disputes.retrieve(id, withPaymentIntent);
  if (type.startsWith('charge.')) {
    const charge = await stripe.charges.retrieve(id, { expand: ['refunds', 'payment_intent'] });
    if (charge.refunds?.has_more) {
      const all = await stripe.refunds.list({ charge: id, limit: 100 }).autoPagingToArray({ limit: 10_000 });
      return { ...charge, refunds: { ...charge.refunds, data: all, has_more: false } };
    }
    return charge;
  }
  if (type.startsWith('refund.')) return stripe.refunds.retrieve(id, withPaymentIntent);
  if (type.startsWith('customer.subscription.')) return stripe.subscriptions.retrieve(id);
  if (type.startsWith('invoice.')) return stripe.invoices.retrieve(id);
  throw new Error(`no way to retrieve the object of a ${type} event`);
}
