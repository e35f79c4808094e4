import { useMutation, useQueryClient } from '@tanstack/react-query';
import {
  CancelPaymentRequestDocument,
  type CancelPaymentRequestMutation,
  type PaymentRequestActionInput,
  RemindPaymentRequestMembersDocument,
} from '../../api/generated/graphql';
import { graphqlRequest } from '../../api/graphql';
import { paymentRequestKeys } from './queries';

/** Both actions answer the request after, a typed error and isRepeat; a reminder also how many it reached. */
export type PaymentRequestActionPayload = CancelPaymentRequestMutation['cancelPaymentRequest'] & { reminded?: number };
export type PaymentRequestError = NonNullable<PaymentRequestActionPayload['error']>;
export type PaymentRequestAction = 'cancel' | 'remind';

function send(action: PaymentRequestAction, input: PaymentRequestActionInput): Promise<PaymentRequestActionPayload> {
  if (action === 'cancel') return graphqlRequest(CancelPaymentRequestDocument, { input }).then((d) => d.cancelPaymentRequest);
  return graphqlRequest(RemindPaymentRequestMembersDocument, { input }).then((d) => d.remindPaymentRequestMembers);
}

/**
 * Cancel request or Send reminders. The key comes from the press; a network failure is retried with
 * it, so the server acts once however often the request arrives. The open request shows the answer
 * at once, and the list (its status and progress) is read again.
 */
export function usePaymentRequestAction(action: PaymentRequestAction) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (input: PaymentRequestActionInput) => send(action, input),
    retry: (failures, error) => failures < 2 && error instanceof TypeError,
    onSuccess: (payload) => {
      if (payload.paymentRequest) queryClient.setQueryData(paymentRequestKeys.detail(payload.paymentRequest.id), payload.paymentRequest);
    },
    onSettled: () =>
      Promise.all([
        queryClient.invalidateQueries({ queryKey: paymentRequestKeys.all }),
        // A cancel closes the unpaid shares' orders; reminders are Make deliveries.
        queryClient.invalidateQueries({ queryKey: ['orders'] }),
        queryClient.invalidateQueries({ queryKey: ['makeDeliveries'] }),
        queryClient.invalidateQueries({ queryKey: ['paymentLogs'] }),
      ]),
  });
}
