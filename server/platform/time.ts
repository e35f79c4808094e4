// Times people and clients write: read strictly, so that a text is never taken to mean another instant.

// ISO 8601 date-time with a zone (or a date, read as midnight UTC): a text Date.parse would read in
// the server's local zone, or guess at, is refused rather than taken to mean something else.
const ISO_8601_DATE_OR_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;
const ISO_8601_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** Milliseconds since the epoch of an ISO 8601 text with its zone (a date alone too, unless timeRequired), or NaN. */
export function parseIsoTime(value: string, options: { timeRequired?: boolean } = {}): number {
  const pattern = options.timeRequired ? ISO_8601_TIME : ISO_8601_DATE_OR_TIME;
  return pattern.test(value) ? Date.parse(value) : Number.NaN;
}
