// createPaymentIntent and createCheckoutSession: one flow for both kinds of Stripe object.
//
//   1. checkout_begin() claims the idempotency key and returns the order's live attempt, creating the
//      order and the attempt (with its Stripe idempotency key) when there is none: one transaction.
//   2. A new attempt is created at Stripe with that key; a retry after a crash sends the same key and
//      gets the same object back. An open attempt is reused while Stripe still has it open.
//   3. checkout_record_attempt() stores the object and completes the idempotency key.
//   If step 3 fails, the object is cancelled (or expired) at once and the error returned; if that
//   fails too, the attempt is marked needs_cleanup for the janitor. If step 3 finds the attempt closed
//   meanwhile (the janitor abandoned it while Stripe was still making its object), the object is
//   closed the same way and the call begins again at step 1 with the order's next attempt.
import type Stripe from 'stripe';
import type { Viewer } from '../auth/viewer';
import { CatalogUnavailableError } from '../catalog/stripeProducts';
import type { Db } from '../platform/db/db';
import { BadUserInputError, ForbiddenError, NotFoundError } from '../platform/errors';
import { idempotencyKeyReused } from '../idempotency/keys';
import { cancelPaymentIntentKey, expireCheckoutSessionKey } from '../idempotency/stripeKeys';
import type { Logger } from '../platform/observability/logger';
import type { OrderRow } from '../orders/orders.sql';
import { applyPayment, beginCheckout, type BeginResult, isAttemptClosedMeanwhile, markAttempt, type PaymentAttempt, type PaymentFacts, recordAttempt } from './checkout.sql';
import type { CheckoutUrls } from './returnUrls';
import { type AttemptKind, type CheckoutInputFields, type CheckoutMode, type CheckoutRequest, parseCheckoutInput } from './input';
import { createCheckoutSession, paymentIntentParams } from './stripeObjects';
import {
  describeStripeError,
  isProviderUnavailable,
  isStripeNotFound,
  type PaymentError,
  PROVIDER_UNAVAILABLE,
  type PaymentReading,
  readCheckoutSession,
  readPaymentIntent,
} from '../stripe/payments';
import { isUuid } from '../platform/ids';

export interface CheckoutDeps {
  db: Db;
  stripe: Stripe;
  checkoutUrls: CheckoutUrls;
  logger: Logger;
}

export interface StartPaymentResult {
  order: OrderRow | null;
  attempt: PaymentAttempt | null;
  /** True when this call repeats an earlier call with the same idempotency key: nothing was done again. */
  isRepeat: boolean;
  error: PaymentError | null;
}

const ORDER_IS_SETTLED: PaymentError = { code: 'ORDER_ALREADY_PAID', message: 'This order is already paid.' };

/**
 * mode 'subscription' (createSubscriptionCheckout): the order takes the track's monthly price and its
 * Checkout Session is in subscription mode; everything else (keys, one open session, compensation) is
 * this same flow.
 */
export async function startPayment(deps: CheckoutDeps, kind: AttemptKind, viewer: Viewer, input: CheckoutInputFields, mode: CheckoutMode = 'payment'): Promise<StartPaymentResult> {
  const request = parseCheckoutInput(kind, input, viewer, mode);
  // Each round settles one stale attempt: an attempt of the other kind is first created (if its
  // creator is still at it or crashed), then closed; an expired or cancelled one is retired. A fourth
  // round means something is wrong.
  for (let round = 0; round < 4; round++) {
    const begun = await beginCheckout(deps.db, request);
    if (begun.outcome === 'error') return beginFailure(begun, request.mode ?? 'payment');
    if (begun.outcome === 'conflict') throw idempotencyKeyReused(request.key, begun.operation);
    const { order, attempt } = begun;
    if (begun.outcome === 'repeat') return { order, attempt, isRepeat: true, error: null };
    if (attempt.status === 'creating' && attempt.kind === request.kind) {
      const created = await createUnlessClosedMeanwhile(deps, request, order, attempt);
      if (created) return created;
      continue;
    }
    if (attempt.status === 'creating') {
      // The order's live attempt is of the other kind and not yet recorded (being created right now, or
      // its creator crashed). Creating it with its own Stripe key yields the same object, which the
      // next round can then close: an order is never payable through two objects at once.
      const other = await createUnlessClosedMeanwhile(deps, { ...request, key: null }, order, attempt);
      if (other?.error) return other;
      continue;
    }

    const reuse = await reuseOpenAttempt(deps, request, order, attempt);
    if (reuse) return reuse;
  }
  throw new Error(`order payment attempts did not settle after four rounds (key ${request.key})`);
}

