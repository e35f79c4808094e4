// The reconciliation janitor (issue 17, DESIGN.md decisions 4 and 5): one pass asks Stripe about what
// we are unsure of and applies what it says through the same SQL the webhook applier and the
// storefront use, so a dropped webhook, a crash between Stripe's answer and our record, or an event
// Stripe never delivered is settled within a pass rather than never.
//
// One pass at a time per database: reconcile_begin_run() claims a `running` row under a unique index,
// so a second process (or a second trigger in this one) finds it and does nothing. The cursors of the
// Stripe lists move only when a pass succeeds, in the statement that ends it: a pass that fails (a
// Stripe outage) leaves them, and the next pass reads the same window again; every action on the way
// is idempotent (order_apply_payment, a repeat event id, a cancel with a derived key), so reading a
// window twice never does a thing twice.
import type Stripe from 'stripe';
import type { Db } from '../platform/db/db';
import { isDatabaseUnavailable } from '../platform/db/errors';
import type { Job } from '../platform/jobs/runner';
import type { Logger } from '../platform/observability/logger';
import { settleCreatingRefunds } from '../refunds/settleCreating';
import { expireDuePaymentRequests } from '../paymentRequests/expire';
import { applyPayment, type ApplyResult, isAttemptClosedMeanwhile, markAttempt, type PaymentFacts, recordAttempt } from '../checkout/checkout.sql';
import { factsFrom, retrievePayment } from '../checkout/startPayment';
import { cancelPaymentIntentKey, expireCheckoutSessionKey } from '../idempotency/stripeKeys';
import { isUuid } from '../platform/ids';
import { describeStripeError, isProviderUnavailable, isStripeNotFound, readCheckoutSession, readPaymentIntent, type PaymentReading } from '../stripe/payments';
import { type EventStore, UnstorableEventError } from '../webhooks/eventStore';
import { factsAtIngest } from '../webhooks/translate';
import type { VerifiedEvent } from '../webhooks/verify';
import {
  beginRun,
  createOrderFromPayment,
  type CursorName,
  type DueOrder,
  dueProvisionalOrders,
  emptyCounters,
  finishRun,
  isRecorded,
  logAction,
  logActionsWithoutOrder,
  markOrderChecked,
  openOrphansToRecheck,
  readCursors,
  recordedObjects,
  recordFinding,
  resolveFindings,
  type RunCounters,
  type RunRow,
  type RunTrigger,
  storedEventIds,
  touchRun,
  type UnsettledAttempt,
  unsettledAttempts,
} from './reconcile.sql';

export interface ReconcileSettings {
  /** A cron pattern; undefined: this process does not schedule the janitor. */
  schedule: string | undefined;
  provisionalAfterSeconds: number;
  /** 0: open orphans stay findings and are never cancelled automatically. */
  cancelOpenOrphansAfterHours: number;
}

export interface ReconcileDeps {
  db: Db;
  stripe: Stripe;
  logger: Logger;
  settings: ReconcileSettings;
  /** Stores backfilled events exactly as the webhook endpoint does (and wakes the applier). */
  eventStore: EventStore;
  /** The clock of Stripe's `created` times and of the backoff (tests pass the sandbox clock). */
  now?: () => Date;
  /** Live mode: a test-mode event listed is ignored, as the endpoint ignores one delivered. */
  expectLive: boolean;
  /** Stripe calls in flight at once. */
  concurrency?: number;
  /** Due provisional orders a pass settles from step 3's lists (LISTED_DUE_LIMIT unless a test makes it small). */
  listedDueLimit?: number;
  /** This process runs the jobs (JOBS_ENABLED): only then is settings.schedule its schedule (status()). */
  schedulesJobs?: boolean;
}

export interface PassRequest {
  trigger: RunTrigger;
  actor: string;
  /** Widens steps 3 and 4 back to this time (never narrows them). */
  since?: Date;
  signal?: AbortSignal;
  /**
   * Report what the pass would do without acting at Stripe: no cancel or expire is sent (counted as if
   * it were), and the steps that only act at Stripe (refunds left creating, expired payment requests)
   * are skipped. Its database writes are the caller's to roll back (dryRun.ts runs it in a transaction).
   */
  dryRun?: boolean;
  /** Hears the counters after each page, as the run row does (a dry run's row is never committed). */
  onProgress?: (counters: Readonly<RunCounters>) => void;
}

export type PassResult = { outcome: 'busy'; run: RunRow } | { outcome: 'succeeded' | 'failed'; run: RunRow };

/** Checks past the last backoff step (after first, 5 minutes, 1 hour, 1 day): a finding for a person. */
export const PROVISIONAL_MAX_CHECKS = 4;
/** Lists of steps 3 and 4 start this much before the stored cursor: an object created as the last pass read is not missed. */
export const CURSOR_OVERLAP_SECONDS = 300;
/** With no cursor yet, the first pass looks back this far (Stripe keeps events 30 days). */
export const FIRST_PASS_LOOKBACK_SECONDS = 86_400;
const PAGE = 100;
/** Order statuses that mean an object paid the order, or is paying it (a bank debit in processing). */
const ORDER_PAID_STATUSES: ReadonlySet<string> = new Set(['paid', 'processing', 'refunded', 'partially_refunded', 'disputed']);
/**
 * Due provisional orders step 3 can settle from the objects it lists anyway, with no retrieve each:
 * held for one pass, so bounded (a few hundred bytes each); those past it are retrieved in step 1.
 */
