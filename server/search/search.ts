// Search anywhere: the staff top bar's box. What was typed is told apart by its shape (an order id,
// an email, or a Stripe id by its prefix) before anything is read, and each shape is looked up through
// one unique index (or the customers' lower(email) index), so a search costs a few index reads however
// many rows are stored. Text that is none of these shapes reads nothing and finds nothing.
import { BadUserInputError } from '../platform/errors';
import { isUuid } from '../platform/ids';

export type SearchQueryKind =
  | 'ORDER_ID'
  | 'EMAIL'
  | 'PAYMENT_INTENT'
  | 'CHECKOUT_SESSION'
  | 'CHARGE'
  | 'REFUND'
  | 'DISPUTE'
  | 'WEBHOOK_EVENT'
  | 'SUBSCRIPTION'
  | 'INVOICE'
  | 'UNKNOWN';

export interface ParsedSearch {
  /** Trimmed; an order id lower-cased. */
  term: string;
  kind: SearchQueryKind;
}

export const MAX_SEARCH_LENGTH = 500;

const EMAIL = /^[^@\s]+@[^@\s]+$/;
// Stripe's ids: a prefix, an underscore, then letters, digits and underscores (cs_test_… has more).
const STRIPE_ID = /^([a-z]{2,3})_[A-Za-z0-9_]{1,250}$/;
const PREFIX_KINDS: Record<string, SearchQueryKind> = {
  pi: 'PAYMENT_INTENT',
  cs: 'CHECKOUT_SESSION',
  ch: 'CHARGE',
  py: 'CHARGE',
  re: 'REFUND',
  pyr: 'REFUND',
  dp: 'DISPUTE',
  du: 'DISPUTE',
  evt: 'WEBHOOK_EVENT',
  sub: 'SUBSCRIPTION',
  in: 'INVOICE',
};

// NUL, and a UTF-16 surrogate without its pair: PostgreSQL's text refuses both, and no person types them.
const NUL = /\u0000/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The query checked (BAD_USER_INPUT for text no person types) and told apart by its shape. */
export function parseSearchQuery(query: string): ParsedSearch {
  const refuse = (why: string, reason: string): never => {
    throw new BadUserInputError(`query ${why}`, { reason, field: 'query' });
  };
  if (query.length > MAX_SEARCH_LENGTH) refuse(`must be at most ${MAX_SEARCH_LENGTH} characters; got ${query.length}`, 'QUERY_TOO_LONG');
  if (NUL.test(query)) refuse('must not contain NUL characters', 'INVALID_QUERY');
  if (LONE_SURROGATE.test(query)) refuse('must be valid Unicode text (it has a lone surrogate)', 'INVALID_QUERY');
  const term = query.trim();
  if (isUuid(term)) return { term: term.toLowerCase(), kind: 'ORDER_ID' };
  const stripe = STRIPE_ID.exec(term);
  const stripeKind = stripe ? PREFIX_KINDS[stripe[1]!] : undefined;
  if (stripeKind) return { term, kind: stripeKind };
  if (EMAIL.test(term) && term.length <= 320) return { term, kind: 'EMAIL' };
  return { term, kind: 'UNKNOWN' };
}
