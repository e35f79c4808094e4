import { DisputesDocument, type DisputeRowFragment, type DisputesQueryVariables } from '../../api/generated/graphql';
import { graphqlRequest } from '../../api/graphql';
import { keysetListOptions, PAGE_SIZE } from '../../api/pagination';

export type { DisputeRowFragment as DisputeRow } from '../../api/generated/graphql';
export type DisputeFilter = NonNullable<DisputesQueryVariables['filter']>;

/** In the order the filter offers them; the generated types check each is one of the schema's values. */
export const DISPUTE_STATUSES = [
  'NEEDS_RESPONSE',
  'UNDER_REVIEW',
  'WARNING_NEEDS_RESPONSE',
  'WARNING_UNDER_REVIEW',
  'WON',
  'LOST',
  'WARNING_CLOSED',
  'PREVENTED',
] as const satisfies readonly DisputeRowFragment['status'][];

export const disputeKeys = {
  all: ['disputes'] as const,
  list: (filter: DisputeFilter | undefined) => ['disputes', 'list', filter ?? {}] as const,
};

/** Open disputes first, then by evidence due date (the server's order, kept across pages). */
export const disputesListQuery = (filter: DisputeFilter | undefined) =>
  keysetListOptions(disputeKeys.list(filter), (after) => graphqlRequest(DisputesDocument, { filter, first: PAGE_SIZE, after }).then((d) => d.disputes));
