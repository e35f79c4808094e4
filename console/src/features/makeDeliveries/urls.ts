import { screenUrl } from '../../lib/urlState';

export const makeDeliveriesPath = '/make-deliveries';

/** The Make deliveries screen's URL parameters: the filters and the open delivery. */
export const makeDeliveryListParams = ['status', 'kind'] as const;
export type MakeDeliveryListUrlParams = Partial<Record<(typeof makeDeliveryListParams)[number] | 'open', string>>;

export const makeDeliveryListUrl = (params?: MakeDeliveryListUrlParams) => screenUrl(makeDeliveriesPath, params);
