import { useMutation, useQueryClient } from '@tanstack/react-query';
import { graphqlRequest } from '../../api/graphql';
import { type RefundPaymentInput, RefundPaymentDocument, type RefundPaymentMutation, SyncOrderDocument, type SyncOrderMutation } from '../../api/generated/graphql';
import { humanize } from '../../lib/format';
import { orderKeys } from './queries';

export type SyncOrderPayload = SyncOrderMutation['syncOrder'];

const SYNC_ERROR_WORDS: Partial<Record<NonNullable<SyncOrderPayload['error']>['code'], string>> = {
  ORDER_NOT_FOUND: 'No order has this id any more.',
  PAYMENT_PROVIDER_UNAVAILABLE: 'Stripe could not be reached; nothing changed. Try again in a moment.',
};

/** What a sync found, in words: SYNCED and UNCHANGED as success, FAILED (or a typed error) as the error. */
export function syncOutcomeInWords(payload: SyncOrderPayload | undefined): { success: string | null; error: string | null } {
  if (!payload) return { success: null, error: null };
  const repeat = payload.isRepeat ? ' (already asked for this press)' : '';
  if (payload.error && payload.outcome === 'SYNCED') {
    // Something was applied before the error (Stripe went away mid-sync): not "nothing changed".
    return { success: null, error: `${payload.error.message} The order is now ${humanize(payload.order?.status).toLowerCase()}.` };
  }
  if (payload.error || payload.outcome === 'FAILED') {
    const known = payload.error ? SYNC_ERROR_WORDS[payload.error.code] : undefined;
    // The server's sentence says what Stripe or our records refused; ours only where it adds a next step.
    return { success: null, error: payload.error ? (known && known !== payload.error.message ? `${payload.error.message} ${known}` : payload.error.message) : 'The sync failed.' };
  }
  if (payload.outcome === 'SYNCED') return { success: `Stripe had news: the order is now ${humanize(payload.order?.status).toLowerCase()}${repeat}.`, error: null };
  return { success: `Already in line with Stripe${repeat}.`, error: null };
}

/** Sync with Stripe: support and admins. One key per press; a network blip is retried with the same key. */
export function useSyncOrder() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (input: { orderId: string; idempotencyKey: string }) => graphqlRequest(SyncOrderDocument, { input }).then((d) => d.syncOrder),
    retry: (failures, error) => failures < 2 && error instanceof TypeError,
    onSuccess: (payload) => {
      if (payload.order) queryClient.setQueryData(orderKeys.detail(payload.order.id), payload.order);
    },
    onSettled: () =>
      Promise.all([
        queryClient.invalidateQueries({ queryKey: orderKeys.all }),
        queryClient.invalidateQueries({ queryKey: ['reconciliation'] }),
        queryClient.invalidateQueries({ queryKey: ['opsOverview'] }),
      ]),
  });
}

export type RefundPaymentPayload = RefundPaymentMutation['refundPayment'];

/**
 * Refund… (admins). The key comes from the press (the dialog); a network failure is retried with it,
 * so a refund is made once however often the request arrives.
 */
export function useRefundPayment() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (input: RefundPaymentInput) => graphqlRequest(RefundPaymentDocument, { input }).then((d) => d.refundPayment),
    retry: (failures, error) => failures < 2 && error instanceof TypeError,
    onSuccess: (payload) => {
      if (payload.order) queryClient.setQueryData(orderKeys.detail(payload.order.id), payload.order);
    },
    onSettled: () =>
      Promise.all([
        queryClient.invalidateQueries({ queryKey: orderKeys.all }),
        queryClient.invalidateQueries({ queryKey: ['disputes'] }),
        queryClient.invalidateQueries({ queryKey: ['opsOverview'] }),
        // The order may be a payment request's share: its member and request show what was refunded.
        queryClient.invalidateQueries({ queryKey: ['paymentRequests'] }),
      ]),
  });
}
