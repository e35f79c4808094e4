import { Link } from 'react-router';
import { ActionButton } from '../../../components/ActionButton';
import { ShortId } from '../../../components/ShortId';
import { Badge, Fields } from '../../../components/states';
import { formatDateTime, stripeDashboardUrl } from '../../../lib/format';
import { paymentLogListUrl } from '../../paymentLogs/urls';
import { CustomerEmailLink } from '../../customers/components/CustomerEmailLink';
import { webhookEventListUrl } from '../../webhookEvents/urls';
import { disputeListUrl } from '../../disputes/urls';
import type { OrderDetail as Order } from '../queries';
import { RefundAction, type RefundControl } from './RefundAction';
import { RefundList } from './RefundList';

export type StripeMode = 'test' | 'live';

/**
 * A payment object's id linked to Stripe's dashboard, shortened (ShortId) with the full id in the
 * link's name and title. `short` is kept for callers that asked for the table form: every id is short now.
 */
export function StripeLink({ id, mode }: { id: string | null | undefined; mode: StripeMode; short?: boolean }) {
  if (!id) return <span className="muted">—</span>;
  return <ShortId id={id} href={stripeDashboardUrl(id, mode)} external label={`${id} in Stripe's dashboard`} title={`Open ${id} in Stripe's dashboard (${mode} mode)`} />;
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
 * runs in, (when `sync` is given) Sync with Stripe, its refunds and (when `refund` is given: admins)
 * Refund…, and its disputes.
 */
export function OrderDetail({
  order,
  stripeMode,
  sync = null,
  refund = null,
}: {
  order: Order;
  stripeMode: StripeMode;
  sync?: SyncControl | null;
  refund?: RefundControl | null;
}) {
  return (
    <>
      <Fields
        rows={[
          ['Order id', <ShortId key="id" id={order.id} />],
          ['Status', <Badge key="s" value={order.status} />],
          ['Sync state', <Badge key="y" value={order.syncState} />],
          ['Amount', order.amount.formatted],
          ['Track', `${order.trackName} (${order.track})`],
          ['Customer', <span key="customer">{order.customer.name && `${order.customer.name}, `}<CustomerEmailLink email={order.customer.email} customerId={order.customer.id} /></span>],
          ['PaymentIntent', <StripeLink key="pi" id={order.paymentIntentId ?? order.payment?.paymentIntentId} mode={stripeMode} />],
          ['Checkout Session', <StripeLink key="cs" id={order.checkoutSessionId} mode={stripeMode} />],
          ['Charge', order.payment?.chargeId ? <ShortId id={order.payment.chargeId} /> : '—'],
          ['Payment status (Stripe)', order.payment?.status ?? '—'],
          ['Refunded', order.payment ? order.payment.amountRefunded.formatted : '—'],
          ['Refundable', order.refundableAmount.formatted],
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
      <h3>Refunds</h3>
      {/* Said before the press; the server still decides (the dispute may have closed since). */}
      {order.disputes.some((d) => d.isOpen && !d.isChargeRefundable) && (
        <p className="notice">This payment is disputed: Stripe refuses refunds while the dispute is open. Respond to it in Stripe's dashboard (below).</p>
      )}
      {refund ? <RefundAction order={order} control={refund} /> : <p className="muted">Only an admin can refund.</p>}
      <RefundList refunds={order.refunds} />
      {order.disputes.length > 0 && (
        <>
          <h3>Disputes</h3>
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
          <p>
            <Link to={disputeListUrl()}>All disputes</Link>
          </p>
        </>
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
