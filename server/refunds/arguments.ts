// What staff give about refunds, checked one way wherever it comes from: the GraphQL API
// (server/api/graphql/resolvers/refunds.ts), the operator's CLI (server/cli/commands.ts) and the
// CSV export (server/api/http/export/).
import { BadUserInputError } from '../platform/errors';
import { isUuid } from '../platform/ids';
import type { RefundStatus } from './service';

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

/** The refunds list's filter as given: the schema's RefundFilter, or the export's query parameters. */
export interface RefundFilterInput {
  status?: Uppercase<RefundStatus> | null;
  orderId?: string | null;
}

/** The list's filter, checked: an order id must be a UUID (BAD_USER_INPUT naming the field). */
export function parseRefundFilter(filter: RefundFilterInput | null | undefined): { status: RefundStatus | null; orderId: string | null } {
  const orderId = filter?.orderId ?? null;
  if (orderId !== null && !isUuid(orderId)) {
    throw new BadUserInputError('filter.orderId must be an order id (a UUID)', { reason: 'INVALID_ORDER_ID', field: 'filter.orderId' });
  }
  return { status: filter?.status ? (filter.status.toLowerCase() as RefundStatus) : null, orderId: orderId === null ? null : orderId.toLowerCase() };
}
