import type { ReactNode } from 'react';
import { Link } from 'react-router';
import { ActionButton } from '../../../components/ActionButton';
import { Fields } from '../../../components/states';
import { formatDateTime } from '../../../lib/format';
import type { ReconciliationRun, ReconciliationStatus } from '../queries';
import { orphanedPaymentListUrl } from '../urls';
import { countersInWords, formatMs, kindInWords, TRIGGER_WORDS } from './words';

/** A run in a sentence: how it stands, when and why it started, how long it took, what it did. */
export function runInWords(run: ReconciliationRun): string {
  const started = `started ${formatDateTime(run.startedAt)} ${TRIGGER_WORDS[run.trigger] ?? run.trigger.toLowerCase()}`;
  switch (run.status) {
    case 'RUNNING':
      return `Running, ${started}, ${formatMs(run.durationMs)} so far: ${countersInWords(run.counters)}.`;
    case 'SUCCEEDED':
      return `Succeeded in ${formatMs(run.durationMs)}, ${started}: ${countersInWords(run.counters)}.`;
    case 'FAILED':
      return `Failed after ${formatMs(run.durationMs)}, ${started}: ${run.error ?? 'no reason recorded'}. Before it stopped: ${countersInWords(run.counters)}. The next pass starts from the same place.`;
  }
}

/** What Run reconciliation now is doing, from the view that owns the mutation and follows the run. */
export interface RunControl {
  pending: boolean;
  /** The press's failure, or the server's typed error, in words. */
  error: string | null;
  onConfirm: (idempotencyKey: string) => void;
  /** The run the press started (or joined), as last read: updated every second while RUNNING. */
  run: ReconciliationRun | null;
  /** False when a pass was already running and the press joined it. */
  started: boolean;
}

/** The Overview's Reconciliation panel: last and running pass, next scheduled one, open findings; the button for admins (`run`). */
export function ReconciliationPanel({ status, run }: { status: ReconciliationStatus; run: RunControl | null }) {
  const schedule: ReactNode = status.nextScheduledAt
    ? `${formatDateTime(status.nextScheduledAt)}${status.schedule ? ` (schedule ${status.schedule})` : ''}`
    : 'none: this server does not schedule the janitor (JOBS_ENABLED=false or RECONCILE_INTERVAL=off)';
  // The pass this admin started is followed below the button; the status's own running pass otherwise.
  const running = status.running && status.running.id !== run?.run?.id ? status.running : null;
  return (
    <section className="panel" aria-labelledby="reconciliation-heading">
      <h2 id="reconciliation-heading">Reconciliation</h2>
      <Fields
        rows={[
          ['Last run', status.lastRun ? runInWords(status.lastRun) : 'No pass has finished yet.'],
          ...(running ? [['Running now', runInWords(running)] as [string, ReactNode]] : []),
          ['Next scheduled run', schedule],
          [
            'Open findings',
            <div key="findings">
              {status.openFindings === 0 ? (
                'none'
              ) : (
                <Link to={orphanedPaymentListUrl()}>
                  {status.openFindings} open {status.openFindings === 1 ? 'finding' : 'findings'}
                </Link>
              )}
              {status.openFindingsByKind.length > 0 && (
                <ul className="kind-counts">
                  {status.openFindingsByKind.map((entry) => (
                    <li key={entry.kind}>
                      <Link to={orphanedPaymentListUrl({ kind: entry.kind })}>
                        {kindInWords(entry.kind)}: {entry.count}
                      </Link>
                    </li>
                  ))}
                </ul>
              )}
            </div>,
          ],
        ]}
      />
      {run && (
        <>
          <ActionButton
            label="Run reconciliation now"
            pendingLabel="Starting…"
            confirmTitle="Run a reconciliation pass now?"
            confirmBody="The janitor asks Stripe about provisional orders and unsettled attempts, adopts payments made at Stripe without a record here, and stores the events Stripe never delivered. It also acts at Stripe: it cancels PaymentIntents and expires Checkout Sessions our orders no longer want, and open ones without our record once they are older than RECONCILE_CANCEL_OPEN_ORPHANS_AFTER_HOURS. It does what a scheduled pass does; if a pass is already running, you follow that one."
            confirmLabel="Run now"
            pending={run.pending || run.run?.status === 'RUNNING'}
            error={run.error}
            onConfirm={run.onConfirm}
          />
          {/* Once the status shows the followed run as the last one, the Last run row says it all. */}
          {run.run && (run.run.status === 'RUNNING' || status.lastRun?.id !== run.run.id) && (
            <p className={`run-progress${run.run.status === 'FAILED' ? ' error-text' : ''}`} role="status" aria-live="polite">
              {!run.started && run.run.status === 'RUNNING' && 'A pass was already running; following it. '}
              {runInWords(run.run)}
            </p>
          )}
        </>
      )}
    </section>
  );
}
