import { ShortId } from '../../../components/ShortId';
import { Badge, Fields, JsonBlock } from '../../../components/states';
import { formatDateTime } from '../../../lib/format';
import { orderUrl } from '../../orders/urls';
import { CustomerEmailLink } from '../../customers/components/CustomerEmailLink';
import type { PaymentLog } from '../queries';

export function PaymentLogDetail({ row }: { row: PaymentLog }) {
  return (
    <>
      <Fields
        rows={[
          ['Row id', <ShortId key="id" id={row.id} />],
          ['When', formatDateTime(row.createdAt)],
          ['Event', <span key="e" className="mono">{row.eventType}</span>],
          ['Status', <Badge key="s" value={row.status} />],
          ['Amount', row.amount?.formatted ?? '—'],
          ['Order', row.orderId ? <ShortId id={row.orderId} href={orderUrl(row.orderId)} /> : '—'],
          ['Customer', <CustomerEmailLink key="email" email={row.customerEmail} customerId={row.customerId} />],
          ['Customer id', row.customerId ? <ShortId id={row.customerId} /> : '—'],
        ]}
      />
      <h3>Metadata</h3>
      <JsonBlock json={row.metadata} label="Metadata" />
    </>
  );
}
