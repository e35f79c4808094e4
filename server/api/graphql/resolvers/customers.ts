// The customer page (issue 22): customer and customerByEmail, and the customer's staff-only fields
// (orders, subscriptions, payment requests, refunds, disputes, totals). Customer's id, email and name
// stay readable by whoever reaches the customer through an order; everything else is staff only.
import { STAFF_ROLES } from '../../../auth/viewer';
import {
  CUSTOMER_PAGE_LIMIT,
  type CustomerRow,
  type CustomerValue,
  customerPaymentSpan,
  customerTotals,
  findCustomer,
  findCustomerByEmail,
  ordersOfCustomer,
  paymentRequestIdsOfCustomer,
} from '../../../customers/customers.sql';
import { disputesOfCustomer } from '../../../disputes/read.sql';
import { findRequest } from '../../../paymentRequests/read.sql';
import type { Queryable } from '../../../platform/db/db';
import { BadUserInputError } from '../../../platform/errors';
import { UUID } from '../../../platform/ids';
import { refundsOfCustomer } from '../../../refunds/read.sql';
import { listSubscriptions } from '../../../subscriptions/read.sql';
import { allow, inheritAccess } from '../access';
import type { CustomerResolvers, Resolvers } from '../generated/resolvers-types';
import { parsePage } from '../pagination';
import { iso, parseUuidArgument } from '../values';

const EMAIL = /^[^@\s\u0000]+@[^@\s\u0000]+$/;

/** `email`: an address of at most 320 characters, or BAD_USER_INPUT before anything is read. */
function parseEmailArgument(email: string): string {
  const trimmed = email.trim();
  if (trimmed.length > 320 || !EMAIL.test(trimmed) || /[\uD800-\uDFFF]/.test(trimmed)) {
    throw new BadUserInputError('email must be an email address of at most 320 characters', { reason: 'INVALID_EMAIL', field: 'email' });
  }
  return trimmed;
}

// The parent may be an order's {id, email, name}: the page's own fields read the row when missing.
const rowOf = async (db: Queryable, customer: CustomerValue): Promise<CustomerRow | null> =>
  'created_at' in customer ? (customer as CustomerRow) : findCustomer(db, customer.id);

export const customerResolvers: Resolvers = {
  Query: {
    customer: allow(STAFF_ROLES, (_parent, { id }, { db }) => findCustomer(db, parseUuidArgument(id, 'id', 'a customer', 'INVALID_CUSTOMER_ID'))),
    customerByEmail: allow(STAFF_ROLES, (_parent, { email }, { db }) => findCustomerByEmail(db, parseEmailArgument(email))),
  },
  Customer: inheritAccess<CustomerResolvers>({
    createdAt: allow(STAFF_ROLES, async (customer, _args, { db }) => iso((await rowOf(db, customer))!.created_at)),
    orders: allow(STAFF_ROLES, (customer, args, { db }) => ordersOfCustomer(db, customer.id, parsePage(args, UUID, 'Customer.orders'))),
    subscriptions: allow(STAFF_ROLES, async (customer, _args, { db }) => (await listSubscriptions(db, { filter: { customerId: customer.id }, first: CUSTOMER_PAGE_LIMIT })).rows),
    paymentRequests: allow(STAFF_ROLES, async (customer, _args, { db }) => {
      const row = await rowOf(db, customer);
      if (!row) return [];
      const requests = await Promise.all((await paymentRequestIdsOfCustomer(db, row)).map((id) => findRequest(db, id)));
      return requests.filter((request) => request !== null);
    }),
    refunds: allow(STAFF_ROLES, (customer, _args, { db }) => refundsOfCustomer(db, customer.id, CUSTOMER_PAGE_LIMIT)),
    disputes: allow(STAFF_ROLES, (customer, _args, { db }) => disputesOfCustomer(db, customer.id, CUSTOMER_PAGE_LIMIT)),
    totals: allow(STAFF_ROLES, async (customer, _args, { db }) =>
      (await customerTotals(db, customer.id)).map(({ currency, paid, refunded }) => ({
        currency,
        paid: { amount: paid, currency },
        refunded: { amount: refunded, currency },
        net: { amount: paid - refunded, currency },
      })),
    ),
    firstPaymentAt: allow(STAFF_ROLES, async (customer, _args, { db }) => {
      const span = await customerPaymentSpan(db, customer.id);
      return span.first_payment_at && iso(span.first_payment_at);
    }),
    lastPaymentAt: allow(STAFF_ROLES, async (customer, _args, { db }) => {
      const span = await customerPaymentSpan(db, customer.id);
      return span.last_payment_at && iso(span.last_payment_at);
    }),
  }),
  CustomerTotal: inheritAccess({}),
};
