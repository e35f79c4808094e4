// Cancel, pause and resume a subscription (issue 19), by staff or by the subscription's own customer.
//
// The caller's key is kept by runStaffAction (server/idempotency/staffAction.ts: the first answer is
// the key's answer; its audit row names who). Inside it, one SQL function claims the action under the
// subscription's row lock (subscription_action_claim: not found / another's / not active / another
// action still asking Stripe are refused, writing nothing; the same caller's retry with the same key
// takes over its own action left requested when Stripe was unreachable), Stripe is called with the key
// subscription_<action>:<action id>, and its answer recorded (subscription_action_record: the action's
// payment_logs row, and Stripe's answer as the subscription's state unless a webhook got there first;
// 20261207001200_subscription_actions.sql). The webhooks remain the source of truth.
import Stripe from 'stripe';
import type { Viewer } from '../auth/viewer';
import { runStaffAction, type StaffActionResult } from '../idempotency/staffAction';
import type { Queryable } from '../platform/db/db';
import type { Logger } from '../platform/observability/logger';
import { declineFor, describeStripeError, isProviderUnavailable, type PaymentErrorCode } from '../stripe/payments';
import { subscriptionEffect } from '../webhooks/translate';

export type PauseBehavior = 'void' | 'keep_as_draft' | 'mark_uncollectible';
export type ProrationBehavior = 'create_prorations' | 'always_invoice' | 'none';

export type SubscriptionAction =
  | { kind: 'cancel'; atPeriodEnd: boolean }
  | { kind: 'pause'; behavior: PauseBehavior; /** unix seconds, or null: until resumed */ resumesAt: number | null }
  | { kind: 'resume' }
  | {
      kind: 'switch';
      track: string;
      /** Our price the preview showed (its id and amount): a price changed since is PREVIEW_EXPIRED. */
      priceId: string;
      unitAmount: number;
      /** The track's monthly price at Stripe (server/subscriptions/switch.ts finds it; never the client's). */
      stripePriceId: string;
      /** Unix seconds: the preview's, so Stripe prorates exactly what was shown. */
      prorationDate: number;
      prorationBehavior: ProrationBehavior;
    };

export type SubscriptionErrorCode =
  | 'SUBSCRIPTION_NOT_FOUND'
  | 'SUBSCRIPTION_NOT_ACTIVE'
  | 'SUBSCRIPTION_CHANGE_IN_PROGRESS'
  | 'SUBSCRIPTION_CHANGE_REFUSED'
  | 'PAYMENT_PROVIDER_UNAVAILABLE'
  /** previewSubscriptionSwitch / switchSubscription: the subscription is already for that track. */
  | 'SAME_TRACK'
  /** switchSubscription: the preview's prorationDate is older than an hour or in the future, or its price changed since. */
  | 'PREVIEW_EXPIRED'
  /** switchSubscription with ALWAYS_INVOICE: the card was charged at once and declined (nothing switched). */
  | Exclude<PaymentErrorCode, 'PAYMENT_PROVIDER_UNAVAILABLE' | 'ORDER_ALREADY_PAID' | 'ORDER_NOT_PAYABLE' | 'SAME_TRACK'>;

export interface SubscriptionError {
  code: SubscriptionErrorCode;
  /** In words for people; never a secret. */
  message: string;
  /** A card decline's code from Stripe (switchSubscription with ALWAYS_INVOICE); null otherwise. */
  declineCode?: string | null;
}

/** What the key keeps: ids and outcomes only (a repeat re-reads the subscription as it stands). */
export interface SubscriptionActionResponse {
  subscriptionId: string;
  actionId: string | null;
  error: SubscriptionError | null;
}

export interface SubscriptionActionRequest {
  viewer: Viewer;
  idempotencyKey: string;
  subscriptionId: string;
  action: SubscriptionAction;
  /**
   * Checked inside the key, before the claim: a refusal (an error) writes nothing and gives the key
   * back; it may also return the action completed (switchSubscription finds the track's price).
   */
  prepare?: () => Promise<SubscriptionError | SubscriptionAction>;
}

export interface SubscriptionActionDeps {
  db: Queryable;
  stripe: Stripe;
  logger: Pick<Logger, 'error' | 'warn' | 'info'>;
}

/** The codes that are not a card's decline (those take declineFor's words). */
type OwnCode = 'SUBSCRIPTION_NOT_FOUND' | 'SUBSCRIPTION_NOT_ACTIVE' | 'SUBSCRIPTION_CHANGE_IN_PROGRESS' | 'SUBSCRIPTION_CHANGE_REFUSED' | 'PAYMENT_PROVIDER_UNAVAILABLE' | 'SAME_TRACK' | 'PREVIEW_EXPIRED';