export const LISTED_DUE_LIMIT = 5_000;

/** Runs one pass, unless another is running anywhere on this database (then: that one, busy). */
export async function runReconciliation(deps: ReconcileDeps, request: PassRequest): Promise<PassResult> {
  const begun = await claimRun(deps, request);
  if (begun.busy) return { outcome: 'busy', run: begun.run };
  return runPass(deps, begun.run, request);
}

/**
 * The runs this process failed but could not record as failed (the database was away when they
 * ended), by database: each still says `running` and holds the one-pass lock. They are recorded before
 * this process claims a pass again, so the janitor resumes as soon as the database is back rather than
 * after the 15-minute takeover meant for a process that died.
 */
const unrecordedFailures = new WeakMap<Db, Map<string, { counters: RunCounters; error: string }>>();

/** Claims the one running pass (after recording this process's unrecorded failures), or answers the one that holds it. */
export async function claimRun(deps: Pick<ReconcileDeps, 'db'>, request: Pick<PassRequest, 'trigger' | 'actor'>): Promise<{ busy: boolean; run: RunRow }> {
  const pending = unrecordedFailures.get(deps.db);
  for (const [runId, failure] of pending ?? []) {
    await finishRun(deps.db, { run_id: runId, status: 'failed', counters: failure.counters, error: `${failure.error} (recorded late: the database was unavailable when the pass ended)` });
    pending!.delete(runId);
  }
  return beginRun(deps.db, { trigger: request.trigger, actor: request.actor });
}

/**
 * The rest of a pass whose running row is claimed (beginRun): the service claims it first and answers
 * with the row at once, then runs this in the background. Ends the row succeeded or failed; never throws.
 */
export async function runPass(deps: ReconcileDeps, run: RunRow, request: Pick<PassRequest, 'since' | 'signal' | 'dryRun' | 'onProgress'>): Promise<PassResult> {
  const now = (deps.now ?? (() => new Date()))();
  const counters = emptyCounters();
  const pass = new Pass(deps, { runId: run.id, actor: `janitor:${run.id}` }, now, counters, request.signal, { dryRun: request.dryRun, onProgress: request.onProgress });
  try {
    let failed: { error: unknown } | null = null;
    try {
      const cursors = await readCursors(deps.db);
      const started = (name: CursorName) => {
        const stored = cursors[name]?.getTime() ?? now.getTime() - FIRST_PASS_LOOKBACK_SECONDS * 1000;
        const from = Math.min(stored, request.since?.getTime() ?? Infinity);
        return Math.floor(from / 1000) - CURSOR_OVERLAP_SECONDS;
      };
      // Step 1 runs after step 3: the PaymentIntents and Sessions step 3 lists anyway settle the due
      // provisional orders among them (no retrieve each), and step 1 retrieves only the others. Step 2
      // first, so an attempt it records or settles is on record when step 3 looks for orphans.
      await pass.unsettledAttempts();
      await pass.indexDueProvisional();
      await pass.stripeObjects('payment_intents', started('payment_intents'));
      await pass.stripeObjects('checkout_sessions', started('checkout_sessions'));
      await pass.provisionalOrders();
      // A scheduled pass lists only the events Stripe has not delivered to an endpoint (pending or
      // failed), as Stripe documents the recovery of missed events; a pass with `since` (after an outage,
      // or an endpoint disabled, when Stripe may never have tried) lists every event of its window.
      await pass.missedEvents(started('events'), { undeliveredOnly: request.since === undefined });
      await pass.recheckOpenOrphans();
    } catch (error) {
      failed = { error };
    }
    // Refunds whose Stripe answer was never recorded and no webhook linked (server/refunds/settleCreating.ts),
    // in their own try: an earlier step failing pass after pass must not keep a refund's amount held.
    // Either failure fails the pass; the first is the one recorded.
    if (!request.signal?.aborted && !request.dryRun) {
      try {
        await settleCreatingRefunds({ db: deps.db, stripe: deps.stripe, logger: deps.logger, actor: `janitor:${run.id}` });
      } catch (error) {
        failed ??= { error };
      }
      // Payment requests past expires_at (by the pass's clock, Stripe's): their members' open
      // PaymentIntents canceled, then the request expired. Its own try, for the same reason.
      try {
        const expiry = await expireDuePaymentRequests({ db: deps.db, stripe: deps.stripe, logger: deps.logger, actor: `janitor:${run.id}` }, now);
        counters.canceled += expiry.canceledIntents;
      } catch (error) {
        failed ??= { error };
      }
    }
    if (failed) throw failed.error;
    const at = now.toISOString();
    const finished = await finishRun(deps.db, { run_id: run.id, status: 'succeeded', counters, cursors: { payment_intents: at, checkout_sessions: at, events: at } });
    deps.logger.info({ runId: run.id, counters }, 'reconciliation pass done');
    return { outcome: 'succeeded', run: finished };
  } catch (error) {
    const message = describeStripeError(error);
    let finished: RunRow;
    try {
      finished = await finishRun(deps.db, { run_id: run.id, status: 'failed', counters, error: message });
    } catch (recordError) {
      // Not even the end can be written: remembered, and recorded before this process's next pass.
      if (!unrecordedFailures.has(deps.db)) unrecordedFailures.set(deps.db, new Map());
      unrecordedFailures.get(deps.db)!.set(run.id, { counters, error: message });
      throw recordError;
    }
    deps.logger.error({ runId: run.id, err: error, counters }, 'reconciliation pass failed: the next pass starts from the same cursors');
    return { outcome: 'failed', run: finished };
  }
}

