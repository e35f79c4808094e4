import { ShortId } from '../../../components/ShortId';
import type { Column } from '../../../components/DataTable';
import { Badge } from '../../../components/states';
import { breakAtDots, formatTableTime } from '../../../lib/format';
import type { WebhookEventRow } from '../queries';

export const webhookEventColumns: ReadonlyArray<Column<WebhookEventRow>> = [
  {
    header: 'Event',
    cell: (row, href) => (
<ShortId id={row.id} href={href} what="event id" />
    ),
  },
  { header: 'Type', className: 'mono', cell: (row) => breakAtDots(row.type) },
  {
    header: 'Object',
    cell: (row) => (
row.objectId ? <ShortId id={row.objectId} /> : '—'
    ),
  },
  { header: 'Status', cell: (row) => <Badge value={row.status} /> },
  { header: 'Attempts', optional: true, cell: (row) => row.attempts },
  { header: 'Created (UTC)', className: 'nowrap', optional: true, cell: (row) => formatTableTime(row.created) },
];
