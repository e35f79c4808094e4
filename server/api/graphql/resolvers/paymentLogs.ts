import { STAFF_ROLES } from '../../../auth/viewer';
import { BadUserInputError } from '../../../platform/errors';
import { parsePaymentLogFilter } from '../../../paymentLogs/filter';
import { findPaymentLog, listPaymentLogs } from '../../../paymentLogs/paymentLogs.sql';
import { allow, inheritAccess } from '../access';
import type { PaymentLogConnectionResolvers, PaymentLogResolvers, Resolvers } from '../generated/resolvers-types';
import { encodeCursor, parsePage } from '../pagination';

const LOG_ID = /^\d{1,19}$/;
const MAX_LOG_ID = 2n ** 63n - 1n; // bigint

function parseLogId(id: string): string {
  if (!LOG_ID.test(id) || BigInt(id) > MAX_LOG_ID) throw new BadUserInputError('id must be a payment log row id (a positive whole number)', { reason: 'INVALID_PAYMENT_LOG_ID', field: 'id' });
  return id;
}

export const paymentLogResolvers: Resolvers = {
  Query: {
    paymentLogs: allow(STAFF_ROLES, (_parent, args, { db }) => {
      // Every argument is checked before the query runs, so a bad one reads nothing.
      const filter = parsePaymentLogFilter(args.filter);
      const { first, after } = parsePage(args, LOG_ID, 'paymentLogs');
      return listPaymentLogs(db, { filter, first, after });
    }),
    paymentLog: allow(STAFF_ROLES, (_parent, { id }, { db }) => findPaymentLog(db, parseLogId(id))),
  },
  PaymentLogConnection: inheritAccess<PaymentLogConnectionResolvers>({
    nodes: (page) => page.rows,
    pageInfo: (page) => {
      const last = page.rows.at(-1);
      return { hasNextPage: page.hasNextPage, endCursor: last ? encodeCursor({ createdUs: last.created_us, id: last.id }) : null };
    },
  }),
  PaymentLog: inheritAccess<PaymentLogResolvers>({
    eventType: (row) => row.event_type,
    amount: (row) => (row.amount === null || row.currency === null ? null : { amount: row.amount, currency: row.currency }),
    orderId: (row) => row.order_id,
    customerId: (row) => row.customer_id,
    customerEmail: (row) => row.customer_email,
    metadata: (row) => JSON.stringify(row.metadata, null, 2),
    createdAt: (row) => row.created_at.toISOString(),
  }),
};
