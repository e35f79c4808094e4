// Payment requests in words: who made one, how far it is paid, the server's typed errors with what to
// do next, and what an action did. The screen and the tests say the same things the same way.
import type { PaymentRequestActionPayload, PaymentRequestAction, PaymentRequestError } from '../mutations';
import type { PaymentRequestRow } from '../queries';

/**
 * createdBy (staff:<id>, customer:<id>, api_key:<id>) in words, by the creator's name when the server
 * knows it (createdByName) and else a short id; the signed-in staff member's own is "you", as the
 * creator may cancel where another support member may not.
 */
export function creatorInWords(createdBy: string, createdByName: string | null | undefined, viewerId: string | null | undefined): string {
  const [kind, ...rest] = createdBy.split(':');
  const id = rest.join(':');
  const short = createdByName || (id.length > 12 ? `${id.slice(0, 8)}…` : id);
  switch (kind) {
    case 'staff':
      return viewerId && id === viewerId ? 'you' : `staff ${short}`;
    case 'customer':
      return `customer ${short}`;
    case 'api_key':
      return `API key ${short}`;
    default:
      return createdBy;
  }
}

/** "$33.00 of $99.00 paid". */
export const amountProgress = (row: Pick<PaymentRequestRow, 'amountPaid' | 'total'>) => `${row.amountPaid.formatted} of ${row.total.formatted} paid`;

/** "1 of 3 members paid". */
export const membersProgress = (row: Pick<PaymentRequestRow, 'membersPaid' | 'membersCount'>) =>
  `${row.membersPaid} of ${row.membersCount} ${row.membersCount === 1 ? 'member' : 'members'} paid`;

/** What the request buys: its track, or its free description. */
export const requestFor = (row: Pick<PaymentRequestRow, 'trackName' | 'track' | 'description'>) => row.trackName ?? row.track ?? row.description ?? '—';

/** A typed error of Cancel request or Send reminders, in words, with what to do next. */
export function paymentRequestErrorInWords(error: PaymentRequestError | null | undefined): string | null {
  if (!error) return null;
  switch (error.code) {
    case 'PAYMENT_REQUEST_NOT_FOUND':
      return 'No payment request has this id any more. Nothing changed.';
    case 'REQUEST_NOT_CANCELABLE':
      return 'The request is paid, canceled or expired already: there is nothing to cancel. Nothing changed.';
    case 'REQUEST_NOT_PAYABLE':
      return 'The request is paid, canceled or expired: there is no one to remind. Nothing was sent.';
    case 'PAYMENT_PROVIDER_UNAVAILABLE':
      return 'Stripe could not be reached, so the members’ payments could not all be stopped. Press again to finish this cancel (the same cancel, never a second one).';
    default:
      return error.message;
  }
}

/** What an action did, in words (only for an answer without an error). */
export function actionOutcomeInWords(action: PaymentRequestAction, payload: PaymentRequestActionPayload | undefined): string | null {
  if (!payload || payload.error || !payload.paymentRequest) return null;
  const repeat = payload.isRepeat ? ' (already done for this press)' : '';
  if (action === 'cancel') {
    const paid = payload.paymentRequest.membersPaid;
    return `Request canceled${repeat}: the unpaid shares can no longer be paid${paid > 0 ? `; the ${paid} paid ${paid === 1 ? 'share stays' : 'shares stay'} paid` : ''}.`;
  }
  const reminded = payload.reminded ?? 0;
  if (reminded === 0) return `No one to remind${repeat}: every member has paid or is paying.`;
  return `Reminders queued for ${reminded} ${reminded === 1 ? 'member' : 'members'}${repeat}: Make sends each a new pay link.`;
}
