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

export { parseIsoTime } from '../../platform/time';
