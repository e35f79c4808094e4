import { ShortId } from '../../../components/ShortId';
import { Link } from 'react-router';
import type { Column } from '../../../components/DataTable';
import { Badge } from '../../../components/states';
import { formatTableTime } from '../../../lib/format';
import { StripeLink, type StripeMode } from '../../orders/components/OrderDetail';
import { orderUrl } from '../../orders/urls';
import type { OrphanedPaymentRow } from '../queries';
import { formatAge, kindInWords } from './words';

/** The findings table; Stripe links go to the dashboard of the mode the server runs in. */
export function orphanedPaymentColumns(stripeMode: StripeMode, now = Date.now()): ReadonlyArray<Column<OrphanedPaymentRow>> {
  return [
    {
      header: 'Finding',
      cell: (row, href) => (
        <Link to={href} aria-label={`Finding ${row.id}`}>
          {kindInWords(row.kind)}
        </Link>
      ),
    },
    { header: 'Status', cell: (row) => <Badge value={row.status} /> },
    {
      header: 'Stripe object',
      title: (row) => (row.stripeObjectId ? `${row.stripeObjectId}${row.stripeStatus ? ` (${row.stripeStatus})` : ''}` : undefined),
      // The short link on one line and Stripe's status under it: on one truncated line the cell took
      // 260 px, leaving the Finding column a word a line beside the open detail panel.
      cell: (row) => (
        <>
          <span className="nowrap">
            <StripeLink id={row.stripeObjectId} mode={stripeMode} short />
          </span>
          {row.stripeStatus && <div className="muted">{row.stripeStatus.replaceAll('_', ' ')}</div>}
        </>
      ),
    },
    { header: 'Amount', className: 'num', cell: (row) => row.amount?.formatted ?? '—' },
    {
      header: 'Order',
      cell: (row) =>
        row.order ? (
          <ShortId id={row.order.id} href={orderUrl(row.order.id)} label={`Order ${row.order.id}`} what="order id" />
        ) : (
          <span className="muted">none</span>
        ),
    },
    { header: 'Age', className: 'nowrap', title: (row) => `First seen ${row.firstSeenAt}`, cell: (row) => formatAge(row.firstSeenAt, now) },
    { header: 'Next check (UTC)', className: 'nowrap', optional: true, cell: (row) => (row.nextCheckAt ? formatTableTime(row.nextCheckAt) : '—') },
  ];
}
