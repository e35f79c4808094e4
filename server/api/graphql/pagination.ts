// Pagination of the staff lists (webhook events, payment logs, orders, Make deliveries): the page
// size, and keyset cursors, opaque to clients: base64url of "<created in microseconds>|<id>", the
// keyset of the last row on a page. Anything that does not decode to exactly that is refused, not
// guessed at.
import type { ListKey } from '../../platform/db/keysetList';
import { BadUserInputError } from '../../platform/errors';

export const MAX_PAGE_SIZE = 200;
const DEFAULT_PAGE_SIZE = 50;

/** `first`, checked: 1 to 200; null or absent means the default, 50. */
export function parseFirst(first: number | null | undefined): number {
  const value = first ?? DEFAULT_PAGE_SIZE;
  if (value < 1 || value > MAX_PAGE_SIZE) throw new BadUserInputError(`first must be between 1 and ${MAX_PAGE_SIZE}; got ${value}`, { reason: 'INVALID_FIRST', field: 'first' });
  return value;
}

/** The row's time in microseconds since the Unix epoch, as text (a JS number cannot hold it exactly), and its id. */
export type Keyset = ListKey;

// Postgres' timestamptz range is wider, but no row of ours is created outside years 1 to 9999.
const MIN_CREATED_US = -62_135_596_800_000_000n;
const MAX_CREATED_US = 253_402_300_799_999_999n;

export const encodeCursor = (key: Keyset) => Buffer.from(`${key.createdUs}|${key.id}`, 'utf8').toString('base64url');

/** The keyset in `cursor`, whose id must match `idPattern`; `list` names the query in the error. */
export function decodeCursor(cursor: string, idPattern: RegExp, list: string): Keyset {
  const refuse = () => {
    throw new BadUserInputError(`after is not a cursor from ${list}: pass pageInfo.endCursor of the page before, unchanged`, { reason: 'INVALID_CURSOR', field: 'after' });
  };
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(cursor)) return refuse();
  const match = /^(-?\d{1,19})\|(.+)$/s.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match || !idPattern.test(match[2]!)) return refuse();
  const key = { createdUs: match[1]!, id: match[2]! };
  const micros = BigInt(key.createdUs);
  if (micros < MIN_CREATED_US || micros > MAX_CREATED_US || encodeCursor(key) !== cursor) return refuse();
  return key;
}

/** A list's page arguments, both checked before anything is read: `first`, and `after` as a keyset. */
export function parsePage(args: { first?: number | null; after?: string | null }, idPattern: RegExp, list: string): { first: number; after: Keyset | null } {
  const first = parseFirst(args.first);
  const after = args.after === null || args.after === undefined ? null : decodeCursor(args.after, idPattern, list);
  return { first, after };
}
