import { screenUrl } from '../../lib/urlState';

export const subscriptionsPath = '/subscriptions';

/** The Subscriptions screen's URL parameters: the three filters, and the open subscription. */
export const subscriptionListParams = ['status', 'track', 'customer'] as const;
export type SubscriptionListUrlParams = Partial<Record<(typeof subscriptionListParams)[number] | 'open', string>>;

export const subscriptionListUrl = (params?: SubscriptionListUrlParams) => screenUrl(subscriptionsPath, params);
/** The Subscriptions screen with one subscription open. */
export const subscriptionUrl = (id: string) => subscriptionListUrl({ open: id });
