import { Link } from 'react-router';
import type { Column } from '../../../components/DataTable';
import { Badge } from '../../../components/states';
import { formatTableTime, humanize } from '../../../lib/format';
import type { MakeDeliveryRow } from '../queries';
import { lastAnswer } from './lastAnswer';

export const makeDeliveryColumns: ReadonlyArray<Column<MakeDeliveryRow>> = [
  {
    header: 'Delivery',
    cell: (row, href) => (
      <Link to={href} className="mono" aria-label={`Delivery ${row.id}`}>
        {row.id.slice(0, 8)}…
      </Link>
    ),
  },
  { header: 'Kind', cell: (row) => humanize(row.kind) },
  { header: 'Status', cell: (row) => <Badge value={row.status} /> },
  { header: 'Attempts', cell: (row) => row.attempts },
  { header: 'Next attempt (UTC)', className: 'nowrap', optional: true, cell: (row) => formatTableTime(row.nextAttemptAt) },
  { header: 'Last answer', className: 'truncate', title: lastAnswer, cell: lastAnswer },
  { header: 'Enqueued (UTC)', className: 'nowrap', optional: true, cell: (row) => formatTableTime(row.createdAt) },
];
