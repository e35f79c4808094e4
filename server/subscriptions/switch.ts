// switchSubscription (issue 19): moves a subscription to another track's monthly price at the
// preview's proration date (server/subscriptions/preview.ts), so what Stripe charges is what was shown.
// It is one more action on the locked path of cancel, pause and resume (actions.ts,
// 20261207001200_subscription_actions.sql): the caller's key, one change at a time, Stripe asked with
// subscription_switch:<action id>, its answer recorded with a payment_logs row and an audit entry.
// Every refusal here is decided before the claim and writes nothing.
import type { Viewer } from '../auth/viewer';
import type { StaffActionResult } from '../idempotency/staffAction';
import { errorOf, runSubscriptionAction, type ProrationBehavior, type SubscriptionActionDeps, type SubscriptionActionResponse } from './actions';
import { SWITCHABLE_STATUSES, targetPriceOf } from './preview';
import { findSubscription } from './read.sql';

/** How old a preview's proration date may be: Stripe's prorations move with time; an hour is "as shown". */
export const PREVIEW_MAX_AGE_SECONDS = 3600;

export interface SwitchRequest {
  viewer: Viewer;
  idempotencyKey: string;
  subscriptionId: string;
  track: string;
  /** The preview's price: its id and amount (minor units). */
  priceId: string;
  unitAmount: number;
  /** Unix seconds, from the preview. */
  prorationDate: number;
  prorationBehavior: ProrationBehavior;
}

export function runSubscriptionSwitch(
  deps: SubscriptionActionDeps & { /** Stripe's now in ms: the sandbox clock in sandbox mode, as the preview reads it. */ now: () => number },
  request: SwitchRequest,
): Promise<StaffActionResult<SubscriptionActionResponse>> {
  const { db } = deps;
  const { viewer, subscriptionId, track, priceId, unitAmount, prorationDate, prorationBehavior } = request;
  const base = { kind: 'switch' as const, track, priceId, unitAmount, stripePriceId: '', prorationDate, prorationBehavior };
  return runSubscriptionAction(deps, {
    viewer,
    idempotencyKey: request.idempotencyKey,
    subscriptionId,
    action: base,
    prepare: async () => {
      const sub = await findSubscription(db, subscriptionId, viewer.role === 'CUSTOMER' ? viewer.id : null);
      if (!sub) return errorOf('SUBSCRIPTION_NOT_FOUND');
      if (!SWITCHABLE_STATUSES.has(sub.status)) return errorOf('SUBSCRIPTION_NOT_ACTIVE', `It is ${sub.status}.`);
      if (sub.track === track) return errorOf('SAME_TRACK');
      const nowSeconds = Math.floor(deps.now() / 1000);
      if (prorationDate > nowSeconds || nowSeconds - prorationDate > PREVIEW_MAX_AGE_SECONDS) return errorOf('PREVIEW_EXPIRED', 'Its proration date is over an hour old or in the future.');
      // The price is ours, from the database; an unknown track is BAD_USER_INPUT (thrown: the key is given back).
      const price = await targetPriceOf(db, track, sub);
      if (!price) return errorOf('SUBSCRIPTION_CHANGE_REFUSED', 'This track has no monthly price to switch to.');
      // The price shown is the price charged: another price, or this one at another amount (the catalog
      // then bills it with a new Stripe price), was not in the preview.
      if (price.id !== priceId || price.unit_amount !== unitAmount) return errorOf('PREVIEW_EXPIRED', 'The track’s monthly price changed since it was shown.');
      return { ...base, stripePriceId: price.stripe_price_id };
    },
  });
}
