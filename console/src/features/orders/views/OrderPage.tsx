// The order's own page (/orders/:id, issue 22): a header with where the order stands (status, sync
// state, amount, track, customer) and the actions the role may take (Sync with Stripe; Refund… for
// admins; open in Stripe), then one timeline of everything that happened to it, newest first, beside
// its payment ids and refunds. The order and its timeline are live while the page is visible.
import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { useId } from 'react';
import { Link, useParams } from 'react-router';
import { describeError } from '../../../api/graphql';
import { useIsAdmin } from '../../../auth/viewer';
import { ActionButton } from '../../../components/ActionButton';
import { CopyButton, shortenId } from '../../../components/ShortId';
import { Badge, Empty, ErrorState, Fields, Loading } from '../../../components/states';
import { formatDateTime, stripeDashboardUrl } from '../../../lib/format';
import { useLiveRefresh } from '../../../lib/liveRefresh';
import { CustomerEmailLink } from '../../customers/components/CustomerEmailLink';
import { ExportCsvButton } from '../../export/ExportCsvButton';
import { StripeLink, type StripeMode } from '../components/OrderDetail';
import { OrderTimeline } from '../components/OrderTimeline';
import { RefundAction } from '../components/RefundAction';
import { RefundList } from '../components/RefundList';
import { syncOutcomeInWords, useSyncOrder } from '../mutations';
import { type OrderDetail, orderDetailQuery, useStripeMode } from '../queries';
import { useRefundControl } from '../refundControl';
import { orderTimelineQuery } from '../timelineQueries';
import { orderListUrl } from '../urls';
import './orderPage.css';

export function OrderPage() {
  const id = useParams().id ?? '';
  const live = useLiveRefresh();
  const order = useQuery({ ...orderDetailQuery(id), ...live });
  const stripeMode = useStripeMode(Boolean(order.data));
  return (
    <div className="order-page">
      <nav className="breadcrumbs" aria-label="Breadcrumb">
        <Link to={orderListUrl()}>Orders</Link> <span aria-hidden="true">/</span> <span className="mono">{id}</span>
      </nav>
      {order.isPending && <Loading what="the order" />}
      {order.isError && <ErrorState error={order.error} what="the order" onRetry={() => void order.refetch()} />}
      {order.data === null && <Empty>No order has the id {id}.</Empty>}
      {order.data && <OrderPageBody order={order.data} stripeMode={stripeMode} />}
    </div>
  );
}

