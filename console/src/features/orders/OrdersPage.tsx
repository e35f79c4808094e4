import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { DetailPanel } from '../../components/DetailPanel';
import { FilterBar, type FilterField } from '../../components/FilterBar';
import { Badge, Fields, ListStates, LoadMore, QueryContent } from '../../components/states';
import { formatDateTime, formatTableTime, humanize, stripeDashboardUrl } from '../../lib/format';
import { compact, openHref, useUrlState } from '../../lib/urlState';
import { ORDER_STATUSES, type Order, type OrderFilter, orderDetailQuery, ordersListQuery, SYNC_STATES, useStripeMode } from './queries';

const FIELDS: FilterField[] = [
  { name: 'q', label: 'Search', kind: 'search', placeholder: 'Order id, pi_…, cs_… or customer email', wide: true },
  { name: 'status', label: 'Status', kind: 'select', options: ORDER_STATUSES.map((s) => ({ value: s, label: humanize(s) })) },
  { name: 'syncState', label: 'Sync state', kind: 'select', options: SYNC_STATES.map((s) => ({ value: s, label: humanize(s) })) },
];
const KEYS = ['q', 'status', 'syncState'] as const;

function StripeLink({ id }: { id: string | null | undefined }) {
  const mode = useStripeMode();
  if (!id) return <span className="muted">—</span>;
  return (
    <a href={stripeDashboardUrl(id, mode)} target="_blank" rel="noreferrer noopener" className="mono" title={`Open ${id} in Stripe's dashboard (${mode} mode)`}>
      {id} ↗
    </a>
  );
}

export function OrdersPage() {
  const { values, open, params, update } = useUrlState(KEYS);
  const filter = compact({ status: values.status, syncState: values.syncState, search: values.q }) as OrderFilter | undefined;
  const list = useInfiniteQuery(ordersListQuery(filter));
  const rows = list.data?.pages.flatMap((page) => page.nodes) ?? [];

  return (
    <div className={open ? 'with-detail' : undefined}>
      <section className="list" aria-labelledby="orders-heading">
        <h1 id="orders-heading">Orders</h1>
        <p className="muted">Newest first, with how far our record agrees with Stripe (sync state).</p>
        <FilterBar fields={FIELDS} values={values} onApply={(next) => update({ ...next, open: null })} />
        <ListStates list={list} shown={rows.length} what="orders" searching={Boolean(filter?.search)} empty={filter ? 'No orders match these filters.' : 'No orders yet.'} />
        {rows.length > 0 && (
          <>
            <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Order</th>
                  <th scope="col">Status</th>
                  <th scope="col">Sync</th>
                  <th scope="col">Amount</th>
                  <th scope="col" className="optional">Track</th>
                  <th scope="col">Customer</th>
                  <th scope="col" className="optional">Created (UTC)</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => (
                  <tr key={row.id} className={row.id === open ? 'selected' : undefined} aria-selected={row.id === open}>
                    <td>
                      <Link to={openHref(params, row.id)} className="mono" aria-label={`Order ${row.id}`}>
                        {row.id.slice(0, 8)}…
                      </Link>
                    </td>
                    <td>
                      <Badge value={row.status} />
                    </td>
                    <td>
                      <Badge value={row.syncState} />
                    </td>
                    <td className="num">{row.amount.formatted}</td>
                    <td className="optional">{row.trackName}</td>
                    <td>{row.customer.email}</td>
                    <td className="nowrap optional">{formatTableTime(row.createdAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            </div>
            <LoadMore list={list} shown={rows.length} />
          </>
        )}
      </section>
      {open && <OrderDetailPanel key={open} id={open} />}
    </div>
  );
}

function OrderDetailPanel({ id }: { id: string }) {
  const detail = useQuery(orderDetailQuery(id));
  return (
    <DetailPanel title="Order">
      <QueryContent query={detail} what="the order" notFound={`No order has the id ${id}.`}>
        {(order) => <OrderDetail order={order} />}
      </QueryContent>
    </DetailPanel>
  );
}

function OrderDetail({ order }: { order: Order }) {
  return (
    <>
      <Fields
        rows={[
          ['Order id', <span key="id" className="mono">{order.id}</span>],
          ['Status', <Badge key="s" value={order.status} />],
          ['Sync state', <Badge key="y" value={order.syncState} />],
          ['Amount', order.amount.formatted],
          ['Track', `${order.trackName} (${order.track})`],
          ['Customer', `${order.customer.name ? `${order.customer.name}, ` : ''}${order.customer.email}`],
          ['PaymentIntent', <StripeLink key="pi" id={order.paymentIntentId ?? order.payment?.paymentIntentId} />],
          ['Checkout Session', <StripeLink key="cs" id={order.checkoutSessionId} />],
          ['Charge', order.payment?.chargeId ? <span className="mono">{order.payment.chargeId}</span> : '—'],
          ['Payment status (Stripe)', order.payment?.status ?? '—'],
          ['Refunded', order.payment ? order.payment.amountRefunded.formatted : '—'],
          ['Created', formatDateTime(order.createdAt)],
          ['Updated', formatDateTime(order.updatedAt)],
        ]}
      />
      <p>
        <Link to={`/payment-logs?q=${encodeURIComponent(order.id)}`}>Payment log of this order</Link>
        {' · '}
        {order.paymentIntentId && <Link to={`/webhook-events?objectId=${encodeURIComponent(order.paymentIntentId)}`}>Webhook events of its PaymentIntent</Link>}
      </p>
      {order.metadata.length > 0 && (
        <>
          <h3>Metadata</h3>
          <Fields rows={order.metadata.map((entry) => [entry.key, entry.value])} />
        </>
      )}
    </>
  );
}
