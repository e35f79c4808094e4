// The customer page (/customers/:id or /customers/<email>, issue 22): who they are, what they paid,
// got back and kept (per currency), their first and last payment, and their orders, subscriptions,
// payment requests, refunds and disputes, each linked to where it is handled.
import { useQuery } from '@tanstack/react-query';
import { type ReactNode, useId } from 'react';
import { Link, useParams } from 'react-router';
import { ShortId } from '../../../components/ShortId';
import { Badge, Empty, ErrorState, Loading } from '../../../components/states';
import { formatDateTime, formatTableTime, humanize } from '../../../lib/format';
import { useLiveRefresh } from '../../../lib/liveRefresh';
import { formatRelative } from '../../../lib/relativeTime';
import { disputeUrl } from '../../disputes/urls';
import { REASON_WORDS } from '../../orders/components/refundWords';
import { orderListUrl, orderPageUrl } from '../../orders/urls';
import { paymentRequestUrl } from '../../paymentRequests/urls';
import { subscriptionUrl } from '../../subscriptions/urls';
import { type Customer, customerPageQuery } from '../queries';
import './customerPage.css';

export function CustomerPage() {
  const idOrEmail = useParams().id ?? '';
  const customer = useQuery({ ...customerPageQuery(idOrEmail), ...useLiveRefresh() });
  if (customer.isPending) return <Loading what="the customer" />;
  if (customer.isError) return <ErrorState error={customer.error} what="the customer" onRetry={() => void customer.refetch()} />;
  if (!customer.data) return <Empty>No customer has the {idOrEmail.includes('@') ? 'email' : 'id'} {idOrEmail}.</Empty>;
  return <CustomerView customer={customer.data} />;
}

function when(iso: string | null | undefined): ReactNode {
  if (!iso) return 'never';
  return (
    <>
      <time dateTime={iso}>{formatRelative(iso)}</time> <span className="muted">({formatDateTime(iso)})</span>
    </>
  );
}

function CustomerView({ customer }: { customer: Customer }) {
  const headingId = useId();
  return (
    <div className="customer-page">
      <header className="customer-head" aria-labelledby={headingId}>
        <h1 id={headingId}>{customer.email}</h1>
        <p className="muted">
          {customer.name ? `${customer.name} · ` : ''}customer since {formatDateTime(customer.createdAt)} · <ShortId id={customer.id} what="customer id" />
        </p>
      </header>
      <section aria-label="Totals" className="customer-totals">
        {customer.totals.length === 0 && <p className="muted">No payments yet.</p>}
        {customer.totals.map((total) => (
          <dl key={total.currency} className="customer-total" aria-label={`Totals in ${total.currency.toUpperCase()}`}>
            <div>
              <dt>Paid</dt>
              <dd>{total.paid.formatted}</dd>
            </div>
            <div>
              <dt>Refunded</dt>
              <dd>{total.refunded.formatted}</dd>
            </div>
            <div>
              <dt>Net</dt>
              <dd className="customer-net">{total.net.formatted}</dd>
            </div>
          </dl>
        ))}
        <dl className="customer-when">
          <div>
            <dt>First payment</dt>
            <dd>{when(customer.firstPaymentAt)}</dd>
          </div>
          <div>
            <dt>Last payment</dt>
            <dd>{when(customer.lastPaymentAt)}</dd>
          </div>
        </dl>
      </section>

      <Section title="Orders" count={customer.orders.nodes.length} more={customer.orders.pageInfo.hasNextPage}>
        <ul className="customer-list">
          {customer.orders.nodes.map((order) => (
            <li key={order.id}>
              <ShortId id={order.id} href={orderPageUrl(order.id)} label={`Order ${order.id}`} what="order id" />
              <Badge value={order.status} />
              <strong>{order.amount.formatted}</strong>
              <span>{order.trackName}</span>
              <span className="muted">{formatTableTime(order.createdAt)}</span>
            </li>
          ))}
        </ul>
        {customer.orders.pageInfo.hasNextPage && (
          <p>
            <Link to={orderListUrl({ q: customer.email })}>All orders of {customer.email}</Link>
          </p>
        )}
      </Section>

      <Section title="Subscriptions" count={customer.subscriptions.length}>
        <ul className="customer-list">
          {customer.subscriptions.map((s) => (
            <li key={s.id}>
              <ShortId id={s.id} href={subscriptionUrl(s.id)} what="subscription id" />
              <Badge value={s.status} />
              <span>{s.trackName ?? '—'}</span>
              <span className="muted">{s.cancelAtPeriodEnd ? 'ends' : 'renews'} {formatTableTime(s.currentPeriodEnd)}</span>
            </li>
          ))}
        </ul>
      </Section>

      <Section title="Payment requests" count={customer.paymentRequests.length}>
        <ul className="customer-list">
          {customer.paymentRequests.map((r) => (
            <li key={r.id}>
              <Link to={paymentRequestUrl(r.id)}>{r.title}</Link>
              <Badge value={r.status} />
              <strong>{r.total.formatted}</strong>
              <span className="muted">
                {r.membersPaid} of {r.membersCount} paid · {formatTableTime(r.createdAt)}
              </span>
            </li>
          ))}
        </ul>
      </Section>

      <Section title="Refunds" count={customer.refunds.length}>
        <ul className="customer-list">
          {customer.refunds.map((refund) => (
            <li key={refund.id}>
              <Badge value={refund.status} />
              <strong>{refund.amount.formatted}</strong>
              {refund.reason && <span>{REASON_WORDS[refund.reason]}</span>}
              <Link to={orderPageUrl(refund.orderId)}>its order</Link>
              <span className="muted">{formatTableTime(refund.createdAt)}</span>
            </li>
          ))}
        </ul>
      </Section>

      <Section title="Disputes" count={customer.disputes.length}>
        <ul className="customer-list">
          {customer.disputes.map((dispute) => (
            <li key={dispute.id}>
              <Badge value={dispute.status} />
              <strong>{dispute.amount.formatted}</strong>
              <span>{dispute.reason ? humanize(dispute.reason) : '—'}</span>
              <Link to={orderPageUrl(dispute.orderId)}>its order</Link>
              <ShortId id={dispute.id} href={disputeUrl(dispute.id)} label={`Dispute ${dispute.id}`} what="dispute id" />
              <span className="muted">{dispute.isOpen ? `evidence due ${formatTableTime(dispute.evidenceDueBy)}` : 'closed'}</span>
            </li>
          ))}
        </ul>
      </Section>
    </div>
  );
}

function Section({ title, count, more = false, children }: { title: string; count: number; more?: boolean; children: ReactNode }) {
  const id = useId();
  return (
    <section className="customer-section" aria-labelledby={id}>
      <h2 id={id}>
        {title} <span className="muted">({more ? `newest ${count}` : count})</span>
      </h2>
      {count === 0 ? <p className="muted">None.</p> : children}
    </section>
  );
}
