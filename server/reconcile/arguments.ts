// What staff give reconciliation, checked one way wherever it comes from: the GraphQL API
// (server/api/graphql/resolvers/reconciliation.ts) and the operator's CLI (server/cli/commands.ts).
// Errors are BAD_USER_INPUT naming the API's field (input.since, input.note).
import { BadUserInputError } from '../platform/errors';
import { parseIsoTime } from '../platform/time';
import type { FindingAction, ReconciliationError, ReconciliationErrorCode } from './service';

/** `since` reaches back at most as far as Stripe keeps events. */
const SINCE_MAX_DAYS = 30;
/** A client clock a little ahead of ours is not "the future". */
const SINCE_CLOCK_SKEW_MS = 60_000;
const NOTE_MAX_CHARACTERS = 1000;

// A refusal that changed nothing keeps no key (the same key may be sent again once the cause is
// gone) and writes no audit row; any other answer, error included, is the one a repeat gets.
const NOTHING_CHANGED: ReadonlySet<ReconciliationErrorCode> = new Set([
  'ORDER_NOT_FOUND',
  'ORPHAN_NOT_FOUND',
  'ORPHAN_WRONG_STATE',
  'ORPHAN_ALREADY_PAID',
  'PAYMENT_PROVIDER_UNAVAILABLE',
]);
export const keeps = (error: ReconciliationError | null) => !error || !NOTHING_CHANGED.has(error.code);

/** `since`: an ISO 8601 time, not in the future, at most 30 days ago. */
export function parseSince(since: string | null | undefined, now = new Date()): Date | null {
  if (since === null || since === undefined) return null;
  const field = 'input.since';
  const time = parseIsoTime(since);
  if (Number.isNaN(time)) {
    throw new BadUserInputError('since must be an ISO 8601 time with its zone, e.g. 2026-12-01T00:00:00Z', { reason: 'INVALID_SINCE', field });
  }
  if (time > now.getTime() + SINCE_CLOCK_SKEW_MS) {
    throw new BadUserInputError('since is in the future: a pass can only look back', { reason: 'SINCE_IN_FUTURE', field });
  }
  if (time < now.getTime() - SINCE_MAX_DAYS * 86_400_000) {
    throw new BadUserInputError(`since is more than ${SINCE_MAX_DAYS} days ago: Stripe keeps events for ${SINCE_MAX_DAYS} days`, { reason: 'SINCE_TOO_OLD', field });
  }
  // The instant as given, not clamped to now: a `since` a few seconds ahead of our clock would hash
  // differently on each retry of the same key (a CONFLICT for the same press). The pass reads from the
  // earlier of it and its stored cursor, so an instant a little ahead changes nothing there.
  return new Date(time);
}

/** `note`: up to 1,000 characters; required (not blank) for DISMISS, which does nothing else. */
export function parseNote(note: string | null | undefined, action: Uppercase<FindingAction>): string | null {
  const field = 'input.note';
  if (note !== null && note !== undefined && Array.from(note).length > NOTE_MAX_CHARACTERS) {
    throw new BadUserInputError(`note must be at most ${NOTE_MAX_CHARACTERS} characters; got ${Array.from(note).length}`, { reason: 'NOTE_TOO_LONG', field });
  }
  if (action === 'DISMISS' && (note ?? '').trim() === '') {
    throw new BadUserInputError('DISMISS needs a note saying why the finding is closed without action', { reason: 'NOTE_REQUIRED', field });
  }
  return note ?? null;
}
