import type { FilterField } from '../../../components/FilterBar';
import { ListPage } from '../../../components/ListPage';
import { humanize } from '../../../lib/format';
import { useListScreen } from '../../../lib/listScreen';
import { compact } from '../../../lib/urlState';
import { orderColumns } from '../components/OrderColumns';
import { OrderDetail } from '../components/OrderDetail';
import { ORDER_STATUSES, type OrderFilter, orderDetailQuery, ordersListQuery, SYNC_STATES, useStripeMode } from '../queries';
import { orderListParams } from '../urls';

const FILTERS: FilterField[] = [
  { name: 'q', label: 'Search', kind: 'search', placeholder: 'Order id, pi_…, cs_… or customer email', wide: true },
  { name: 'status', label: 'Status', kind: 'select', options: ORDER_STATUSES.map((s) => ({ value: s, label: humanize(s) })) },
  { name: 'syncState', label: 'Sync state', kind: 'select', options: SYNC_STATES.map((s) => ({ value: s, label: humanize(s) })) },
];

export function OrdersPage() {
  const screen = useListScreen({
    params: orderListParams,
    filter: (values) => compact({ status: values.status, syncState: values.syncState, search: values.q }) as OrderFilter | undefined,
    listQuery: ordersListQuery,
    detailQuery: orderDetailQuery,
  });
  const { filter, url } = screen;
  const stripeMode = useStripeMode(Boolean(screen.detail.data));
  return (
    <ListPage
      title="Orders"
      description="Newest first, with how far our record agrees with Stripe (sync state)."
      what="orders"
      empty={filter ? 'No orders match these filters.' : 'No orders yet.'}
      searching={Boolean(filter?.search)}
      screen={screen}
      filterFields={FILTERS}
      columns={orderColumns}
      detail={{
        title: 'Order',
        what: 'the order',
        notFound: `No order has the id ${url.open}.`,
        children: (order) => <OrderDetail order={order} stripeMode={stripeMode} />,
      }}
    />
  );
}
