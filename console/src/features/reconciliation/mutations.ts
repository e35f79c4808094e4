import { useMutation, useQueryClient } from '@tanstack/react-query';
import { graphqlRequest } from '../../api/graphql';
import { ResolveOrphanedPaymentDocument, type ResolveOrphanedPaymentMutation, RunReconciliationDocument, type RunReconciliationMutation } from '../../api/generated/graphql';
import { orderKeys } from '../orders/queries';
import { type OrphanedPaymentAction, orphanedPaymentKeys, reconciliationKeys } from './queries';

export type ResolveOrphanedPaymentPayload = ResolveOrphanedPaymentMutation['resolveOrphanedPayment'];
export type RunReconciliationPayload = RunReconciliationMutation['runReconciliation'];

// Only a network failure is retried, with the same key: the server acts once per press.
const retryNetworkBlip = (failures: number, error: Error) => failures < 2 && error instanceof TypeError;

/** Adopt, cancel or dismiss one finding: admins. One mutation per action, so each button keeps its own outcome. */
export function useResolveOrphanedPayment(action: OrphanedPaymentAction) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (input: { id: string; idempotencyKey: string; note?: string }) =>
      graphqlRequest(ResolveOrphanedPaymentDocument, { input: { ...input, action } }).then((d) => d.resolveOrphanedPayment),
    retry: retryNetworkBlip,
    onSuccess: (payload) => {
      if (payload.orphanedPayment) queryClient.setQueryData(orphanedPaymentKeys.detail(payload.orphanedPayment.id), payload.orphanedPayment);
    },
    onSettled: () =>
      Promise.all([
        queryClient.invalidateQueries({ queryKey: orphanedPaymentKeys.all }),
        queryClient.invalidateQueries({ queryKey: reconciliationKeys.all }),
        queryClient.invalidateQueries({ queryKey: orderKeys.all }),
        queryClient.invalidateQueries({ queryKey: ['opsOverview'] }),
      ]),
  });
}

/** Run reconciliation now: admins. Answers at once with the run RUNNING (or the one already running). */
export function useRunReconciliation() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (input: { idempotencyKey: string }) => graphqlRequest(RunReconciliationDocument, { input }).then((d) => d.runReconciliation),
    retry: retryNetworkBlip,
    onSuccess: (payload) => {
      if (payload.run) queryClient.setQueryData(reconciliationKeys.run(payload.run.id), payload.run);
    },
    onSettled: () => queryClient.invalidateQueries({ queryKey: reconciliationKeys.status }),
  });
}
