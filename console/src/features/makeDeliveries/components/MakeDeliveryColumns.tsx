import { ShortId } from '../../../components/ShortId';
import type { Column } from '../../../components/DataTable';
import { Badge } from '../../../components/states';
import { formatTableTime, humanize } from '../../../lib/format';
import type { MakeDeliveryRow } from '../queries';
import { lastAnswer } from './lastAnswer';

export const makeDeliveryColumns: ReadonlyArray<Column<MakeDeliveryRow>> = [
  {
    header: 'Delivery',
    cell: (row, href) => (
<ShortId id={row.id} href={href} label={`Delivery ${row.id}`} what="delivery id" />
    ),
  },
  { header: 'Kind', cell: (row) => humanize(row.kind) },
  { header: 'Status', cell: (row) => <Badge value={row.status} /> },
  { header: 'Attempts', cell: (row) => row.attempts },
  { header: 'Next attempt (UTC)', className: 'nowrap', optional: true, cell: (row) => formatTableTime(row.nextAttemptAt) },
  { header: 'Last answer', className: 'truncate', title: lastAnswer, cell: lastAnswer },
  { header: 'Enqueued (UTC)', className: 'nowrap', optional: true, cell: (row) => formatTableTime(row.createdAt) },
];
