import { screenUrl } from '../../lib/urlState';

export const paymentLogsPath = '/payment-logs';

/** The payment logs screen's URL parameters: the search box (a customer by email), the filters (days as YYYY-MM-DD), and the open row. */
export const paymentLogListParams = ['q', 'eventType', 'status', 'from', 'to'] as const;
export type PaymentLogListUrlParams = Partial<Record<(typeof paymentLogListParams)[number] | 'open', string>>;

export const paymentLogListUrl = (params?: PaymentLogListUrlParams) => screenUrl(paymentLogsPath, params);
