import { screenUrl } from '../../lib/urlState';

export const disputesPath = '/disputes';

/**
 * The Disputes screen's URL parameters: `status`, and `due=soon` for open disputes whose evidence is
 * due within 72 hours (the Overview's tile links there).
 */
export const disputeListParams = ['status', 'due'] as const;
export type DisputeListUrlParams = Partial<Record<(typeof disputeListParams)[number] | 'open', string>>;

export const DUE_SOON = 'soon';

export const disputeListUrl = (params?: DisputeListUrlParams) => screenUrl(disputesPath, params);
/** The Disputes screen with one dispute open (search and the order timeline link there). */
export const disputeUrl = (id: string) => disputeListUrl({ open: id });
