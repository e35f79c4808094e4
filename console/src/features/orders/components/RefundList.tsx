// The order's refunds, newest first: status, amount, reason, who and when. A list rather than a table,
// so it reads in the 400 px detail panel and on a 390 px phone without scrolling sideways.
import { ShortId } from '../../../components/ShortId';
import { Badge } from '../../../components/states';
import { formatDateTime } from '../../../lib/format';
import type { Refund } from '../queries';
import { REASON_WORDS, REFUND_STATUS_WORDS, refundedBy } from './refundWords';

export function RefundList({ refunds }: { refunds: Refund[] }) {
  if (refunds.length === 0) return <p className="muted">No refunds.</p>;
  return (
    <ul className="refund-list" aria-label="Refunds">
      {refunds.map((refund) => (
        <li key={refund.id} className="refund-item">
          <div>
            <Badge value={refund.status} /> <strong>{refund.amount.formatted}</strong>
            {refund.reason && <span> · {REASON_WORDS[refund.reason]}</span>}
          </div>
          <div className="muted">
            {REFUND_STATUS_WORDS[refund.status]}
            {refund.failureReason && `: ${refund.failureReason}`}
          </div>
          <div className="muted">
            by <span className="mono" title={refund.requestedByName ? (refund.requestedBy ?? undefined) : undefined}>{refundedBy(refund)}</span>, {formatDateTime(refund.createdAt)}
          </div>
          {refund.stripeRefundId && (
            <div className="muted">
              <ShortId id={refund.stripeRefundId} what="Stripe refund id" />
            </div>
          )}
        </li>
      ))}
    </ul>
  );
}
