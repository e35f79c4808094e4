import { queryOptions } from '@tanstack/react-query';
import { graphqlRequest } from '../../api/graphql';
import { MakeDeliveriesDocument, type MakeDeliveriesQueryVariables, MakeDeliveryDocument, type MakeDeliveryRowFragment } from '../../api/generated/graphql';
import { keysetListOptions, PAGE_SIZE } from '../../api/pagination';

export type { MakeDeliveryDetailFragment as MakeDeliveryDetail, MakeDeliveryRowFragment as MakeDeliveryRow } from '../../api/generated/graphql';

export type MakeDeliveryStatus = MakeDeliveryRowFragment['status'];
/** In the order the filters offer them; the generated types check each is one of the schema's values. */
export const MAKE_STATUSES = ['PENDING', 'DELIVERING', 'DELIVERED', 'DEAD'] as const satisfies readonly MakeDeliveryStatus[];
export const MAKE_KINDS = ['ADD_PROJECT', 'PAYMENT_FAILED', 'REFUND_COMPLETED', 'DISPUTE_OPENED', 'SUBSCRIPTION_CHANGED', 'PAYMENT_REQUEST_COMPLETED', 'PAYMENT_REQUEST_REMINDER'] as const satisfies readonly MakeDeliveryRowFragment['kind'][];

export type MakeDeliveryFilter = NonNullable<MakeDeliveriesQueryVariables['filter']>;

export const makeDeliveryKeys = {
  all: ['makeDeliveries'] as const,
  list: (filter: MakeDeliveryFilter | undefined) => ['makeDeliveries', 'list', filter ?? {}] as const,
  detail: (id: string) => ['makeDeliveries', 'detail', id] as const,
};

export const makeDeliveriesListQuery = (filter: MakeDeliveryFilter | undefined) =>
  keysetListOptions(makeDeliveryKeys.list(filter), (after) =>
    graphqlRequest(MakeDeliveriesDocument, { filter, first: PAGE_SIZE, after }).then((d) => d.makeDeliveries),
  );

export const makeDeliveryDetailQuery = (id: string) =>
  queryOptions({
    queryKey: makeDeliveryKeys.detail(id),
    queryFn: () => graphqlRequest(MakeDeliveryDocument, { id }).then((d) => d.makeDelivery),
    // While the outbox is at work (a retry pressed, a backoff running out) the open panel follows it.
    refetchInterval: (query) => {
      const status = query.state.data?.status;
      return status === 'DELIVERING' ? 1000 : status === 'PENDING' ? 3000 : false;
    },
  });