/** The janitor as a job of the runner: a failed pass fails the job (logged, backed off) after its run row says why. */
export function reconcileJob(deps: ReconcileDeps): Job | undefined {
  if (!deps.settings.schedule) return undefined;
  return {
    name: 'reconciliation',
    schedule: deps.settings.schedule,
    run: async (signal) => {
      const result = await runReconciliation(deps, { trigger: 'schedule', actor: 'janitor', signal });
      if (result.outcome === 'failed') throw new Error(`reconciliation run ${result.run.id} failed: ${result.run.error}`);
    },
  };
}

/**
 * The janitor's work on one thing at a time. A pass has a run (its id in every log row); a staff
 * member's sync (service.ts) uses the same code with no run and the staff member as the actor.
 */
export class Pass {
  private readonly actor: string;
  /** Who closes a finding: findings are staff-only, so a staff sync names the staff member there. */
  private readonly findingActor: string;
  private readonly runId: string | null;
  constructor(
    private readonly deps: ReconcileDeps,
    /** actor: written in customer-readable logs too; findingActor (default: actor) only on findings. */
    who: { runId: string | null; actor: string; findingActor?: string },
    private readonly now: Date,
    private readonly counters: RunCounters,
    private readonly signal: AbortSignal | undefined,
    private readonly options: Pick<PassRequest, 'dryRun' | 'onProgress'> = {},
  ) {
    this.runId = who.runId;
    this.actor = who.actor;
    this.findingActor = who.findingActor ?? who.actor;
  }

  /** The counters so far, on the run row and to whoever listens. */
  private async touch(): Promise<void> {
    await touchRun(this.deps.db, this.runId, this.counters);
    this.options.onProgress?.(this.counters);
  }

  /** Due provisional orders by their Stripe object (indexDueProvisional); null once settled from a list. */
  private listedDue = new Map<string, DueOrder | null>();

  private checkStop() {
    // A shutdown ends the pass between items: it fails, and the next process starts from the same cursors.
    if (this.signal?.aborted) throw new Error('stopped by shutdown');
  }

  private facts(kind: PaymentFacts['kind'], id: string, reading: PaymentReading): PaymentFacts {
    return factsFrom(kind, id, reading, { source: 'janitor', userId: null, actor: this.actor });
  }

  /**
   * Before step 3: the due provisional orders (as step 1 would find them), by Stripe object, up to
   * LISTED_DUE_LIMIT. Step 3 settles those it lists from the listed object itself.
   */
  async indexDueProvisional(): Promise<void> {
    const { db, settings } = this.deps;
    this.listedDue.clear();
    const bound = this.deps.listedDueLimit ?? LISTED_DUE_LIMIT;
    let afterId: string | null = null;
    while (this.listedDue.size < bound) {
      this.checkStop();
      const limit = Math.min(PAGE, bound - this.listedDue.size);
      const page = await dueProvisionalOrders(db, { now: this.now, afterSeconds: settings.provisionalAfterSeconds, afterId, limit });
      for (const order of page) this.listedDue.set(order.stripe_object_id, order);
      if (page.length < limit) return;
      afterId = page[page.length - 1]!.id;
    }
  }

  /** Step 1: provisional orders past their next check, page by page in id order; those step 3 settled from its lists are not asked again. */
  async provisionalOrders(): Promise<void> {
    const { db, settings } = this.deps;
    let afterId: string | null = null;
    try {
      for (;;) {
        this.checkStop();
        const page = await dueProvisionalOrders(db, { now: this.now, afterSeconds: settings.provisionalAfterSeconds, afterId, limit: PAGE });
        if (page.length === 0) return;
        const toRetrieve = page.filter((order) => this.listedDue.get(order.stripe_object_id) !== null);
        await inPool(toRetrieve, this.deps.concurrency ?? 4, (order) => this.settleDue(order));
        afterId = page[page.length - 1]!.id;
        await this.touch();
      }
    } finally {
      this.listedDue.clear();
    }
  }

