import { queryOptions } from '@tanstack/react-query';
import { graphqlRequest } from '../../api/graphql';
import {
  type OrphanedPaymentRowFragment,
  OrphanedPaymentDocument,
  OrphanedPaymentsDocument,
  type OrphanedPaymentsQueryVariables,
  ReconciliationRunDocument,
  type ReconciliationRunFieldsFragment,
  ReconciliationStatusDocument,
  type ReconciliationStatusQuery,
} from '../../api/generated/graphql';
import { keysetListOptions, PAGE_SIZE } from '../../api/pagination';
import { OrphanedPaymentKindValues, OrphanedPaymentStatusValues } from '../../api/generated/enums';

export type { OrphanedPaymentDetailFragment as OrphanedPaymentDetail, OrphanedPaymentRowFragment as OrphanedPaymentRow } from '../../api/generated/graphql';
export type ReconciliationRun = ReconciliationRunFieldsFragment;
export type ReconciliationStatus = ReconciliationStatusQuery['reconciliationStatus'];

export type OrphanedPaymentKind = OrphanedPaymentRowFragment['kind'];
export type OrphanedPaymentAction = OrphanedPaymentRowFragment['actions'][number];
/** The filter's menu: the schema's values, generated (api/generated/enums.ts). */
export const ORPHAN_KINDS = OrphanedPaymentKindValues;
/** The filter's menu: the schema's values, generated (api/generated/enums.ts). */
export const ORPHAN_STATUSES = OrphanedPaymentStatusValues;

export type OrphanedPaymentFilter = NonNullable<OrphanedPaymentsQueryVariables['filter']>;

export const orphanedPaymentKeys = {
  all: ['orphanedPayments'] as const,
  list: (filter: OrphanedPaymentFilter | undefined) => ['orphanedPayments', 'list', filter ?? {}] as const,
  detail: (id: string) => ['orphanedPayments', 'detail', id] as const,
};

export const reconciliationKeys = {
  all: ['reconciliation'] as const,
  status: ['reconciliation', 'status'] as const,
  run: (id: string) => ['reconciliation', 'run', id] as const,
};

export const orphanedPaymentsListQuery = (filter: OrphanedPaymentFilter | undefined) =>
  keysetListOptions(orphanedPaymentKeys.list(filter), (after) =>
    graphqlRequest(OrphanedPaymentsDocument, { filter, first: PAGE_SIZE, after }).then((d) => d.orphanedPayments),
  );

export const orphanedPaymentDetailQuery = (id: string) =>
  queryOptions({
    queryKey: orphanedPaymentKeys.detail(id),
    queryFn: () => graphqlRequest(OrphanedPaymentDocument, { id }).then((d) => d.orphanedPayment),
  });

export const reconciliationStatusQuery = queryOptions({
  queryKey: reconciliationKeys.status,
  queryFn: () => graphqlRequest(ReconciliationStatusDocument).then((d) => d.reconciliationStatus),
  // As the rest of the Overview; faster while a pass runs, so its counters move on screen.
  refetchInterval: (query) => (query.state.data?.running ? 2000 : 30_000),
});

/** One run, followed every second while it is RUNNING and left alone once it finished. */
export const reconciliationRunQuery = (id: string) =>
  queryOptions({
    queryKey: reconciliationKeys.run(id),
    queryFn: () => graphqlRequest(ReconciliationRunDocument, { id }).then((d) => d.reconciliationRun),
    refetchInterval: (query) => (query.state.data?.status === 'RUNNING' ? 1000 : false),
  });
