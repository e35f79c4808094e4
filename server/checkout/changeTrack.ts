// changeOrderTrack: the one-time track switch (issue 19). An unpaid order moves to another track at
// that track's price.
//
//   1. order_track_change_begin() validates (a refused request writes nothing), claims the key and
//      returns the order's live attempt.
//   2. That attempt is closed at Stripe first (PaymentIntent cancelled, Session expired, with the
//      attempt's own derived keys, server/idempotency/stripeKeys.ts): nobody may pay the old amount.
//      If Stripe says it was paid meanwhile, that is recorded and the answer is ORDER_ALREADY_PAID.
//   3. order_track_change_apply() changes the order under its lock, only when no attempt is live (one
//      started meanwhile is closed in turn), with its payment log, audit row and the key's answer.
// The storefront then calls createPaymentIntent / createCheckoutSession for the order: a new attempt,
// at the new amount.
import type { Viewer } from '../auth/viewer';
import { idempotencyKeyReused, parseIdempotencyKey } from '../idempotency/keys';
import { requestHash } from '../idempotency/requestHash';
import type { Queryable } from '../platform/db/db';
import { BadUserInputError, NotFoundError } from '../platform/errors';
import { isUuid } from '../platform/ids';
import type { OrderRow } from '../orders/orders.sql';
import { type PaymentError, PROVIDER_UNAVAILABLE } from '../stripe/payments';
import type { PaymentAttempt } from './checkout.sql';
import { closeOpenAttempt, createUnlessClosedMeanwhile, type CheckoutDeps } from './startPayment';

export interface ChangeTrackInput {
  idempotencyKey: string;
  orderId: string;
  track: string;
}

export interface ChangeTrackResult {
  order: OrderRow | null;
  /** The track the order was on before this change (also on a repeat: the first answer's). */
  previousTrack: string | null;
  isRepeat: boolean;
  error: PaymentError | null;
}

/** What the first call answered, kept with the key (idempotency_keys.response). */
interface ChangeResponse {
  order_id: string;
  from_track: string;
  to_track: string;
}

type BeginError = 'order_not_found' | 'order_of_another_customer' | 'unknown_track' | 'inactive_product' | 'no_price' | 'order_not_payable' | 'same_track' | 'order_of_other_mode';

type Begun =
  | { outcome: 'error'; error: BeginError; order?: OrderRow; status?: string }
  | { outcome: 'conflict'; operation: string }
  | { outcome: 'repeat'; response: ChangeResponse; order: OrderRow }
  | { outcome: 'begun'; order: OrderRow; attempt: PaymentAttempt | null };

type Applied =
  | { outcome: 'changed' | 'repeat'; response: ChangeResponse; order: OrderRow }
  | { outcome: 'attempt_live'; attempt: PaymentAttempt; order: OrderRow }
  | { outcome: 'error'; error: BeginError; order?: OrderRow; status?: string };

const OPERATION = 'changeOrderTrack';
const TRACK = /^[a-z][a-z0-9_]{1,62}$/;
const SETTLED = ['paid', 'processing', 'refunded', 'partially_refunded', 'disputed'];

async function call<T>(db: Queryable, fn: string, argument: object): Promise<T> {
  const { rows } = await db.query<{ result: T }>(`select ${fn}($1::jsonb) as result`, [JSON.stringify(argument)]);
  return rows[0]!.result;
}

