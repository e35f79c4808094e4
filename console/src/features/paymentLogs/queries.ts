import { queryOptions } from '@tanstack/react-query';
import { graphqlRequest } from '../../api/graphql';
import { PaymentLogDocument, PaymentLogsDocument, type PaymentLogsQueryVariables } from '../../api/generated/graphql';
import { keysetListOptions, PAGE_SIZE } from '../../api/pagination';

export type { PaymentLogFragment as PaymentLog } from '../../api/generated/graphql';

export type PaymentLogFilter = NonNullable<PaymentLogsQueryVariables['filter']>;

export const paymentLogKeys = {
  all: ['paymentLogs'] as const,
  list: (filter: PaymentLogFilter | undefined) => ['paymentLogs', 'list', filter ?? {}] as const,
  detail: (id: string) => ['paymentLogs', 'detail', id] as const,
};

/** A row a shared link opens that is not among the loaded pages. */
export const paymentLogDetailQuery = (id: string) =>
  queryOptions({
    queryKey: paymentLogKeys.detail(id),
    queryFn: () => graphqlRequest(PaymentLogDocument, { id }).then((d) => d.paymentLog),
  });

export const paymentLogsListQuery = (filter: PaymentLogFilter | undefined) =>
  keysetListOptions(paymentLogKeys.list(filter), (after) =>
    graphqlRequest(PaymentLogsDocument, { filter, first: PAGE_SIZE, after }).then((d) => d.paymentLogs),
  );

/** The date inputs hold days (UTC); the API takes instants: from the day's start, to the next day's start. */
export function dayRange(fromDay: string, toDay: string): { from?: string; to?: string } {
  const range: { from?: string; to?: string } = {};
  if (/^\d{4}-\d{2}-\d{2}$/.test(fromDay)) range.from = `${fromDay}T00:00:00.000Z`;
  if (/^\d{4}-\d{2}-\d{2}$/.test(toDay)) {
    const next = new Date(`${toDay}T00:00:00.000Z`);
    next.setUTCDate(next.getUTCDate() + 1);
    range.to = next.toISOString();
  }
  return range;
}
