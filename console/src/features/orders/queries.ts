import { queryOptions, useQuery } from '@tanstack/react-query';
import { graphqlRequest } from '../../api/graphql';
import { type Connection, keysetListOptions, PAGE_SIZE } from '../../api/pagination';
import type { Money } from '../paymentLogs/queries';

export const ORDER_STATUSES = ['PENDING', 'REQUIRES_ACTION', 'PROCESSING', 'PAID', 'FAILED', 'CANCELED', 'REFUNDED', 'PARTIALLY_REFUNDED', 'DISPUTED'] as const;
export const SYNC_STATES = ['PROVISIONAL', 'CONFIRMED', 'FAILED'] as const;

export interface OrderFilter {
  status?: (typeof ORDER_STATUSES)[number];
  syncState?: (typeof SYNC_STATES)[number];
  search?: string;
}

export interface Order {
  id: string;
  status: string;
  syncState: string | null;
  track: string;
  trackName: string;
  amount: Money;
  customer: { id: string; email: string; name: string | null };
  checkoutSessionId: string | null;
  paymentIntentId: string | null;
  payment: { paymentIntentId: string; chargeId: string | null; status: string; amount: Money; amountRefunded: Money } | null;
  metadata: Array<{ key: string; value: string }>;
  createdAt: string;
  updatedAt: string;
}

const ORDER_FIELDS = `id status syncState track trackName amount { amount currency formatted } customer { id email name }
  checkoutSessionId paymentIntentId
  payment { paymentIntentId chargeId status amount { amount currency formatted } amountRefunded { amount currency formatted } }
  metadata { key value } createdAt updatedAt`;

export const orderKeys = {
  all: ['orders'] as const,
  list: (filter: OrderFilter | undefined) => ['orders', 'list', filter ?? {}] as const,
  detail: (id: string) => ['orders', 'detail', id] as const,
};

export const ordersListQuery = (filter: OrderFilter | undefined) =>
  keysetListOptions(orderKeys.list(filter), (after) =>
    graphqlRequest<{ orders: Connection<Order> }>(
      `query Orders($filter: OrderFilter, $first: Int, $after: String) {
        orders(filter: $filter, first: $first, after: $after) { nodes { ${ORDER_FIELDS} } pageInfo { hasNextPage endCursor } }
      }`,
      { filter, first: PAGE_SIZE, after },
    ).then((d) => d.orders),
  );

export const orderDetailQuery = (id: string) =>
  queryOptions({
    queryKey: orderKeys.detail(id),
    queryFn: () => graphqlRequest<{ order: Order | null }>(`query Order($id: ID!) { order(id: $id) { ${ORDER_FIELDS} } }`, { id }).then((d) => d.order),
  });

export const stripeModeQuery = queryOptions({
  queryKey: ['stripeMode'],
  queryFn: () => graphqlRequest<{ stripeMode: 'SANDBOX' | 'TEST' | 'LIVE' }>('query StripeMode { stripeMode }').then((d) => d.stripeMode),
  staleTime: Infinity,
});

/** Which of Stripe's dashboards links go to: live for a live key; the sandbox's objects are test-mode shaped. */
export function useStripeMode(): 'test' | 'live' {
  return useQuery(stripeModeQuery).data === 'LIVE' ? 'live' : 'test';
}
