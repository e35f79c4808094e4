import { useState } from 'react';
import { describeError, newIdempotencyKey } from '../../../api/graphql';
import { useViewer } from '../../../auth/viewer';
import { ActionButton } from '../../../components/ActionButton';
import { enumOptions, type FilterField } from '../../../components/FilterBar';
import { ListPage } from '../../../components/ListPage';
import { humanize } from '../../../lib/format';
import { useListScreen } from '../../../lib/listScreen';
import { compact } from '../../../lib/urlState';
import { useStripeMode } from '../../orders/queries';
import { isUnfinishedFailure } from '../../orders/refundControl';
import { type PaymentRequestAction, usePaymentRequestAction } from '../mutations';
import {
  CLOSED_STATUSES,
  PAYMENT_REQUEST_STATUSES,
  type PaymentRequestDetail as PaymentRequest,
  paymentRequestDetailQuery,
  type PaymentRequestFilter,
  paymentRequestsListQuery,
  UNPAID_SHARE_STATUSES,
} from '../queries';
import { paymentRequestListParams } from '../urls';
import { paymentRequestColumns } from '../components/PaymentRequestColumns';
import { PaymentRequestDetail } from '../components/PaymentRequestDetail';
import { actionOutcomeInWords, paymentRequestErrorInWords } from '../components/paymentRequestWords';

const FILTERS: FilterField[] = [{ name: 'status', label: 'Status', kind: 'select', options: enumOptions(PAYMENT_REQUEST_STATUSES) }];

/** Payment requests split among members, newest first; the open one shows its members and what the viewer may do. */
export function PaymentRequestsPage() {
  const screen = useListScreen({
    params: paymentRequestListParams,
    filter: (values) => compact({ status: values.status }) as PaymentRequestFilter | undefined,
    listQuery: paymentRequestsListQuery,
    detailQuery: paymentRequestDetailQuery,
  });
  const { filter, url } = screen;
  const viewer = useViewer().data;
  const stripeMode = useStripeMode(Boolean(screen.detail.data));
  return (
    <ListPage
      title="Payment requests"
      description="Sums split among members, each paying their share with a PaymentIntent of their own; newest first. Open one for its members, to remind them or to cancel it."
      what="payment requests"
      empty={filter ? 'No payment requests match this filter.' : 'No payment requests yet.'}
      screen={screen}
      filterFields={FILTERS}
      columns={paymentRequestColumns(viewer?.id)}
      detail={{
        title: 'Payment request',
        what: 'the payment request',
        notFound: `No payment request has the id ${url.open}.`,
        children: (request) => (
          <PaymentRequestDetail
            request={request}
            stripeMode={stripeMode}
            viewerId={viewer?.id}
            canRefund={viewer?.role === 'ADMIN'}
            actions={<PaymentRequestActions request={request} />}
          />
        ),
      }}
    />
  );
}

/**
 * The actions on the open request: Send reminders for support and admins, Cancel request for admins
 * and the request's creator. While one is in flight the other waits.
 */
function PaymentRequestActions({ request }: { request: PaymentRequest }) {
  const viewer = useViewer().data;
  const remind = usePress('remind', request.id);
  const cancel = usePress('cancel', request.id);
  const busy = remind.pending || cancel.pending;
  const mayCancel = viewer?.role === 'ADMIN' || (Boolean(viewer?.id) && request.createdBy === `staff:${viewer?.id}`);
  const closed = CLOSED_STATUSES.has(request.status);
  const status = humanize(request.status).toLowerCase();
  const unpaid = request.members.filter((m) => UNPAID_SHARE_STATUSES.has(m.status)).length;
  const paid = request.membersPaid;
  const waiting = (press: Press) => (busy && !press.pending ? 'Another change to this request is being made.' : null);
  return (
    <div className="subscription-actions">
      <ActionButton
        label="Send reminders"
        pendingLabel="Sending reminders…"
        confirmTitle="Send reminders?"
        confirmBody={`Each of the ${unpaid} unpaid ${unpaid === 1 ? 'member' : 'members'} gets an email (sent by Make) with a new pay link; their earlier links stop working.`}
        confirmLabel="Send reminders"
        pending={remind.pending}
        error={remind.error}
        success={remind.success}
        disabledReason={closed ? `The request is ${status}: there is no one to remind.` : unpaid === 0 ? 'Every member has paid or is paying: there is no one to remind.' : waiting(remind)}
        onConfirm={(key) => remind.submit(key)}
      />
      {mayCancel ? (
        <ActionButton
          label="Cancel request"
          pendingLabel="Canceling…"
          confirmTitle="Cancel this payment request?"
          confirmBody={`Every member's open payment is canceled at Stripe, then the request: no unpaid share can be paid after. ${
            paid > 0 ? `The ${paid} paid ${paid === 1 ? 'share stays' : 'shares stay'} paid (refund each below if needed).` : 'No share is paid.'
          } This cannot be undone.`}
          confirmLabel="Cancel request"
          variant="danger"
          pending={cancel.pending}
          error={cancel.error}
          success={cancel.success}
          disabledReason={closed ? `The request is ${status}: there is nothing to cancel.` : waiting(cancel)}
          onConfirm={(key) => cancel.submit(key)}
        />
      ) : (
        <p className="muted">Only an admin or the request’s creator can cancel it.</p>
      )}
    </div>
  );
}

type Press = ReturnType<typeof usePress>;

/**
 * One action's mutation and key. One key per press; a press whose answer may not be final (Stripe could
 * not be reached, the request was lost on the way, or the same press is still at the server) is
 * pressed again with the same key, so the server finishes that action rather than claiming a second.
 * Any other answer ends the press.
 */
function usePress(action: PaymentRequestAction, id: string) {
  const mutation = usePaymentRequestAction(action);
  const [unfinishedKey, setUnfinishedKey] = useState<string | null>(null);
  const submit = (key?: string) => {
    const pressKey = unfinishedKey ?? key ?? newIdempotencyKey();
    setUnfinishedKey(pressKey);
    mutation.mutate(
      { idempotencyKey: pressKey, id },
      {
        onSuccess: (answer) => {
          if (answer.error?.code !== 'PAYMENT_PROVIDER_UNAVAILABLE') setUnfinishedKey(null);
        },
        onError: (error) => {
          if (!isUnfinishedFailure(error)) setUnfinishedKey(null);
        },
      },
    );
  };
  return {
    pending: mutation.isPending,
    error: mutation.isError ? describeError(mutation.error) : paymentRequestErrorInWords(mutation.data?.error),
    success: actionOutcomeInWords(action, mutation.data),
    submit,
  };
}