export async function changeOrderTrack(deps: CheckoutDeps, viewer: Viewer, input: ChangeTrackInput): Promise<ChangeTrackResult> {
  const key = parseIdempotencyKey(input.idempotencyKey, 'idempotencyKey');
  if (!isUuid(input.orderId)) throw new BadUserInputError('orderId must be an order id (a UUID)', { reason: 'INVALID_ORDER_ID', field: 'orderId' });
  if (!TRACK.test(input.track)) throw new BadUserInputError(`There is no product track "${input.track.slice(0, 64)}"`, { reason: 'UNKNOWN_TRACK', field: 'track' });

  const actor = `${viewer.kind}:${viewer.id}`;
  const request = {
    scope: actor,
    key,
    operation: OPERATION,
    request_hash: requestHash(JSON.stringify([OPERATION, input.orderId, input.track])),
    order_id: input.orderId,
    track: input.track,
    user_id: viewer.role === 'CUSTOMER' ? viewer.id : null,
    actor,
  };

  const begun = await call<Begun>(deps.db, 'order_track_change_begin', request);
  if (begun.outcome === 'error') return failure(begun);
  if (begun.outcome === 'conflict') throw idempotencyKeyReused(key, begun.operation);
  if (begun.outcome === 'repeat') return { order: begun.order, previousTrack: begun.response.from_track, isRepeat: true, error: null };

  let { order, attempt } = begun;
  const audit = { ...request, actor_type: viewer.role === 'CUSTOMER' ? 'customer' : 'api_key', actor_id: viewer.id };
  // Each round closes the attempt that is live; a new one appears only if a payment was started for
  // the order at the same moment. A fourth round means something is wrong.
  for (let round = 0; round < 4; round++) {
    if (attempt) {
      const refusal = await closeAttempt(deps, actor, order, attempt);
      if (refusal) return refusal;
    }
    const applied = await call<Applied>(deps.db, 'order_track_change_apply', audit);
    if (applied.outcome === 'error') return failure(applied);
    if (applied.outcome !== 'attempt_live') {
      return { order: applied.order, previousTrack: applied.response.from_track, isRepeat: applied.outcome === 'repeat', error: null };
    }
    ({ order, attempt } = applied);
  }
  throw new Error(`changeOrderTrack: the order's payment attempts did not settle after four rounds (key ${key})`);
}

/** Closes the order's live attempt at Stripe: null when closed, or the answer to give instead. */
async function closeAttempt(deps: CheckoutDeps, actor: string, order: OrderRow, attempt: PaymentAttempt): Promise<ChangeTrackResult | null> {
  let open = attempt;
  if (open.status === 'creating') {
    // Not yet recorded (its creator is at it, or crashed): creating it with its own Stripe key gives
    // the same object (or a new one nobody has seen), recorded so that it can then be closed.
    const created = await createUnlessClosedMeanwhile(deps, { scope: actor, key: null, actor }, order, open);
    // Closed while Stripe was making it (and its object closed at Stripe since): nothing left to close.
    if (created === null) return null;
    if (created.error) return { order: created.order ?? order, previousTrack: null, isRepeat: false, error: created.error };
    open = created.attempt!;
  }
  const closed = await closeOpenAttempt(deps, actor, order, open, 'closed: the order moved to another track');
  if (closed === null) return null;
  return { order: closed.order ?? order, previousTrack: null, isRepeat: false, error: closed.error ?? PROVIDER_UNAVAILABLE };
}

function failure(result: Extract<Begun, { outcome: 'error' }>): ChangeTrackResult {
  switch (result.error) {
    // Another customer's order does not exist for this caller: the same answer as none, so the call
    // cannot be used to learn which order ids exist (as every customer-scoped read answers).
    case 'order_not_found':
    case 'order_of_another_customer':
      throw new NotFoundError('There is no such order', { field: 'orderId' });
    case 'unknown_track':
      throw new BadUserInputError('There is no such product track', { reason: 'UNKNOWN_TRACK', field: 'track' });
    case 'inactive_product':
      throw new BadUserInputError('This product is not for sale at the moment', { reason: 'INACTIVE_PRODUCT', field: 'track' });
    case 'no_price':
      throw new BadUserInputError('This product has no one-time price for sale', { reason: 'NO_PRICE', field: 'track' });
    case 'order_of_other_mode':
      // A subscription's order: its price is monthly; switching a subscription is switchSubscription.
      throw new BadUserInputError('This order is a subscription’s: switch the subscription instead', { reason: 'SUBSCRIPTION_ORDER', field: 'orderId' });
    case 'same_track':
      return { order: result.order ?? null, previousTrack: null, isRepeat: false, error: { code: 'SAME_TRACK', message: 'The order is already for this track.' } };
    case 'order_not_payable': {
      const paid = SETTLED.includes(result.status ?? '');
      const error: PaymentError = paid
        ? { code: 'ORDER_ALREADY_PAID', message: 'This order is already paid: its track can no longer change.' }
        : { code: 'ORDER_NOT_PAYABLE', message: `This order is ${result.status} and cannot change track.` };
      return { order: result.order ?? null, previousTrack: null, isRepeat: false, error };
    }
    default:
      throw new Error(`changeOrderTrack failed: ${String(result.error)}`);
  }
}
