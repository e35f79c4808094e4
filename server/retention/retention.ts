// Retention (seed 001, issue 14): deletes what is kept no longer, table by table, in batches.
// The SQL lives in supabase/migrations/20261207000300_retention.sql: one function per table removes one
// batch older than a cut-off. Each call here is a statement of its own, so each batch is its own short
// transaction and never holds a long lock; the functions pick rows with SKIP LOCKED, so several
// processes (or pg_cron in the database) may run this at once. The cut-off is computed from an injected
// clock, so tests move time instead of waiting for it.
import type { Config } from '../config';
import type { Db, Queryable } from '../platform/db/db';
import type { Job } from '../platform/jobs/runner';
import type { Logger } from '../platform/observability/logger';

export type RetentionSettings = Config['retention'];
/** The limits of one run (the schedule is the runner's business). */
export type RetentionLimits = Omit<RetentionSettings, 'schedule' | 'overwriteSettings'>;

const DAY_MS = 86_400_000;

/** What each step removes, the SQL function that removes one batch of it, and its setting. */
export const RETENTION_STEPS = [
  { name: 'payment_logs', fn: 'retention_delete_payment_logs', days: (s: RetentionLimits) => s.paymentLogsDays },
  { name: 'idempotency_keys', fn: 'retention_delete_idempotency_keys', days: (s: RetentionLimits) => s.idempotencyKeysDays },
  { name: 'webhook_payloads', fn: 'retention_drop_webhook_payloads', days: (s: RetentionLimits) => s.webhookPayloadDays },
  { name: 'make_attempts', fn: 'retention_delete_make_attempts', days: (s: RetentionLimits) => s.makeAttemptsDays },
] as const;

export type RetentionStep = (typeof RETENTION_STEPS)[number]['name'];

export interface RetentionReport {
  /** Rows deleted (payloads dropped, for webhook_payloads) per step in this run. */
  removed: Record<RetentionStep, number>;
  /** The cut-off each step used: rows older than this went. */
  cutoffs: Record<RetentionStep, string>;
  /** Steps that failed (the others still ran), with the error. */
  failed: Partial<Record<RetentionStep, unknown>>;
  /** True when a shutdown stopped the run between batches; the next run carries on. */
  interrupted: boolean;
}

export interface RetentionDeps {
  db: Db;
  settings: RetentionLimits;
  logger: Logger;
  /** The clock the cut-offs are computed from (tests pass the sandbox clock). */
  now?: () => Date;
}

export class RetentionError extends Error {
  constructor(readonly report: RetentionReport) {
    super(`retention failed for ${Object.keys(report.failed).join(', ')}`, { cause: Object.values(report.failed)[0] });
    this.name = 'RetentionError';
  }
}

/**
 * One pass over every table. A failing step is logged and the others still run (one table's problem
 * must not keep the rest forever); the run then throws RetentionError so the job runner reports it.
 */
export async function runRetention(deps: RetentionDeps, signal?: AbortSignal): Promise<RetentionReport> {
  const now = (deps.now ?? (() => new Date()))().getTime();
  const { batchSize } = deps.settings;
  const report: RetentionReport = {
    removed: { payment_logs: 0, idempotency_keys: 0, webhook_payloads: 0, make_attempts: 0 },
    cutoffs: { payment_logs: '', idempotency_keys: '', webhook_payloads: '', make_attempts: '' },
    failed: {},
    interrupted: false,
  };
  for (const step of RETENTION_STEPS) {
    const cutoff = new Date(now - step.days(deps.settings) * DAY_MS).toISOString();
    report.cutoffs[step.name] = cutoff;
    try {
      for (;;) {
        if (signal?.aborted) {
          report.interrupted = true;
          break;
        }
        // step.fn is one of the constants above, never input; the values are bound.
        const { rows } = await deps.db.query<{ n: number }>(`select ${step.fn}($1::timestamptz, $2::integer) as n`, [cutoff, batchSize]);
        const n = rows[0]!.n;
        report.removed[step.name] += n;
        // Fewer than a batch: nothing older is left, or what is left is locked by another run.
        if (n < batchSize) break;
      }
    } catch (error) {
      report.failed[step.name] = error;
      deps.logger.error({ err: error, step: step.name, cutoff, removedBefore: report.removed[step.name] }, 'retention step failed');
    }
    if (report.interrupted) break;
  }
  deps.logger.info(
    { removed: report.removed, cutoffs: report.cutoffs, interrupted: report.interrupted || undefined },
    report.interrupted ? 'retention run stopped by shutdown' : 'retention run done',
  );
  if (Object.keys(report.failed).length > 0) throw new RetentionError(report);
  return report;
}

