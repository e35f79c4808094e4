// The open dispute beside the list: where it stands, what is due and when, and what it is about. Nothing
// is done here: evidence is submitted in Stripe's dashboard, which it links to.
import { ShortId } from '../../../components/ShortId';
import { Badge, Fields } from '../../../components/states';
import { formatDateTime, stripeDashboardUrl } from '../../../lib/format';
import { CustomerEmailLink } from '../../customers/components/CustomerEmailLink';
import type { StripeMode } from '../../orders/components/OrderDetail';
import { orderPageUrl } from '../../orders/urls';
import type { DisputeRow } from '../queries';
import { disputeReasonInWords, evidenceDue } from './disputeWords';

export function DisputeDetail({ dispute, stripeMode, now = Date.now() }: { dispute: DisputeRow; stripeMode: StripeMode; now?: number }) {
  const due = evidenceDue(dispute, now);
  return (
    <>
      <Fields
        rows={[
          ['Dispute', <ShortId id={dispute.id} what="dispute id" />],
          ['Status', <Badge value={dispute.status} />],
          [
            'Evidence due (UTC)',
            <>
              {dispute.evidenceDueBy && <div>{formatDateTime(dispute.evidenceDueBy)}</div>}
              <div className={due.urgent ? 'due-urgent' : 'muted'}>{due.text}</div>
            </>,
          ],
          ['Amount', dispute.amount.formatted],
          ['Reason', disputeReasonInWords(dispute.reason)],
          ['Charge refundable', dispute.isChargeRefundable ? 'Yes: a refund can settle it' : 'No'],
          ['Order', <ShortId id={dispute.orderId} href={orderPageUrl(dispute.orderId)} label={`Order ${dispute.orderId}`} what="order id" />],
          ['Customer', dispute.order?.customer.email ? <CustomerEmailLink email={dispute.order.customer.email} /> : null],
          ['Opened (UTC)', formatDateTime(dispute.createdAt)],
          ['Updated (UTC)', formatDateTime(dispute.updatedAt)],
        ]}
      />
      <p>
        <a href={stripeDashboardUrl(dispute.id, stripeMode)} target="_blank" rel="noreferrer noopener">
          Respond in Stripe's dashboard ↗
        </a>
      </p>
    </>
  );
}
