import { useMutation, useQueryClient } from '@tanstack/react-query';
import { graphqlRequest } from '../../api/graphql';
import { ReplayWebhookEventDocument, type ReplayWebhookEventMutation } from '../../api/generated/graphql';
import { webhookEventKeys } from './queries';

/** The document as text, for callers outside the console (the browser tests send it themselves). */
export const REPLAY_WEBHOOK_EVENT = ReplayWebhookEventDocument.toString();

export type ReplayWebhookEventPayload = ReplayWebhookEventMutation['replayWebhookEvent'];

const ERROR_WORDS: Record<NonNullable<ReplayWebhookEventPayload['error']>['code'], string> = {
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
      graphqlRequest(ReplayWebhookEventDocument, { input: { id, idempotencyKey } }).then((d) => d.replayWebhookEvent),
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
