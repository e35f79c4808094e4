// Refund…'s mutation and key, for any screen that shows an order's Refund… (the Orders screen, and a
// payment request's paid shares, whose orders are refunded the same way).
import { useState } from 'react';
import { describeError, GraphQLRequestError, newIdempotencyKey } from '../../api/graphql';
import type { RefundControl, RefundDraft } from './components/RefundAction';
import { refundErrorInWords, refundOutcomeInWords } from './components/refundWords';
import { useRefundPayment } from './mutations';
import type { OrderDetail } from './queries';

/**
 * One key per press; a press whose refund is kept as creating (Stripe could not be reached, or our
 * request was lost on the way) is pressed again with the same key and input, so the server completes
 * that refund rather than making a second. Any other answer ends the press.
 */
export function useRefundControl(order: Pick<OrderDetail, 'id'>): RefundControl {
  const mutation = useRefundPayment();
  const [unfinished, setUnfinished] = useState<{ key: string; draft: RefundDraft } | null>(null);
  const payload = mutation.data;
  return {
    pending: mutation.isPending,
    error: mutation.isError ? describeError(mutation.error) : payload ? refundErrorInWords(payload) : null,
    success: payload ? refundOutcomeInWords(payload) : null,
    unfinished: unfinished?.draft ?? null,
    onOpen: () => {
      if (!unfinished) mutation.reset();
    },
    onSubmit: (typed) => {
      const press = unfinished ?? { key: newIdempotencyKey(), draft: typed };
      setUnfinished(press);
      const { draft, key } = press;
      mutation.mutate(
        { orderId: order.id, amount: draft.amount, reason: draft.reason, ...(draft.note ? { note: draft.note } : {}), idempotencyKey: key },
        {
          onSuccess: (answer) => {
            if (answer.error?.code !== 'PAYMENT_PROVIDER_UNAVAILABLE') setUnfinished(null);
          },
          onError: (error) => {
            if (!isUnfinishedFailure(error)) setUnfinished(null);
          },
        },
      );
    },
  };
}

/** The request may have reached the server (a network failure, or the same press still in progress there). */
export function isUnfinishedFailure(error: Error): boolean {
  if (error instanceof TypeError) return true;
  return error instanceof GraphQLRequestError && error.code === 'CONFLICT' && error.errors.some((e) => e.extensions?.reason === 'IDEMPOTENCY_KEY_IN_PROGRESS');
}