/**
 * Records limits in the database, where the pg_cron run (retention_run() with no arguments) reads
 * them: a schedule in the database keeps what the operator configured, not the migration's defaults.
 * At start a process seats them (seatRetentionSettings) rather than writing them unasked.
 */
export async function saveRetentionSettings(db: Queryable, limits: RetentionLimits): Promise<void> {
  await db.query(
    `insert into retention_settings (id, payment_logs_days, idempotency_keys_days, webhook_payload_days, make_attempts_days, batch_size, updated_at)
     values (true, $1, $2, $3, $4, $5, now())
     on conflict (id) do update set payment_logs_days = excluded.payment_logs_days, idempotency_keys_days = excluded.idempotency_keys_days,
       webhook_payload_days = excluded.webhook_payload_days, make_attempts_days = excluded.make_attempts_days,
       batch_size = excluded.batch_size, updated_at = excluded.updated_at`,
    [limits.paymentLogsDays, limits.idempotencyKeysDays, limits.webhookPayloadDays, limits.makeAttemptsDays, limits.batchSize],
  );
}

/** The RETENTION_* variable of each limit, as the database's column names it. */
const LIMIT_VARIABLES = [
  { column: 'payment_logs_days', variable: 'RETENTION_PAYMENT_LOGS_DAYS', limit: (l: RetentionLimits) => l.paymentLogsDays },
  { column: 'idempotency_keys_days', variable: 'RETENTION_IDEMPOTENCY_KEYS_DAYS', limit: (l: RetentionLimits) => l.idempotencyKeysDays },
  { column: 'webhook_payload_days', variable: 'RETENTION_WEBHOOK_PAYLOAD_DAYS', limit: (l: RetentionLimits) => l.webhookPayloadDays },
  { column: 'make_attempts_days', variable: 'RETENTION_MAKE_ATTEMPTS_DAYS', limit: (l: RetentionLimits) => l.makeAttemptsDays },
  { column: 'batch_size', variable: 'RETENTION_BATCH_SIZE', limit: (l: RetentionLimits) => l.batchSize },
] as const;

/** This process's RETENTION_* differ from the limits another process wrote: it must not start. */
export class RetentionSettingsDisagreeError extends Error {
  constructor(readonly variables: string[]) {
    super(
      `${variables.join(', ')} differs from the retention settings in the database (another process's, which pg_cron's run reads): ` +
        'set the same RETENTION_* in every process that runs jobs, or start one process once with RETENTION_SETTINGS_OVERWRITE=true to replace them',
    );
    this.name = 'RetentionSettingsDisagreeError';
  }
}

/**
 * Seats this process's limits as Make routes are (server/make/routes.ts): written when the database
 * holds none; when it holds others, refused unless told to overwrite. Several job processes on one
 * database used to each write theirs at start, the last one winning. One transaction holding the
 * table's lock, so two processes starting at once cannot both see none and both write.
 */
export async function seatRetentionSettings(db: Db, limits: RetentionLimits, options: { overwrite: boolean }): Promise<'first' | 'same' | 'overwritten'> {
  return db.transaction(async (tx) => {
    await tx.query('lock table retention_settings in share row exclusive mode');
    const { rows } = await tx.query<Record<string, number>>(`select ${LIMIT_VARIABLES.map((v) => v.column).join(', ')} from retention_settings`);
    const stored = rows[0];
    if (stored) {
      const differing = LIMIT_VARIABLES.filter((v) => Number(stored[v.column]) !== v.limit(limits)).map((v) => v.variable);
      if (differing.length === 0) return 'same';
      if (!options.overwrite) throw new RetentionSettingsDisagreeError(differing);
    }
    await saveRetentionSettings(tx, limits);
    return stored ? 'overwritten' : 'first';
  });
}

/** The job the server's runner schedules (server/compose.ts); undefined when RETENTION_SCHEDULE=off. */
export function retentionJob(deps: RetentionDeps & { settings: RetentionLimits & Pick<RetentionSettings, 'schedule'> }): Job | undefined {
  const { schedule } = deps.settings;
  if (!schedule) return undefined;
  return { name: 'retention', schedule, run: (signal) => runRetention(deps, signal).then(() => undefined) };
}
