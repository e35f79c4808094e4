import { Link } from 'react-router';
import type { Column } from '../../../components/DataTable';
import { Badge } from '../../../components/states';
import { breakAtDots, formatTableTime } from '../../../lib/format';
import type { WebhookEventRow } from '../queries';

export const webhookEventColumns: ReadonlyArray<Column<WebhookEventRow>> = [
  {
    header: 'Event',
    cell: (row, href) => (
      <Link to={href} className="mono id-cell" title={row.id}>
        {row.id}
      </Link>
    ),
  },
  { header: 'Type', className: 'mono', cell: (row) => breakAtDots(row.type) },
  {
    header: 'Object',
    cell: (row) => (
      <span className="mono id-cell" title={row.objectId ?? undefined}>
        {row.objectId ?? '—'}
      </span>
    ),
  },
  { header: 'Status', cell: (row) => <Badge value={row.status} /> },
  { header: 'Attempts', optional: true, cell: (row) => row.attempts },
  { header: 'Created (UTC)', className: 'nowrap', optional: true, cell: (row) => formatTableTime(row.created) },
];
