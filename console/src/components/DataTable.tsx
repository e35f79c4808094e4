// The table of a list screen: one row per object, the open one marked selected. It renders what it is
// given; each screen says what its columns are (features/*/components/*Columns.tsx).
import type { ReactNode } from 'react';

export interface Column<Row> {
  header: string;
  /** The cell; `href` opens this row's details (the screen's first column links it). */
  cell: (row: Row, href: string) => ReactNode;
  /** Classes of the cell (mono, num, nowrap, truncate). */
  className?: string;
  /** Hidden on narrow screens, header and cells alike. */
  optional?: boolean;
  /** A tooltip for cells whose text may be cut short. */
  title?: (row: Row) => string | undefined;
}

function classes(...names: Array<string | false | undefined>): string | undefined {
  const joined = names.filter(Boolean).join(' ');
  return joined || undefined;
}

export function DataTable<Row extends { id: string }>({
  columns,
  rows,
  openId,
  rowHref,
}: {
  columns: ReadonlyArray<Column<Row>>;
  rows: Row[];
  /** The row whose details are open ('' for none). */
  openId: string;
  rowHref: (row: Row) => string;
}) {
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            {columns.map((column) => (
              <th key={column.header} scope="col" className={classes(column.optional && 'optional')}>
                {column.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => {
            const href = rowHref(row);
            return (
              <tr key={row.id} className={row.id === openId ? 'selected' : undefined} aria-selected={row.id === openId}>
                {columns.map((column) => (
                  <td key={column.header} className={classes(column.className, column.optional && 'optional')} title={column.title?.(row)}>
                    {column.cell(row, href)}
                  </td>
                ))}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
