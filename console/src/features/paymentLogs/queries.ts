import { queryOptions } from '@tanstack/react-query';
import { graphqlRequest } from '../../api/graphql';
import { type Connection, keysetListOptions, PAGE_SIZE } from '../../api/pagination';

export interface Money {
  amount: number;
  currency: string;
  formatted: string;
}

export interface PaymentLogFilter {
  eventType?: string;
  status?: string;
  customerId?: string;
  /** ISO 8601; rows at or after. */
  from?: string;
  /** ISO 8601; rows before. */
  to?: string;
  search?: string;
}

export interface PaymentLog {
  id: string;
  eventType: string;
  status: string;
  amount: Money | null;
  orderId: string | null;
  customerId: string | null;
  customerEmail: string | null;
  metadata: string;
  createdAt: string;
}

const FIELDS = 'id eventType status amount { amount currency formatted } orderId customerId customerEmail metadata createdAt';

export const paymentLogKeys = {
  all: ['paymentLogs'] as const,
  list: (filter: PaymentLogFilter | undefined) => ['paymentLogs', 'list', filter ?? {}] as const,
  detail: (id: string) => ['paymentLogs', 'detail', id] as const,
};

/** A row a shared link opens that is not among the loaded pages. */
export const paymentLogDetailQuery = (id: string) =>
  queryOptions({
    queryKey: paymentLogKeys.detail(id),
    queryFn: () => graphqlRequest<{ paymentLog: PaymentLog | null }>(`query PaymentLog($id: ID!) { paymentLog(id: $id) { ${FIELDS} } }`, { id }).then((d) => d.paymentLog),
  });

export const paymentLogsListQuery = (filter: PaymentLogFilter | undefined) =>
  keysetListOptions(paymentLogKeys.list(filter), (after) =>
    graphqlRequest<{ paymentLogs: Connection<PaymentLog> }>(
      `query PaymentLogs($filter: PaymentLogFilter, $first: Int, $after: String) {
        paymentLogs(filter: $filter, first: $first, after: $after) {
          nodes { ${FIELDS} }
          pageInfo { hasNextPage endCursor }
        }
      }`,
      { filter, first: PAGE_SIZE, after },
    ).then((d) => d.paymentLogs),
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
