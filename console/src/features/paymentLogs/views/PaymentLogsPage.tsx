import type { FilterField } from '../../../components/FilterBar';
import { ListPage } from '../../../components/ListPage';
import { useListScreen } from '../../../lib/listScreen';
import { compact } from '../../../lib/urlState';
import { paymentLogColumns } from '../components/PaymentLogColumns';
import { PaymentLogDetail } from '../components/PaymentLogDetail';
import { dayRange, paymentLogDetailQuery, type PaymentLogFilter, paymentLogsListQuery } from '../queries';
import { paymentLogListParams } from '../urls';
import { ExportCsvButton } from '../../export/ExportCsvButton';

const FILTERS: FilterField[] = [
  { name: 'q', label: 'Search', kind: 'search', placeholder: 'Order id, pi_…, cs_… or customer email', wide: true },
  { name: 'eventType', label: 'Event type', kind: 'text', placeholder: 'payment.paid' },
  { name: 'status', label: 'Status', kind: 'text', placeholder: 'succeeded' },
  { name: 'customerId', label: 'Customer id', kind: 'text' },
  { name: 'from', label: 'From (UTC day)', kind: 'date' },
  { name: 'to', label: 'To (UTC day, inclusive)', kind: 'date' },
];

export function PaymentLogsPage() {
  const screen = useListScreen({
    params: paymentLogListParams,
    filter: (values) =>
      compact({
        eventType: values.eventType,
        status: values.status,
        customerId: values.customerId,
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
