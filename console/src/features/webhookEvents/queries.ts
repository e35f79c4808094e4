import { queryOptions } from '@tanstack/react-query';
import { graphqlRequest } from '../../api/graphql';
import { WebhookEventDocument, type WebhookEventRowFragment, WebhookEventsDocument, type WebhookEventsQueryVariables } from '../../api/generated/graphql';
import { keysetListOptions, PAGE_SIZE } from '../../api/pagination';
import { WebhookEventStatusValues } from '../../api/generated/enums';

export type { WebhookEventDetailFragment as WebhookEventDetail, WebhookEventRowFragment as WebhookEventRow } from '../../api/generated/graphql';

export type WebhookEventStatus = WebhookEventRowFragment['status'];
/** The filter's menu: the schema's values, generated (api/generated/enums.ts). */
export const WEBHOOK_EVENT_STATUSES = WebhookEventStatusValues;

export type WebhookEventFilter = NonNullable<WebhookEventsQueryVariables['filter']>;

export const webhookEventKeys = {
  all: ['webhookEvents'] as const,
  list: (filter: WebhookEventFilter | undefined) => ['webhookEvents', 'list', filter ?? {}] as const,
  detail: (id: string) => ['webhookEvents', 'detail', id] as const,
};

export const webhookEventsListQuery = (filter: WebhookEventFilter | undefined) =>
  keysetListOptions(webhookEventKeys.list(filter), (after) =>
    graphqlRequest(WebhookEventsDocument, { filter, first: PAGE_SIZE, after }).then((d) => d.webhookEvents),
  );

export const webhookEventDetailQuery = (id: string) =>
  queryOptions({
    queryKey: webhookEventKeys.detail(id),
    queryFn: () => graphqlRequest(WebhookEventDocument, { id }).then((d) => d.webhookEvent),
  });
