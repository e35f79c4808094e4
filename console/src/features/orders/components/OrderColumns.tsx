import { Link } from 'react-router';
import type { Column } from '../../../components/DataTable';
import { Badge } from '../../../components/states';
import { formatTableTime } from '../../../lib/format';
import type { Order } from '../queries';

export const orderColumns: ReadonlyArray<Column<Order>> = [
  {
    header: 'Order',
    cell: (row, href) => (
      <Link to={href} className="mono" aria-label={`Order ${row.id}`}>
        {row.id.slice(0, 8)}…
      </Link>
    ),
  },
  { header: 'Status', cell: (row) => <Badge value={row.status} /> },
  { header: 'Sync', cell: (row) => <Badge value={row.syncState} /> },
  { header: 'Amount', className: 'num', cell: (row) => row.amount.formatted },
  { header: 'Track', optional: true, cell: (row) => row.trackName },
  { header: 'Customer', cell: (row) => row.customer.email },
  { header: 'Created (UTC)', className: 'nowrap', optional: true, cell: (row) => formatTableTime(row.createdAt) },
];
