import { screenUrl } from '../../lib/urlState';

export const customersPath = '/customers';

/** The customer page: by our customer id, or by email where only the email is at hand (a payment log row). */
export const customerPagePath = '/customers/:id';
export const customerPageUrl = (idOrEmail: string) => `${customersPath}/${encodeURIComponent(idOrEmail)}`;

/** An email is told from our ids (UUIDs) by its @. */
export const isEmail = (idOrEmail: string) => idOrEmail.includes('@');

export { screenUrl };
