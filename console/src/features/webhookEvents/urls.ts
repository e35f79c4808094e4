import { screenUrl } from '../../lib/urlState';

export const webhookEventsPath = '/webhook-events';

/** The webhook events screen's URL parameters: the filters and the open event. */
export const webhookEventListParams = ['status', 'type', 'objectId'] as const;
export type WebhookEventListUrlParams = Partial<Record<(typeof webhookEventListParams)[number] | 'open', string>>;

export const webhookEventListUrl = (params?: WebhookEventListUrlParams) => screenUrl(webhookEventsPath, params);
