import { ShortId } from '../../../components/ShortId';
import type { Column } from '../../../components/DataTable';
import { CustomerEmailLink } from '../../customers/components/CustomerEmailLink';
import { Badge } from '../../../components/states';
import { formatTableTime } from '../../../lib/format';
import type { Order } from '../queries';

export const orderColumns: ReadonlyArray<Column<Order>> = [
  {
    header: 'Order',
    cell: (row, href) => (
<ShortId id={row.id} href={href} label={`Order ${row.id}`} what="order id" />
    ),
  },
  { header: 'Status', cell: (row) => <Badge value={row.status} /> },
  { header: 'Sync', cell: (row) => <Badge value={row.syncState} /> },
  { header: 'Amount', className: 'num', cell: (row) => row.amount.formatted },
  { header: 'Track', optional: true, cell: (row) => row.trackName },
  { header: 'Customer', cell: (row) => <CustomerEmailLink email={row.customer.email} customerId={row.customer.id} /> },
  { header: 'Created (UTC)', className: 'nowrap', optional: true, cell: (row) => formatTableTime(row.createdAt) },
];
