import { ShortId } from '../../../components/ShortId';
import { Link } from 'react-router';
import type { Column } from '../../../components/DataTable';
import { CustomerEmailLink } from '../../customers/components/CustomerEmailLink';
import { Badge } from '../../../components/states';
import { breakAtDots, formatTableTime } from '../../../lib/format';
import { orderUrl } from '../../orders/urls';
import type { PaymentLog } from '../queries';

export const paymentLogColumns: ReadonlyArray<Column<PaymentLog>> = [
  {
    header: 'When (UTC)',
    cell: (row, href) => (
      <Link to={href} className="nowrap">
        {formatTableTime(row.createdAt)}
      </Link>
    ),
  },
  { header: 'Event', className: 'mono', cell: (row) => breakAtDots(row.eventType) },
  { header: 'Status', cell: (row) => <Badge value={row.status} /> },
  { header: 'Amount', className: 'num', cell: (row) => row.amount?.formatted ?? '—' },
  { header: 'Customer', optional: true, cell: (row) => (row.customerEmail ? <CustomerEmailLink email={row.customerEmail} customerId={row.customerId} /> : (row.customerId ?? '—')) },
  {
    header: 'Order',
    optional: true,
    cell: (row) => (row.orderId ? <ShortId id={row.orderId} href={orderUrl(row.orderId)} what="order id" /> : '—'),
  },
];
