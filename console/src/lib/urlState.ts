// Filters and the open row live in the URL query string, so a URL can be shared and reloads keep the view.
import { useCallback } from 'react';
import { useSearchParams } from 'react-router';

export function useUrlState<K extends string>(keys: readonly K[]) {
  const [params, setParams] = useSearchParams();
  const values = Object.fromEntries(keys.map((k) => [k, params.get(k) ?? ''])) as Record<K, string>;
  /** Sets the given keys (empty removes them); other keys stay. */
  const update = useCallback(
    (changes: Partial<Record<K | 'open', string | null | undefined>>) => {
      setParams((current) => {
        const next = new URLSearchParams(current);
        for (const [key, value] of Object.entries(changes) as Array<[string, string | null | undefined]>) {
          if (value) next.set(key, value);
          else next.delete(key);
        }
        return next;
      });
    },
    [setParams],
  );
  return { values, open: params.get('open') ?? '', params, update };
}

/** The current query string with `open` set to id: the link of a row. */
export function openHref(params: URLSearchParams, id: string | null): string {
  const next = new URLSearchParams(params);
  if (id) next.set('open', id);
  else next.delete('open');
  const search = next.toString();
  return search ? `?${search}` : '?';
}

/** Only the non-empty values, for a GraphQL filter input; undefined when there are none. */
export function compact<T extends Record<string, string | undefined>>(values: T): Partial<T> | undefined {
  const entries = Object.entries(values).filter(([, v]) => v !== undefined && v !== '');
  return entries.length > 0 ? (Object.fromEntries(entries) as Partial<T>) : undefined;
}

/** What a list screen keeps in its URL, and the links and changes it makes from it. */
export interface ListUrl<K extends string> {
  /** The filter values, '' where unset. */
  values: Record<K, string>;
  /** The id of the open row, '' for none. */
  open: string;
  rowHref: (row: { id: string }) => string;
  closeHref: string;
  /** Sets the filters and closes the open row, which they may leave out. */
  applyFilters: (values: Record<string, string>) => void;
}

export function useListUrl<K extends string>(keys: readonly K[]): ListUrl<K> {
  const { values, open, params, update } = useUrlState(keys);
  return {
    values,
    open,
    rowHref: (row) => openHref(params, row.id),
    closeHref: openHref(params, null),
    applyFilters: (next) => update({ ...(next as Partial<Record<K, string>>), open: null }),
  };
}

/** A screen's path with the given parameters (empty ones left out): the links one feature makes to another's screen. */
export function screenUrl(path: string, params: Record<string, string | null | undefined> = {}): string {
  const search = new URLSearchParams(Object.entries(params).filter((entry): entry is [string, string] => Boolean(entry[1]))).toString();
  return search ? `${path}?${search}` : path;
}
