import { DisputesDocument, type DisputesQueryVariables } from '../../api/generated/graphql';
import { graphqlRequest } from '../../api/graphql';
import { keysetListOptions, PAGE_SIZE } from '../../api/pagination';
import { DisputeStatusValues } from '../../api/generated/enums';

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
