// What a storefront may send to start a payment, checked before anything is written: each problem is a
// BAD_USER_INPUT with a `reason` and the `field`, or FORBIDDEN when a customer acts for someone else.
import { z } from 'zod';
import type { Viewer } from '../auth/viewer';
import { BadUserInputError, ForbiddenError } from '../platform/errors';
import { parseIdempotencyKey } from '../idempotency/keys';
import { requestHash } from '../idempotency/requestHash';
import { isUuid } from '../platform/ids';

export type AttemptKind = 'payment_intent' | 'checkout_session';

/** What the order is paid for: once (payment), or monthly through a Stripe subscription (subscription). */
export type CheckoutMode = 'payment' | 'subscription';

export interface CheckoutInputFields {
  idempotencyKey: string;
  track?: string | null;
  orderId?: string | null;
  email?: string | null;
  name?: string | null;
  metadata?: ReadonlyArray<{ key: string; value: string }> | null;
}

/** The keys we put in Stripe metadata ourselves; a client may not set them. */
export const RESERVED_METADATA_KEYS = ['order_id', 'customer_id', 'track', 'attempt'] as const;
// Stripe allows 50 keys of up to 40 characters and values of up to 500; ours take four of the keys.
export const METADATA_LIMITS = { entries: 20, keyLength: 40, valueLength: 500 } as const;

/** The request as checkout_begin() takes it. */
export interface CheckoutRequest {
  scope: string;
  key: string;
  operation: string;
  request_hash: string;
  kind: AttemptKind;
  /** subscription: createSubscriptionCheckout; checkout_begin() gives the order the track's monthly price. Absent: payment. */
  mode?: CheckoutMode;
  track: string | null;
  order_id: string | null;
  user_id: string | null;
  email: string | null;
  /** The email is the signed-in customer's own, from their token (not typed in). */
  email_from_sign_in: boolean;
  /** ...and the sign-in vouches that the customer owns it: only then may it take over a guest's record (absent: no). */
  email_verified?: boolean;
  name: string | null;
  metadata: Record<string, string>;
  actor: string;
}

const fail = (field: string, reason: string, message: string) => new BadUserInputError(message, { reason, field });

const TRACK = /^[a-z][a-z0-9_]{1,62}$/;
const METADATA_KEY = /^[A-Za-z0-9_.-]+$/;
// Printable text without control characters (a name ends up in Stripe and in the console).
const PLAIN_TEXT = /^[^\p{Cc}]+$/u;
const email = z.email();

export function parseCheckoutInput(kind: AttemptKind, input: CheckoutInputFields, viewer: Viewer, mode: CheckoutMode = 'payment'): CheckoutRequest {
  // A subscription is started only by a hosted Checkout for a track (the schema's input has no orderId).
  if (mode === 'subscription' && (kind !== 'checkout_session' || input.orderId != null)) throw new Error('a subscription checkout is a Checkout Session for a track');
  const key = parseIdempotencyKey(input.idempotencyKey, 'idempotencyKey');
  const track = input.track ?? null;
  const orderId = input.orderId ?? null;
  if ((track === null) === (orderId === null)) {
    throw fail(track === null ? 'track' : 'orderId', 'TRACK_OR_ORDER', 'Give either track (a new order) or orderId (pay an existing order), not both');
  }
  if (track !== null && !TRACK.test(track)) throw fail('track', 'UNKNOWN_TRACK', `There is no product track "${track.slice(0, 64)}"`);
  if (orderId !== null && !isUuid(orderId)) throw fail('orderId', 'INVALID_ORDER_ID', 'orderId must be an order id (a UUID)');
  if (orderId !== null && (input.email != null || input.name != null || input.metadata != null)) {
    throw fail('orderId', 'ORDER_FIELDS', 'email, name and metadata belong to a new order; an existing order keeps its own');
  }

  const name = input.name?.trim() || null;
  if (name !== null && (name.length > 200 || !PLAIN_TEXT.test(name))) {
    throw fail('name', 'INVALID_NAME', 'name must be up to 200 characters of plain text');
  }
  const metadata = parseMetadata(input.metadata ?? []);
  const buyer = track === null ? null : buyerEmail(input.email?.trim() || null, viewer);

  const request: Omit<CheckoutRequest, 'request_hash'> = {
    scope: `${viewer.kind}:${viewer.id}`,
    key,
    operation: mode === 'subscription' ? 'createSubscriptionCheckout' : kind === 'payment_intent' ? 'createPaymentIntent' : 'createCheckoutSession',
    kind,
    mode,
    track,
    order_id: orderId,
    user_id: viewer.role === 'CUSTOMER' ? viewer.id : null,
    email: buyer?.email ?? null,
    email_from_sign_in: buyer?.fromSignIn ?? false,
    email_verified: (buyer?.fromSignIn ?? false) && viewer.emailVerified === true,
    name,
    metadata,
    actor: `${viewer.kind}:${viewer.id}`,
  };
  return { ...request, request_hash: checkoutRequestHash(request) };
}

