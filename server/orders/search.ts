// The staff search box, shared by the payment logs and orders lists: what was typed, told apart by
// its shape, becomes one order (by its id, its PaymentIntent or its Checkout Session) or one customer
// (by email).
import type { SqlParam } from '../platform/db/db';
import { isUuid } from '../platform/ids';

export type PaymentSearch =
  | { by: 'order'; orderId: string }
  | { by: 'payment_intent'; id: string }
  | { by: 'checkout_session'; id: string }
  | { by: 'email'; email: string };

/** What the search box accepts, for the error that refuses anything else. */
export const SEARCH_ACCEPTS = 'an order id, a PaymentIntent id (pi_…), a Checkout Session id (cs_…) or a customer email';

const EMAIL = /^[^@\s]+@[^@\s]+$/;
/** A Stripe id with the given prefix: `pi_` or `cs_` and at least one more character. */
const stripeId = (prefix: string, term: string) => term.startsWith(prefix) && /^[A-Za-z0-9_]{4,255}$/.test(term);

/** The search box's text as one of the four things it finds; null when it is none of them. */
export function parseSearch(text: string): PaymentSearch | null {
  const term = text.trim();
  if (isUuid(term)) return { by: 'order', orderId: term.toLowerCase() };
  if (stripeId('pi_', term)) return { by: 'payment_intent', id: term };
  if (stripeId('cs_', term)) return { by: 'checkout_session', id: term };
  if (EMAIL.test(term) && term.length <= 320) return { by: 'email', email: term };
  return null;
}

/**
 * A condition on a row's order and customer columns that holds for the rows the search finds. Each
 * branch starts from a unique id (or the customers' email index), so it narrows to a handful of rows
 * before the list's own index is read.
 */
export function searchCondition(search: PaymentSearch, columns: { orderId: string; customerId: string }, bind: (value: SqlParam) => string): string {
  switch (search.by) {
    case 'order':
      return `${columns.orderId} = ${bind(search.orderId)}::uuid`;
    case 'payment_intent': {
      const id = bind(search.id);
      // The order knows its PaymentIntent once paid; before that (or for a Checkout Session's), the
      // payment or the attempt that created it does.
      return `${columns.orderId} in (select id from orders where payment_intent_id = ${id}
                                     union select order_id from payments where stripe_payment_intent_id = ${id}
                                     union select order_id from payment_attempts where stripe_object_id = ${id})`;
    }
    case 'checkout_session': {
      const id = bind(search.id);
      return `${columns.orderId} in (select id from orders where checkout_session_id = ${id}
                                     union select order_id from payment_attempts where stripe_object_id = ${id})`;
    }
    case 'email':
      // `in`: besides the row that owns the email, accounts with an unverified email keep it too.
      return `${columns.customerId} in (select id from customers where lower(email) = lower(${bind(search.email)}))`;
  }
}
