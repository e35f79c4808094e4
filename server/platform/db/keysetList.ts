// The statement of a list page that staff page through newest first, shared by every list (orders,
// payment logs, webhook events, Make deliveries): keyset pagination on (time, id), and only the
// conditions given rather than one text with `($1 is null or col = $1)` for every filter, since a
// generic plan of that shape cannot use the filter's index. Each filter has its own (column, time desc,
// id desc) index that serves both the WHERE and the ORDER BY, so a page reads `first + 1` index entries
// however many rows are stored; the keyset is a row comparison, which a btree scan takes as its start.
// Values are always bound.
import type { SqlParam } from './db';

/** A position in a list: the (time, id) of the last row seen; time in microseconds since the epoch. */
export interface ListKey {
  createdUs: string;
  id: string;
}

export interface ListPage<Row> {
  rows: Row[];
  hasNextPage: boolean;
}

export interface KeysetList {
  /** The statement's parameters, in the order bind() numbered them. */
  readonly params: SqlParam[];
  /** Binds a value: returns its placeholder ($n). */
  bind(value: SqlParam): string;
  /** Adds a condition (built with bind()). */
  where(condition: string): void;
  /** What follows FROM: the conditions, the keyset after `after`, the order, and a limit of first + 1. */
  tail(after: ListKey | null | undefined, first: number): string;
}

/** `time` and `id` are the (qualified) columns of the order; `idType` the id's SQL type, for its cast. */
export function keysetList(keyset: { time: string; id: string; idType: 'uuid' | 'text' | 'bigint' }): KeysetList {
  const params: SqlParam[] = [];
  const bind = (value: SqlParam) => `$${params.push(value)}`;
  const conditions: string[] = [];
  return {
    params,
    bind,
    where: (condition) => void conditions.push(condition),
    tail(after, first) {
      if (after) {
        conditions.push(
          `(${keyset.time}, ${keyset.id}) < ('epoch'::timestamptz + ${bind(after.createdUs)}::bigint * interval '1 microsecond', ${bind(after.id)}::${keyset.idType})`,
        );
      }
      // One row more than asked tells whether another page follows.
      return `${conditions.length > 0 ? `where ${conditions.join(' and ')}` : ''}
       order by ${keyset.time} desc, ${keyset.id} desc
       limit ${bind(first + 1)}`;
    },
  };
}

/** The page of `first` rows from a statement that asked for first + 1. */
export function pageOf<Row>(rows: Row[], first: number): ListPage<Row> {
  return { rows: rows.slice(0, first), hasNextPage: rows.length > first };
}
