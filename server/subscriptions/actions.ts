// Cancel, pause and resume a subscription (issue 19), by staff or by the subscription's own customer.
//
// The caller's key is kept by runStaffAction (server/idempotency/staffAction.ts: the first answer is
// the key's answer; its audit row names who). Inside it, one SQL function claims the action under the
// subscription's row lock (subscription_action_claim: not found / another's / not active / another
// action still asking Stripe are refused, writing nothing), Stripe is called with the key
// subscription_<action>:<action id>, and its answer recorded (subscription_action_record: the action's
// payment_logs row, and Stripe's answer as the subscription's state unless a webhook got there first;
// 20261207001200_subscription_actions.sql). The webhooks remain the source of truth.
import Stripe from 'stripe';
import type { Viewer } from '../auth/viewer';
import { runStaffAction, type StaffActionResult } from '../idempotency/staffAction';
import type { Queryable } from '../platform/db/db';
import type { Logger } from '../platform/observability/logger';
import { describeStripeError, isProviderUnavailable } from '../stripe/payments';
import { subscriptionEffect } from '../webhooks/translate';

export type PauseBehavior = 'void' | 'keep_as_draft' | 'mark_uncollectible';

export type SubscriptionAction =
  | { kind: 'cancel'; atPeriodEnd: boolean }
  | { kind: 'pause'; behavior: PauseBehavior; /** unix seconds, or null: until resumed */ resumesAt: number | null }
  | { kind: 'resume' };

export type SubscriptionErrorCode =
  | 'SUBSCRIPTION_NOT_FOUND'
  | 'SUBSCRIPTION_NOT_ACTIVE'
  | 'SUBSCRIPTION_CHANGE_IN_PROGRESS'
  | 'SUBSCRIPTION_CHANGE_REFUSED'
  | 'PAYMENT_PROVIDER_UNAVAILABLE'
  /** previewSubscriptionSwitch: the subscription is already for that track. */
  | 'SAME_TRACK';

export interface SubscriptionError {
  code: SubscriptionErrorCode;
  /** In words for people; never a secret. */
  message: string;
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
}

export interface SubscriptionActionDeps {
  db: Queryable;
  stripe: Stripe;
  logger: Pick<Logger, 'error' | 'warn' | 'info'>;
}

const MESSAGES: Record<SubscriptionErrorCode, string> = {
  SUBSCRIPTION_NOT_FOUND: 'No such subscription.',
  SUBSCRIPTION_NOT_ACTIVE: 'The subscription has ended or never started; there is nothing to change.',
  SUBSCRIPTION_CHANGE_IN_PROGRESS: 'Another change to this subscription is still being made at Stripe; wait for it, then try again.',
  SUBSCRIPTION_CHANGE_REFUSED: 'Stripe refused this change.',
  PAYMENT_PROVIDER_UNAVAILABLE: 'Stripe could not be reached; nothing was changed for certain. Press again with the same request to complete it.',
  SAME_TRACK: 'The subscription is already for this track.',
};

const errorOf = (code: SubscriptionErrorCode, detail?: string): SubscriptionError => ({ code, message: detail ? `${MESSAGES[code]} ${detail}` : MESSAGES[code] });

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
  }
}

async function call<T>(db: Queryable, fn: string, argument: object): Promise<T> {
  const { rows } = await db.query<{ result: T }>(`select ${fn}($1::jsonb) as result`, [JSON.stringify(argument)]);
  return rows[0]!.result;
}

function askStripe(stripe: Stripe, subscriptionId: string, action: SubscriptionAction, idempotencyKey: string): Promise<Stripe.Subscription> {
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
  }
}

export async function runSubscriptionAction(deps: SubscriptionActionDeps, request: SubscriptionActionRequest): Promise<StaffActionResult<SubscriptionActionResponse>> {
  const { db, stripe, logger } = deps;
  const { viewer, subscriptionId, action } = request;
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
      const claim = await call<{ ok: boolean; code?: SubscriptionErrorCode; action_id?: string }>(db, 'subscription_action_claim', {
        subscription_id: subscriptionId,
        action: action.kind,
        params: paramsOf(action),
        actor: isCustomer ? 'customer' : 'staff',
        customer_user_id: isCustomer ? viewer.id : null,
      });
      // Refused before anything was written: the key is given back, nothing is audited.
      if (!claim.ok) return { response: { subscriptionId, actionId: null, error: errorOf(claim.code ?? 'SUBSCRIPTION_NOT_FOUND') }, keep: false };
      const actionId = claim.action_id!;
      let answer: Stripe.Subscription;
      try {
        answer = await askStripe(stripe, subscriptionId, action, subscriptionActionKey(action.kind, actionId));
      } catch (error) {
        const unavailable = isProviderUnavailable(error);
        const refused = !unavailable && error instanceof Stripe.errors.StripeError;
        const code: SubscriptionErrorCode = unavailable ? 'PAYMENT_PROVIDER_UNAVAILABLE' : 'SUBSCRIPTION_CHANGE_REFUSED';
        await call(db, 'subscription_action_record', { action_id: actionId, status: 'failed', error_code: refused ? ((error as Stripe.errors.StripeError).code ?? 'refused') : code, facts: null });
        logger.warn({ subscriptionId, actionId, action: action.kind, stripeError: describeStripeError(error) }, 'subscription action not made at Stripe');
        if (!unavailable && !refused) throw error;
        // Stripe refused: that is the key's answer. Unreachable: the key is given back to try again.
        return {
          response: { subscriptionId, actionId, error: errorOf(code, refused ? (error as Stripe.errors.StripeError).message : undefined) },
          keep: refused,
        };
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
