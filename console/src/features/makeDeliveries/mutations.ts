import { useMutation, useQueryClient } from '@tanstack/react-query';
import { graphqlRequest } from '../../api/graphql';
import { MAKE_DETAIL_FIELDS, type MakeDeliveryDetail, makeDeliveryKeys } from './queries';

export interface MakeDeliveryActionPayload {
  delivery: MakeDeliveryDetail | null;
  error: { code: 'MAKE_DELIVERY_NOT_FOUND' | 'MAKE_DELIVERY_WRONG_STATE'; message: string } | null;
  replayed: boolean;
}

export type MakeAction = 'retry' | 'replay';

const ERROR_WORDS: Record<string, (action: MakeAction, delivery: MakeDeliveryDetail | null) => string> = {
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

export const MUTATIONS: Record<MakeAction, string> = {
  retry: `mutation RetryMakeDelivery($input: MakeDeliveryActionInput!) {
    retryMakeDelivery(input: $input) { delivery { ${MAKE_DETAIL_FIELDS} } error { code message } replayed }
  }`,
  replay: `mutation ReplayMakeDelivery($input: MakeDeliveryActionInput!) {
    replayMakeDelivery(input: $input) { delivery { ${MAKE_DETAIL_FIELDS} } error { code message } replayed }
  }`,
};

/** Retry now or replay: support and admins. The key is one per press; a network blip is retried with the same key. */
export function useMakeDeliveryAction(action: MakeAction) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ id, idempotencyKey }: { id: string; idempotencyKey: string }) =>
      graphqlRequest<Record<string, MakeDeliveryActionPayload>>(MUTATIONS[action], { input: { id, idempotencyKey } }).then(
        (d) => d[action === 'retry' ? 'retryMakeDelivery' : 'replayMakeDelivery']!,
      ),
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