function beginFailure(begun: Extract<BeginResult, { outcome: 'error' }>, mode: CheckoutMode): StartPaymentResult {
  switch (begun.error) {
    case 'unknown_track':
      throw new BadUserInputError('There is no such product track', { reason: 'UNKNOWN_TRACK', field: 'track' });
    case 'inactive_product':
      throw new BadUserInputError('This product is not for sale at the moment', { reason: 'INACTIVE_PRODUCT', field: 'track' });
    case 'no_price':
      throw new BadUserInputError(mode === 'subscription' ? 'This product has no monthly price for sale' : 'This product has no one-time price for sale', { reason: 'NO_PRICE', field: 'track' });
    case 'order_of_other_mode':
      // Only a one-time order reaches here (a subscription checkout names no order): it is a subscription's.
      throw new BadUserInputError('This order is a subscription’s: it is paid through its subscription checkout', { reason: 'SUBSCRIPTION_ORDER', field: 'orderId' });
    // Another customer's order does not exist for this caller: the same answer as none, so the call
    // cannot be used to learn which order ids exist (as changeOrderTrack and every customer-scoped read).
    case 'order_not_found':
    case 'order_of_another_customer':
      throw new NotFoundError('There is no such order', { field: 'orderId' });
    case 'email_of_another_customer':
      throw new ForbiddenError('This email belongs to another customer’s account');
    case 'order_not_payable': {
      const paid = ['paid', 'processing', 'refunded', 'partially_refunded', 'disputed'].includes(begun.status ?? '');
      const error: PaymentError = paid ? ORDER_IS_SETTLED : { code: 'ORDER_NOT_PAYABLE', message: `This order is ${begun.status} and cannot be paid.` };
      return { order: begun.order ?? null, attempt: null, isRepeat: false, error };
    }
    default:
      throw new Error(`checkout_begin failed: ${begun.error}`);
  }
}

export async function createAtStripe(
  deps: CheckoutDeps,
  // key null: the attempt is another request's (or none's), so no idempotency key is completed with it.
  request: Pick<CheckoutRequest, 'scope' | 'actor'> & { key: string | null; mode?: CheckoutMode },
  order: OrderRow,
  attempt: PaymentAttempt,
): Promise<StartPaymentResult> {
  const options = { idempotencyKey: attempt.stripe_idempotency_key };
  let created: { id: string; client_secret?: string | null; url?: string | null; expires_at?: number | null };
  try {
    created =
      attempt.kind === 'payment_intent'
        ? await deps.stripe.paymentIntents.create(paymentIntentParams(order, attempt), options)
        : await createCheckoutSession(deps, order, attempt, options, request.mode ?? 'payment');
  } catch (error) {
    // Nothing is recorded as open: the attempt stays `creating` with its key, so the next call with
    // the same idempotency key sends the same Stripe key and gets the object if Stripe made it.
    await noteAttemptError(deps, attempt, describeStripeError(error), request.actor);
    // The track's product or price could not be made at Stripe (Stripe unreachable, or refusing what
    // the catalog made): the same as Stripe being down, never an internal error.
    if (isProviderUnavailable(error) || error instanceof CatalogUnavailableError) {
      deps.logger.warn({ err: error, orderId: order.id, attempt: attempt.attempt }, 'Stripe unavailable while creating a payment');
      return { order, attempt: null, isRepeat: false, error: PROVIDER_UNAVAILABLE };
    }
    throw error;
  }

  let recorded: Awaited<ReturnType<typeof recordAttempt>>;
  try {
    recorded = await recordAttempt(deps.db, {
      attempt_id: attempt.id,
      object_id: created.id,
      client_secret: created.client_secret ?? null,
      url: created.url ?? null,
      expires_at: created.expires_at ? new Date(created.expires_at * 1000).toISOString() : null,
      // Completes the caller's idempotency key with this attempt, unless it is another request's.
      ...(request.key === null ? {} : { scope: request.scope, key: request.key }),
      actor: request.actor,
    });
  } catch (error) {
    await compensate(deps, attempt, created.id, request.actor, error);
    throw error;
  }
  return { order: recorded.order, attempt: recorded.attempt, isRepeat: false, error: null };
}

