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
