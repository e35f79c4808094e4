import { Link } from 'react-router';
import type { Column } from '../../../components/DataTable';
import { Badge } from '../../../components/states';
import { formatTableTime } from '../../../lib/format';
import type { PaymentRequestRow } from '../queries';
import { amountProgress, creatorInWords, membersProgress, requestFor } from './paymentRequestWords';

/** How far a request is paid: a bar of the amount paid of the total, and both in words. */
export function RequestProgress({ row }: { row: Pick<PaymentRequestRow, 'amountPaid' | 'total' | 'membersPaid' | 'membersCount'> }) {
  const words = amountProgress(row);
  return (
    <div className="request-progress">
      <progress max={row.total.amount} value={row.amountPaid.amount} aria-label={words} />
      <span>{words}</span>
      <span className="muted">{membersProgress(row)}</span>
    </div>
  );
}

export function paymentRequestColumns(viewerId: string | null | undefined): ReadonlyArray<Column<PaymentRequestRow>> {
  return [
    {
      header: 'Request',
      // The title links the row; what it buys under it, cut short on a phone (the tooltip has it all).
      className: 'request-title',
      title: (row) => `${row.title} — ${requestFor(row)}`,
      cell: (row, href) => (
        <>
          <Link to={href} aria-label={`Payment request ${row.title} (${row.id})`}>
            {row.title}
          </Link>
          <div className="muted request-for">{requestFor(row)}</div>
        </>
      ),
    },
    // The status over the progress, not a column of its own: the table fits a phone's width.
    {
      header: 'Status, progress',
      cell: (row) => (
        <>
          <Badge value={row.status} />
          <RequestProgress row={row} />
        </>
      ),
    },
    { header: 'Created by', optional: true, title: (row) => row.createdBy, cell: (row) => creatorInWords(row.createdBy, row.createdByName, viewerId) },
    { header: 'Created (UTC)', className: 'nowrap', optional: true, cell: (row) => formatTableTime(row.createdAt) },
    { header: 'Expires (UTC)', className: 'nowrap', optional: true, cell: (row) => (row.expiresAt ? formatTableTime(row.expiresAt) : <span className="muted">never</span>) },
  ];
}
