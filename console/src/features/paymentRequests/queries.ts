import { queryOptions } from '@tanstack/react-query';
import {
  type PaymentRequestMembersFragment,
  type PaymentRequestRowFragment,
  PaymentRequestDocument,
  PaymentRequestsDocument,
  type PaymentRequestsQueryVariables,
} from '../../api/generated/graphql';
import { graphqlRequest } from '../../api/graphql';
import { keysetListOptions, PAGE_SIZE } from '../../api/pagination';
import { PaymentRequestStatusValues } from '../../api/generated/enums';

export type { PaymentRequestRowFragment as PaymentRequestRow } from '../../api/generated/graphql';
/** The open request: its row, its metadata and its members. */
export type PaymentRequestDetail = PaymentRequestRowFragment & PaymentRequestMembersFragment;
export type PaymentRequestMember = PaymentRequestMembersFragment['members'][number];
export type PaymentRequestFilter = NonNullable<PaymentRequestsQueryVariables['filter']>;

/** The filter's menu: the schema's values, generated (api/generated/enums.ts). */
export const PAYMENT_REQUEST_STATUSES = PaymentRequestStatusValues;

/** Nothing more can be paid on these: no one to remind, nothing to cancel. */
export const CLOSED_STATUSES: ReadonlySet<PaymentRequestRowFragment['status']> = new Set(['PAID', 'CANCELED', 'EXPIRED']);

/** The shares a reminder goes to (the server's "unpaid": nothing paid, or the last attempt declined). */
export const UNPAID_SHARE_STATUSES: ReadonlySet<PaymentRequestMember['status']> = new Set(['PENDING', 'FAILED']);

export const paymentRequestKeys = {
  all: ['paymentRequests'] as const,
  list: (filter: PaymentRequestFilter | undefined) => ['paymentRequests', 'list', filter ?? {}] as const,
  detail: (id: string) => ['paymentRequests', 'detail', id] as const,
};

export const paymentRequestsListQuery = (filter: PaymentRequestFilter | undefined) =>
  keysetListOptions(paymentRequestKeys.list(filter), (after) => graphqlRequest(PaymentRequestsDocument, { filter, first: PAGE_SIZE, after }).then((d) => d.paymentRequests));

export const paymentRequestDetailQuery = (id: string) =>
  queryOptions({
    queryKey: paymentRequestKeys.detail(id),
    queryFn: () => graphqlRequest(PaymentRequestDocument, { id }).then((d) => d.paymentRequest),
  });