/**
 * createAtStripe, or null when the attempt was closed while Stripe was making its object (the janitor
 * abandoned it as having nothing at Stripe, or another request retired it): the object has been closed
 * at Stripe by then and recorded on the dead attempt (canceled/expired; needs_cleanup if Stripe refused,
 * so the janitor closes it), it is never this call's answer, and the caller begins again with the
 * order's next attempt.
 */
export async function createUnlessClosedMeanwhile(
  deps: CheckoutDeps,
  request: Parameters<typeof createAtStripe>[1],
  order: OrderRow,
  attempt: PaymentAttempt,
): Promise<StartPaymentResult | null> {
  try {
    return await createAtStripe(deps, request, order, attempt);
  } catch (error) {
    if (isAttemptClosedMeanwhile(error)) return null;
    throw error;
  }
}

async function noteAttemptError(deps: CheckoutDeps, attempt: PaymentAttempt, error: string, actor: string) {
  try {
    await markAttempt(deps.db, { attempt_id: attempt.id, status: null, error, actor });
  } catch (dbError) {
    deps.logger.error({ err: dbError, attemptId: attempt.id }, 'could not note a payment attempt’s error');
  }
}

/**
 * Stripe made the object but we could not record it: no one may pay it. Cancel (or expire) it now;
 * if Stripe refuses, leave the attempt marked for the janitor. Either way the caller gets an error.
 */
async function compensate(deps: CheckoutDeps, attempt: PaymentAttempt, objectId: string, actor: string, cause: unknown) {
  const log = deps.logger.child({ orderId: attempt.order_id, attempt: attempt.attempt, stripeObjectId: objectId });
  if (isAttemptClosedMeanwhile(cause)) log.warn('the attempt was closed while Stripe was making its object: closing the object');
  else log.error({ err: cause }, 'recording a created Stripe object failed: compensating');
  let status: 'canceled' | 'expired' | 'needs_cleanup';
  let note = `record step failed: ${cause instanceof Error ? cause.message : String(cause)}`;
  try {
    status = await closeAtStripe(deps, attempt, objectId, 'abandoned');
  } catch (error) {
    status = 'needs_cleanup';
    note += `; closing it failed: ${describeStripeError(error)}`;
    log.error({ err: error }, 'compensation failed: the Stripe object stays open until the janitor closes it');
  }
  try {
    await markAttempt(deps.db, { attempt_id: attempt.id, status, error: note, object_id: objectId, actor });
  } catch (error) {
    // The attempt is still `creating` with its Stripe key: the janitor's sweep of those finds it.
    log.error({ err: error, status }, 'could not mark the compensated attempt');
  }
}

/** Cancels a PaymentIntent or expires a Checkout Session, with an idempotency key of its own. */
async function closeAtStripe(deps: CheckoutDeps, attempt: PaymentAttempt, objectId: string, reason: 'abandoned' | 'duplicate'): Promise<'canceled' | 'expired'> {
  if (attempt.kind === 'payment_intent') {
    await deps.stripe.paymentIntents.cancel(objectId, { cancellation_reason: reason }, { idempotencyKey: cancelPaymentIntentKey(attempt) });
    return 'canceled';
  }
  await deps.stripe.checkout.sessions.expire(objectId, {}, { idempotencyKey: expireCheckoutSessionKey(attempt) });
  return 'expired';
}