const MESSAGES: Record<OwnCode, string> = {
  SUBSCRIPTION_NOT_FOUND: 'No such subscription.',
  SUBSCRIPTION_NOT_ACTIVE: 'The subscription has ended or never started; there is nothing to change.',
  SUBSCRIPTION_CHANGE_IN_PROGRESS: 'Another change to this subscription is still being made at Stripe; wait for it, then try again.',
  SUBSCRIPTION_CHANGE_REFUSED: 'Stripe refused this change.',
  PAYMENT_PROVIDER_UNAVAILABLE: 'Stripe could not be reached; nothing was changed for certain. Press again with the same request to complete it.',
  SAME_TRACK: 'The subscription is already for this track.',
  PREVIEW_EXPIRED: 'The preview is out of date; preview the switch again.',
};

export const errorOf = (code: OwnCode, detail?: string): SubscriptionError => ({
  code,
  message: detail ? `${MESSAGES[code]} ${detail}` : MESSAGES[code],
});

/** The Stripe idempotency key of one claimed action: one Stripe change per action row, whoever asks. */
export const subscriptionActionKey = (kind: SubscriptionAction['kind'], actionId: string) => `subscription_${kind}:${actionId}`;

/** The operation name of the caller's key, and what the same key must be sent with again. */
function canonical(request: SubscriptionActionRequest): { operation: string; input: Record<string, string | null> } {
  const { action } = request;
  switch (action.kind) {
    case 'cancel':
      return { operation: 'cancel_subscription', input: { subscriptionId: request.subscriptionId, atPeriodEnd: String(action.atPeriodEnd) } };
    case 'pause':
      return { operation: 'pause_subscription', input: { subscriptionId: request.subscriptionId, behavior: action.behavior, resumesAt: action.resumesAt === null ? null : String(action.resumesAt) } };
    case 'resume':
      return { operation: 'resume_subscription', input: { subscriptionId: request.subscriptionId } };
    case 'switch':
      return {
        operation: 'switch_subscription',
        input: {
          subscriptionId: request.subscriptionId,
          track: action.track,
          priceId: action.priceId,
          unitAmount: String(action.unitAmount),
          prorationDate: String(action.prorationDate),
          prorationBehavior: action.prorationBehavior,
        },
      };
  }
}

function paramsOf(action: SubscriptionAction): Record<string, unknown> {
  switch (action.kind) {
    case 'cancel':
      return { at_period_end: action.atPeriodEnd };
    case 'pause':
      return { behavior: action.behavior, resumes_at: action.resumesAt };
    case 'resume':
      return {};
    case 'switch':
      return {
        track: action.track,
        price_id: action.priceId,
        unit_amount: action.unitAmount,
        price: action.stripePriceId,
        proration_date: action.prorationDate,
        proration_behavior: action.prorationBehavior,
      };
  }
}

/**
 * A switch taken over from its own earlier call (Stripe unreachable) asks Stripe with that call's key, so
 * with that call's parameters as its action row keeps them: never a price looked up again (the catalog
 * may have made a new Stripe price since), or Stripe would see one key with two requests.
 */
function resumedAction(action: SubscriptionAction, params: Record<string, unknown> | undefined): SubscriptionAction {
  if (action.kind !== 'switch' || !params || typeof params.price !== 'string') return action;
  return {
    ...action,
    stripePriceId: params.price,
    prorationDate: typeof params.proration_date === 'number' ? params.proration_date : action.prorationDate,
    prorationBehavior: typeof params.proration_behavior === 'string' ? (params.proration_behavior as ProrationBehavior) : action.prorationBehavior,
  };
}

async function call<T>(db: Queryable, fn: string, argument: object): Promise<T> {
  const { rows } = await db.query<{ result: T }>(`select ${fn}($1::jsonb) as result`, [JSON.stringify(argument)]);
  return rows[0]!.result;
}

async function askStripe(stripe: Stripe, subscriptionId: string, action: SubscriptionAction, idempotencyKey: string): Promise<Stripe.Subscription> {
  switch (action.kind) {
    case 'cancel':
      return action.atPeriodEnd
        ? stripe.subscriptions.update(subscriptionId, { cancel_at_period_end: true }, { idempotencyKey })
        : stripe.subscriptions.cancel(subscriptionId, {}, { idempotencyKey });
    case 'pause':
      return stripe.subscriptions.update(
        subscriptionId,
        { pause_collection: { behavior: action.behavior, ...(action.resumesAt === null ? {} : { resumes_at: action.resumesAt }) } },
        { idempotencyKey },
      );
    case 'resume':
      // Stripe's way of removing pause_collection is an empty value.
      return stripe.subscriptions.update(subscriptionId, { pause_collection: '' }, { idempotencyKey });
    case 'switch': {
      // The item to move: a read, made again on a retry (the keyed update is the one write).
      const current = await stripe.subscriptions.retrieve(subscriptionId);
      const item = current.items.data[0];
      if (!item) throw new Error(`subscription ${subscriptionId} has no item at Stripe`);
      return stripe.subscriptions.update(
        subscriptionId,
        {
          items: [{ id: item.id, price: action.stripePriceId }],
          proration_date: action.prorationDate,
          proration_behavior: action.prorationBehavior,
          // ALWAYS_INVOICE charges at once: a decline refuses the whole update (402) rather than leaving
          // the subscription switched and past_due, so a declined switch changes nothing.
          payment_behavior: 'error_if_incomplete',
        },
        { idempotencyKey },
      );
    }
  }
}