  /** One due provisional order: its object's reading (given when step 3 listed it, else retrieved) applied. */
  private async settleDue(order: DueOrder, listed?: PaymentReading): Promise<void> {
    const { db } = this.deps;
    try {
      await this.settleProvisional(order, listed);
    } catch (error) {
      // Stripe unreachable fails the pass (the next one tries again). Anything else is this order's
      // alone (its object gone, a key without access): it is shown to staff and checked again on its
      // backoff, so one unreadable order never stops the pass, and with it steps 2 to 4, for good.
      if (failsThePass(error)) throw error;
      this.counters.failed += 1;
      const checks = await markOrderChecked(db, order.id, this.now);
      await recordFinding(db, { kind: 'PROVISIONAL_TOO_LONG', subject: order.id, run_id: this.runId, stripe_object_id: order.stripe_object_id, amount: order.amount, currency: order.currency, order_id: order.id, details: { error: describeStripeError(error) } });
      await logAction(db, { eventType: 'reconcile.order_unreadable', status: 'provisional', orderId: order.id, metadata: { run_id: this.runId, stripe_object_id: order.stripe_object_id, error: describeStripeError(error), checks } });
    }
  }

  /** Asks Stripe about one object of ours and applies what it says through order_apply_payment. */
  async applyObject(kind: PaymentFacts['kind'], objectId: string): Promise<{ reading: PaymentReading; applied: ApplyResult }> {
    const reading = await retrievePayment(this.deps.stripe, kind, objectId);
    return { reading, applied: await applyPayment(this.deps.db, this.facts(kind, objectId, reading)) };
  }

  private async settleProvisional(order: DueOrder, listed?: PaymentReading): Promise<void> {
    const { db } = this.deps;
    const { reading, applied } = listed
      ? { reading: listed, applied: await applyPayment(db, this.facts(order.kind, order.stripe_object_id, listed)) }
      : await this.applyObject(order.kind, order.stripe_object_id);
    const confirmed = applied.outcome !== 'error' && applied.order.sync_state !== 'provisional';
    if (confirmed) {
      this.counters.synced += 1;
      await logAction(db, { eventType: 'reconcile.order_synced', status: applied.order.status, orderId: order.id, metadata: { run_id: this.runId, stripe_object_id: order.stripe_object_id, stripe_status: reading.paymentStatus } });
      await resolveFindings(db, { subject: order.id, kind: 'PROVISIONAL_TOO_LONG', resolution: 'confirmed by Stripe', actor: this.findingActor, run_id: this.runId });
      return;
    }
    if (applied.outcome === 'error' && applied.error === 'amount_mismatch') {
      this.counters.failed += 1;
      await recordFinding(db, { kind: 'AMOUNT_MISMATCH', subject: order.stripe_object_id, run_id: this.runId, stripe_object_id: order.stripe_object_id, stripe_status: reading.paymentStatus, amount: reading.amount, currency: reading.currency, order_id: order.id });
    }
    const checks = await markOrderChecked(db, order.id, this.now);
    this.counters.skipped += 1;
    await logAction(db, { eventType: 'reconcile.order_checked', status: 'provisional', orderId: order.id, metadata: { run_id: this.runId, stripe_object_id: order.stripe_object_id, stripe_status: reading.paymentStatus, checks } });
    if (checks >= PROVISIONAL_MAX_CHECKS) {
      await recordFinding(db, { kind: 'PROVISIONAL_TOO_LONG', subject: order.id, run_id: this.runId, stripe_object_id: order.stripe_object_id, stripe_status: reading.paymentStatus, amount: order.amount, currency: order.currency, order_id: order.id });
    }
  }

  /** Step 2: attempts in `creating` for over 5 minutes and every `needs_cleanup`: their object found (never re-created) and settled. */
  async unsettledAttempts(): Promise<void> {
    let afterId: string | null = null;
    for (;;) {
      this.checkStop();
      const page = await unsettledAttempts(this.deps.db, { now: this.now, afterId, limit: PAGE });
      if (page.length === 0) return;
      await inPool(page, this.deps.concurrency ?? 4, async (attempt) => {
        try {
          await this.settleAttempt(attempt);
        } catch (error) {
          // Stripe unreachable fails the pass (the next one tries again); anything else is for a person.
          if (failsThePass(error)) throw error;
          this.counters.failed += 1;
          const kind = attempt.status === 'creating' ? 'ATTEMPT_WITHOUT_OBJECT' : 'NEEDS_CLEANUP';
          await recordFinding(this.deps.db, { kind, subject: attempt.id, run_id: this.runId, stripe_object_id: attempt.stripe_object_id, order_id: attempt.order_id, details: { error: describeStripeError(error) } });
          await logAction(this.deps.db, { eventType: 'reconcile.attempt_unsettled', status: attempt.status, orderId: attempt.order_id, metadata: { run_id: this.runId, attempt: attempt.attempt, error: describeStripeError(error) } });
        }
      });
      afterId = page[page.length - 1]!.id;
      await this.touch();
    }
  }

