import { STAFF_ROLES } from '../../../auth/viewer';
import { BadUserInputError } from '../../../platform/errors';
import { parseSearch, type PaymentSearch, SEARCH_ACCEPTS } from '../../../orders/search';
import { findPaymentLog, listPaymentLogs, type PaymentLogFilter as LogFilter } from '../../../paymentLogs/paymentLogs.sql';
import { allow, inheritAccess } from '../access';
import type { PaymentLogConnectionResolvers, PaymentLogFilter, PaymentLogResolvers, Resolvers } from '../generated/resolvers-types';
import { encodeCursor, parsePage } from '../pagination';
import { isUuid } from '../../../platform/ids';

const LOG_ID = /^\d{1,19}$/;
const MAX_FILTER_LENGTH = 100;
const MAX_LOG_ID = 2n ** 63n - 1n; // bigint

function parseLogId(id: string): string {
  if (!LOG_ID.test(id) || BigInt(id) > MAX_LOG_ID) throw new BadUserInputError('id must be a payment log row id (a positive whole number)', { reason: 'INVALID_PAYMENT_LOG_ID', field: 'id' });
  return id;
}

/** The search box's text, or a typed error saying what it accepts. */
export function parseSearchArgument(search: string | null | undefined, field: string): PaymentSearch | null {
  if (search === null || search === undefined) return null;
  const parsed = parseSearch(search);
  if (!parsed) throw new BadUserInputError(`${field} must be ${SEARCH_ACCEPTS}`, { reason: 'INVALID_SEARCH', field });
  return parsed;
}

function parseTime(value: string | null | undefined, field: string): Date | null {
  if (value === null || value === undefined) return null;
  const time = new Date(value);
  // Date.parse accepts more than ISO 8601; a time must at least look like one (2026-11-22...).
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(time.getTime())) {
    throw new BadUserInputError(`${field} must be an ISO 8601 time, e.g. 2026-11-22T09:00:00Z`, { reason: 'INVALID_TIME', field });
  }
  return time;
}

/** The list's filter, checked (BAD_USER_INPUT naming the field); the CSV export reads the same one. */
export function parseFilter(filter: PaymentLogFilter | null | undefined): LogFilter {
  for (const field of ['eventType', 'status'] as const) {
    const value = filter?.[field];
    if (value !== null && value !== undefined && (value.length === 0 || value.length > MAX_FILTER_LENGTH)) {
      throw new BadUserInputError(`filter.${field} must be 1 to ${MAX_FILTER_LENGTH} characters (leave it out to not filter by it)`, { reason: 'INVALID_FILTER', field: `filter.${field}` });
    }
  }
  const customerId = filter?.customerId ?? null;
  if (customerId !== null && !isUuid(customerId)) throw new BadUserInputError('filter.customerId must be a customer id (a UUID)', { reason: 'INVALID_FILTER', field: 'filter.customerId' });
  const from = parseTime(filter?.from, 'filter.from');
  const to = parseTime(filter?.to, 'filter.to');
  if (from && to && from >= to) throw new BadUserInputError('filter.from must be before filter.to', { reason: 'INVALID_FILTER', field: 'filter.from' });
  return { eventType: filter?.eventType ?? null, status: filter?.status ?? null, customerId, from, to, search: parseSearchArgument(filter?.search, 'filter.search') };
}

export const paymentLogResolvers: Resolvers = {
  Query: {
    paymentLogs: allow(STAFF_ROLES, (_parent, args, { db }) => {
      // Every argument is checked before the query runs, so a bad one reads nothing.
      const filter = parseFilter(args.filter);
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
