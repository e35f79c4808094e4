// The payment log list's filter as staff give it, checked one way wherever it comes from: the GraphQL
// list (server/api/graphql/resolvers/paymentLogs.ts) and its CSV export (server/api/http/export/).
// Errors are BAD_USER_INPUT naming the field.
import { parseSearchArgument } from '../orders/filters';
import { BadUserInputError } from '../platform/errors';
import { isUuid } from '../platform/ids';
import type { PaymentLogFilter } from './paymentLogs.sql';

const MAX_FILTER_LENGTH = 100;

/** The filter as given: the schema's PaymentLogFilter, or the export's query parameters. */
export interface PaymentLogFilterInput {
  eventType?: string | null;
  status?: string | null;
  customerId?: string | null;
  from?: string | null;
  to?: string | null;
  search?: string | null;
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
export function parsePaymentLogFilter(filter: PaymentLogFilterInput | null | undefined): PaymentLogFilter {
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
