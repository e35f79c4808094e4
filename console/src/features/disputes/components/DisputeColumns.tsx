import { Link } from 'react-router';
import { ShortId } from '../../../components/ShortId';
import type { Column } from '../../../components/DataTable';
import { Badge } from '../../../components/states';
import { formatTableTime, stripeDashboardUrl } from '../../../lib/format';
import type { StripeMode } from '../../orders/components/OrderDetail';
import { orderUrl } from '../../orders/urls';
import type { DisputeRow } from '../queries';
import { CustomerEmailLink } from '../../customers/components/CustomerEmailLink';
import { disputeReasonInWords, evidenceDue } from './disputeWords';

/**
 * The disputes table. Evidence is submitted in Stripe's dashboard, so each dispute links there (the
 * dashboard of the mode the server runs in); the order links to its detail here.
 */
export function disputeColumns(stripeMode: StripeMode, now = Date.now()): ReadonlyArray<Column<DisputeRow>> {
  return [
    {
      header: 'Dispute',
      cell: (row, href) => (
        <>
          <ShortId
            id={row.id}
            href={stripeDashboardUrl(row.id, stripeMode)}
            external
            label={`Dispute ${row.id} in Stripe's dashboard`}
            title={`Respond to ${row.id} in Stripe's dashboard (${stripeMode} mode)`}
            what="dispute id"
          />
          <div>
            {/* Named by its hidden text, which holds what is seen (WCAG 2.5.3), as ShortId names its links. */}
            <Link to={href}>
              <span className="visually-hidden">Details of dispute {row.id}</span>
              <span aria-hidden="true">Details</span>
            </Link>
          </div>
        </>
      ),
    },
    // Status under the deadline, so that on a 390 px phone the first two columns say what is due and when.
    {
      header: 'Evidence due (UTC), status',
      cell: (row) => {
        const due = evidenceDue(row, now);
        return (
          <>
            {row.evidenceDueBy && <div className="nowrap">{formatTableTime(row.evidenceDueBy)}</div>}
            <div className={due.urgent ? 'due-urgent' : 'muted'} data-urgent={due.urgent || undefined}>
              {due.text}
            </div>
            <Badge value={row.status} />
          </>
        );
      },
    },
    { header: 'Amount', className: 'num', cell: (row) => row.amount.formatted },
    { header: 'Reason', cell: (row) => disputeReasonInWords(row.reason) },
    {
      header: 'Order',
      cell: (row) => (
        <>
          <ShortId id={row.orderId} href={orderUrl(row.orderId)} label={`Order ${row.orderId}`} what="order id" />
          {row.order?.customer.email && (
            <div className="muted">
              <CustomerEmailLink email={row.order.customer.email} />
            </div>
          )}
        </>
      ),
    },
    { header: 'Opened (UTC)', className: 'nowrap', optional: true, cell: (row) => formatTableTime(row.createdAt) },
  ];
}
