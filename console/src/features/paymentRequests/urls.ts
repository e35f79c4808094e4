import { screenUrl } from '../../lib/urlState';

export const paymentRequestsPath = '/payment-requests';

/** The Payment requests screen's URL parameters: the status filter, and the open request. */
export const paymentRequestListParams = ['status'] as const;
export type PaymentRequestListUrlParams = Partial<Record<(typeof paymentRequestListParams)[number] | 'open', string>>;

export const paymentRequestListUrl = (params?: PaymentRequestListUrlParams) => screenUrl(paymentRequestsPath, params);
/** The Payment requests screen with one request open. */
export const paymentRequestUrl = (id: string) => paymentRequestListUrl({ open: id });
