// The orders list's filter as staff give it, checked one way wherever it comes from: the GraphQL
// orders list (server/api/graphql/resolvers/orders.ts) and its CSV export (server/api/http/export/).
// Enum values come as the schema spells them (PAID); errors are BAD_USER_INPUT naming the field.
import { BadUserInputError } from '../platform/errors';
import type { OrderListFilter } from './orders.sql';
import { parseSearch, type PaymentSearch, SEARCH_ACCEPTS } from './search';

type OrderStatusName = Uppercase<NonNullable<OrderListFilter['status']>>;
type SyncStateName = Uppercase<NonNullable<OrderListFilter['syncState']>>;

/** The filter as given: the schema's OrderFilter, or the export's query parameters read into it. */
export interface OrderFilterInput {
  status?: OrderStatusName | null;
  syncState?: SyncStateName | null;
  search?: string | null;
}

/** The search box's text, or a typed error saying what it accepts. */
export function parseSearchArgument(search: string | null | undefined, field: string): PaymentSearch | null {
  if (search === null || search === undefined) return null;
  const parsed = parseSearch(search);
  if (!parsed) throw new BadUserInputError(`${field} must be ${SEARCH_ACCEPTS}`, { reason: 'INVALID_SEARCH', field });
  return parsed;
}

/** The list's filter, checked. */
export function parseOrderFilter(filter: OrderFilterInput | null | undefined): OrderListFilter {
  return {
    status: filter?.status ? (filter.status.toLowerCase() as NonNullable<OrderListFilter['status']>) : null,
    syncState: filter?.syncState ? (filter.syncState.toLowerCase() as NonNullable<OrderListFilter['syncState']>) : null,
    search: parseSearchArgument(filter?.search, 'filter.search'),
  };
}
