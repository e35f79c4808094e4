// The alert job: every minute it evaluates the alert conditions (alerts.ts) and records them in the
// ops_alerts table every process shares. An alert that starts to hold is logged as a warning and sent
// to Sentry once per onset, with a fingerprint per alert code so that Sentry groups its onsets in one
// issue and its alert rules can notify. An alert that stops holding is logged (info) and nothing is
// sent to Sentry: the SDK cannot resolve an issue, and a "resolved" message would be one more event
// of the same issue, which an "issue seen N times" rule would count as a new problem. The next onset
// after a resolution is sent again (a regression, if the issue was resolved in Sentry meanwhile).
//
// Several processes run this job at once against one database: the evaluation reads the figures and
// records the outcome in one transaction under an advisory lock, so the first process to see an
// onset records and sends it, and another, finding the lock taken, skips that minute (the holder's
// figures are as fresh as its own). Sending happens after the commit, so a crash between the two
// loses that one message (the console's banner still shows the alert); it is never sent twice.
import type { Db } from '../platform/db/db';
import type { Job } from '../platform/jobs/runner';
import type { Logger } from '../platform/observability/logger';
import { captureAlert } from '../platform/observability/sentry';
import { type AlertEvaluation, alertFigures, evaluateAlerts } from './alerts';

/** Every minute, at second 0 (croner syntax with seconds). */
export const ALERTS_JOB_SCHEDULE = '0 * * * * *';
export const ALERTS_JOB_NAME = 'ops-alerts';
/** An arbitrary constant (not the migration runner's): serialises evaluations across processes. */
const ALERTS_LOCK_KEY = 7_305_120_400;

export interface AlertOnset extends AlertEvaluation {
  since: Date;
}

export type AlertMonitorResult =
  | { outcome: 'evaluated'; onsets: AlertOnset[]; resolved: AlertEvaluation[]; holding: AlertEvaluation[] }
  /** Another process was evaluating at that moment. */
  | { outcome: 'skipped' };

export interface AlertMonitor {
  evaluate: () => Promise<AlertMonitorResult>;
  job: Job;
}

export function createAlertMonitor(options: {
  db: Db;
  logger: Logger;
  /** Where an onset goes besides the log; Sentry by default (a no-op without SENTRY_DSN). */
  notify?: (onset: AlertOnset) => void;
}): AlertMonitor {
  const { db, logger, notify = captureAlert } = options;

  async function evaluate(): Promise<AlertMonitorResult> {
    const result = await db.transaction(async (tx) => {
      const { rows } = await tx.query<{ locked: boolean }>('select pg_try_advisory_xact_lock($1) as locked', [ALERTS_LOCK_KEY]);
      if (!rows[0]!.locked) return undefined;
      // Read under the lock: an evaluation that started earlier cannot record older figures after ours.
      const evaluations = evaluateAlerts(await alertFigures(tx));
      const changes = await tx.query<{ alert_code: string; change: 'onset' | 'resolved'; held_since: Date | null }>(
        'select alert_code, change, held_since from ops_alerts_record($1::jsonb)',
        [JSON.stringify(evaluations.map(({ code, holding, message, figures }) => ({ code, holding, message, figures })))],
      );
      return { evaluations, changes: changes.rows };
    });
    if (!result) return { outcome: 'skipped' };

    const byCode = new Map(result.evaluations.map((e) => [e.code as string, e]));
    const onsets: AlertOnset[] = [];
    const resolved: AlertEvaluation[] = [];
    for (const change of result.changes) {
      const evaluation = byCode.get(change.alert_code)!;
      if (change.change === 'onset') onsets.push({ ...evaluation, since: new Date(change.held_since!) });
      else resolved.push(evaluation);
    }
    for (const onset of onsets) {
      logger.warn({ alert: onset.code, figures: onset.figures }, `alert holds: ${onset.title}. ${onset.message}`);
      try {
        notify(onset);
      } catch (error) {
        // The onset is recorded; a failing notifier must not make the job retry and send the others twice.
        logger.error({ err: error, alert: onset.code }, 'could not send the alert');
      }
    }
    for (const alert of resolved) logger.info({ alert: alert.code, figures: alert.figures }, `alert resolved: ${alert.title}. ${alert.message}`);
    return { outcome: 'evaluated', onsets, resolved, holding: result.evaluations.filter((e) => e.holding) };
  }

  return {
    evaluate,
    job: { name: ALERTS_JOB_NAME, schedule: ALERTS_JOB_SCHEDULE, run: () => evaluate().then(() => undefined) },
  };
}