  async settleAttempt(attempt: UnsettledAttempt): Promise<void> {
    const { db, stripe } = this.deps;
    const object = await this.findAttemptObject(attempt);
    const log = (what: string, extra: Record<string, unknown> = {}) =>
      logAction(db, { eventType: `reconcile.attempt_${what}`, status: attempt.status, orderId: attempt.order_id, metadata: { run_id: this.runId, attempt: attempt.attempt, stripe_object_id: object?.id ?? null, ...extra } });
    if (!object) {
      // Stripe made nothing under this attempt's key (or lost it): nobody can pay through it, or ever could.
      await markAttempt(db, { attempt_id: attempt.id, status: 'abandoned', error: 'abandoned: Stripe has no object for this attempt', actor: this.actor });
      this.counters.synced += 1;
      await log('abandoned');
      return;
    }
    const reading = attempt.kind === 'payment_intent' ? readPaymentIntent(object as Stripe.PaymentIntent) : readCheckoutSession(object as Stripe.Checkout.Session);
    if (reading.outcome === 'SUCCEEDED' || reading.outcome === 'PROCESSING') {
      const applied = await applyPayment(db, this.facts(attempt.kind, object.id, reading));
      if (applied.outcome === 'error') throw new Error(`order_apply_payment: ${applied.error}`);
      this.counters.synced += 1;
      await log('paid', { order_status: applied.order.status });
      return;
    }
    if (reading.outcome === 'CANCELED' || reading.outcome === 'EXPIRED') {
      await markAttempt(db, { attempt_id: attempt.id, status: reading.outcome === 'CANCELED' ? 'canceled' : 'expired', object_id: object.id, actor: this.actor });
      this.counters.synced += 1;
      await log('closed');
      return;
    }
    const orderWantsIt = attempt.status === 'creating' && ['pending', 'requires_action', 'failed'].includes(attempt.order_status);
    if (orderWantsIt && (await this.recordFound(attempt, object))) {
      this.counters.synced += 1;
      await log('recorded');
      return;
    }
    // Open for an attempt the order no longer wants: closed at Stripe with the attempt's own key.
    const ref = { order_id: attempt.order_id, attempt: attempt.attempt };
    if (this.options.dryRun) {
      // Counted as done: what the pass would cancel, with nothing sent.
    } else if (attempt.kind === 'payment_intent') {
      // Stripe's reasons a caller gives: 'duplicate' for a second live PaymentIntent of an order another
      // object paid (or is paying: the trigger of 20261207003500 hands such attempts here); 'abandoned'
      // for one the order dropped unpaid (a failed record's compensation, a retired attempt).
      const reason = ORDER_PAID_STATUSES.has(attempt.order_status) ? 'duplicate' : 'abandoned';
      await stripe.paymentIntents.cancel(object.id, { cancellation_reason: reason }, { idempotencyKey: cancelPaymentIntentKey(ref) });
    }
    else await stripe.checkout.sessions.expire(object.id, {}, { idempotencyKey: expireCheckoutSessionKey(ref) });
    await markAttempt(db, { attempt_id: attempt.id, status: attempt.kind === 'payment_intent' ? 'canceled' : 'expired', object_id: object.id, actor: this.actor });
    this.counters.canceled += 1;
    await log('canceled');
  }

  /**
   * The request that made the object died before recording it: recorded now, the customer's retry gets
   * it. False when the attempt was closed since this pass read it (the object is then closed below).
   */
  private async recordFound(attempt: UnsettledAttempt, object: Stripe.PaymentIntent | Stripe.Checkout.Session): Promise<boolean> {
    const session = attempt.kind === 'checkout_session' ? (object as Stripe.Checkout.Session) : null;
    try {
      await recordAttempt(this.deps.db, {
        attempt_id: attempt.id,
        object_id: object.id,
        client_secret: attempt.kind === 'payment_intent' ? (object as Stripe.PaymentIntent).client_secret : null,
        url: session?.url ?? null,
        expires_at: session ? new Date(session.expires_at * 1000).toISOString() : null,
        actor: this.actor,
      });
      return true;
    } catch (error) {
      if (isAttemptClosedMeanwhile(error)) return false;
      throw error;
    }
  }

  /** The attempt's object: by its recorded id, or by our metadata among the objects created since the attempt (never a create). */
  private async findAttemptObject(attempt: UnsettledAttempt): Promise<Stripe.PaymentIntent | Stripe.Checkout.Session | null> {
    const { stripe } = this.deps;
    if (attempt.stripe_object_id) {
      try {
        return attempt.kind === 'payment_intent'
          ? await stripe.paymentIntents.retrieve(attempt.stripe_object_id)
          : await stripe.checkout.sessions.retrieve(attempt.stripe_object_id, { expand: ['payment_intent'] });
      } catch (error) {
        if (isStripeNotFound(error)) return null;
        throw error;
      }
    }
    const from = Math.floor(Date.parse(attempt.created_at) / 1000) - 60;
    const matches = (o: { metadata: Stripe.Metadata | null }) => o.metadata?.order_id === attempt.order_id && o.metadata?.attempt === String(attempt.attempt);
    let startingAfter: string | undefined;
    for (;;) {
      const page =
        attempt.kind === 'payment_intent'
          ? await stripe.paymentIntents.list({ created: { gte: from }, limit: PAGE, starting_after: startingAfter })
          : await stripe.checkout.sessions.list({ created: { gte: from }, limit: PAGE, starting_after: startingAfter, expand: ['data.payment_intent'] });
      const found = (page.data as (Stripe.PaymentIntent | Stripe.Checkout.Session)[]).find(matches);
      if (found) return found;
      if (!page.has_more || page.data.length === 0) return null;
      startingAfter = page.data[page.data.length - 1]!.id;
    }
  }

