import { queryOptions } from '@tanstack/react-query';
import { graphqlRequest } from '../../api/graphql';
import { type Connection, keysetListOptions, PAGE_SIZE } from '../../api/pagination';

export const MAKE_STATUSES = ['PENDING', 'DELIVERING', 'DELIVERED', 'DEAD'] as const;
export const MAKE_KINDS = ['ADD_PROJECT', 'PAYMENT_FAILED', 'REFUND_COMPLETED', 'DISPUTE_OPENED', 'SUBSCRIPTION_CHANGED'] as const;
export type MakeDeliveryStatus = (typeof MAKE_STATUSES)[number];

export interface MakeDeliveryFilter {
  status?: MakeDeliveryStatus;
  kind?: (typeof MAKE_KINDS)[number];
}

export interface MakeDeliveryRow {
  id: string;
  kind: string;
  status: MakeDeliveryStatus;
  orderId: string | null;
  subjectId: string | null;
  attempts: number;
  nextAttemptAt: string | null;
  replays: number;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
}

export interface MakeDeliveryAttempt {
  attempt: number;
  startedAt: string;
  finishedAt: string;
  statusCode: number | null;
  latencyMs: number;
  outcome: string;
  error: string | null;
  response: string | null;
}

export interface MakeDeliveryDetail extends MakeDeliveryRow {
  lastResponse: string | null;
  updatedAt: string;
  deliveredAt: string | null;
  deadAt: string | null;
  payload: string;
  attemptLog: MakeDeliveryAttempt[];
}

const ROW = 'id kind status orderId subjectId attempts nextAttemptAt replays lastStatusCode lastError createdAt';
export const MAKE_DETAIL_FIELDS = `${ROW} lastResponse updatedAt deliveredAt deadAt payload
  attemptLog { attempt startedAt finishedAt statusCode latencyMs outcome error response }`;

export const makeDeliveryKeys = {
  all: ['makeDeliveries'] as const,
  list: (filter: MakeDeliveryFilter | undefined) => ['makeDeliveries', 'list', filter ?? {}] as const,
  detail: (id: string) => ['makeDeliveries', 'detail', id] as const,
};

export const makeDeliveriesListQuery = (filter: MakeDeliveryFilter | undefined) =>
  keysetListOptions(makeDeliveryKeys.list(filter), (after) =>
    graphqlRequest<{ makeDeliveries: Connection<MakeDeliveryRow> }>(
      `query MakeDeliveries($filter: MakeDeliveryFilter, $first: Int, $after: String) {
        makeDeliveries(filter: $filter, first: $first, after: $after) { nodes { ${ROW} } pageInfo { hasNextPage endCursor } }
      }`,
      { filter, first: PAGE_SIZE, after },
    ).then((d) => d.makeDeliveries),
  );

export const makeDeliveryDetailQuery = (id: string) =>
  queryOptions({
    queryKey: makeDeliveryKeys.detail(id),
    queryFn: () =>
      graphqlRequest<{ makeDelivery: MakeDeliveryDetail | null }>(`query MakeDelivery($id: ID!) { makeDelivery(id: $id) { ${MAKE_DETAIL_FIELDS} } }`, { id }).then(
        (d) => d.makeDelivery,
      ),
    // While the outbox is at work (a retry pressed, a backoff running out) the open panel follows it.
    refetchInterval: (query) => {
      const status = query.state.data?.status;
      return status === 'DELIVERING' ? 1000 : status === 'PENDING' ? 3000 : false;
    },
  });
