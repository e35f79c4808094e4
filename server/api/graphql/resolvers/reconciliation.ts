// Reconciliation's API (issue 17): runs, the janitor's status and its findings for support and admins;
// syncing one order (support and admins), starting a pass and settling a finding (admins). The work
// is the Reconciliation service's (server/reconcile/service.ts); here every argument is checked before
// anything is read or written, and each mutation is idempotent by key with its first answer kept and
// audited (server/idempotency/staffAction.ts).
import { type Role, STAFF_ROLES } from '../../../auth/viewer';
import { parseIdempotencyKey } from '../../../idempotency/keys';
import { runStaffAction } from '../../../idempotency/staffAction';
import { findOrder } from '../../../orders/orders.sql';
import { UUID } from '../../../platform/ids';
import { actionsFor } from '../../../reconcile/actions';
import { findFinding, findRun, listFindings, listRuns } from '../../../reconcile/read.sql';
import { emptyCounters, type FindingKind } from '../../../reconcile/reconcile.sql';
import { keeps, parseNote, parseSince } from '../../../reconcile/arguments';
import type { SyncOrderResult } from '../../../reconcile/service';
import { allow, inheritAccess } from '../access';
import type { GraphQLContext } from '../context';
import type {
  OrderResolvers,
  OrphanedPaymentAction,
  OrphanedPaymentConnectionResolvers,
  OrphanedPaymentFilter,
  OrphanedPaymentKind,
  OrphanedPaymentResolvers,
  OrphanedPaymentStatus,
  ReconciliationCountersResolvers,
  ReconciliationRunConnectionResolvers,
  ReconciliationRunResolvers,
  ReconciliationRunStatus,
  ReconciliationStatusResolvers,
  ReconciliationTrigger,
  Resolvers,
  ResolversTypes,
} from '../generated/resolvers-types';
import { encodeCursor, parsePage } from '../pagination';
import { iso, isoOrNull, parseUuidArgument } from '../values';

// Starting a pass and settling a finding act at Stripe or on many orders at once: admins. Syncing one
// order only asks Stripe what already happened and applies it, as the janitor would: support too.
const ADMINS: readonly Role[] = ['ADMIN'];

function parseFindingFilter(filter: OrphanedPaymentFilter | null | undefined) {
  return {
    status: filter?.status ? (filter.status.toLowerCase() as 'open' | 'resolved') : null,
    kind: (filter?.kind ?? null) as FindingKind | null,
  };
}

const syncPayload = async (
  { db }: GraphQLContext,
  response: SyncOrderResult,
  isRepeat: boolean,
): Promise<ResolversTypes['SyncOrderPayload']> => ({
  order: response.orderId ? await findOrder(db, response.orderId) : null,
  outcome: response.outcome,
  error: response.error,
  isRepeat,
});