  /** Step 3: the PaymentIntents or Checkout Sessions created since `fromSeconds` that carry our metadata without our record. */
  async stripeObjects(list: 'payment_intents' | 'checkout_sessions', fromSeconds: number): Promise<void> {
    const kind = list === 'payment_intents' ? 'payment_intent' : 'checkout_session';
    let startingAfter: string | undefined;
    for (;;) {
      this.checkStop();
      const page =
        list === 'payment_intents'
          ? await this.deps.stripe.paymentIntents.list({ created: { gte: fromSeconds }, limit: PAGE, starting_after: startingAfter })
          : await this.deps.stripe.checkout.sessions.list({ created: { gte: fromSeconds }, limit: PAGE, starting_after: startingAfter, expand: ['data.payment_intent'] });
      // Not ours (no order id of ours in the metadata): another integration on the same account, never
      // touched. Ours on record: one statement a page says which (a day is 10,000 objects, nearly all
      // recorded, and a statement each was a third of the pass's time in docs/benchmarks.md).
      const objects = page.data as (Stripe.PaymentIntent | Stripe.Checkout.Session)[];
      const read = (object: Stripe.PaymentIntent | Stripe.Checkout.Session) =>
        kind === 'payment_intent' ? readPaymentIntent(object as Stripe.PaymentIntent) : readCheckoutSession(object as Stripe.Checkout.Session);
      // A due provisional order's object, listed here: settled as step 1 would, from this reading.
      const due = objects.flatMap((object) => {
        const order = this.listedDue.get(object.id);
        return order ? [{ order, object }] : [];
      });
      for (const { object } of due) this.listedDue.set(object.id, null);
      await inPool(due, this.deps.concurrency ?? 4, ({ order, object }) => this.settleDue(order, read(object)));
      const ours = objects.filter((object) => isUuid(object.metadata?.order_id ?? ''));
      const recorded = await recordedObjects(this.deps.db, ours.map((object) => ({ id: object.id, orderId: object.metadata!.order_id!, attempt: attemptOf(object.metadata) })));
      await inPool(ours.filter((object) => !recorded.has(object.id)), this.deps.concurrency ?? 4, (object) => this.orphan(kind, object, read(object)));
      if (!page.has_more || page.data.length === 0) return;
      startingAfter = page.data[page.data.length - 1]!.id;
      await this.touch();
    }
  }

  /** Open orphans found by earlier passes: paid since (adopted), closed since (resolved), or due for cancel. */
  async recheckOpenOrphans(): Promise<void> {
    let afterId: string | null = null;
    for (;;) {
      this.checkStop();
      const page = await openOrphansToRecheck(this.deps.db, { runId: this.runId, afterId, limit: PAGE });
      if (page.length === 0) return;
      await inPool(page, this.deps.concurrency ?? 4, async (finding) => {
        try {
          await this.recheckOrphan(finding.stripe_object_id);
        } catch (error) {
          // As in step 1: only Stripe being unreachable fails the pass; an object Stripe no longer
          // knows closes its finding, and any other error leaves it open for the next pass.
          if (failsThePass(error)) throw error;
          this.counters.failed += 1;
          if (isStripeNotFound(error)) {
            await resolveFindings(this.deps.db, { subject: finding.stripe_object_id, kind: 'STRIPE_WITHOUT_RECORD', resolution: 'Stripe no longer has this object', actor: this.findingActor, run_id: this.runId });
          }
          await logAction(this.deps.db, { eventType: 'reconcile.orphan_unreadable', status: 'open', orderId: null, metadata: { run_id: this.runId, stripe_object_id: finding.stripe_object_id, error: describeStripeError(error) } });
        }
      });
      afterId = page[page.length - 1]!.id;
    }
  }

  private async recheckOrphan(id: string): Promise<void> {
    const kind = id.startsWith('cs_') ? 'checkout_session' : 'payment_intent';
    const object = kind === 'payment_intent' ? await this.deps.stripe.paymentIntents.retrieve(id) : await this.deps.stripe.checkout.sessions.retrieve(id, { expand: ['payment_intent'] });
    const orderId = object.metadata?.order_id;
    if (orderId && isUuid(orderId) && (await isRecorded(this.deps.db, id, { orderId, attempt: attemptOf(object.metadata) }))) {
      await resolveFindings(this.deps.db, { subject: id, kind: 'STRIPE_WITHOUT_RECORD', resolution: 'recorded meanwhile', actor: this.findingActor, run_id: this.runId });
      return;
    }
    const reading = kind === 'payment_intent' ? readPaymentIntent(object as Stripe.PaymentIntent) : readCheckoutSession(object as Stripe.Checkout.Session);
    await this.orphan(kind, object, reading);
  }

