import { Link } from 'react-router';
import { Badge, Fields, JsonBlock } from '../../../components/states';
import { formatDateTime } from '../../../lib/format';
import { orderUrl } from '../../orders/urls';
import type { PaymentLog } from '../queries';

export function PaymentLogDetail({ row }: { row: PaymentLog }) {
  return (
    <>
      <Fields
        rows={[
          ['Row id', <span key="id" className="mono">{row.id}</span>],
          ['When', formatDateTime(row.createdAt)],
          ['Event', <span key="e" className="mono">{row.eventType}</span>],
          ['Status', <Badge key="s" value={row.status} />],
          ['Amount', row.amount?.formatted ?? '—'],
          ['Order', row.orderId ? <Link to={orderUrl(row.orderId)} className="mono">{row.orderId}</Link> : '—'],
          ['Customer', row.customerEmail ?? '—'],
          ['Customer id', row.customerId ? <span className="mono">{row.customerId}</span> : '—'],
        ]}
      />
      <h3>Metadata</h3>
      <JsonBlock json={row.metadata} label="Metadata" />
    </>
  );
}
