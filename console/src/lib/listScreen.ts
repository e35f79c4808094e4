// What every list screen fetches: its filters and open row from the URL, the keyset list for those
// filters, and the open row read by id. The views (features/*/views) call it; ListPage renders it.
import { type InfiniteData, type QueryKey, useInfiniteQuery, type UseInfiniteQueryResult, useQuery, type UseQueryOptions, type UseQueryResult } from '@tanstack/react-query';
import { type Connection, type keysetListOptions, loadedRows } from '../api/pagination';
import { useLiveRefresh } from './liveRefresh';
import { type ListUrl, useListUrl } from './urlState';

export interface ListScreen<Row, Detail, F> {
  url: ListUrl<string>;
  /** The filter input the list was asked with; undefined when no filter is set. */
  filter: F | undefined;
  list: UseInfiniteQueryResult<InfiniteData<Connection<Row>>>;
  /** The open row read by id (not asked while there is none, or while `known` holds it). */
  detail: UseQueryResult<Detail | null>;
  /** The open row when a loaded list row is all it is. */
  known: Detail | undefined;
}

export function useListScreen<K extends string, F, Row extends { id: string }, Detail, DetailKey extends QueryKey>(options: {
  params: readonly K[];
  /** The GraphQL filter input from the URL's values; undefined when none is set. */
  filter: (values: Record<K, string>) => F | undefined;
  listQuery: (filter: F | undefined) => ReturnType<typeof keysetListOptions<Row>>;
  detailQuery: (id: string) => UseQueryOptions<Detail | null, Error, Detail | null, DetailKey>;
  /** The list row is the whole object (payment logs): open a loaded row without reading it again. */
  openFromList?: (row: Row) => Detail;
}): ListScreen<Row, Detail, F> {
  const url = useListUrl(options.params);
  const filter = options.filter(url.values);
  // Live: the loaded pages are read again while the screen is visible (lib/liveRefresh.ts).
  const list = useInfiniteQuery({ ...options.listQuery(filter), ...useLiveRefresh() });
  const openRow = url.open && options.openFromList ? loadedRows(list.data).find((row) => row.id === url.open) : undefined;
  const known = openRow && options.openFromList?.(openRow);
  // A row the loaded pages do not hold (a shared link to an older one) is read once the list is in.
  const waitForList = Boolean(options.openFromList) && list.isPending;
  const detail = useQuery({ ...options.detailQuery(url.open), enabled: Boolean(url.open) && !known && !waitForList });
  return { url, filter, list, detail, known };
}