export async function runSubscriptionAction(deps: SubscriptionActionDeps, request: SubscriptionActionRequest): Promise<StaffActionResult<SubscriptionActionResponse>> {
  const { db, stripe, logger } = deps;
  const { viewer, subscriptionId } = request;
  let action = request.action;
  const isCustomer = viewer.role === 'CUSTOMER';
  const { operation, input } = canonical(request);
  return runStaffAction<SubscriptionActionResponse>(db, {
    viewer,
    key: request.idempotencyKey,
    operation,
    canonicalInput: input,
    actorType: isCustomer ? 'customer' : 'staff',
    logger,
    audit: (response) => ({
      action: `subscription.${action.kind}`,
      targetType: 'subscription',
      targetId: response.subscriptionId,
      details: { action_id: response.actionId, ...paramsOf(action), error: response.error?.code ?? null },
    }),
    work: async () => {
      if (request.prepare) {
        const prepared = await request.prepare();
        if ('code' in prepared) return { response: { subscriptionId, actionId: null, error: prepared }, keep: false };
        action = prepared;
      }
      const claim = await call<{ ok: boolean; code?: OwnCode; action_id?: string; resumed?: boolean; params?: Record<string, unknown> }>(db, 'subscription_action_claim', {
        subscription_id: subscriptionId,
        action: action.kind,
        params: paramsOf(action),
        actor: isCustomer ? 'customer' : 'staff',
        customer_user_id: isCustomer ? viewer.id : null,
        // The key's scope as runStaffAction keeps it: the same caller's retry takes over its own action
        // left requested when Stripe was unreachable, and so asks Stripe with the same key.
        caller_scope: `${viewer.kind}:${viewer.id}`,
        caller_key: request.idempotencyKey,
      });
      // Refused before anything was written: the key is given back, nothing is audited.
      if (!claim.ok) return { response: { subscriptionId, actionId: null, error: errorOf(claim.code ?? 'SUBSCRIPTION_NOT_FOUND') }, keep: false };
      const actionId = claim.action_id!;
      if (claim.resumed) action = resumedAction(action, claim.params);
      let answer: Stripe.Subscription;
      try {
        answer = await askStripe(stripe, subscriptionId, action, subscriptionActionKey(action.kind, actionId));
      } catch (error) {
        const unavailable = isProviderUnavailable(error);
        const refused = !unavailable && error instanceof Stripe.errors.StripeError;
        if (error instanceof Stripe.errors.StripeCardError) {
          // A charge made at once was declined: a definite answer, kept for the key; nothing switched.
          const decline = declineFor(error.decline_code ?? error.code ?? null);
          await call(db, 'subscription_action_record', { action_id: actionId, status: 'failed', error_code: decline.code, facts: null });
          logger.info({ subscriptionId, actionId, action: action.kind, declineCode: decline.declineCode }, 'subscription change declined at Stripe');
          return { response: { subscriptionId, actionId, error: { code: decline.code as SubscriptionErrorCode, message: decline.message, declineCode: decline.declineCode ?? null } }, keep: true };
        }
        if (unavailable) {
          // Unreachable includes a timeout after Stripe made the change: nothing is recorded as failed.
          // The action stays 'requested' (holding off other changes for a while) and the key is given
          // back; the same caller's retry with the same key takes this action over and asks Stripe
          // with the same subscription_<action>:<id> key, so Stripe answers with the change it made
          // rather than refusing a second one (a cancel of a canceled subscription).
          logger.warn({ subscriptionId, actionId, action: action.kind, stripeError: describeStripeError(error) }, 'subscription action: Stripe unreachable, left requested for a retry');
          return { response: { subscriptionId, actionId, error: errorOf('PAYMENT_PROVIDER_UNAVAILABLE') }, keep: false };
        }
        await call(db, 'subscription_action_record', { action_id: actionId, status: 'failed', error_code: refused ? ((error as Stripe.errors.StripeError).code ?? 'refused') : 'SUBSCRIPTION_CHANGE_REFUSED', facts: null });
        logger.warn({ subscriptionId, actionId, action: action.kind, stripeError: describeStripeError(error) }, 'subscription action not made at Stripe');
        if (!refused) throw error;
        // Stripe refused: that is the key's answer.
        return { response: { subscriptionId, actionId, error: errorOf('SUBSCRIPTION_CHANGE_REFUSED', (error as Stripe.errors.StripeError).message) }, keep: true };
      }
      // The answer read exactly as a webhook's subscription object is (the same facts, the same state).
      const facts = subscriptionEffect(answer);
      await call(db, 'subscription_action_record', { action_id: actionId, status: 'done', facts });
      return { response: { subscriptionId, actionId, error: null }, keep: true };
    },
  });
}

/** The GraphQL payload's value: the kept answer, the subscription read as it stands, and isRepeat. */
export interface SubscriptionActionPayloadValue {
  subscriptionId: string;
  error: SubscriptionError | null;
  isRepeat: boolean;
  /** Who asks: a customer reads only their own subscription. */
  ownerUserId: string | null;
}
