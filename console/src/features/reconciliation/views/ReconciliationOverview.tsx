import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { describeError } from '../../../api/graphql';
import { useIsAdmin } from '../../../auth/viewer';
import { ErrorState, Loading } from '../../../components/states';
import { ReconciliationPanel, type RunControl } from '../components/ReconciliationPanel';
import { reconciliationErrorInWords } from '../components/words';
import { useRunReconciliation } from '../mutations';
import { orphanedPaymentKeys, reconciliationKeys, reconciliationRunQuery, reconciliationStatusQuery } from '../queries';

/** The Overview's Reconciliation panel: fetches the janitor's status and, for admins, runs a pass and follows it to its end. */
export function ReconciliationOverview() {
  const status = useQuery(reconciliationStatusQuery);
  const run = useRunControl();
  if (status.isPending) return <Loading what="reconciliation" />;
  if (status.isError) return <ErrorState error={status.error} what="reconciliation" onRetry={() => void status.refetch()} />;
  return <ReconciliationPanel status={status.data} run={run} />;
}

/** Admins only (null for support, who see no button). */
function useRunControl(): RunControl | null {
  const isAdmin = useIsAdmin();
  const queryClient = useQueryClient();
  const mutation = useRunReconciliation();
  const [runId, setRunId] = useState<string | null>(null);
  const payload = mutation.data;
  useEffect(() => {
    if (payload?.run) setRunId(payload.run.id);
  }, [payload]);
  // Polled every second while RUNNING (reconciliationRunQuery), left alone once it finished.
  const followed = useQuery({ ...reconciliationRunQuery(runId ?? ''), enabled: Boolean(runId) });
  const finished = followed.data && followed.data.status !== 'RUNNING' ? followed.data.status : null;
  useEffect(() => {
    // Once the pass ends, the panel's last run, the open findings and the Overview's figures follow.
    if (finished) {
      void queryClient.invalidateQueries({ queryKey: reconciliationKeys.status });
      void queryClient.invalidateQueries({ queryKey: orphanedPaymentKeys.all });
      void queryClient.invalidateQueries({ queryKey: ['opsOverview'] });
    }
  }, [finished, queryClient]);
  if (!isAdmin) return null;
  return {
    pending: mutation.isPending,
    error: mutation.isError
      ? describeError(mutation.error)
      : (reconciliationErrorInWords(payload?.error) ?? (followed.isError ? `Could not follow the run: ${describeError(followed.error)}` : null)),
    onConfirm: (idempotencyKey) => mutation.mutate({ idempotencyKey }),
    run: followed.data ?? payload?.run ?? null,
    started: payload?.started ?? true,
  };
}
