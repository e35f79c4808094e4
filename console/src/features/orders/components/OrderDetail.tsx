import { Link } from 'react-router';
import { Badge, Fields } from '../../../components/states';
import { formatDateTime, stripeDashboardUrl } from '../../../lib/format';
import { paymentLogListUrl } from '../../paymentLogs/urls';
import { webhookEventListUrl } from '../../webhookEvents/urls';
import type { Order } from '../queries';

type StripeMode = 'test' | 'live';

function StripeLink({ id, mode }: { id: string | null | undefined; mode: StripeMode }) {
  if (!id) return <span className="muted">—</span>;
  return (
    <a href={stripeDashboardUrl(id, mode)} target="_blank" rel="noreferrer noopener" className="mono" title={`Open ${id} in Stripe's dashboard (${mode} mode)`}>
      {id} ↗
    </a>
  );
}

/** An order's details, with its payment objects linked to the Stripe dashboard of the mode the server runs in. */
export function OrderDetail({ order, stripeMode }: { order: Order; stripeMode: StripeMode }) {
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
          ['PaymentIntent', <StripeLink key="pi" id={order.paymentIntentId ?? order.payment?.paymentIntentId} mode={stripeMode} />],
          ['Checkout Session', <StripeLink key="cs" id={order.checkoutSessionId} mode={stripeMode} />],
          ['Charge', order.payment?.chargeId ? <span className="mono">{order.payment.chargeId}</span> : '—'],
          ['Payment status (Stripe)', order.payment?.status ?? '—'],
          ['Refunded', order.payment ? order.payment.amountRefunded.formatted : '—'],
          ['Created', formatDateTime(order.createdAt)],
          ['Updated', formatDateTime(order.updatedAt)],
        ]}
      />
      <p>
        <Link to={paymentLogListUrl({ q: order.id })}>Payment log of this order</Link>
        {' · '}
        {order.paymentIntentId && <Link to={webhookEventListUrl({ objectId: order.paymentIntentId })}>Webhook events of its PaymentIntent</Link>}
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