/** A guest's email, or the signed-in customer's own: a customer may not buy as someone else. */
function buyerEmail(given: string | null, viewer: Viewer): { email: string; fromSignIn: boolean } {
  if (given !== null && (given.length > 320 || !email.safeParse(given).success)) {
    throw fail('email', 'INVALID_EMAIL', 'email must be a valid email address');
  }
  if (viewer.role === 'CUSTOMER') {
    const own = viewer.name;
    if (given !== null && own !== null && given.toLowerCase() !== own.toLowerCase()) {
      throw new ForbiddenError('A signed-in customer pays as themselves: email must be your account’s email or left out');
    }
    if (own !== null) return { email: own, fromSignIn: true };
    if (given === null) throw fail('email', 'EMAIL_REQUIRED', 'email is required: your sign-in carries none');
    return { email: given, fromSignIn: false };
  }
  if (given === null) throw fail('email', 'EMAIL_REQUIRED', 'email is required for a guest checkout');
  return { email: given, fromSignIn: false };
}

function parseMetadata(entries: ReadonlyArray<{ key: string; value: string }>): Record<string, string> {
  if (entries.length > METADATA_LIMITS.entries) {
    throw fail('metadata', 'METADATA_TOO_LARGE', `metadata takes at most ${METADATA_LIMITS.entries} entries`);
  }
  const metadata: Record<string, string> = {};
  for (const { key, value } of entries) {
    if (key.length === 0 || key.length > METADATA_LIMITS.keyLength || !METADATA_KEY.test(key)) {
      throw fail('metadata', 'INVALID_METADATA_KEY', `metadata keys are 1 to ${METADATA_LIMITS.keyLength} letters, digits, '_', '.' or '-'`);
    }
    if ((RESERVED_METADATA_KEYS as readonly string[]).includes(key)) {
      throw fail('metadata', 'RESERVED_METADATA_KEY', `metadata key "${key}" is set by the server`);
    }
    if (key in metadata) throw fail('metadata', 'DUPLICATE_METADATA_KEY', `metadata key "${key}" is given twice`);
    if (value.length > METADATA_LIMITS.valueLength) {
      throw fail('metadata', 'METADATA_TOO_LARGE', `metadata values are at most ${METADATA_LIMITS.valueLength} characters`);
    }
    metadata[key] = value;
  }
  return metadata;
}

/** What "the same input" means for an idempotency key: everything but the key, normalised. */
function checkoutRequestHash(request: Omit<CheckoutRequest, 'request_hash'>): string {
  return requestHash(JSON.stringify([
    request.operation,
    request.track,
    request.order_id,
    request.email?.toLowerCase() ?? null,
    request.name,
    Object.entries(request.metadata).sort(([a], [b]) => (a < b ? -1 : 1)),
  ]));
}
