// What an admin gives a refund, checked one way wherever it comes from: the GraphQL API
// (server/api/graphql/resolvers/refunds.ts) and the operator's CLI (server/cli/commands.ts).
import { BadUserInputError } from '../platform/errors';

/** Stripe refuses larger amounts for a card payment anyway (its max is 99,999,999 in the minor unit). */
export const MAX_REFUND_AMOUNT = 99_999_999;
export const NOTE_MAX_CHARACTERS = 500;

/** `amount`: null (the whole remainder) or an integer from 1 to 99,999,999 in the minor unit. */
export function parseRefundAmount(amount: number | null | undefined): number | null {
  if (amount === null || amount === undefined) return null;
  if (!Number.isSafeInteger(amount) || amount < 1 || amount > MAX_REFUND_AMOUNT) {
    throw new BadUserInputError(`amount must be a whole number of the minor unit (cents) from 1 to ${MAX_REFUND_AMOUNT}, or omitted for the whole refundable remainder; got ${amount}`, {
      reason: 'INVALID_AMOUNT',
      field: 'input.amount',
    });
  }
  return amount;
}

/** `note`: up to 500 characters (code points, as a person counts them); blank is no note. */
export function parseRefundNote(note: string | null | undefined): string | null {
  if (note === null || note === undefined) return null;
  const length = Array.from(note).length;
  if (length > NOTE_MAX_CHARACTERS) {
    throw new BadUserInputError(`note must be at most ${NOTE_MAX_CHARACTERS} characters; got ${length}`, { reason: 'NOTE_TOO_LONG', field: 'input.note' });
  }
  return note.trim() === '' ? null : note;
}
