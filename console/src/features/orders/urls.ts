import { screenUrl } from '../../lib/urlState';

export const ordersPath = '/orders';

/** The orders screen's URL parameters: the search box, the two filters, and the open order. */
export const orderListParams = ['q', 'status', 'syncState'] as const;
export type OrderListUrlParams = Partial<Record<(typeof orderListParams)[number] | 'open', string>>;

export const orderListUrl = (params?: OrderListUrlParams) => screenUrl(ordersPath, params);
/** The orders screen with one order open. */
export const orderUrl = (id: string) => orderListUrl({ open: id });

/** The order's own page (issue 22): its header, actions and timeline. */
export const orderPagePath = '/orders/:id';
export const orderPageUrl = (id: string) => `${ordersPath}/${encodeURIComponent(id)}`;
