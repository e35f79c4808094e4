// The `payments-ops` commands. Each checks its arguments before opening anything (a typo needs no
// database), then calls the same domain functions the GraphQL resolvers call, with the same parsers
// where the API has one: the rules live there, not here. Actions take an idempotency key (printed on
// stderr first, so a failed call can be redone with --idempotency-key) and are audited as the actor
// cli:<os user>@<host>.
import { API_KEY_SCOPES, createApiKey } from '../auth/apiKeys';
import { type ApiKeyScope, listApiKeys, revokeApiKey } from '../auth/apiKeys.sql';
import type { Viewer } from '../auth/viewer';
import { keeps, parseNote, parseSince } from '../reconcile/arguments';
import { parseRefundAmount, parseRefundNote } from '../refunds/arguments';
import { idempotencyKeyReused, parseIdempotencyKey } from '../idempotency/keys';
import { objectOperationHash } from '../idempotency/requestHash';
import { runStaffAction } from '../idempotency/staffAction';
import { findMakeDelivery, listMakeDeliveries, type MakeDeliveryStatus, resendDelivery, type ResendAction } from '../make/deliveries.sql';
import { redactedPayload } from '../make/redaction';
import { findOrder, findOrderByPayment, type OrderRow } from '../orders/orders.sql';
import { isUuid } from '../platform/ids';
import { dryRunPass } from '../reconcile/dryRun';
import type { ReconcileDeps } from '../reconcile/janitor';
import { findRun, listFindings } from '../reconcile/read.sql';
import { emptyCounters, type FindingKind, type RunCounters } from '../reconcile/reconcile.sql';
import { createReconciliation, type ReconciliationError } from '../reconcile/service';
import { refundableAmount } from '../refunds/read.sql';
import { createRefunds } from '../refunds/refundPayment';
import type { RefundReason } from '../refunds/service';
import { findSubscription, invoicesOfSubscriptions, listSubscriptions, SUBSCRIPTION_ID, type SubscriptionRecord } from '../subscriptions/read.sql';
import { createWebhookApplier } from '../webhooks/applier';
import { EventStore } from '../webhooks/eventStore';
import { EVENT_ID, findWebhookEvent, listWebhookEvents, webhookStatus } from '../webhooks/events.sql';
import { duration, fields, money, progressLine, table, when } from './output';
import { CliError, confirm, emit, EXIT, type Io, refused, type Session, usage } from './runtime';

/** What every command is given: where to write, who acts, and how to open the session when it needs one. */
export interface CommandContext {
  io: Io;
  actor: string;
  open: () => Promise<Session>;
}

/** Options every action takes. */
export interface ActionOptions {
  yes: boolean;
  idempotencyKey?: string;
}

