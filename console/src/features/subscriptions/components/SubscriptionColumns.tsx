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
    className: 'truncate',
    title: (row) => row.customerEmail,
    cell: (row, href) => (
      <Link to={href} aria-label={`Subscription ${row.id} of ${row.customerEmail}`}>
        {row.customerEmail}
      </Link>
    ),
  },
  { header: 'Track', cell: (row) => row.trackName ?? row.track ?? <span className="muted">not ours</span> },
  { header: 'Status', cell: (row) => <Badge value={row.status} /> },
  { header: 'Price', className: 'num nowrap', cell: (row) => (row.price ? perInterval(row.price.unitAmount.formatted, row.price.recurringInterval) : '—') },
  { header: 'Period ends (UTC)', className: 'nowrap', optional: true, cell: (row) => formatTableTime(row.currentPeriodEnd) },
  { header: 'Flags', cell: (row) => <SubscriptionFlags row={row} /> },
];
