import { useMutation, useQueryClient } from '@tanstack/react-query';
import { graphqlRequest } from '../../api/graphql';
import { DETAIL_FIELDS, type WebhookEventDetail, webhookEventKeys } from './queries';

export const REPLAY_WEBHOOK_EVENT = `mutation ReplayWebhookEvent($input: ReplayWebhookEventInput!) {
  replayWebhookEvent(input: $input) { event { ${DETAIL_FIELDS} } error { code message } replayed }
}`;

export interface ReplayWebhookEventPayload {
  event: WebhookEventDetail | null;
  error: { code: 'WEBHOOK_EVENT_NOT_FOUND' | 'WEBHOOK_EVENT_PAYLOAD_DROPPED'; message: string } | null;
  replayed: boolean;
}

const ERROR_WORDS: Record<string, string> = {
  WEBHOOK_EVENT_NOT_FOUND: 'No stored event has this id any more, so there is nothing to replay.',
  WEBHOOK_EVENT_PAYLOAD_DROPPED: "Retention dropped this event's payload, so it cannot be replayed.",
};

export function replayErrorInWords(error: ReplayWebhookEventPayload['error']): string | null {
  return error ? (ERROR_WORDS[error.code] ?? error.message) : null;
}

/** Admin only. The key is one per press; a network blip is retried with the same key, so the server replays once. */
export function useReplayWebhookEvent() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ id, idempotencyKey }: { id: string; idempotencyKey: string }) =>
      graphqlRequest<{ replayWebhookEvent: ReplayWebhookEventPayload }>(REPLAY_WEBHOOK_EVENT, { input: { id, idempotencyKey } }).then((d) => d.replayWebhookEvent),
    retry: (failures, error) => failures < 2 && error instanceof TypeError,
    onSuccess: (payload) => {
      if (payload.event) queryClient.setQueryData(webhookEventKeys.detail(payload.event.id), payload.event);
    },
    onSettled: () =>
      Promise.all([
        queryClient.invalidateQueries({ queryKey: webhookEventKeys.all }),
        queryClient.invalidateQueries({ queryKey: ['webhookStatus'] }),
        queryClient.invalidateQueries({ queryKey: ['opsOverview'] }),
      ]),
  });
}
