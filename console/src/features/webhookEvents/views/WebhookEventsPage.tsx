import { describeError } from '../../../api/graphql';
import { useIsAdmin } from '../../../auth/viewer';
import { enumOptions, type FilterField } from '../../../components/FilterBar';
import { ListPage } from '../../../components/ListPage';
import { useListScreen } from '../../../lib/listScreen';
import { compact } from '../../../lib/urlState';
import { webhookEventColumns } from '../components/WebhookEventColumns';
import { WebhookEventDetail } from '../components/WebhookEventDetail';
import { replayErrorInWords, useReplayWebhookEvent } from '../mutations';
import { WEBHOOK_EVENT_STATUSES, type WebhookEventDetail as WebhookEvent, type WebhookEventFilter, webhookEventDetailQuery, webhookEventsListQuery } from '../queries';
import { webhookEventListParams } from '../urls';

const FILTERS: FilterField[] = [
  { name: 'status', label: 'Status', kind: 'select', options: enumOptions(WEBHOOK_EVENT_STATUSES) },
  { name: 'type', label: 'Event type', kind: 'text', placeholder: 'payment_intent.succeeded' },
  { name: 'objectId', label: 'Object id', kind: 'text', placeholder: 'pi_…' },
];

export function WebhookEventsPage() {
  const screen = useListScreen({
    params: webhookEventListParams,
    filter: (values) => compact(values) as WebhookEventFilter | undefined,
    listQuery: webhookEventsListQuery,
    detailQuery: webhookEventDetailQuery,
  });
  const { filter, url } = screen;
  return (
    <ListPage
      title="Webhook events"
      description="Stripe events as our endpoint stored them, newest first, and what the applier made of each."
      what="webhook events"
      empty={filter ? 'No webhook events match these filters.' : 'No webhook events have been received yet.'}
      screen={screen}
      filterFields={FILTERS}
      columns={webhookEventColumns}
      detail={{
        title: `Event ${url.open}`,
        what: 'the event',
        notFound: `No stored event has the id ${url.open}.`,
        children: (event) => <ReplayableEvent event={event} />,
      }}
    />
  );
}

/** The open event with its replay (admins only); the panel is made afresh per event, so is the replay's outcome. */
function ReplayableEvent({ event }: { event: WebhookEvent }) {
  const isAdmin = useIsAdmin();
  const replay = useReplayWebhookEvent();
  const control = {
    pending: replay.isPending,
    error: replay.isError ? describeError(replay.error) : replayErrorInWords(replay.data?.error ?? null),
    success: replay.data?.event ? `Replayed: the event is now ${replay.data.event.status.toLowerCase()}.` : null,
    onConfirm: (idempotencyKey: string) => replay.mutate({ id: event.id, idempotencyKey }),
  };
  return <WebhookEventDetail event={event} replay={isAdmin ? control : null} />;
}
