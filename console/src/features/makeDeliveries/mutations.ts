import { useMutation, useQueryClient } from '@tanstack/react-query';
import { graphqlRequest } from '../../api/graphql';
import { type MakeDeliveryActionPayloadFragment, type MakeDeliveryDetailFragment, ReplayMakeDeliveryDocument, RetryMakeDeliveryDocument } from '../../api/generated/graphql';
import { makeDeliveryKeys } from './queries';

export type MakeDeliveryActionPayload = MakeDeliveryActionPayloadFragment;

export type MakeAction = 'retry' | 'replay';

type ErrorCode = NonNullable<MakeDeliveryActionPayload['error']>['code'];
const ERROR_WORDS: Record<ErrorCode, (action: MakeAction, delivery: MakeDeliveryDetailFragment | null) => string> = {
  MAKE_DELIVERY_NOT_FOUND: () => 'No delivery has this id any more.',
  MAKE_DELIVERY_WRONG_STATE: (action, delivery) =>
    action === 'retry'
      ? `Only a pending or dead delivery can be retried${delivery ? `; this one is now ${delivery.status.toLowerCase()}` : ''}.`
      : `Only a delivered or dead delivery can be replayed${delivery ? `; this one is now ${delivery.status.toLowerCase()}` : ''}.`,
};

export function makeActionErrorInWords(action: MakeAction, payload: MakeDeliveryActionPayload | undefined): string | null {
  if (!payload?.error) return null;
  return ERROR_WORDS[payload.error.code]?.(action, payload.delivery) ?? payload.error.message;
}

const SEND: Record<MakeAction, (input: { id: string; idempotencyKey: string }) => Promise<MakeDeliveryActionPayload>> = {
  retry: (input) => graphqlRequest(RetryMakeDeliveryDocument, { input }).then((d) => d.retryMakeDelivery),
  replay: (input) => graphqlRequest(ReplayMakeDeliveryDocument, { input }).then((d) => d.replayMakeDelivery),
};

/** Retry now or replay: support and admins. The key is one per press; a network blip is retried with the same key. */
export function useMakeDeliveryAction(action: MakeAction) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: SEND[action],
    retry: (failures, error) => failures < 2 && error instanceof TypeError,
    onSuccess: (payload) => {
      if (payload.delivery) queryClient.setQueryData(makeDeliveryKeys.detail(payload.delivery.id), payload.delivery);
    },
    onSettled: () =>
      Promise.all([
        queryClient.invalidateQueries({ queryKey: makeDeliveryKeys.all }),
        queryClient.invalidateQueries({ queryKey: ['makeStatus'] }),
        queryClient.invalidateQueries({ queryKey: ['opsOverview'] }),
      ]),
  });
}
