import { queryOptions } from '@tanstack/react-query';
import { graphqlRequest } from '../../api/graphql';
import { MakeDeliveriesDocument, type MakeDeliveriesQueryVariables, MakeDeliveryDocument, type MakeDeliveryRowFragment } from '../../api/generated/graphql';
import { keysetListOptions, PAGE_SIZE } from '../../api/pagination';
import { MakeDeliveryStatusValues, MakeDeliveryKindValues } from '../../api/generated/enums';

export type { MakeDeliveryDetailFragment as MakeDeliveryDetail, MakeDeliveryRowFragment as MakeDeliveryRow } from '../../api/generated/graphql';

export type MakeDeliveryStatus = MakeDeliveryRowFragment['status'];
/** The filter's menu: the schema's values, generated (api/generated/enums.ts). */
export const MAKE_STATUSES = MakeDeliveryStatusValues;
/** The filter's menu: the schema's values, generated (api/generated/enums.ts). */
export const MAKE_KINDS = MakeDeliveryKindValues;

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
