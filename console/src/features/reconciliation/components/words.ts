// Reconciliation in words: what a finding is, what each action will do at Stripe, what a run did, and
// the server's typed errors. The screens and the Overview's panel say the same things the same way.
import { formatDuration } from '../../../lib/format';
import type { ReconciliationErrorCode } from '../../../api/generated/graphql';
import type { OrphanedPaymentAction, OrphanedPaymentKind, OrphanedPaymentRow, ReconciliationRun } from '../queries';

export const KIND_WORDS: Record<OrphanedPaymentKind, string> = {
  STRIPE_WITHOUT_RECORD: 'At Stripe, no record here',
  AMOUNT_MISMATCH: "Amount differs from the order's",
  PROVISIONAL_TOO_LONG: 'Order provisional too long',
  ATTEMPT_WITHOUT_OBJECT: 'Attempt without a Stripe object',
  NEEDS_CLEANUP: 'Stripe object left to cancel',
};

export const KIND_HINTS: Record<OrphanedPaymentKind, string> = {
  STRIPE_WITHOUT_RECORD: 'A PaymentIntent or Checkout Session at Stripe carries our metadata, but we have no record of it.',
  AMOUNT_MISMATCH: "Stripe's amount differs from the order's: the order is left for staff and never fulfilled.",
  PROVISIONAL_TOO_LONG: 'The order is still provisional after the janitor\'s last backed-off check (5 minutes, 1 hour, 1 day).',
  ATTEMPT_WITHOUT_OBJECT: 'A payment attempt whose create at Stripe never completed, and whose object the janitor could not settle.',
  NEEDS_CLEANUP: 'Our record of the attempt failed, and so did cancelling its Stripe object.',
};

export function kindInWords(kind: OrphanedPaymentKind): string {
  return KIND_WORDS[kind] ?? kind;
}

function stripeObjectInWords(id: string | null): string {
  if (!id) return 'its Stripe object';
  return id.startsWith('cs_') ? `Checkout Session ${id}` : `PaymentIntent ${id}`;
}

export const ACTION_LABELS: Record<OrphanedPaymentAction, { label: string; pendingLabel: string; confirmTitle: string; variant: 'primary' | 'danger' }> = {
  ADOPT: { label: 'Adopt', pendingLabel: 'Adopting…', confirmTitle: 'Adopt this payment?', variant: 'primary' },
  CANCEL: { label: 'Cancel at Stripe', pendingLabel: 'Cancelling…', confirmTitle: 'Cancel this payment at Stripe?', variant: 'danger' },
  DISMISS: { label: 'Dismiss', pendingLabel: 'Dismissing…', confirmTitle: 'Dismiss this finding?', variant: 'primary' },
};

/** What the action will do, at Stripe and here, before the admin confirms it. */
export function actionInWords(action: OrphanedPaymentAction, finding: Pick<OrphanedPaymentRow, 'stripeObjectId' | 'amount' | 'order' | 'actions'>): string {
  switch (action) {
    case 'ADOPT': {
      const amount = finding.amount ? `the payment of ${finding.amount.formatted}` : 'the payment';
      const where = finding.order ? `on order ${finding.order.id}` : 'on a new order made from its metadata';
      return `Records ${amount} ${where}, as its webhook would have; nothing is changed at Stripe.`;
    }
    case 'CANCEL':
      return finding.stripeObjectId?.startsWith('cs_')
        ? `Expires ${stripeObjectInWords(finding.stripeObjectId)} at Stripe: the customer can no longer pay it.`
        : `Cancels ${stripeObjectInWords(finding.stripeObjectId)} at Stripe: the customer can no longer pay it.`;
    case 'DISMISS':
      // Still payable at Stripe (CANCEL is offered): dismissing ends the janitor's watch of it, its
      // recheck and its automatic cancel, which "nothing is done at Stripe" alone would hide.
      return finding.actions.includes('CANCEL')
        ? `Closes the finding with your note; nothing is done at Stripe: ${stripeObjectInWords(finding.stripeObjectId)} stays payable there and is no longer watched here (no recheck, no automatic cancel). If someone pays it, its webhook still records the payment on an order.`
        : 'Closes the finding with your note; nothing is done at Stripe.';
  }
}

type ErrorCode = ReconciliationErrorCode;
type ReconciliationError = { code: ErrorCode; message: string };
const ERROR_WORDS: Record<ErrorCode, string> = {
  ORDER_NOT_FOUND: 'No order has this id.',
  ORPHAN_NOT_FOUND: 'No finding has this id any more.',
  ORPHAN_WRONG_STATE: 'The finding is not as it was when you pressed: it is resolved, someone else is on it, or Stripe shows the payment in another state now.',
  ORPHAN_ALREADY_PAID: 'It is paid at Stripe, so it cannot be cancelled: refund it instead.',
  AMOUNT_MISMATCH: "Stripe's amount differs from the order's: the order is left for staff and not fulfilled.",
  DUPLICATE_PAYMENT: 'Recorded as a second payment of an order already paid: refund it at Stripe. The finding is closed.',
  STRIPE_OBJECT_NOT_FOUND: 'Stripe no longer has this object (deleted, or in another account).',
  PAYMENT_PROVIDER_UNAVAILABLE: 'Stripe could not be reached; nothing changed. Try again in a moment.',
};

/** A typed error in our words, with the server's own sentence after it when it adds something. */
export function reconciliationErrorInWords(error: Pick<ReconciliationError, 'code' | 'message'> | null | undefined): string | null {
  if (!error) return null;
  const words = ERROR_WORDS[error.code];
  if (!words) return error.message;
  return error.message && error.message !== words ? `${words} (${error.message})` : words;
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** A run's counters in a sentence. */
export function countersInWords(c: ReconciliationRun['counters']): string {
  return [
    `${c.synced} synced with Stripe`,
    plural(c.adopted, 'payment adopted', 'payments adopted'),
    `${c.canceled} cancelled at Stripe`,
    plural(c.orphansFound, 'orphan found', 'orphans found'),
    plural(c.eventsBackfilled, 'missed event backfilled', 'missed events backfilled'),
    `${c.skipped} not settled at Stripe yet`,
    `${c.failed} failed`,
  ].join(', ');
}

/** Milliseconds as people read them: 0.4 s, 12.3 s, 2 min 5 s. */
export function formatMs(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return formatDuration(Math.round(ms / 1000));
}

/** How long ago, from now: 45 s, 12 min 3 s, 3 h 5 min, 2 days. */
export function formatAge(iso: string, now = Date.now()): string {
  const seconds = Math.max(0, Math.floor((now - new Date(iso).getTime()) / 1000));
  if (Number.isNaN(seconds)) return '—';
  if (seconds >= 86_400 * 2) return `${Math.floor(seconds / 86_400)} days`;
  return formatDuration(seconds);
}

export const TRIGGER_WORDS: Record<ReconciliationRun['trigger'], string> = {
  SCHEDULE: 'on schedule',
  MANUAL: 'by staff (Run reconciliation now)',
  CLI: 'from the command line',
};
