import { Link } from 'react-router';
import type { Column } from '../../../components/DataTable';
import { Badge } from '../../../components/states';
import { formatTableTime } from '../../../lib/format';
import { perInterval, type SubscriptionRow } from '../queries';

/** The flags a row carries beside its status: what will happen (cancel) and what is held (pause). */
export function SubscriptionFlags({ row }: { row: Pick<SubscriptionRow, 'cancelAtPeriodEnd' | 'pause'> }) {
  if (!row.cancelAtPeriodEnd && !row.pause) return <span className="muted">—</span>;
  return (
    <span className="flags">
      {row.cancelAtPeriodEnd && <span className="badge badge-warn">cancels at period end</span>}
      {row.pause && <span className="badge badge-info">paused</span>}
    </span>
  );
}

export const subscriptionColumns: ReadonlyArray<Column<SubscriptionRow>> = [
  {
    header: 'Customer',
    // Narrower on a phone (styles.css), so the status stays on screen beside it.
    className: 'truncate subscription-customer',
    title: (row) => row.customerEmail,
    cell: (row, href) => (
      <Link to={href} aria-label={`Subscription ${row.id} of ${row.customerEmail}`}>
        {row.customerEmail}
      </Link>
    ),
  },
  { header: 'Track', cell: (row) => row.trackName ?? row.track ?? <span className="muted">not ours</span> },
  {
    header: 'Status',
    // The flags beside the status, not a column of their own: the table fits a phone's width.
    cell: (row) => (
      <span className="flags">
        <Badge value={row.status} />
        {(row.cancelAtPeriodEnd || row.pause) && <SubscriptionFlags row={row} />}
      </span>
    ),
  },
  { header: 'Price', className: 'num nowrap', optional: true, cell: (row) => (row.price ? perInterval(row.price.unitAmount.formatted, row.price.recurringInterval) : '—') },
  { header: 'Period ends (UTC)', className: 'nowrap', optional: true, cell: (row) => formatTableTime(row.currentPeriodEnd) },
];
