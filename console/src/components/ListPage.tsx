// One list screen: heading, filters, the first page's states, the table with "Load more", and the
// open row's details beside it. It renders what its view gives it; the views (features/*/views)
// fetch the list and the open row and keep the filters in the URL.
import { type ReactNode, useId } from 'react';
import { loadedRows } from '../api/pagination';
import type { ListScreen } from '../lib/listScreen';
import { type Column, DataTable } from './DataTable';
import { DetailPanel } from './DetailPanel';
import { FilterBar, type FilterField } from './FilterBar';
import { ListStates, LoadMore, QueryContent } from './states';

export interface ListDetail<Detail> {
  title: string;
  /** Names it in loading and error states ("the order"). */
  what: string;
  notFound: string;
  children: (detail: Detail) => ReactNode;
}

export interface ListPageProps<Row extends { id: string }, Detail> {
  title: string;
  description: string;
  /** Names the rows in loading and error states ("orders"). */
  what: string;
  /** What an empty list says (with filters set, or none). */
  empty: string;
  /** A search is set: a search the server cannot read is a mistake in the box, not a failed page. */
  searching?: boolean;
  /** Beside the description: what the screen does with the whole filtered list (Export CSV). */
  actions?: ReactNode;
  /** The URL's filters and open row, the list and the open row as fetched (useListScreen). */
  screen: ListScreen<Row, Detail, unknown>;
  filterFields: FilterField[];
  columns: ReadonlyArray<Column<Row>>;
  detail: ListDetail<Detail>;
}

export function ListPage<Row extends { id: string }, Detail>(props: ListPageProps<Row, Detail>) {
  const headingId = useId();
  const { screen, detail } = props;
  const { list, url } = screen;
  const open = url.open;
  const rows = loadedRows(list.data);
  return (
    <div className={open ? 'with-detail' : undefined}>
      <section className="list" aria-labelledby={headingId}>
        <h1 id={headingId}>{props.title}</h1>
        <div className="list-intro">
          <p className="muted">{props.description}</p>
          {props.actions}
        </div>
        <FilterBar fields={props.filterFields} values={url.values} onApply={url.applyFilters} />
        <ListStates list={list} shown={rows.length} what={props.what} searching={props.searching} empty={props.empty} />
        {rows.length > 0 && (
          <>
            <DataTable columns={props.columns} rows={rows} openId={open} rowHref={url.rowHref} />
            <LoadMore list={list} shown={rows.length} />
          </>
        )}
      </section>
      {/* Keyed by the open id: another row's panel starts afresh (its buttons' outcomes included). */}
      {open && (
        <DetailPanel key={open} title={detail.title} closeHref={url.closeHref}>
          <QueryContent query={screen.detail} known={screen.known} what={detail.what} notFound={detail.notFound}>
            {detail.children}
          </QueryContent>
        </DetailPanel>
      )}
    </div>
  );
}