  /** Records a paid object's payment on its order, the order made from the object's metadata when there is none. */
  async adopt(kind: PaymentFacts['kind'], object: Stripe.PaymentIntent | Stripe.Checkout.Session, reading: PaymentReading): Promise<ApplyResult> {
    const facts = this.facts(kind, object.id, reading);
    const applied = await applyPayment(this.deps.db, facts);
    if (applied.outcome !== 'error' || applied.error !== 'unknown_payment') return applied;
    await createOrderFromPayment(this.deps.db, { ...facts, ...ownerOf(object), created_from: this.runId ? `reconcile:${this.runId}` : `reconcile:${this.actor}` });
    return applyPayment(this.deps.db, facts);
  }

  private async orphan(kind: PaymentFacts['kind'], object: Stripe.PaymentIntent | Stripe.Checkout.Session, reading: PaymentReading): Promise<void> {
    const { db } = this.deps;
    const base = { subject: object.id, run_id: this.runId, stripe_object_id: object.id, stripe_status: reading.paymentStatus ?? object.status, amount: reading.amount, currency: reading.currency };
    if (reading.outcome === 'SUCCEEDED' || reading.outcome === 'PROCESSING') {
      // Paid: adopted at once, as the webhook applier would (no payment is left without an order).
      const applied = await this.adopt(kind, object, reading);
      if (applied.outcome === 'error') {
        this.counters.failed += 1;
        await recordFinding(db, { ...base, kind: applied.error === 'amount_mismatch' ? 'AMOUNT_MISMATCH' : 'STRIPE_WITHOUT_RECORD', order_id: applied.order_id ?? null, details: { error: applied.error } });
        await logAction(db, { eventType: 'reconcile.adopt_failed', status: applied.error, orderId: applied.order_id ?? null, metadata: { run_id: this.runId, stripe_object_id: object.id } });
        return;
      }
      this.counters.adopted += 1;
      await resolveFindings(db, { subject: object.id, kind: 'STRIPE_WITHOUT_RECORD', resolution: 'adopted: paid at Stripe', actor: this.findingActor, run_id: this.runId });
      await logAction(db, { eventType: 'reconcile.adopted', status: applied.order.status, orderId: applied.order.id, metadata: { run_id: this.runId, stripe_object_id: object.id, kind } });
      return;
    }
    if (reading.outcome === 'CANCELED' || reading.outcome === 'EXPIRED') {
      // Nobody can pay through it any more: nothing to do, and a finding about it is closed.
      await resolveFindings(db, { subject: object.id, kind: 'STRIPE_WITHOUT_RECORD', resolution: `${reading.outcome.toLowerCase()} at Stripe`, actor: this.actor, run_id: this.runId });
      return;
    }
    this.counters.orphansFound += 1;
    const createdMs = object.created * 1000;
    const hours = this.deps.settings.cancelOpenOrphansAfterHours;
    const cancelAt = hours > 0 ? new Date(createdMs + hours * 3_600_000) : null;
    if (!cancelAt || cancelAt > this.now) {
      await recordFinding(db, { ...base, kind: 'STRIPE_WITHOUT_RECORD', next_check_at: cancelAt?.toISOString() ?? null });
      await logAction(db, { eventType: 'reconcile.orphan_found', status: reading.paymentStatus ?? 'open', orderId: null, metadata: { run_id: this.runId, stripe_object_id: object.id, kind, cancel_at: cancelAt?.toISOString() ?? null } });
      return;
    }
    // Open past the configured hours: closed at Stripe with a key derived from the attempt it names.
    const ref = { order_id: object.metadata!.order_id!, attempt: Number(object.metadata?.attempt) || 0 };
    if (this.options.dryRun) {
      // Counted as done: what the pass would cancel, with nothing sent.
    } else if (kind === 'payment_intent') {
      await this.deps.stripe.paymentIntents.cancel(object.id, { cancellation_reason: 'abandoned' }, { idempotencyKey: cancelPaymentIntentKey(ref) });
    } else {
      await this.deps.stripe.checkout.sessions.expire(object.id, {}, { idempotencyKey: expireCheckoutSessionKey(ref) });
    }
    this.counters.canceled += 1;
    await recordFinding(db, { ...base, kind: 'STRIPE_WITHOUT_RECORD', stripe_status: kind === 'payment_intent' ? 'canceled' : 'expired' });
    await resolveFindings(db, { subject: object.id, kind: 'STRIPE_WITHOUT_RECORD', resolution: `cancelled at Stripe: open for ${hours} hours without our record`, actor: this.actor, run_id: this.runId });
    await logAction(db, { eventType: 'reconcile.orphan_canceled', status: 'canceled', orderId: null, metadata: { run_id: this.runId, stripe_object_id: object.id, kind } });
  }

