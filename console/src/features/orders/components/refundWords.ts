// Refunds in words: the reasons, the confirmation, what a refund did and the server's typed errors.
// The dialog, the order's refund list and the tests say the same things the same way.
import type { RefundErrorCode, RefundReason, RefundStatus } from '../../../api/generated/graphql';
import type { RefundPaymentPayload } from '../mutations';

export const REFUND_REASONS = ['REQUESTED_BY_CUSTOMER', 'DUPLICATE', 'FRAUDULENT', 'OTHER'] as const satisfies readonly RefundReason[];

export const REASON_WORDS: Record<RefundReason, string> = {
  REQUESTED_BY_CUSTOMER: 'Requested by the customer',
  DUPLICATE: 'Duplicate payment',
  FRAUDULENT: 'Fraudulent payment',
  // Stripe takes only its three reasons: OTHER is kept here (with the note) and sends none.
  OTHER: 'Other (no reason sent to Stripe)',
};

export const REFUND_STATUS_WORDS: Record<RefundStatus, string> = {
  CREATING: 'Creating: Stripe has not answered yet',
  PENDING: 'Pending: the money is on its way back',
  REQUIRES_ACTION: 'The customer must act',
  // Stripe's succeeded is sent, not received: a card refund takes days to arrive and can still fail.
  SUCCEEDED: 'Refund sent',
  FAILED: 'Failed: the amount may be refunded again',
  CANCELED: 'Cancelled',
};

/** The confirmation: "Refund $29.70 of $99.00 to ada@example.com". */
export function refundConfirmation(amount: string, orderTotal: string, email: string): string {
  return `Refund ${amount} of ${orderTotal} to ${email}`;
}

/**
 * Who requested a refund, in words: the staff member's name when the server knows it, else their
 * staff:<id>; a refund made in Stripe's dashboard names nobody of ours.
 */
export function refundedBy(refund: { requestedBy: string | null; requestedByName?: string | null }): string {
  return refund.requestedByName ?? refund.requestedBy ?? "at Stripe (its dashboard)";
}

/** A typed error in words, with what to do next. */
export function refundErrorInWords(
  payload: Pick<RefundPaymentPayload, 'error' | 'refundableAmount'> & { refund?: { failureReason?: string | null } | null },
): string | null {
  const error = payload.error;
  if (!error) return null;
  const code: RefundErrorCode = error.code;
  switch (code) {
    case 'REFUND_EXCEEDS_REMAINING':
      return `That is more than may still be refunded: ${payload.refundableAmount ? `at most ${payload.refundableAmount.formatted}` : 'see the order'} (another refund may have been made meanwhile). Nothing was refunded.`;
    case 'ORDER_NOT_REFUNDABLE':
      return `This order cannot be refunded: it is not paid, or it is refunded in full already.${payload.refundableAmount ? ` ${payload.refundableAmount.formatted} may be refunded.` : ''} Nothing was refunded.`;
    case 'CHARGE_DISPUTED':
      return "The payment is disputed: Stripe refuses refunds while a dispute is open. Respond to the dispute in Stripe's dashboard (Disputes) instead. Nothing was refunded.";
    case 'REFUND_REFUSED':
      // The refund's failure reason says which refusal: each has its own next step.
      switch (payload.refund?.failureReason) {
        case 'not_created':
          return 'This refund was not made at Stripe: Stripe could not be reached, and it was given up. Nothing was refunded by it; press Refund… again to make a new one.';
        case 'charge_already_refunded':
          return `Stripe refused the refund: ${error.message} The charge is refunded in full at Stripe already (made there; this order shows it once Stripe's notice arrives). Nothing more was refunded.`;
        default:
          return `Stripe refused the refund: ${error.message} Nothing was refunded; the amount may be refunded again.`;
      }
    case 'PAYMENT_PROVIDER_UNAVAILABLE':
      return 'Stripe could not be reached. The refund is kept as creating: press again to complete it (the same refund, never a second one).';
    case 'ORDER_NOT_FOUND':
      return 'No order has this id any more. Nothing was refunded.';
    default:
      return error.message;
  }
}

/** What a refund did, in words (only for an answer without an error). */
export function refundOutcomeInWords(payload: RefundPaymentPayload): string | null {
  if (payload.error || !payload.refund) return null;
  const prefix = payload.isRepeat ? 'Already refunded for this press' : 'Refunded';
  const status = payload.refund.status;
  const tail: Record<RefundStatus, string> = {
    SUCCEEDED: 'Stripe has refunded it',
    PENDING: 'Stripe is returning the money (some methods take days)',
    REQUIRES_ACTION: 'the customer must act before the money is returned',
    CREATING: 'Stripe has not confirmed it yet',
    FAILED: 'but it failed at Stripe: the amount may be refunded again',
    CANCELED: 'but it was cancelled',
  };
  return `${prefix} ${payload.refund.amount.formatted}: ${tail[status]}.`;
}
