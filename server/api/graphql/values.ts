// The small conversions every resolver file needs, once: times out as ISO 8601, ids and times in as
// typed BAD_USER_INPUT errors naming the field.
import { BadUserInputError } from '../../platform/errors';
import { isUuid } from '../../platform/ids';

export const iso = (value: Date | string) => new Date(value).toISOString();
export const isoOrNull = (value: Date | string | null) => (value === null ? null : iso(value));

/** A UUID argument (lower-cased), or BAD_USER_INPUT: "`field` must be `what` id (a UUID)" with `reason`. */
export function parseUuidArgument(id: string, field: string, what: string, reason: string): string {
  if (!isUuid(id)) throw new BadUserInputError(`${field} must be ${what} id (a UUID)`, { reason, field });
  return id.toLowerCase();
}

// ISO 8601 date-time with a zone (or a date, read as midnight UTC): a text Date.parse would read in
// the server's local zone, or guess at, is refused rather than taken to mean something else.
const ISO_8601_DATE_OR_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;
const ISO_8601_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** Milliseconds since the epoch of an ISO 8601 text with its zone (a date alone too, unless timeRequired), or NaN. */
export function parseIsoTime(value: string, options: { timeRequired?: boolean } = {}): number {
  const pattern = options.timeRequired ? ISO_8601_TIME : ISO_8601_DATE_OR_TIME;
  return pattern.test(value) ? Date.parse(value) : Number.NaN;
}
