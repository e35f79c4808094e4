import { enumOptions, type FilterField } from '../../../components/FilterBar';
import { ListPage } from '../../../components/ListPage';
import { useListScreen } from '../../../lib/listScreen';
import { compact } from '../../../lib/urlState';
import { orderColumns } from '../components/OrderColumns';
import { OrderDetail, type StripeMode } from '../components/OrderDetail';
import { describeError } from '../../../api/graphql';
import { useIsAdmin } from '../../../auth/viewer';
import { syncOutcomeInWords, useSyncOrder } from '../mutations';
import { ORDER_STATUSES, type OrderDetail as Order, type OrderFilter, orderDetailQuery, ordersListQuery, SYNC_STATES, useStripeMode } from '../queries';
import { useRefundControl } from '../refundControl';
import { orderListParams, orderPageUrl } from '../urls';
import { ExportCsvButton } from '../../export/ExportCsvButton';
import { Link } from 'react-router';

const FILTERS: FilterField[] = [
  { name: 'q', label: 'Search', kind: 'search', placeholder: 'Order id, pi_…, cs_… or customer email', wide: true },
  { name: 'status', label: 'Status', kind: 'select', options: enumOptions(ORDER_STATUSES) },
  { name: 'syncState', label: 'Sync state', kind: 'select', options: enumOptions(SYNC_STATES) },
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
      actions={<ExportCsvButton list="orders" filter={filter} />}
      screen={screen}
      filterFields={FILTERS}
      columns={orderColumns}
      detail={{
        title: 'Order',
        what: 'the order',
        notFound: `No order has the id ${url.open}.`,
        children: (order) => <SyncableOrder order={order} stripeMode={stripeMode} />,
      }}
    />
  );
}

/**
 * The open order with Sync with Stripe (support and admins: every staff role that sees this screen)
 * and Refund… (admins only; support sees the refunds without it).
 */
function SyncableOrder({ order, stripeMode }: { order: Order; stripeMode: StripeMode }) {
  const sync = useSyncOrder();
  const outcome = syncOutcomeInWords(sync.data);
  const refund = useRefundControl(order);
  const isAdmin = useIsAdmin();
  return (
    <>
      <p className="order-page-link">
        <Link to={orderPageUrl(order.id)}>Open the order's page, with its timeline →</Link>
      </p>
      <OrderDetail
      order={order}
      stripeMode={stripeMode}
      refund={isAdmin ? refund : null}
      sync={{
        pending: sync.isPending,
        error: sync.isError ? describeError(sync.error) : outcome.error,
        success: outcome.success,
        onConfirm: (idempotencyKey) => sync.mutate({ orderId: order.id, idempotencyKey }),
      }}
      />
    </>
  );
}