export const REFUND_REASONS: readonly RefundReason[] = ['requested_by_customer', 'duplicate', 'fraudulent', 'other'];
export const FINDING_KINDS: readonly FindingKind[] = ['PROVISIONAL_TOO_LONG', 'ATTEMPT_WITHOUT_OBJECT', 'NEEDS_CLEANUP', 'STRIPE_WITHOUT_RECORD', 'AMOUNT_MISMATCH'];
export const MAKE_STATUSES: readonly MakeDeliveryStatus[] = ['pending', 'delivering', 'delivered', 'dead'];
const ZERO_DECIMAL = new Set(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf']);
const PAYMENT_OBJECT = /^(pi|cs)_[A-Za-z0-9_]{1,250}$/;
const STRIPE_CUSTOMER_ID = /^cus_[A-Za-z0-9]{1,250}$/;

/** The key of this invocation, checked as the API checks one, and said on stderr before anything is done. */
function invocationKey(ctx: CommandContext, given: string | undefined, make: () => string): string {
  const key = given === undefined ? make() : parseIdempotencyKey(given, '--idempotency-key');
  ctx.io.err(`idempotency key: ${key} (after a failure, run the same command with --idempotency-key ${key})`);
  return key;
}

/** The viewer runStaffAction audits: the CLI's actor, as an admin at the server's own machine. */
function cliViewer(actor: string): Viewer {
  return { role: 'ADMIN', id: actor.slice('cli:'.length), name: actor, kind: 'user' };
}

function reconciliationOf(session: Session): { deps: ReconcileDeps; service: ReturnType<typeof createReconciliation> } {
  const deps: ReconcileDeps = {
    db: session.db,
    stripe: session.stripe(),
    logger: session.logger,
    settings: session.config.reconcile,
    // Events a pass backfills are stored as the endpoint stores them; the server's applier applies them.
    eventStore: new EventStore(session.db),
    expectLive: session.config.stripe.mode === 'live',
    now: session.stripeNow,
    schedulesJobs: false,
  };
  return { deps, service: createReconciliation(deps) };
}

/** A reconciliation error as the exit it means: Stripe away is 3, anything else a refusal. */
function reconciliationFailure(error: ReconciliationError): CliError {
  return new CliError(error.code, error.message, error.code === 'PAYMENT_PROVIDER_UNAVAILABLE' ? EXIT.unreachable : EXIT.refused);
}

async function withSession<T>(ctx: CommandContext, fn: (session: Session) => Promise<T>): Promise<T> {
  const session = await ctx.open();
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}

// --- process-refund -------------------------------------------------------------------------------

/** "29.70" in the order's currency as its minor unit (2970); whole units only for a zero-decimal currency. */
export function parseMajorAmount(text: string, currency: string): number {
  const decimals = ZERO_DECIMAL.has(currency.toLowerCase()) ? 0 : 2;
  const pattern = decimals === 0 ? /^\d{1,9}$/ : /^(\d{1,9})(?:\.(\d{1,2}))?$/;
  const match = pattern.exec(text.trim());
  if (!match) {
    throw usage(`--amount must be an amount in ${currency.toUpperCase()} such as ${decimals === 0 ? '500' : '29.70'}; got "${text}"`);
  }
  const [whole, fraction = ''] = text.trim().split('.');
  return Number(whole) * 10 ** decimals + Number(fraction.padEnd(decimals, '0') || 0);
}

export interface RefundArgs extends ActionOptions {
  target: string;
  amount?: string;
  reason: string;
  note?: string;
}

export async function processRefund(ctx: CommandContext, args: RefundArgs): Promise<void> {
  if (!isUuid(args.target) && !PAYMENT_OBJECT.test(args.target)) throw usage(`"${args.target}" is neither an order id (a UUID) nor a PaymentIntent or Checkout Session id (pi_…, cs_…)`);
  if (!REFUND_REASONS.includes(args.reason as RefundReason)) throw usage(`--reason must be one of ${REFUND_REASONS.join(', ')}; got "${args.reason}"`);
  const note = parseRefundNote(args.note);
  if (args.idempotencyKey !== undefined) parseIdempotencyKey(args.idempotencyKey, '--idempotency-key');
  await withSession(ctx, async (session) => {
    const order = isUuid(args.target) ? await findOrder(session.db, args.target.toLowerCase()) : await findOrderByPayment(session.db, args.target);
    if (!order) throw refused('ORDER_NOT_FOUND', `No order ${args.target}`);
    const remainder = (await refundableAmount(session.db, order.id)) ?? { amount: 0, currency: order.currency };
    const amount = args.amount === undefined ? null : parseRefundAmount(parseMajorAmount(args.amount, order.currency));
    const { io } = ctx;
    if (!io.json) {
      for (const line of orderLines(order)) io.out(line);
      io.out(`Refundable  ${money(remainder.amount, remainder.currency)}`);
    }
    await confirm(io, `Refund ${money(amount ?? remainder.amount, order.currency)} of order ${order.id} (${args.reason})?`, args.yes);
    const key = invocationKey(ctx, args.idempotencyKey, () => `cli-refund-${crypto.randomUUID()}`);
    const result = await createRefunds({ db: session.db, stripe: session.stripe(), logger: session.logger }).refundPayment({
      orderId: order.id,
      amount,
      reason: args.reason as RefundReason,
      note,
      actor: ctx.actor,
      scope: ctx.actor,
      idempotencyKey: key,
    });
    if (result.outcome === 'conflict') throw idempotencyKeyReused(key, result.operation);
    if (result.outcome === 'refused') {
      const left = result.refundable ? ` Refundable: ${money(result.refundable.amount, result.refundable.currency)}.` : '';
      throw refused(result.error!.code, `${result.error!.message}${left}`);
    }
    if (result.error) throw new CliError(result.error.code, `${result.error.message} (idempotency key ${key})`, EXIT.unreachable);
    const refund = result.refund!;
    emit(io, { idempotencyKey: key, isRepeat: result.isRepeat, refund }, () => [
      `${result.isRepeat ? 'Already refunded with this key' : 'Refunded'}: ${money(refund.amount, refund.currency)} of order ${refund.order_id}`,
      ...fields([
        ['Refund', refund.id],
        ['Stripe refund', refund.stripe_refund_id ?? '-'],
        ['Status', refund.status],
      ]),
    ]);
  });
}

function orderLines(order: OrderRow): string[] {
  return fields([
    ['Order', order.id],
    ['Customer', order.customer_email],
    ['Track', order.product_name],
    ['Status', order.status],
    ['Amount', money(order.amount, order.currency)],
    ['Refunded', order.payment ? money(order.payment.amount_refunded, order.payment.currency) : '-'],
    ['Created', when(order.created_at)],
  ]);
}

// --- webhook-status / replay-event ------------------------------------------------------------------

export interface WebhookStatusArgs {
  pending: boolean;
  failed: boolean;
  type?: string;
  limit: number;
}

export async function webhookStatusCommand(ctx: CommandContext, args: WebhookStatusArgs): Promise<void> {
  if (args.pending && args.failed) throw usage('--pending and --failed cannot be used together');
  if (args.type !== undefined && (args.type.length === 0 || args.type.length > 255)) throw usage('--type must be 1 to 255 characters');
  if (!Number.isInteger(args.limit) || args.limit < 1 || args.limit > 200) throw usage(`--limit must be a whole number from 1 to 200; got ${args.limit}`);
  const listing = args.pending || args.failed || args.type !== undefined;
  await withSession(ctx, async ({ db }) => {
    const status = await webhookStatus(db);
    const filter = { status: args.pending ? ('received' as const) : args.failed ? ('failed' as const) : null, type: args.type ?? null };
    const events = listing ? (await listWebhookEvents(db, { filter, first: args.limit })).rows : null;
    emit(ctx.io, { status, events: events?.map(({ payload: _payload, ...event }) => event) ?? null }, () => [
      ...fields([
        ['Received (unapplied)', String(status.received)],
        ['Applied', String(status.applied)],
        ['Ignored', String(status.ignored)],
        ['Failed', String(status.failed)],
        ['Retrying', String(status.retrying)],
        ['Oldest unapplied', duration(status.oldest_unapplied_age_seconds)],
        ['Failed in the last hour', String(status.failed_last_hour)],
      ]),
      ...(events === null
        ? []
        : events.length === 0
          ? ['', 'No matching events.']
          : ['', ...table(['ID', 'TYPE', 'STATUS', 'ATTEMPTS', 'RECEIVED', 'LAST ERROR'], events.map((e) => [e.id, e.type, e.status, String(e.attempts), when(e.received_at), e.last_error ?? '-']), ctx.io.style)]),
    ]);
  });
}

export async function replayEvent(ctx: CommandContext, args: ActionOptions & { eventId: string }): Promise<void> {
  if (!EVENT_ID.test(args.eventId)) throw usage(`"${args.eventId}" is not a Stripe event id (evt_…)`);
  if (args.idempotencyKey !== undefined) parseIdempotencyKey(args.idempotencyKey, '--idempotency-key');
  await withSession(ctx, async (session) => {
    const before = await findWebhookEvent(session.db, args.eventId);
    if (!before) throw refused('WEBHOOK_EVENT_NOT_FOUND', `There is no stored webhook event ${args.eventId}`);
    if (!ctx.io.json) ctx.io.out(`Event ${before.id} (${before.type}) is ${before.status}, received ${when(before.received_at)}`);
    await confirm(ctx.io, `Apply event ${before.id} again now?`, args.yes);
    const key = invocationKey(ctx, args.idempotencyKey, () => `cli-replay-${crypto.randomUUID()}`);
    const applier = createWebhookApplier({
      db: session.db,
      stripe: session.stripe,
      logger: session.logger,
      expectLive: session.config.stripe.mode === 'live',
      maxAttempts: session.config.webhooks.maxAttempts,
    });
    const result = await applier.replay({ eventId: args.eventId, actor: ctx.actor, scope: ctx.actor, key });
    if (result.outcome === 'conflict') throw idempotencyKeyReused(key, result.operation);
    if (result.outcome === 'not_found') throw refused('WEBHOOK_EVENT_NOT_FOUND', `There is no stored webhook event ${args.eventId}`);
    if (result.outcome === 'payload_dropped') {
      throw refused('WEBHOOK_EVENT_PAYLOAD_DROPPED', `Webhook event ${args.eventId} cannot be replayed: retention dropped its payload, and Stripe keeps events for 30 days only`);
    }
    const event = (await findWebhookEvent(session.db, args.eventId))!;
    emit(ctx.io, { idempotencyKey: key, isRepeat: result.outcome === 'repeat', event: { ...event, payload: undefined } }, () => [
      `${result.outcome === 'repeat' ? 'Already replayed with this key' : 'Replayed'}: event ${event.id} is now ${event.status}${event.last_error ? ` (${event.last_error})` : ''}`,
    ]);
  });
}

// --- subscription-info ------------------------------------------------------------------------------

export async function subscriptionInfo(ctx: CommandContext, args: { who: string }): Promise<void> {
  const who = args.who.trim();
  const kind = SUBSCRIPTION_ID.test(who)
    ? 'subscription'
    : isUuid(who)
      ? 'customer'
      : STRIPE_CUSTOMER_ID.test(who)
        ? 'stripeCustomer'
        : /^[^\s@]+@[^\s@]+$/.test(who) && who.length <= 320
          ? 'email'
          : null;
  if (!kind) throw usage(`"${args.who}" is neither a subscription id (sub_…), a customer id (a UUID, or Stripe's cus_…) nor an email address`);
  await withSession(ctx, async ({ db }) => {
    let subscriptions: SubscriptionRecord[];
    if (kind === 'subscription') {
      const found = await findSubscription(db, who);
      subscriptions = found ? [found] : [];
    } else {
      const filter = kind === 'customer' ? { customerId: who.toLowerCase() } : kind === 'stripeCustomer' ? { stripeCustomerId: who } : { customerEmail: who.toLowerCase() };
      subscriptions = (await listSubscriptions(db, { filter, first: 50 })).rows;
    }
    if (subscriptions.length === 0) throw refused('SUBSCRIPTION_NOT_FOUND', `No subscription for ${who}`);
    const invoices = await invoicesOfSubscriptions(db, subscriptions.map((s) => s.id));
    const latest = invoices.map((list) => list.slice(0, 3));
    emit(ctx.io, { subscriptions: subscriptions.map(({ created_us: _c, ...s }, i) => ({ ...s, latestInvoices: latest[i] })) }, () =>
      subscriptions.flatMap((s, i) => [
        ...(i > 0 ? [''] : []),
        ctx.io.style.bold(`${s.id}  ${s.status}`),
        ...fields([
          ['Customer', `${s.customer_email} (${s.customer_id})`],
          ['Track', s.track_name ? `${s.track_name} (${s.track})` : (s.stripe_price_id ?? '-')],
          ['Price', s.unit_amount === null ? '-' : `${money(s.unit_amount, s.currency)} / ${s.recurring_interval ?? '?'}`],
          ['Period', `${when(s.current_period_start)} → ${when(s.current_period_end)}`],
          ['Paused', s.pause_behavior ? `yes (${s.pause_behavior}${s.pause_resumes_at ? `, resumes ${when(s.pause_resumes_at)}` : ''})` : 'no'],
          ['Cancel', s.canceled_at ? `canceled ${when(s.canceled_at)}` : s.cancel_at_period_end ? 'at period end' : 'no'],
        ]),
        ...(latest[i]!.length === 0
          ? ['No invoices.']
          : table(['INVOICE', 'STATUS', 'DUE', 'PAID', 'CREATED'], latest[i]!.map((inv) => [inv.id, inv.status, money(inv.amount_due, inv.currency), money(inv.amount_paid, inv.currency), when(inv.stripe_created)]), ctx.io.style)),
      ]),
    );
  });
}

// --- sync-order -------------------------------------------------------------------------------------

export async function syncOrderCommand(ctx: CommandContext, args: { orderId: string; idempotencyKey?: string }): Promise<void> {
  if (!isUuid(args.orderId)) throw usage(`"${args.orderId}" is not an order id (a UUID)`);
  if (args.idempotencyKey !== undefined) parseIdempotencyKey(args.idempotencyKey, '--idempotency-key');
  const orderId = args.orderId.toLowerCase();
  await withSession(ctx, async (session) => {
    const { service } = reconciliationOf(session);
    const key = invocationKey(ctx, args.idempotencyKey, () => `cli-sync-${crypto.randomUUID()}`);
    const { response, isRepeat } = await runStaffAction(session.db, {
      viewer: cliViewer(ctx.actor),
      actorType: 'cli',
      key,
      operation: 'reconciliation_sync_order',
      canonicalInput: { orderId },
      work: async () => {
        const result = await service.syncOrder({ orderId, actor: ctx.actor });
        return { response: { orderId: result.orderId, outcome: result.outcome, error: result.error }, keep: result.outcome === 'SYNCED' || keeps(result.error) };
      },
      logger: session.logger,
      audit: (result) => ({ action: 'reconciliation.sync_order', targetType: 'order', targetId: orderId, details: { outcome: result.outcome, error: result.error?.code ?? null } }),
    });
    if (response.outcome === 'FAILED' && response.error) throw reconciliationFailure(response.error);
    const order = response.orderId ? await findOrder(session.db, response.orderId) : null;
    emit(ctx.io, { idempotencyKey: key, isRepeat, outcome: response.outcome, error: response.error, order }, () => [
      `${response.outcome === 'SYNCED' ? 'Synced with Stripe' : 'Unchanged: Stripe says what we have'}${isRepeat ? ' (an earlier answer for this key)' : ''}${response.error ? `; ${response.error.message}` : ''}`,
      ...(order ? orderLines(order) : []),
    ]);
  });
}

// --- reconcile --------------------------------------------------------------------------------------

const checkedOf = (c: Partial<RunCounters>) => (c.synced ?? 0) + (c.failed ?? 0) + (c.skipped ?? 0) + (c.adopted ?? 0) + (c.canceled ?? 0) + (c.orphansFound ?? 0) + (c.eventsBackfilled ?? 0);

function counterLines(counters: Partial<RunCounters>, dryRun: boolean, style: Io['style']): string[] {
  const c = { ...emptyCounters(), ...counters };
  const would = (text: string) => (dryRun ? `would ${text}` : text);
  return table(
    ['COUNTER', 'COUNT'],
    [
      [would('sync'), String(c.synced)],
      [would('adopt'), String(c.adopted)],
      [would('cancel'), String(c.canceled)],
      ['orphans found', String(c.orphansFound)],
      [would('backfill events'), String(c.eventsBackfilled)],
      ['skipped', String(c.skipped)],
      ['failed', String(c.failed)],
    ],
    style,
  );
}

/** `2026-12-01` is midnight UTC; anything else must be an ISO 8601 time with its zone, as the API takes it. */
export function normaliseSince(since: string | undefined): string | undefined {
  if (since === undefined) return undefined;
  return /^\d{4}-\d{2}-\d{2}$/.test(since) ? `${since}T00:00:00Z` : since;
}

/**
 * A failed pass as its exit: the run row keeps the error as describeStripeError wrote it, so Stripe
 * being unreachable (its connection, 5xx and rate-limit errors) reads as exit 3; anything else is 1.
 */
export function passFailure(what: string, error: string | null): CliError {
  const message = `${what} failed: ${error ?? 'unknown error'} (the next pass starts from the same cursors)`;
  return /^(StripeConnectionError|StripeAPIError|StripeRateLimitError)\b/.test(error ?? '')
    ? new CliError('PAYMENT_PROVIDER_UNAVAILABLE', message, EXIT.unreachable)
    : new CliError('RECONCILIATION_FAILED', message, EXIT.refused);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The live bar of a pass: drawn at once, then redrawn every 200 ms with the latest counters. A pass
 * reports its counters between pages of Stripe's lists (a hundred objects each), so a bar drawn only
 * on a report would not appear at all in a small pass and stand still for seconds in a big one. Off a
 * terminal io.status draws nothing, and only the final counters print.
 */
function liveProgress(io: Io): { update: (counters: Partial<RunCounters>) => void; stop: () => void } {
  let latest: Partial<RunCounters> = {};
  let tick = 0;
  const draw = () => io.status(progressLine({ checked: checkedOf(latest), synced: latest.synced ?? 0, orphansFound: latest.orphansFound ?? 0 }, tick++));
  draw();
  const timer = setInterval(draw, 200);
  timer.unref();
  return {
    update: (counters) => {
      latest = { ...counters };
      draw();
    },
    stop: () => {
      clearInterval(timer);
      io.status('');
    },
  };
}

export async function reconcileCommand(ctx: CommandContext, args: ActionOptions & { since?: string; dryRun: boolean }): Promise<void> {
  const since = parseSince(normaliseSince(args.since));
  if (args.idempotencyKey !== undefined) parseIdempotencyKey(args.idempotencyKey, '--idempotency-key');
  const { io } = ctx;
  await withSession(ctx, async (session) => {
    const { deps, service } = reconciliationOf(session);
    if (args.dryRun) {
      const progress = liveProgress(io);
      const result = await dryRunPass(deps, { actor: ctx.actor, ...(since ? { since } : {}), onProgress: progress.update }).finally(progress.stop);
      if (result.outcome === 'busy') throw refused('RECONCILIATION_RUNNING', `A pass is running (run ${result.run.id}, started ${when(result.run.started_at)} by ${result.run.actor}): a dry run would see it half done; try again after it`);
      if (result.outcome === 'failed') throw passFailure('The dry run', result.error);
      emit(io, { dryRun: true, counters: result.counters, skipped: ['refunds left creating', 'expired payment requests'] }, () => [
        'Dry run: what a pass would do now (nothing was sent to Stripe or kept in the database).',
        ...counterLines(result.counters, true, io.style),
        'Not looked at in a dry run: refunds left creating, payment requests past their expiry (they only act at Stripe).',
      ]);
      return;
    }
    await confirm(io, `Run a reconciliation pass${since ? ` back to ${since.toISOString()}` : ''} now? It acts at Stripe (adopts, cancels) and on orders.`, args.yes);
    const key = invocationKey(ctx, args.idempotencyKey, () => `cli-reconcile-${crypto.randomUUID()}`);
    const { response, isRepeat } = await runStaffAction(session.db, {
      viewer: cliViewer(ctx.actor),
      actorType: 'cli',
      key,
      operation: 'reconciliation_run',
      canonicalInput: { since: since?.toISOString() ?? null },
      work: async () => {
        const { started, run } = await service.start({ trigger: 'cli', actor: ctx.actor, ...(since ? { since } : {}) });
        return { response: { runId: run.id, started }, keep: true };
      },
      logger: session.logger,
      audit: (result) => ({ action: 'reconciliation.run', targetType: 'reconciliation_run', targetId: result.runId, details: { started: result.started, since: since?.toISOString() ?? null } }),
    });
    if (!response.started && !isRepeat && !io.json) io.err(`A pass was already running (run ${response.runId}): following it.`);
    // The run row's counters are written after each page: polled for the bar until the pass ends.
    const progress = liveProgress(io);
    let run = await findRun(session.db, response.runId);
    try {
      while (run?.status === 'running') {
        progress.update(run.counters);
        await sleep(200);
        run = await findRun(session.db, response.runId);
      }
      await service.idle();
    } finally {
      progress.stop();
    }
    run = await findRun(session.db, response.runId);
    if (!run) throw new CliError('INTERNAL', `run ${response.runId} is gone`, EXIT.refused);
    if (run.status === 'failed') throw passFailure(`Reconciliation run ${run.id}`, run.error);
    emit(io, { idempotencyKey: key, isRepeat, started: response.started, run }, () => [
      `Reconciliation run ${run!.id} ${run!.status}${isRepeat ? ' (an earlier run for this key)' : ''}, ${when(run!.started_at)}`,
      ...counterLines(run!.counters, false, io.style),
    ]);
  });
}

// --- orphans ----------------------------------------------------------------------------------------

export async function orphansList(ctx: CommandContext, args: { open: boolean; kind?: string; limit: number }): Promise<void> {
  const kind = args.kind?.toUpperCase();
  if (kind !== undefined && !FINDING_KINDS.includes(kind as FindingKind)) throw usage(`--kind must be one of ${FINDING_KINDS.join(', ')}; got "${args.kind}"`);
  if (!Number.isInteger(args.limit) || args.limit < 1 || args.limit > 200) throw usage(`--limit must be a whole number from 1 to 200; got ${args.limit}`);
  await withSession(ctx, async ({ db }) => {
    const page = await listFindings(db, { filter: { status: args.open ? 'open' : null, kind: (kind ?? null) as FindingKind | null }, first: args.limit });
    emit(ctx.io, { findings: page.rows.map(({ first_seen_us: _f, ...row }) => row) }, () =>
      page.rows.length === 0
        ? ['No orphaned payments.']
        : table(
            ['ID', 'KIND', 'STATUS', 'STRIPE OBJECT', 'AMOUNT', 'FIRST SEEN', 'ORDER'],
            page.rows.map((f) => [f.id, f.kind, f.status, f.stripe_object_id ?? f.subject, money(f.amount, f.currency), when(f.first_seen_at), f.order_id ?? '-']),
            ctx.io.style,
          ),
    );
  });
}

export async function orphansResolve(ctx: CommandContext, args: ActionOptions & { id: string; adopt: boolean; cancel: boolean; dismiss: boolean; note?: string }): Promise<void> {
  const chosen = (['adopt', 'cancel', 'dismiss'] as const).filter((action) => args[action]);
  if (chosen.length !== 1) throw usage('give exactly one of --adopt, --cancel or --dismiss');
  const action = chosen[0]!;
  if (!isUuid(args.id)) throw usage(`"${args.id}" is not a finding id (a UUID, see orphans)`);
  const note = parseNote(args.note, action.toUpperCase() as 'ADOPT' | 'CANCEL' | 'DISMISS');
  if (args.idempotencyKey !== undefined) parseIdempotencyKey(args.idempotencyKey, '--idempotency-key');
  const findingId = args.id.toLowerCase();
  await withSession(ctx, async (session) => {
    const { service } = reconciliationOf(session);
    await confirm(ctx.io, `${action[0]!.toUpperCase()}${action.slice(1)} finding ${findingId}?`, args.yes);
    const key = invocationKey(ctx, args.idempotencyKey, () => `cli-orphan-${crypto.randomUUID()}`);
    const { response, isRepeat } = await runStaffAction(session.db, {
      viewer: cliViewer(ctx.actor),
      actorType: 'cli',
      key,
      operation: 'reconciliation_resolve_finding',
      canonicalInput: { id: findingId, action, note },
      work: async () => {
        const result = await service.resolveFinding({ findingId, action, note, actor: ctx.actor });
        return { response: { findingId: result.finding?.id ?? null, orderId: result.orderId, error: result.error }, keep: result.changed || keeps(result.error) };
      },
      logger: session.logger,
      audit: (result) => ({ action: 'reconciliation.resolve_finding', targetType: 'reconciliation_finding', targetId: findingId, details: { action, note, order_id: result.orderId, error: result.error?.code ?? null } }),
    });
    if (response.error) throw reconciliationFailure(response.error);
    emit(ctx.io, { idempotencyKey: key, isRepeat, findingId: response.findingId, orderId: response.orderId, action }, () => [
      `Finding ${findingId}: ${action} done${isRepeat ? ' (an earlier answer for this key)' : ''}${response.orderId ? `; order ${response.orderId}` : ''}`,
    ]);
  });
}

// --- make -------------------------------------------------------------------------------------------

export async function makeDeliveries(ctx: CommandContext, args: { status?: string; limit: number }): Promise<void> {
  const status = args.status?.toLowerCase();
  if (status !== undefined && !MAKE_STATUSES.includes(status as MakeDeliveryStatus)) throw usage(`--status must be one of ${MAKE_STATUSES.join(', ')}; got "${args.status}"`);
  if (!Number.isInteger(args.limit) || args.limit < 1 || args.limit > 200) throw usage(`--limit must be a whole number from 1 to 200; got ${args.limit}`);
  await withSession(ctx, async ({ db }) => {
    const page = await listMakeDeliveries(db, { filter: { status: (status ?? null) as MakeDeliveryStatus | null }, first: args.limit });
    // The payload as staff read it in the console: a reminder's pay link (a credential) redacted.
    emit(ctx.io, { deliveries: page.rows.map(({ created_us: _c, ...row }) => ({ ...row, payload: redactedPayload(row) })) }, () =>
      page.rows.length === 0
        ? ['No Make deliveries.']
        : table(
            ['ID', 'KIND', 'STATUS', 'ATTEMPTS', 'CREATED', 'LAST ERROR'],
            page.rows.map((d) => [d.id, d.kind, d.status, String(d.attempts), when(d.created_at), d.last_error ?? '-']),
            ctx.io.style,
          ),
    );
  });
}

export async function makeResend(ctx: CommandContext, action: ResendAction, args: ActionOptions & { id: string }): Promise<void> {
  if (!isUuid(args.id)) throw usage(`"${args.id}" is not a Make delivery id (a UUID, see make deliveries)`);
  if (args.idempotencyKey !== undefined) parseIdempotencyKey(args.idempotencyKey, '--idempotency-key');
  const id = args.id.toLowerCase();
  await withSession(ctx, async ({ db }) => {
    const before = await findMakeDelivery(db, id);
    if (!before) throw refused('MAKE_DELIVERY_NOT_FOUND', `There is no Make delivery ${id}`);
    await confirm(ctx.io, `${action === 'retry' ? 'Retry' : 'Replay'} Make delivery ${id} (${before.kind}, ${before.status})?`, args.yes);
    const key = invocationKey(ctx, args.idempotencyKey, () => `cli-make-${crypto.randomUUID()}`);
    const result = await resendDelivery(db, { id, action, actor: ctx.actor, scope: ctx.actor, key, request_hash: objectOperationHash(`make_delivery_${action}`, id) });
    if (result.outcome === 'conflict') throw idempotencyKeyReused(key, result.operation);
    if (result.outcome === 'not_found') throw refused('MAKE_DELIVERY_NOT_FOUND', `There is no Make delivery ${id}`);
    if (result.outcome === 'wrong_state') {
      const allowed = action === 'retry' ? 'PENDING or DEAD' : 'DELIVERED or DEAD';
      throw refused('MAKE_DELIVERY_WRONG_STATE', `The delivery is ${result.status.toUpperCase()}: only a ${allowed} delivery can be ${action === 'retry' ? 'retried' : 'replayed'}`);
    }
    emit(ctx.io, { idempotencyKey: key, isRepeat: result.outcome === 'repeat', id, status: result.status }, () => [
      `${result.outcome === 'repeat' ? 'Already queued with this key' : action === 'retry' ? 'Queued for retry' : 'Queued for replay'}: delivery ${id} is ${result.status}; the server's outbox sends it`,
    ]);
  });
}

// --- apikey -----------------------------------------------------------------------------------------

/**
 * A new key, idempotent by the invocation's key and audited like every action. The secret is kept
 * nowhere but in this answer (the database holds its hash; the idempotency row holds the id only), so
 * the same --idempotency-key answers the same key id without the secret: a lost secret is not
 * recoverable, the key is revoked and another made.
 */
export async function apiKeyCreate(ctx: CommandContext, args: { name: string; scope: string; idempotencyKey?: string }): Promise<void> {
  const name = args.name.trim();
  if (!name) throw usage('create needs --name <name>');
  if (name.length > 100) throw usage('--name must be at most 100 characters');
  if (!API_KEY_SCOPES.includes(args.scope as ApiKeyScope)) throw usage(`unknown scope "${args.scope}": expected ${API_KEY_SCOPES.join(' or ')}`);
  if (args.idempotencyKey !== undefined) parseIdempotencyKey(args.idempotencyKey, '--idempotency-key');
  await withSession(ctx, async (session) => {
    const key = invocationKey(ctx, args.idempotencyKey, () => `cli-apikey-${crypto.randomUUID()}`);
    let secret: string | null = null;
    const { response, isRepeat } = await runStaffAction(session.db, {
      viewer: cliViewer(ctx.actor),
      actorType: 'cli',
      key,
      operation: 'api_key_create',
      canonicalInput: { name, scope: args.scope },
      work: async () => {
        const created = await createApiKey(session.db, name, args.scope);
        secret = created.key;
        return { response: { id: created.row.id, name: created.row.name, scope: created.row.scope, prefix: created.row.prefix }, keep: true };
      },
      logger: session.logger,
      audit: (result) => ({ action: 'api_key.create', targetType: 'api_key', targetId: result.id, details: { name: result.name, scope: result.scope, prefix: result.prefix } }),
    });
    emit(ctx.io, { idempotencyKey: key, isRepeat, id: response.id, name: response.name, scope: response.scope, key: secret }, () =>
      isRepeat
        ? [
            `API key "${response.name}" (${response.id}, ${response.scope}) was already created with this idempotency key.`,
            'Its secret was shown once, when it was created, and is kept nowhere: if it was lost, revoke this key and create another.',
          ]
        : [
            `Created API key "${response.name}"`,
            `  id     ${response.id}`,
            `  scope  ${response.scope}`,
            `  key    ${secret}`,
            'Store the key now: it is shown only this once (only its hash is kept).',
          ],
    );
  });
}

export async function apiKeyList(ctx: CommandContext): Promise<void> {
  await withSession(ctx, async ({ db }) => {
    const keys = await listApiKeys(db);
    emit(ctx.io, { keys }, () =>
      keys.length === 0
        ? ['No API keys.']
        : table(
            ['ID', 'NAME', 'SCOPE', 'PREFIX', 'CREATED', 'LAST USED', 'REVOKED'],
            keys.map((k) => [k.id, k.name, k.scope, `${k.prefix}…`, when(k.created_at), when(k.last_used_at), when(k.revoked_at)]),
            ctx.io.style,
          ),
    );
  });
}

/**
 * Refuses a key from now on; idempotent by the invocation's key and audited. Revoking a revoked key is
 * the same answer (done, with the time it was revoked) and writes nothing: nothing happened to audit.
 */
export async function apiKeyRevoke(ctx: CommandContext, args: ActionOptions & { id: string }): Promise<void> {
  if (!isUuid(args.id)) throw usage(`"${args.id}" is not a key id (a UUID, see apikey list)`);
  if (args.idempotencyKey !== undefined) parseIdempotencyKey(args.idempotencyKey, '--idempotency-key');
  const id = args.id.toLowerCase();
  await withSession(ctx, async (session) => {
    const existing = (await listApiKeys(session.db)).find((k) => k.id === id);
    if (!existing) throw refused('API_KEY_NOT_FOUND', `No API key with id ${id}`);
    if (!existing.revoked_at) await confirm(ctx.io, `Revoke API key ${id} ("${existing.name}")? Clients using it are refused from now on.`, args.yes);
    const key = invocationKey(ctx, args.idempotencyKey, () => `cli-apikey-${crypto.randomUUID()}`);
    const { response, isRepeat } = await runStaffAction(session.db, {
      viewer: cliViewer(ctx.actor),
      actorType: 'cli',
      key,
      operation: 'api_key_revoke',
      canonicalInput: { id },
      work: async () => {
        // revoke_at is kept as first set (coalesce), so a race with another revoke answers its time.
        const revoked = await revokeApiKey(session.db, id);
        if (!revoked) throw refused('API_KEY_NOT_FOUND', `No API key with id ${id}`);
        const alreadyRevoked = existing.revoked_at !== null;
        return { response: { id, name: revoked.name, revokedAt: revoked.revoked_at, alreadyRevoked }, keep: !alreadyRevoked };
      },
      logger: session.logger,
      audit: (result) => ({ action: 'api_key.revoke', targetType: 'api_key', targetId: id, details: { name: result.name } }),
    });
    emit(ctx.io, { idempotencyKey: key, isRepeat, id, name: response.name, revokedAt: response.revokedAt, alreadyRevoked: response.alreadyRevoked }, () => [
      response.alreadyRevoked
        ? `API key ${id} ("${response.name}") was already revoked ${when(response.revokedAt)}.`
        : `Revoked API key ${id} ("${response.name}") ${when(response.revokedAt)}${isRepeat ? ' (an earlier answer for this key)' : ''}.`,
    ]);
  });
}