function OrderPageBody({ order, stripeMode }: { order: OrderDetail; stripeMode: StripeMode }) {
  const headingId = useId();
  const timelineId = useId();
  const timeline = useInfiniteQuery({ ...orderTimelineQuery(order.id), ...useLiveRefresh() });
  const paymentIntentId = order.paymentIntentId ?? order.payment?.paymentIntentId ?? null;
  const stripeObject = paymentIntentId ?? order.checkoutSessionId;
  return (
    <>
      <header className="order-head" aria-labelledby={headingId}>
        {/* The id shortened as ShortId shows ids (a UUID wrapped into lines at 390 px), its copy button
            beside the heading, so the heading's name stays "Order <full id>". */}
        <div className="order-title">
          <h1 id={headingId}>
            Order{' '}
            <span className="order-id" title={order.id}>
              <span className="visually-hidden">{order.id}</span>
              <span aria-hidden="true">{shortenId(order.id)}</span>
            </span>
          </h1>
          <CopyButton value={order.id} what="order id" />
        </div>
        <dl className="order-facts">
          <div>
            <dt>Status</dt>
            <dd>
              <Badge value={order.status} />
            </dd>
          </div>
          <div>
            <dt>Sync state</dt>
            <dd>
              <Badge value={order.syncState} />
            </dd>
          </div>
          <div>
            <dt>Amount</dt>
            <dd className="order-amount">{order.amount.formatted}</dd>
          </div>
          <div>
            <dt>Track</dt>
            <dd>{order.trackName}</dd>
          </div>
          <div>
            <dt>Customer</dt>
            <dd>
              {order.customer.name && <>{order.customer.name}, </>}
              <CustomerEmailLink email={order.customer.email} customerId={order.customer.id} />
            </dd>
          </div>
        </dl>
        <OrderActions order={order} stripeMode={stripeMode} stripeObject={stripeObject} />
      </header>
      <div className="order-columns">
        <section className="order-timeline" aria-labelledby={timelineId}>
          <h2 id={timelineId}>Timeline</h2>
          <OrderTimeline list={timeline} stripeMode={stripeMode} />
        </section>
        <aside className="order-side" aria-label="Payment, refunds and disputes">
          <h2>Payment</h2>
          <Fields
            rows={[
              ['PaymentIntent', <StripeLink key="pi" id={paymentIntentId} mode={stripeMode} />],
              ['Checkout Session', <StripeLink key="cs" id={order.checkoutSessionId} mode={stripeMode} />],
              ['Charge', order.payment?.chargeId ? <span className="mono">{order.payment.chargeId}</span> : '—'],
              ['Stripe says', order.payment?.status ?? '—'],
              ['Refunded', order.payment ? order.payment.amountRefunded.formatted : '—'],
              ['Refundable', order.refundableAmount.formatted],
              ['Created', formatDateTime(order.createdAt)],
              ['Asked Stripe', order.lastSyncAt === null ? 'never' : formatDateTime(order.lastSyncAt)],
            ]}
          />
          <h2>Refunds</h2>
          <RefundList refunds={order.refunds} />
          {order.refunds.length > 0 && <ExportCsvButton list="refunds" filter={{ orderId: order.id }} label="Export refunds (CSV)" />}
          {order.disputes.length > 0 && (
            <>
              <h2>Disputes</h2>
              <ul className="refund-list" aria-label="Disputes">
                {order.disputes.map((dispute) => (
                  <li key={dispute.id} className="refund-item">
                    <div>
                      <Badge value={dispute.status} /> <strong>{dispute.amount.formatted}</strong>
                      {dispute.reason && <span> · {dispute.reason.replaceAll('_', ' ')}</span>}
                    </div>
                    <div className="muted">
                      {dispute.isOpen ? `Evidence due ${formatDateTime(dispute.evidenceDueBy)}` : 'Closed'} ·{' '}
                      <a href={stripeDashboardUrl(dispute.id, stripeMode)} target="_blank" rel="noreferrer noopener">
                        respond in Stripe's dashboard ↗
                      </a>
                    </div>
                  </li>
                ))}
              </ul>
            </>
          )}
          {order.metadata.length > 0 && (
            <>
              <h2>Metadata</h2>
              <Fields rows={order.metadata.map((entry) => [entry.key, entry.value])} />
            </>
          )}
        </aside>
      </div>
    </>
  );
}

/** Sync with Stripe (every staff role), Refund… (admins) and the order's payment in Stripe's dashboard. */
function OrderActions({ order, stripeMode, stripeObject }: { order: OrderDetail; stripeMode: StripeMode; stripeObject: string | null }) {
  const sync = useSyncOrder();
  const outcome = syncOutcomeInWords(sync.data);
  const refund = useRefundControl(order);
  const isAdmin = useIsAdmin();
  return (
    <div className="actions order-actions">
      <ActionButton
        label="Sync with Stripe"
        pendingLabel="Asking Stripe…"
        confirmTitle="Sync this order with Stripe?"
        confirmBody="Asks Stripe now about every payment attempt of this order and applies what it says, as the janitor would. Nothing is changed at Stripe."
        confirmLabel="Sync"
        pending={sync.isPending}
        error={sync.isError ? describeError(sync.error) : outcome.error}
        success={outcome.success}
        onConfirm={(idempotencyKey) => sync.mutate({ orderId: order.id, idempotencyKey })}
      />
      {isAdmin && <RefundAction order={order} control={refund} />}
      {stripeObject && (
        <div className="action">
          <a className="button-link" href={stripeDashboardUrl(stripeObject, stripeMode)} target="_blank" rel="noreferrer noopener">
            Open in Stripe ↗
          </a>
        </div>
      )}
    </div>
  );
}
