import { ShortId } from '../../../components/ShortId';
import { useQuery } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { Link } from 'react-router';
import { describeError } from '../../../api/graphql';
import { Badge, Fields } from '../../../components/states';
import { formatDateTime } from '../../../lib/format';
import { StripeLink, type StripeMode } from '../../orders/components/OrderDetail';
import { RefundAction } from '../../orders/components/RefundAction';
import { orderDetailQuery } from '../../orders/queries';
import { useRefundControl } from '../../orders/refundControl';
import { orderUrl } from '../../orders/urls';
import { CustomerEmailLink } from '../../customers/components/CustomerEmailLink';
import type { PaymentRequestDetail as PaymentRequest, PaymentRequestMember } from '../queries';
import { RequestProgress } from './PaymentRequestColumns';
import { creatorInWords } from './paymentRequestWords';

/**
 * A request's fields, its actions (what the view gives for the viewer's role), and its members: each
 * share's status, attempts, PaymentIntent (linked to Stripe's dashboard) and, for admins, Refund… on a
 * paid share, which refunds the share's order as the Orders screen does.
 */
export function PaymentRequestDetail({
  request,
  stripeMode,
  viewerId,
  canRefund,
  actions,
}: {
  request: PaymentRequest;
  stripeMode: StripeMode;
  viewerId: string | null | undefined;
  canRefund: boolean;
  actions: ReactNode;
}) {
  const r = request;
  return (
    <>
      <Fields
        rows={[
          ['Request id', <ShortId key="id" id={r.id} />],
          ['Title', r.title],
          ['Status', <Badge key="s" value={r.status} />],
          [r.track ? 'Track' : 'Description', r.track ? `${r.trackName ?? r.track} (${r.track})` : (r.description ?? '—')],
          ['Total', r.total.formatted],
          ['Paid', <RequestProgress key="p" row={r} />],
          ['Refunded', r.amountRefunded.formatted],
          ['Created by', <span key="c" title={r.createdBy}>{creatorInWords(r.createdBy, r.createdByName, viewerId)}</span>],
          ['Created', formatDateTime(r.createdAt)],
          ['Expires', r.expiresAt ? formatDateTime(r.expiresAt) : 'never (until paid or canceled)'],
          ...(r.completedAt ? ([['Completed', formatDateTime(r.completedAt)]] as Array<[string, string]>) : []),
          ...(r.canceledAt ? ([['Canceled', formatDateTime(r.canceledAt)]] as Array<[string, string]>) : []),
          ...(r.metadata.length > 0 ? ([['Metadata', r.metadata.map((m) => `${m.key}: ${m.value}`).join(', ')]] as Array<[string, string]>) : []),
        ]}
      />
      {actions}
      <h3>Members</h3>
      <ul className="refund-list" aria-label="Members">
        {r.members.map((member) => (
          <MemberItem key={member.id} member={member} stripeMode={stripeMode} canRefund={canRefund} />
        ))}
      </ul>
      {!canRefund && r.members.some((m) => m.status === 'PAID') && <p className="muted">Only an admin can refund a share.</p>}
    </>
  );
}

const REFUNDABLE_SHARE_STATUSES: ReadonlySet<PaymentRequestMember['status']> = new Set(['PAID', 'REFUNDED']);

function MemberItem({ member, stripeMode, canRefund }: { member: PaymentRequestMember; stripeMode: StripeMode; canRefund: boolean }) {
  const m = member;
  const attempts = `${m.paymentAttemptCount} ${m.paymentAttemptCount === 1 ? 'attempt' : 'attempts'}`;
  return (
    <li className="refund-item member-item" aria-label={`Member ${m.email}`}>
      <div>
        <Badge value={m.status} /> <strong>{m.amount.formatted}</strong>
        {m.name && ` · ${m.name}`}
      </div>
      <div>
        <CustomerEmailLink email={m.email} />
      </div>
      <div className="muted">
        {attempts} · {m.paidAt ? `paid ${formatDateTime(m.paidAt)}` : 'not paid'}
        {m.amountRefunded.amount > 0 && ` · ${m.amountRefunded.formatted} refunded`}
      </div>
      {/* An id is not cut across lines: the line breaks before it on a phone. */}
      <div className="muted member-links">
        PaymentIntent <StripeLink id={m.paymentIntentId} mode={stripeMode} short />
        {m.orderId && (
          <>
            {' · '}
            <Link to={orderUrl(m.orderId)}>its order</Link>
          </>
        )}
      </div>
      {/* A paid share (in part refunded or disputed too) is refunded through its order; a processing one is not
          yet paid. A refunded one keeps it, disabled and saying why, and with what the last refund did. */}
      {canRefund && REFUNDABLE_SHARE_STATUSES.has(m.status) && m.orderId && <ShareRefund orderId={m.orderId} />}
    </li>
  );
}

/** Refund… on a share: the Orders screen's dialog on the share's order, read when the share is shown. */
function ShareRefund({ orderId }: { orderId: string }) {
  const order = useQuery(orderDetailQuery(orderId));
  const control = useRefundControl({ id: orderId });
  if (order.isPending) return <span className="muted">Reading the share’s order…</span>;
  if (order.isError && !order.data) {
    return (
      <p role="alert" className="action-error">
        Could not read the share’s order to refund it: {describeError(order.error)}
      </p>
    );
  }
  if (!order.data) return <span className="muted">The share’s order was not found: there is nothing to refund here.</span>;
  return <RefundAction order={order.data} control={control} />;
}
