import { screenUrl } from '../../lib/urlState';

export const orphanedPaymentsPath = '/orphaned-payments';

/**
 * The Orphaned payments screen's URL parameters: the filters and the open finding. Without `status`
 * the screen shows open findings (what needs a person); `status=ALL` shows every status.
 */
export const orphanedPaymentListParams = ['status', 'kind'] as const;
export type OrphanedPaymentListUrlParams = Partial<Record<(typeof orphanedPaymentListParams)[number] | 'open', string>>;

/** `status` in the URL that means "any status" (its absence means open ones). */
export const ANY_STATUS = 'ALL';

export const orphanedPaymentListUrl = (params?: OrphanedPaymentListUrlParams) => screenUrl(orphanedPaymentsPath, params);
