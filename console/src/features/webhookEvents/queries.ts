import { queryOptions } from '@tanstack/react-query';
import { graphqlRequest } from '../../api/graphql';
import { type Connection, keysetListOptions, PAGE_SIZE } from '../../api/pagination';

export type WebhookEventStatus = 'RECEIVED' | 'APPLIED' | 'IGNORED' | 'FAILED';
export const WEBHOOK_EVENT_STATUSES: WebhookEventStatus[] = ['RECEIVED', 'APPLIED', 'IGNORED', 'FAILED'];

export interface WebhookEventFilter {
  status?: WebhookEventStatus;
  type?: string;
  objectId?: string;
}

export interface WebhookEventRow {
  id: string;
  type: string;
  objectType: string | null;
  objectId: string | null;
  created: string;
  livemode: boolean;
  status: WebhookEventStatus;
  attempts: number;
  lastError: string | null;
  outcome: string | null;
  receivedAt: string;
}

export interface WebhookEventDetail extends WebhookEventRow {
  apiVersion: string | null;
  ignoredReason: string | null;
  nextAttemptAt: string | null;
  appliedAt: string | null;
  failedAt: string | null;
  /** Null once retention dropped it (RETENTION_WEBHOOK_PAYLOAD_DAYS). */
  payload: string | null;
}

const ROW = 'id type objectType objectId created livemode status attempts lastError outcome receivedAt';
export const DETAIL_FIELDS = `${ROW} apiVersion ignoredReason nextAttemptAt appliedAt failedAt payload`;

export const webhookEventKeys = {
  all: ['webhookEvents'] as const,
  list: (filter: WebhookEventFilter | undefined) => ['webhookEvents', 'list', filter ?? {}] as const,
  detail: (id: string) => ['webhookEvents', 'detail', id] as const,
};

export const webhookEventsListQuery = (filter: WebhookEventFilter | undefined) =>
  keysetListOptions(webhookEventKeys.list(filter), (after) =>
    graphqlRequest<{ webhookEvents: Connection<WebhookEventRow> }>(
      `query WebhookEvents($filter: WebhookEventFilter, $first: Int, $after: String) {
        webhookEvents(filter: $filter, first: $first, after: $after) { nodes { ${ROW} } pageInfo { hasNextPage endCursor } }
      }`,
      { filter, first: PAGE_SIZE, after },
    ).then((d) => d.webhookEvents),
  );

export const webhookEventDetailQuery = (id: string) =>
  queryOptions({
    queryKey: webhookEventKeys.detail(id),
    queryFn: () =>
      graphqlRequest<{ webhookEvent: WebhookEventDetail | null }>(`query WebhookEvent($id: ID!) { webhookEvent(id: $id) { ${DETAIL_FIELDS} } }`, { id }).then(
        (d) => d.webhookEvent,
      ),
  });
