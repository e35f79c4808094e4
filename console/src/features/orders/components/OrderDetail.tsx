import { Link } from 'react-router';
import { ActionButton } from '../../../components/ActionButton';
import { Badge, Fields } from '../../../components/states';
import { formatDateTime, stripeDashboardUrl } from '../../../lib/format';
import { paymentLogListUrl } from '../../paymentLogs/urls';
import { webhookEventListUrl } from '../../webhookEvents/urls';
import type { Order } from '../queries';

export type StripeMode = 'test' | 'live';

/** A payment object's id linked to Stripe's dashboard; `short` shows its first characters (tables), the full id in the link's name. */
export function StripeLink({ id, mode, short = false }: { id: string | null | undefined; mode: StripeMode; short?: boolean }) {
  if (!id) return <span className="muted">—</span>;
  return (
    <a
      href={stripeDashboardUrl(id, mode)}
      target="_blank"
      rel="noreferrer noopener"
      className="mono"
      title={`Open ${id} in Stripe's dashboard (${mode} mode)`}
      aria-label={short ? `${id} in Stripe's dashboard` : undefined}
    >
      {short && id.length > 16 ? `${id.slice(0, 14)}…` : id} ↗
    </a>
  );
}

/** The Sync with Stripe button's state, from the view that owns the mutation. */
export interface SyncControl {
  pending: boolean;
  error: string | null;
  success: string | null;
  onConfirm: (idempotencyKey: string) => void;
}

/**
 * An order's details, with its payment objects linked to the Stripe dashboard of the mode the server
 * runs in, and (when `sync` is given) Sync with Stripe.
 */
export function OrderDetail({ order, stripeMode, sync = null }: { order: Order; stripeMode: StripeMode; sync?: SyncControl | null }) {
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
          // syncAttempts counts the janitor's checks only; lastSyncAt includes a staff sync.
          ['Asked Stripe', order.lastSyncAt === null ? 'never' : `last ${formatDateTime(order.lastSyncAt)}; janitor checks: ${order.syncAttempts}`],
        ]}
      />
      {sync && (
        <ActionButton
          label="Sync with Stripe"
          pendingLabel="Asking Stripe…"
          confirmTitle="Sync this order with Stripe?"
          confirmBody="Asks Stripe now about every payment attempt of this order and applies what it says, as the janitor would. Nothing is changed at Stripe."
          confirmLabel="Sync"
          pending={sync.pending}
          error={sync.error}
          success={sync.success}
          onConfirm={sync.onConfirm}
        />
      )}
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
