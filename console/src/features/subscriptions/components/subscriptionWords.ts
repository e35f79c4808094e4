// Subscriptions in words: the choices the dialogs offer, the server's typed errors with what to do
// next, and what an action did. The screen and the tests say the same things the same way.
import type { PauseBehavior, ProrationBehavior, SubscriptionErrorCode } from '../../../api/generated/graphql';
import { formatDateTime } from '../../../lib/format';
import type { SubscriptionAction, SubscriptionActionPayload } from '../mutations';

export const PAUSE_BEHAVIORS = ['VOID', 'KEEP_AS_DRAFT', 'MARK_UNCOLLECTIBLE'] as const satisfies readonly PauseBehavior[];

export const PAUSE_WORDS: Record<PauseBehavior, string> = {
  VOID: 'Void the invoices made while paused',
  KEEP_AS_DRAFT: 'Keep the invoices as drafts',
  MARK_UNCOLLECTIBLE: 'Mark the invoices uncollectible',
};

export const PRORATION_BEHAVIORS = ['CREATE_PRORATIONS', 'ALWAYS_INVOICE', 'NONE'] as const satisfies readonly ProrationBehavior[];

export const PRORATION_WORDS: Record<ProrationBehavior, string> = {
  CREATE_PRORATIONS: 'Prorate on the next invoice',
  ALWAYS_INVOICE: 'Prorate and charge the difference now',
  NONE: 'No proration: the new price from the next period',
};

const PAUSE_DONE: Record<PauseBehavior, string> = {
  VOID: 'invoices are voided',
  KEEP_AS_DRAFT: 'invoices are kept as drafts',
  MARK_UNCOLLECTIBLE: 'invoices are marked uncollectible',
};

/** "Paused until resumed; invoices are voided" and the like, for the detail's Collection field. */
export function pauseInWords(pause: { behavior: PauseBehavior; resumesAt?: string | null } | null | undefined): string {
  if (!pause) return 'Collecting';
  const until = pause.resumesAt ? `until ${formatDateTime(pause.resumesAt)}` : 'until resumed';
  return `Paused ${until}; ${PAUSE_DONE[pause.behavior]}`;
}

const CARD_WORDS: Partial<Record<SubscriptionErrorCode, string>> = {
  CARD_DECLINED: 'The card was declined',
  INSUFFICIENT_FUNDS: 'The card has insufficient funds',
  EXPIRED_CARD: 'The card has expired',
  INCORRECT_CVC: "The card's security code is wrong",
  INCORRECT_NUMBER: "The card's number is wrong",
  PROCESSING_ERROR: 'The card could not be processed',
  AUTHENTICATION_FAILED: 'The card asks for the customer to authenticate, which cannot be done from here',
};

/** A typed error of an action or a preview, in words, with what to do next. */
export function subscriptionErrorInWords(error: { code: SubscriptionErrorCode; message: string; declineCode?: string | null } | null | undefined): string | null {
  if (!error) return null;
  const card = CARD_WORDS[error.code];
  if (card) {
    return `${card}${error.declineCode ? ` (${error.declineCode.replaceAll('_', ' ')})` : ''}: nothing was switched and nothing charged. The customer can update their card, or switch without charging now.`;
  }
  switch (error.code) {
    case 'SUBSCRIPTION_NOT_FOUND':
      return 'No subscription has this id any more. Nothing changed.';
    case 'SUBSCRIPTION_NOT_ACTIVE':
      return 'This subscription has ended or never started: it cannot be changed. Nothing changed.';
    case 'SUBSCRIPTION_CHANGE_IN_PROGRESS':
      return 'Another change to this subscription is still being made at Stripe: wait a moment, then try again. Nothing changed by this press.';
    case 'SAME_TRACK':
      return 'The subscription is already on this track: pick another one.';
    case 'PREVIEW_EXPIRED':
      return 'The preview is out of date, preview again. Nothing was switched.';
    case 'SUBSCRIPTION_CHANGE_REFUSED':
      return `Stripe refused the change: ${error.message} Nothing changed.`;
    case 'PAYMENT_PROVIDER_UNAVAILABLE':
      return 'Stripe could not be reached. Press again to finish this change (the same change, never a second one).';
    default:
      return error.message;
  }
}

/** What an action did, in words (only for an answer without an error). */
export function actionOutcomeInWords(action: SubscriptionAction | 'cancelNow', payload: SubscriptionActionPayload | undefined): string | null {
  if (!payload || payload.error || !payload.subscription) return null;
  const sub = payload.subscription;
  const repeat = payload.isRepeat ? ' (already done for this press)' : '';
  switch (action) {
    case 'switch':
      return `Switched to ${sub.trackName ?? sub.track ?? 'the new track'}${repeat}.`;
    case 'pause':
      return `Collection paused${repeat}: ${pauseInWords(sub.pause).replace(/^Paused /, '')}.`;
    case 'resume':
      return `Collection resumed${repeat}.`;
    case 'cancel':
      return `Cancels at the end of the period, ${formatDateTime(sub.currentPeriodEnd)}${repeat}.`;
    case 'cancelNow':
      return `Canceled now${repeat}: no further invoices.`;
  }
}
