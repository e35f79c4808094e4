import { queryOptions, useQuery } from '@tanstack/react-query';
import { graphqlRequest } from '../../api/graphql';
import { type OrderFragment, type OrderRefundsFragment, OrderDocument, OrdersDocument, type OrdersQueryVariables, StripeModeDocument } from '../../api/generated/graphql';
import { keysetListOptions, PAGE_SIZE } from '../../api/pagination';
import { OrderStatusValues, SyncStateValues } from '../../api/generated/enums';

export type { OrderFragment as Order, RefundFragment as Refund } from '../../api/generated/graphql';
/** The open order: its row and its refunds, refundable amount and disputes. */
export type OrderDetail = OrderFragment & OrderRefundsFragment;

/** The filter's menu: the schema's values, generated (api/generated/enums.ts). */
export const ORDER_STATUSES = OrderStatusValues;
/** The filter's menu: the schema's values, generated (api/generated/enums.ts). */
export const SYNC_STATES = SyncStateValues;

export type OrderFilter = NonNullable<OrdersQueryVariables['filter']>;

export const orderKeys = {
  all: ['orders'] as const,
  list: (filter: OrderFilter | undefined) => ['orders', 'list', filter ?? {}] as const,
  detail: (id: string) => ['orders', 'detail', id] as const,
};

export const ordersListQuery = (filter: OrderFilter | undefined) =>
  keysetListOptions(orderKeys.list(filter), (after) => graphqlRequest(OrdersDocument, { filter, first: PAGE_SIZE, after }).then((d) => d.orders));

export const orderDetailQuery = (id: string) =>
  queryOptions({
    queryKey: orderKeys.detail(id),
    queryFn: () => graphqlRequest(OrderDocument, { id }).then((d) => d.order),
  });

export const stripeModeQuery = queryOptions({
  queryKey: ['stripeMode'],
  queryFn: () => graphqlRequest(StripeModeDocument).then((d) => d.stripeMode),
  staleTime: Infinity,
});

/**
 * Which of Stripe's dashboards links go to: live for a live key; the sandbox's objects are test-mode
 * shaped. Asked only when `needed` (an order is shown), as the links are only there.
 */
export function useStripeMode(needed = true): 'test' | 'live' {
  return useQuery({ ...stripeModeQuery, enabled: needed }).data === 'LIVE' ? 'live' : 'test';
}