/**
 * The order already has an open attempt. Reuse it if Stripe still has it open and it is of the kind
 * asked for; if it has been paid meanwhile, record that and say so; otherwise close it (when still
 * open), retire it and return null so the caller begins again with a new attempt.
 */
async function reuseOpenAttempt(deps: CheckoutDeps, request: CheckoutRequest, order: OrderRow, attempt: PaymentAttempt): Promise<StartPaymentResult | null> {
  const read = await readOpenAttempt(deps, request.actor, order, attempt);
  if ('result' in read) return read.result;
  const { reading } = read;
  const stillOpen = reading.outcome !== 'CANCELED' && reading.outcome !== 'EXPIRED';
  if (stillOpen && attempt.kind === request.kind && !expiresSoon(attempt)) {
    try {
      const recorded = await recordAttempt(deps.db, { attempt_id: attempt.id, object_id: attempt.stripe_object_id!, scope: request.scope, key: request.key, actor: request.actor });
      return { order: recorded.order, attempt: recorded.attempt, isRepeat: false, error: null };
    } catch (error) {
      // Retired by another request (which closed it at Stripe) since we read it: begin again.
      if (isAttemptClosedMeanwhile(error)) return null;
      throw error;
    }
  }
  // Still open but of the other kind (the customer switched between hosted Checkout and Elements) or
  // about to expire: close it first, so that the order is never payable through two objects at once.
  return retireRead(deps, request.actor, order, attempt, reading, `replaced by a new ${request.kind}`);
}

/**
 * Closes an order's open attempt for good (changeOrderTrack: the order is about to cost something
 * else): null once it is closed at Stripe and retired here, or the answer to give instead (paid
 * meanwhile: ORDER_ALREADY_PAID; Stripe unreachable: PAYMENT_PROVIDER_UNAVAILABLE).
 */
export async function closeOpenAttempt(deps: CheckoutDeps, actor: string, order: OrderRow, attempt: PaymentAttempt, why: string): Promise<StartPaymentResult | null> {
  const read = await readOpenAttempt(deps, actor, order, attempt);
  if ('result' in read) return read.result;
  return retireRead(deps, actor, order, attempt, read.reading, why);
}

/** Stripe's reading of an open attempt, or what to answer at once (paid meanwhile, unreachable, gone). */
async function readOpenAttempt(
  deps: CheckoutDeps,
  actor: string,
  order: OrderRow,
  attempt: PaymentAttempt,
): Promise<{ reading: PaymentReading } | { result: StartPaymentResult | null }> {
  const objectId = attempt.stripe_object_id!;
  let reading: PaymentReading;
  try {
    reading = await retrievePayment(deps.stripe, attempt.kind, objectId);
  } catch (error) {
    if (isProviderUnavailable(error)) return { result: { order, attempt: null, isRepeat: false, error: PROVIDER_UNAVAILABLE } };
    if (isStripeNotFound(error)) return { result: await retireMissing(deps, actor, attempt, objectId) };
    throw error;
  }
  if (isPaid(reading)) return { result: await recordSettled(deps, actor, order, attempt, reading) };
  return { reading };
}

const isPaid = (now: PaymentReading) => now.outcome === 'SUCCEEDED' || now.outcome === 'PROCESSING';

/** Paid meanwhile (the customer was quicker than the webhook): record it and say so. */
async function recordSettled(deps: CheckoutDeps, actor: string, order: OrderRow, attempt: PaymentAttempt, now: PaymentReading): Promise<StartPaymentResult> {
  const applied = await applyPayment(deps.db, factsFrom(attempt.kind, attempt.stripe_object_id!, now, { source: 'storefront', userId: null, actor }));
  return { order: applied.outcome === 'error' ? order : applied.order, attempt: null, isRepeat: false, error: ORDER_IS_SETTLED };
}

