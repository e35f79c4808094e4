import { useMutation, useQueryClient } from '@tanstack/react-query';
import { graphqlRequest } from '../../api/graphql';
import { DETAIL_FIELDS, type WebhookEventDetail, webhookEventKeys } from './queries';

export const REPLAY_WEBHOOK_EVENT = `mutation ReplayWebhookEvent($id: ID!) { replayWebhookEvent(id: $id) { event { ${DETAIL_FIELDS} } error { code message } } }`;

export interface ReplayWebhookEventPayload {
  event: WebhookEventDetail | null;
  error: { code: 'WEBHOOK_EVENT_NOT_FOUND'; message: string } | null;
}

const ERROR_WORDS: Record<string, string> = {
  WEBHOOK_EVENT_NOT_FOUND: 'No stored event has this id any more, so there is nothing to replay.',
};

export function replayErrorInWords(error: ReplayWebhookEventPayload['error']): string | null {
  return error ? (ERROR_WORDS[error.code] ?? error.message) : null;
}

/**
 * Admin only. The schema's replayWebhookEvent takes no idempotency key (replaying an applied event is
 * a no-op in the applier), so the press's key is not sent; the button is disabled while in flight.
 */
export function useReplayWebhookEvent() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ id }: { id: string; idempotencyKey: string }) =>
      graphqlRequest<{ replayWebhookEvent: ReplayWebhookEventPayload }>(REPLAY_WEBHOOK_EVENT, { id }).then((d) => d.replayWebhookEvent),
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
