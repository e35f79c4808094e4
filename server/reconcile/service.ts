// Reconciliation as the API, the CLI and the console's buttons use it (issue 17): a pass started in the
// background, one order synced now, a finding settled by staff, and the janitor's state. The GraphQL
// resolvers (server/api/graphql/resolvers/reconciliation.ts) add idempotency keys and the audit log
// around these calls; what is here does the work once per call.
//
// The types below are the contract the resolvers are written against; createReconciliation() (at the
// end) implements it, with syncOrder.ts and findings.ts beside it.
import { Cron } from 'croner';
import type { FindingKind, FindingRow, RunCounters, RunRow } from './reconcile.sql';
import { claimRun, type ReconcileDeps, runPass } from './janitor';
import { syncOrder } from './syncOrder';
import { resolveFinding } from './findings';
import { actionsFor } from './actions';

export type FindingAction = 'adopt' | 'cancel' | 'dismiss';

export type ReconciliationErrorCode =
  | 'ORDER_NOT_FOUND'
  | 'ORPHAN_NOT_FOUND'
  | 'ORPHAN_WRONG_STATE'
  | 'ORPHAN_ALREADY_PAID'
  | 'AMOUNT_MISMATCH'
  | 'DUPLICATE_PAYMENT'
  | 'STRIPE_OBJECT_NOT_FOUND'
  | 'PAYMENT_PROVIDER_UNAVAILABLE';

export interface ReconciliationError {
  code: ReconciliationErrorCode;
  /** In words for staff: what happened and what to do. Never a secret or a stack. */
  message: string;
}

export interface StartPassRequest {
  trigger: 'manual' | 'cli';
  /** staff:<user id>, or cli:<operator>. */
  actor: string;
  /** Widens steps 3 and 4 back to this time (already checked: at most 30 days ago, not in the future). */
  since?: Date;
}

export interface SyncOrderResult {
  /** SYNCED: the order or one of its attempts changed; UNCHANGED: Stripe said what we had (or nothing to ask); FAILED: see error. */
  outcome: 'SYNCED' | 'UNCHANGED' | 'FAILED';
  /** The order's id when it exists (the resolver reads it back through the usual order loader). */
  orderId: string | null;
  error: ReconciliationError | null;
}

export interface ResolveFindingRequest {
  findingId: string;
  action: FindingAction;
  /** Required for dismiss (the resolver checks it), optional otherwise; up to 1,000 characters. */
  note: string | null;
  /** staff:<user id>. */
  actor: string;
}

export interface ResolveFindingResult {
  /** The finding after the action; null only with ORPHAN_NOT_FOUND. */
  finding: FindingRow | null;
  /** The order the payment is recorded on, after adopt. */
  orderId: string | null;
  /** Something was written at Stripe or in our records (cancelled, adopted): kept and audited, whatever the error says. */
  changed: boolean;
  error: ReconciliationError | null;
}

export interface ReconciliationStatus {
  running: RunRow | null;
  lastRun: RunRow | null;
  /** The cron pattern this process schedules the janitor with; null when it does not. */
  schedule: string | null;
  nextScheduledAt: Date | null;
  openByKind: Partial<Record<FindingKind, number>>;
}

export interface Reconciliation {
  /**
   * Claims the one running pass and returns its row at once (started: true) while the pass goes on in
   * the background; when a pass is already running anywhere on this database, that one (started: false).
   */
  start(request: StartPassRequest): Promise<{ started: boolean; run: RunRow }>;
  /** Resolves when the passes this process started in the background have ended (tests, the CLI). */
  idle(): Promise<void>;
  /** Shutdown: the background passes stop between items (their runs fail, cursors untouched) and are awaited. */
  stop(): Promise<void>;
  /** Asks Stripe about every attempt of the order now and applies what it says (source janitor, actor given). */
  syncOrder(request: { orderId: string; actor: string }): Promise<SyncOrderResult>;
  /** Settles one open finding by a staff member's action. */
  resolveFinding(request: ResolveFindingRequest): Promise<ResolveFindingResult>;
  status(): Promise<ReconciliationStatus>;
}

export type { FindingKind, FindingRow, RunCounters, RunRow, ReconcileDeps };
export { actionsFor };

export function createReconciliation(deps: ReconcileDeps): Reconciliation {
  // The passes this process started in the background, each with the controller that stops it.
  const passes = new Map<Promise<unknown>, AbortController>();
  let stopped = false;

  return {
    async start(request) {
      if (stopped) throw new Error('the server is shutting down: no pass starts now');
      const begun = await claimRun(deps, request);
      if (begun.busy) return { started: false, run: begun.run };
      const controller = new AbortController();
      // runPass ends the row succeeded or failed itself; only a database lost mid-way rejects, and the
      // row is then recorded failed before this process's next pass (claimRun).
      const pass: Promise<unknown> = runPass(deps, begun.run, { since: request.since, signal: controller.signal })
        .catch((error: unknown) => deps.logger.error({ err: error, runId: begun.run.id }, 'reconciliation pass could not record its end'))
        .finally(() => passes.delete(pass));
      passes.set(pass, controller);
      return { started: true, run: begun.run };
    },
    async idle() {
      while (passes.size > 0) await Promise.all(passes.keys());
    },
    async stop() {
      stopped = true;
      for (const controller of passes.values()) controller.abort();
      while (passes.size > 0) await Promise.all(passes.keys());
    },
    syncOrder: (request) => syncOrder(deps, request),
    resolveFinding: (request) => resolveFinding(deps, request),
    status: () => status(deps),
  };
}

async function status(deps: ReconcileDeps): Promise<ReconciliationStatus> {
  const [running, last, open] = await Promise.all([
    deps.db.query<{ r: RunRow }>(`select to_jsonb(r) as r from reconciliation_runs r where status = 'running' limit 1`),
    deps.db.query<{ r: RunRow }>(`select to_jsonb(r) as r from reconciliation_runs r where status <> 'running' order by finished_at desc nulls last, id desc limit 1`),
    deps.db.query<{ kind: FindingKind; n: number }>(`select kind, count(*)::int as n from reconciliation_findings where status = 'open' group by kind`),
  ]);
  const schedule = deps.schedulesJobs ? (deps.settings.schedule ?? null) : null;
  // paused: only asked for its next time, never run (the job runner schedules the real one).
  const nextScheduledAt = schedule ? new Cron(schedule, { paused: true }).nextRun() : null;
  return {
    running: running.rows[0]?.r ?? null,
    lastRun: last.rows[0]?.r ?? null,
    schedule,
    nextScheduledAt,
    openByKind: Object.fromEntries(open.rows.map((row) => [row.kind, row.n])),
  };
}