export const reconciliationResolvers: Resolvers = {
  Query: {
    reconciliationRun: allow(STAFF_ROLES, (_parent, { id }, { db }) => findRun(db, parseUuidArgument(id, 'id', 'a reconciliation run', 'INVALID_RUN_ID'))),
    reconciliationRuns: allow(STAFF_ROLES, (_parent, args, { db }) => {
      const { first, after } = parsePage(args, UUID, 'reconciliationRuns');
      return listRuns(db, { first, after });
    }),
    reconciliationStatus: allow(STAFF_ROLES, (_parent, _args, { reconciliation }) => reconciliation.status()),
    orphanedPayments: allow(STAFF_ROLES, (_parent, args, { db }) => {
      // Every argument is checked before the query runs, so a bad one reads nothing.
      const filter = parseFindingFilter(args.filter);
      const { first, after } = parsePage(args, UUID, 'orphanedPayments');
      return listFindings(db, { filter, first, after });
    }),
    orphanedPayment: allow(STAFF_ROLES, (_parent, { id }, { db }) => findFinding(db, parseUuidArgument(id, 'id', 'a finding', 'INVALID_FINDING_ID'))),
  },
  Mutation: {
    syncOrder: allow(STAFF_ROLES, async (_parent, { input }, context) => {
      const orderId = parseUuidArgument(input.orderId, 'input.orderId', 'an order', 'INVALID_ORDER_ID');
      const key = parseIdempotencyKey(input.idempotencyKey, 'input.idempotencyKey');
      const { db, viewer, reconciliation, logger } = context;
      const actor = `staff:${viewer.id}`;
      const { response, isRepeat } = await runStaffAction(db, {
        viewer,
        key,
        operation: 'reconciliation_sync_order',
        canonicalInput: { orderId },
        work: async () => {
          const result = await reconciliation.syncOrder({ orderId, actor });
          // SYNCED with an error (Stripe failed after something was applied) changed the order: kept and audited.
          return { response: { orderId: result.orderId, outcome: result.outcome, error: result.error }, keep: result.outcome === 'SYNCED' || keeps(result.error) };
        },
        logger,
        audit: (result) => ({
          action: 'reconciliation.sync_order',
          targetType: 'order',
          targetId: orderId,
          details: { outcome: result.outcome, error: result.error?.code ?? null },
        }),
      });
      if (!isRepeat) logger.info({ orderId, actor, outcome: response.outcome, error: response.error?.code }, 'order synced with Stripe by staff');
      return syncPayload(context, response, isRepeat);
    }),
    runReconciliation: allow(ADMINS, async (_parent, { input }, { db, viewer, reconciliation, logger }) => {
      const key = parseIdempotencyKey(input.idempotencyKey, 'input.idempotencyKey');
      const since = parseSince(input.since);
      const actor = `staff:${viewer.id}`;
      const { response, isRepeat } = await runStaffAction(db, {
        viewer,
        key,
        operation: 'reconciliation_run',
        // The time as given, normalised: the same instant written two ways is the same input.
        canonicalInput: { since: since?.toISOString() ?? null },
        work: async () => {
          const { started, run } = await reconciliation.start({ trigger: 'manual', actor, ...(since ? { since } : {}) });
          return { response: { runId: run.id, started }, keep: true };
        },
        logger,
        audit: (result) => ({
          action: 'reconciliation.run',
          targetType: 'reconciliation_run',
          targetId: result.runId,
          details: { started: result.started, since: since?.toISOString() ?? null },
        }),
      });
      if (!isRepeat) logger.info({ runId: response.runId, actor, started: response.started }, 'reconciliation pass requested by staff');
      return { run: await findRun(db, response.runId), started: response.started, error: null, isRepeat };
    }),
    resolveOrphanedPayment: allow(ADMINS, async (_parent, { input }, { db, viewer, reconciliation, logger }) => {
      const findingId = parseUuidArgument(input.id, 'input.id', 'a finding', 'INVALID_FINDING_ID');
      const note = parseNote(input.note, input.action);
      const key = parseIdempotencyKey(input.idempotencyKey, 'input.idempotencyKey');
      const action = input.action.toLowerCase() as 'adopt' | 'cancel' | 'dismiss';
      const actor = `staff:${viewer.id}`;
      const { response, isRepeat } = await runStaffAction(db, {
        viewer,
        key,
        operation: 'reconciliation_resolve_finding',
        canonicalInput: { id: findingId, action, note },
        work: async () => {
          const result = await reconciliation.resolveFinding({ findingId, action, note, actor });
          // Written at Stripe or in our records (whatever the error says): kept and audited, never given back.
          return { response: { findingId: result.finding?.id ?? null, orderId: result.orderId, error: result.error }, keep: result.changed || keeps(result.error) };
        },
        logger,
        audit: (result) => ({
          action: 'reconciliation.resolve_finding',
          targetType: 'reconciliation_finding',
          targetId: findingId,
          details: { action, note, order_id: result.orderId, error: result.error?.code ?? null },
        }),
      });
      if (!isRepeat) logger.info({ findingId, actor, action, error: response.error?.code }, 'finding resolved by staff');
      return {
        orphanedPayment: response.findingId ? await findFinding(db, response.findingId) : null,
        order: response.orderId ? await findOrder(db, response.orderId) : null,
        error: response.error,
        isRepeat,
      };
    }),
  },
  ReconciliationRunConnection: inheritAccess<ReconciliationRunConnectionResolvers>({
    nodes: (page) => page.rows,
    pageInfo: (page) => {
      const last = page.rows.at(-1);
      return { hasNextPage: page.hasNextPage, endCursor: last ? encodeCursor({ createdUs: last.started_us, id: last.id }) : null };
    },
  }),
  ReconciliationRun: inheritAccess<ReconciliationRunResolvers>({
    status: (run) => run.status.toUpperCase() as ReconciliationRunStatus,
    trigger: (run) => run.trigger.toUpperCase() as ReconciliationTrigger,
    startedAt: (run) => iso(run.started_at),
    finishedAt: (run) => isoOrNull(run.finished_at),
    durationMs: (run) => Math.max(0, (run.finished_at ? Date.parse(run.finished_at) : Date.now()) - Date.parse(run.started_at)),
    // A running pass writes its counters after each page; a counter it has not touched yet is 0.
    counters: (run) => ({ ...emptyCounters(), ...run.counters }),
  }),
  ReconciliationCounters: inheritAccess<ReconciliationCountersResolvers>({}),
  ReconciliationStatus: inheritAccess<ReconciliationStatusResolvers>({
    nextScheduledAt: (status) => isoOrNull(status.nextScheduledAt),
    openFindings: (status) => Object.values(status.openByKind).reduce((sum, count) => sum + (count ?? 0), 0),
    openFindingsByKind: (status) =>
      Object.entries(status.openByKind)
        .filter(([, count]) => (count ?? 0) > 0)
        .map(([kind, count]) => ({ kind: kind as OrphanedPaymentKind, count: count ?? 0 }))
        .sort((a, b) => (a.kind < b.kind ? -1 : 1)),
  }),
  OrphanedPaymentCount: inheritAccess({}),
  OrphanedPaymentConnection: inheritAccess<OrphanedPaymentConnectionResolvers>({
    nodes: (page) => page.rows,
    pageInfo: (page) => {
      const last = page.rows.at(-1);
      return { hasNextPage: page.hasNextPage, endCursor: last ? encodeCursor({ createdUs: last.first_seen_us, id: last.id }) : null };
    },
  }),
  OrphanedPayment: inheritAccess<OrphanedPaymentResolvers>({
    status: (finding) => finding.status.toUpperCase() as OrphanedPaymentStatus,
    stripeObjectId: (finding) => finding.stripe_object_id,
    stripeStatus: (finding) => finding.stripe_status,
    amount: (finding) => (finding.amount !== null && finding.currency ? { amount: Number(finding.amount), currency: finding.currency } : null),
    order: (finding, _args, { db }) => (finding.order_id ? findOrder(db, finding.order_id) : null),
    firstSeenAt: (finding) => iso(finding.first_seen_at),
    lastCheckedAt: (finding) => iso(finding.last_checked_at),
    // A resolved finding is never looked at again, whatever time its row kept.
    nextCheckAt: (finding) => (finding.status === 'open' ? isoOrNull(finding.next_check_at) : null),
    actions: (finding) => actionsFor(finding).map((action) => action.toUpperCase() as OrphanedPaymentAction),
    resolvedBy: (finding) => finding.resolved_by,
    resolvedAt: (finding) => isoOrNull(finding.resolved_at),
    details: (finding) => JSON.stringify(finding.details ?? {}, null, 2),
  }),
  SyncOrderPayload: inheritAccess({}),
  RunReconciliationPayload: inheritAccess({}),
  ResolveOrphanedPaymentPayload: inheritAccess({}),
  ReconciliationError: inheritAccess({}),
  // Reconciliation's re-check schedule of an order: staff only. A customer or storefront reading its
  // order has no use for the janitor's backoff, and how often we had to ask Stripe is an internal detail.
  Order: inheritAccess<OrderResolvers>({
    syncAttempts: allow(STAFF_ROLES, (order) => order.sync_attempts),
    lastSyncAt: allow(STAFF_ROLES, (order) => isoOrNull(order.last_sync_at)),
  }),
};