/** Closes the attempt at Stripe when still open, and retires it: null, or the answer if paid meanwhile. */
async function retireRead(deps: CheckoutDeps, actor: string, order: OrderRow, attempt: PaymentAttempt, reading: PaymentReading, why: string): Promise<StartPaymentResult | null> {
  const objectId = attempt.stripe_object_id!;
  const stillOpen = reading.outcome !== 'CANCELED' && reading.outcome !== 'EXPIRED';
  let status: 'canceled' | 'expired' = reading.outcome === 'EXPIRED' ? 'expired' : 'canceled';
  if (stillOpen) {
    try {
      status = await closeAtStripe(deps, attempt, objectId, 'abandoned');
    } catch (error) {
      if (isStripeNotFound(error)) return retireMissing(deps, actor, attempt, objectId);
      const now = await retrievePayment(deps.stripe, attempt.kind, objectId);
      if (isPaid(now)) return recordSettled(deps, actor, order, attempt, now);
      throw error;
    }
  }
  await markAttempt(deps.db, { attempt_id: attempt.id, status, actor, error: stillOpen ? why : undefined });
  return null;
}

/**
 * Stripe answers `resource_missing` for an object we recorded: it is gone (test data deleted in the
 * dashboard, a sandbox that lost its state), so no one can pay through it. The attempt is retired as
 * canceled, with the reason, and null makes the caller begin again with attempt n+1: the order stays
 * payable. Nothing of the order changes, and the payment log says why the attempt was replaced.
 */
async function retireMissing(deps: CheckoutDeps, actor: string, attempt: PaymentAttempt, objectId: string): Promise<null> {
  deps.logger.warn({ orderId: attempt.order_id, attempt: attempt.attempt, stripeObjectId: objectId }, 'Stripe no longer knows a recorded payment object: replacing the attempt');
  const what = attempt.kind === 'payment_intent' ? 'PaymentIntent' : 'Checkout Session';
  await markAttempt(deps.db, { attempt_id: attempt.id, status: 'canceled', actor, error: `Stripe has no ${what} ${objectId} any more (resource_missing): replaced by a new attempt` });
  return null;
}

// A session handed out must leave the customer time to pay; one closer to expiry is replaced.
const SESSION_MIN_REMAINING_MS = 15 * 60_000;

function expiresSoon(attempt: PaymentAttempt): boolean {
  return attempt.expires_at !== null && Date.parse(attempt.expires_at) - Date.now() < SESSION_MIN_REMAINING_MS;
}

export async function retrievePayment(stripe: Stripe, kind: AttemptKind, id: string): Promise<PaymentReading> {
  return kind === 'payment_intent'
    ? readPaymentIntent(await stripe.paymentIntents.retrieve(id))
    : readCheckoutSession(await stripe.checkout.sessions.retrieve(id, { expand: ['payment_intent'] }));
}

export function factsFrom(
  kind: AttemptKind,
  objectId: string,
  reading: PaymentReading,
  who: { source: PaymentFacts['source']; userId: string | null; actor: string },
): PaymentFacts {
  // Metadata is only a hint (any Stripe object can carry any metadata): malformed values are dropped.
  const attempt = Number(reading.metadata.attempt);
  const orderId = reading.metadata.order_id;
  return {
    source: who.source,
    kind,
    object_id: objectId,
    order_id: orderId && isUuid(orderId) ? orderId : null,
    attempt: Number.isInteger(attempt) && attempt > 0 ? attempt : null,
    order_status: reading.orderStatus,
    attempt_status: reading.outcome === 'CANCELED' ? 'canceled' : reading.outcome === 'EXPIRED' ? 'expired' : null,
    payment_intent_id: reading.paymentIntentId,
    charge_id: reading.chargeId,
    payment_status: reading.paymentStatus,
    amount: reading.amount,
    currency: reading.currency,
    user_id: who.userId,
    actor: who.actor,
  };
}
