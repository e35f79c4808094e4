import { screenUrl } from '../../lib/urlState';

export const searchPath = '/search';
/** The matches of a query: where the box goes when there is not exactly one. */
export const searchUrl = (query: string) => screenUrl(searchPath, { q: query });

/** What the box takes, said where it is empty or found nothing. */
export const SEARCH_TAKES = 'an order id, a customer email, or a Stripe id (pi_, cs_, ch_, re_, du_, evt_, sub_, in_)';
