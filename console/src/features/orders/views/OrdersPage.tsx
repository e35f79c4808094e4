import type { FilterField } from '../../../components/FilterBar';
import { ListPage } from '../../../components/ListPage';
import { humanize } from '../../../lib/format';
import { useListScreen } from '../../../lib/listScreen';
import { compact } from '../../../lib/urlState';
import { orderColumns } from '../components/OrderColumns';
import { OrderDetail, type StripeMode } from '../components/OrderDetail';
import { useState } from 'react';
import { describeError, GraphQLRequestError, newIdempotencyKey } from '../../../api/graphql';
import { useIsAdmin } from '../../../auth/viewer';
import type { RefundControl, RefundDraft } from '../components/RefundAction';
import { refundErrorInWords, refundOutcomeInWords } from '../components/refundWords';
import { syncOutcomeInWords, useRefundPayment, useSyncOrder } from '../mutations';
import { ORDER_STATUSES, type OrderDetail as Order, type OrderFilter, orderDetailQuery, ordersListQuery, SYNC_STATES, useStripeMode } from '../queries';
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
  );
}

/**
 * Refund…'s mutation and key. One key per press; a press whose refund is kept as creating (Stripe could
 * not be reached, or our request was lost on the way) is pressed again with the same key and input, so
 * the server completes that refund rather than making a second. Any other answer ends the press.
 */
function useRefundControl(order: Order): RefundControl {
  const mutation = useRefundPayment();
  const [unfinished, setUnfinished] = useState<{ key: string; draft: RefundDraft } | null>(null);
  const payload = mutation.data;
  return {
    pending: mutation.isPending,
    error: mutation.isError ? describeError(mutation.error) : payload ? refundErrorInWords(payload) : null,
    success: payload ? refundOutcomeInWords(payload) : null,
    unfinished: unfinished?.draft ?? null,
    onOpen: () => {
      if (!unfinished) mutation.reset();
    },
    onSubmit: (typed) => {
      const press = unfinished ?? { key: newIdempotencyKey(), draft: typed };
      setUnfinished(press);
      const { draft, key } = press;
      mutation.mutate(
        { orderId: order.id, amount: draft.amount, reason: draft.reason, ...(draft.note ? { note: draft.note } : {}), idempotencyKey: key },
        {
          onSuccess: (answer) => {
            if (answer.error?.code !== 'PAYMENT_PROVIDER_UNAVAILABLE') setUnfinished(null);
          },
          onError: (error) => {
            if (!isUnfinishedFailure(error)) setUnfinished(null);
          },
        },
      );
    },
  };
}

/** The request may have reached the server (a network failure, or the same press still in progress there). */
function isUnfinishedFailure(error: Error): boolean {
  if (error instanceof TypeError) return true;
  return error instanceof GraphQLRequestError && error.code === 'CONFLICT' && error.errors.some((e) => e.extensions?.reason === 'IDEMPOTENCY_KEY_IN_PROGRESS');
}
