import { queryOptions } from '@tanstack/react-query';
import { DisputesDocument, DisputesOfOrderDocument, type DisputeRowFragment, type DisputesQueryVariables } from '../../api/generated/graphql';
import { graphqlRequest } from '../../api/graphql';
import { keysetListOptions, PAGE_SIZE } from '../../api/pagination';
import { DisputeStatusValues } from '../../api/generated/enums';
import { searchQuery } from '../search/queries';

export type { DisputeRowFragment as DisputeRow } from '../../api/generated/graphql';
export type DisputeFilter = NonNullable<DisputesQueryVariables['filter']>;

/** The filter's menu: the schema's values, generated (api/generated/enums.ts). */
export const DISPUTE_STATUSES = DisputeStatusValues;

export const disputeKeys = {
  all: ['disputes'] as const,
  list: (filter: DisputeFilter | undefined) => ['disputes', 'list', filter ?? {}] as const,
};

/** Open disputes first, then by evidence due date (the server's order, kept across pages). */
export const disputesListQuery = (filter: DisputeFilter | undefined) =>
  keysetListOptions(disputeKeys.list(filter), (after) => graphqlRequest(DisputesDocument, { filter, first: PAGE_SIZE, after }).then((d) => d.disputes));

/**
 * One dispute by its id (du_…), for a dispute opened from a link the loaded pages do not hold: search
 * names its order, and the order holds its disputes. Null when no dispute has the id.
 */
export const disputeDetailQuery = (id: string) =>
  queryOptions({
    queryKey: ['disputes', 'detail', id] as const,
    queryFn: async ({ client }): Promise<DisputeRowFragment | null> => {
      // Through search's own query: a dispute reached from the search box is not searched for again.
      const search = await client.fetchQuery(searchQuery(id));
      const orderId = search.matches.find((match) => match.kind === 'DISPUTE' && match.id === id)?.orderId;
      if (!orderId) return null;
      const { order } = await graphqlRequest(DisputesOfOrderDocument, { orderId });
      return order?.disputes.find((dispute) => dispute.id === id) ?? null;
    },
  });
