import type { FilterField } from '../../../components/FilterBar';
import { ListPage } from '../../../components/ListPage';
import { useListScreen } from '../../../lib/listScreen';
import { compact } from '../../../lib/urlState';
import { paymentLogColumns } from '../components/PaymentLogColumns';
import { PaymentLogDetail } from '../components/PaymentLogDetail';
import { dayRange, paymentLogDetailQuery, type PaymentLogFilter, paymentLogsListQuery } from '../queries';
import { paymentLogListParams } from '../urls';
import { ExportCsvButton } from '../../export/ExportCsvButton';

// A customer is found by their email in the search box (the server reads its shape); event types and
// statuses are open strings in the schema, not enums, so they stay text.
const FILTERS: FilterField[] = [
  { name: 'q', label: 'Search', kind: 'search', placeholder: 'Order id, pi_…, cs_… or customer email', wide: true },
  { name: 'eventType', label: 'Event type', kind: 'text', placeholder: 'payment.paid' },
  { name: 'status', label: 'Status', kind: 'text', placeholder: 'succeeded' },
  { name: 'from', toName: 'to', label: 'Written (UTC days)', kind: 'dateRange' },
];

export function PaymentLogsPage() {
  const screen = useListScreen({
    params: paymentLogListParams,
    filter: (values) =>
      compact({
        eventType: values.eventType,
        status: values.status,
        search: values.q,
        ...dayRange(values.from, values.to),
      }) as PaymentLogFilter | undefined,
    listQuery: paymentLogsListQuery,
    detailQuery: paymentLogDetailQuery,
    // A log row holds nothing more than its list row: the open one is read on its own only when a
    // shared link names a row the loaded pages do not hold (older, or outside the filters).
    openFromList: (row) => row,
  });
  const { filter, url } = screen;
  return (
    <ListPage
      title="Payment logs"
      description="Every change to a payment or order, newest first."
      what="payment logs"
      empty={filter ? 'No payment log rows match these filters.' : 'No payment log rows yet.'}
      searching={Boolean(filter?.search)}
      actions={<ExportCsvButton list="payment-logs" filter={filter} />}
      screen={screen}
      filterFields={FILTERS}
      columns={paymentLogColumns}
      detail={{
        title: 'Payment log row',
        what: 'the row',
        notFound: `No payment log row has the id ${url.open}.`,
        children: (row) => <PaymentLogDetail row={row} />,
      }}
    />
  );
}
