import { type InfiniteData, infiniteQueryOptions, type QueryKey } from '@tanstack/react-query';

export interface PageInfo {
  hasNextPage: boolean;
  endCursor: string | null;
}

export interface Connection<T> {
  nodes: T[];
  pageInfo: PageInfo;
}

/** A keyset-paginated list: each page asks for the rows after the last page's endCursor, never an offset. */
export function keysetListOptions<T>(queryKey: QueryKey, fetchPage: (after: string | undefined) => Promise<Connection<T>>) {
  return infiniteQueryOptions({
    queryKey,
    queryFn: ({ pageParam }) => fetchPage(pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last: Connection<T>) => (last.pageInfo.hasNextPage && last.pageInfo.endCursor ? last.pageInfo.endCursor : undefined),
  });
}

/** The rows of every page loaded so far, in order. */
export function loadedRows<T>(data: InfiniteData<Connection<T>> | undefined): T[] {
  return data?.pages.flatMap((page) => page.nodes) ?? [];
}

export const PAGE_SIZE = 50;
