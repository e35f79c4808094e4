// Reconciliation as the API, the CLI and the console's buttons use it (issue 17): a pass started in the
// background, one order synced now, a finding settled by staff, and the janitor's state. The GraphQL
// resolvers (server/api/graphql/resolvers/reconciliation.ts) add idempotency keys and the audit log
// around these calls; what is here does the work once per call.
//
// CONTRACT: the types below are fixed; createReconciliation() is being implemented.
import type { FindingKind, FindingRow, RunCounters, RunRow } from './reconcile.sql';
import type { ReconcileDeps } from './janitor';

export type FindingAction = 'adopt' | 'cancel' | 'dismiss';

export type ReconciliationErrorCode =
  | 'ORDER_NOT_FOUND'
  | 'ORPHAN_NOT_FOUND'
  | 'ORPHAN_WRONG_STATE'
  | 'ORPHAN_ALREADY_PAID'
  | 'AMOUNT_MISMATCH'
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