  /**
   * Step 4: Stripe's events since `fromSeconds` (with undeliveredOnly, those not delivered to an
   * endpoint: pending or failed), stored through the webhook endpoint's store; the applier applies them.
   */
  async missedEvents(fromSeconds: number, options: { undeliveredOnly?: boolean } = {}): Promise<void> {
    let startingAfter: string | undefined;
    for (;;) {
      this.checkStop();
      const page = await this.deps.stripe.events.list({
        created: { gte: fromSeconds },
        limit: PAGE,
        starting_after: startingAfter,
        ...(options.undeliveredOnly ? { delivery_success: false } : {}),
      });
      // In the order Stripe made them (the list is newest first), as deliveries would arrive. Those
      // already stored are known from one statement a page, so only the missing ones are stored, each
      // as the endpoint would: a pass with `since` reads every event (30,000 for a day of 10,000
      // orders, nearly all delivered and stored), and a store call each was most of its time
      // (docs/benchmarks.md); an undelivered one may be stored too (a retry that came meanwhile).
      const known = await storedEventIds(this.deps.db, page.data.map((event) => event.id));
      const missing = [...page.data].reverse().filter((event) => !known.has(event.id));
      // Handed to the store together, so they share its statements and commits, as concurrent
      // deliveries do (in this order), and the applier wakes to batches rather than to each event: one
      // at a time, the store and the applier's round for each were most of a backfill's CPU (5.5 ms an
      // event on PGlite, tests/reconcile/janitor.test.ts's 240 events).
      const outcomes = await Promise.allSettled(
        missing.map((event) => {
          const { ignoredReason, facts } = factsAtIngest(event, this.deps.expectLive);
          return this.deps.eventStore.store(verifiedFrom(event), ignoredReason, facts, 'backfill');
        }),
      );
      // Their logs in one statement too, in the same order; those before a failure of the database are written.
      const logs: Parameters<typeof logActionsWithoutOrder>[1] = [];
      let failure: { error: unknown } | undefined;
      for (const [index, event] of missing.entries()) {
        const outcome = outcomes[index]!;
        if (outcome.status === 'rejected') {
          // A failure of the database itself fails the pass, as when it came alone. An event the
          // database refuses as data (as the endpoint would refuse its delivery) is logged and passed
          // over: it must not fail every pass and hold the cursor back for good.
          const error: unknown = outcome.reason;
          if (!(error instanceof UnstorableEventError)) {
            failure = { error };
            break;
          }
          this.counters.failed += 1;
          logs.push({ eventType: 'reconcile.event_unstorable', status: 'refused', metadata: { run_id: this.runId, event_id: event.id, event_type: event.type, sql_state: error.sqlState } });
        } else if (outcome.value.isNew) {
          this.counters.eventsBackfilled += 1;
          logs.push({ eventType: 'reconcile.event_backfilled', status: 'received', metadata: { run_id: this.runId, event_id: event.id, event_type: event.type } });
        }
      }
      if (failure) {
        await logActionsWithoutOrder(this.deps.db, logs).catch(() => {});
        throw failure.error;
      }
      await logActionsWithoutOrder(this.deps.db, logs);
      if (!page.has_more || page.data.length === 0) return;
      startingAfter = page.data[page.data.length - 1]!.id;
      await this.touch();
    }
  }
}

/** An event read from Stripe's API is Stripe's own, as a verified delivery is: stored in the same shape. */
function verifiedFrom(event: Stripe.Event): VerifiedEvent {
  const object = event.data.object as { id?: string; object?: string };
  return {
    id: event.id,
    type: event.type,
    objectType: object.object ?? null,
    objectId: object.id ?? null,
    created: event.created,
    livemode: event.livemode,
    apiVersion: event.api_version ?? null,
    raw: JSON.stringify(event),
    payload: event,
  };
}

/** Our metadata's attempt number, when it is one. */
function attemptOf(metadata: Stripe.Metadata | null | undefined): number | null {
  const attempt = Number(metadata?.attempt);
  return Number.isInteger(attempt) && attempt > 0 ? attempt : null;
}

/** Who paid, as order_create_from_payment takes it: the email Stripe collected, and our metadata. */
function ownerOf(object: Stripe.PaymentIntent | Stripe.Checkout.Session): Record<string, unknown> {
  const email = 'receipt_email' in object ? object.receipt_email : (object as Stripe.Checkout.Session).customer_details?.email;
  const name = 'customer_details' in object ? object.customer_details?.name : null;
  return { email: email ?? null, name: name ?? null, track: object.metadata?.track ?? null, customer_id: object.metadata?.customer_id ?? null };
}

/**
 * Stripe or the database being unreachable fails the pass (the next one tries again from the same
 * cursors); any other error is one item's own, recorded for staff while the pass goes on. Without the
 * database check, a statement lost to an outage would be recorded as a finding about a healthy order.
 */
function failsThePass(error: unknown): boolean {
  return isProviderUnavailable(error) || isDatabaseUnavailable(error);
}

/** Runs fn over items with at most `limit` in flight; the first error rejects after those in flight end. */
async function inPool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure;
}
