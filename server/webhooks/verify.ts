// Turns a delivery (raw body + Stripe-Signature header) into a verified event, or a short reason for
// the 400. The signature is Stripe's scheme (HMAC-SHA256 over `t.body`, compared in constant time by
// the SDK), checked against each configured secret, so secrets can be rotated without downtime.
import Stripe from 'stripe';

export type RejectionReason = 'missing_signature' | 'malformed_signature' | 'bad_signature' | 'stale_timestamp' | 'malformed_body' | 'body_too_large';

export class WebhookRejection extends Error {
  constructor(
    readonly reason: RejectionReason,
    message: string,
  ) {
    super(message);
  }
}

/** The fields we store of an event; the rest stays in its payload. */
export interface VerifiedEvent {
  id: string;
  type: string;
  objectType: string | null;
  objectId: string | null;
  created: number;
  livemode: boolean;
  apiVersion: string | null;
  /** The raw body, valid JSON: stored as the event's payload. */
  raw: string;
  /** The raw body parsed: an object shaped like a Stripe event (the fields above were checked). */
  payload: Stripe.Event;
}

const EVENT_ID = /^evt_[A-Za-z0-9_]{1,250}$/;

export function verifyDelivery(raw: string, header: string | undefined, secrets: readonly string[], toleranceSeconds = Stripe.webhooks.DEFAULT_TOLERANCE): VerifiedEvent {
  if (!header) throw new WebhookRejection('missing_signature', 'Missing Stripe-Signature header');
  checkSignature(raw, header, secrets, toleranceSeconds);
  let event: unknown;
  try {
    event = JSON.parse(raw);
  } catch {
    throw new WebhookRejection('malformed_body', 'The body is not JSON');
  }
  return readEvent(event, raw);
}

function checkSignature(raw: string, header: string, secrets: readonly string[], toleranceSeconds: number) {
  const signature = Stripe.webhooks.signature;
  if (!signature) throw new Error('the Stripe SDK has no webhook signature helper');
  let stale = false;
  for (const secret of secrets) {
    try {
      signature.verifyHeader(raw, header, secret, toleranceSeconds);
      return;
    } catch (error) {
      const message = error instanceof Error ? error.message : '';
      if (/Unable to extract|No signatures found with expected scheme/.test(message)) {
        throw new WebhookRejection('malformed_signature', 'The Stripe-Signature header is malformed');
      }
      // The signature matched this secret but the timestamp is too old (or in the future).
      if (/Timestamp outside the tolerance zone/.test(message)) stale = true;
    }
  }
  if (stale) throw new WebhookRejection('stale_timestamp', 'The signature timestamp is outside the tolerance');
  throw new WebhookRejection('bad_signature', 'No signature matches a configured webhook secret');
}

function readEvent(event: unknown, raw: string): VerifiedEvent {
  const e = event as Record<string, unknown> | null;
  const object = (e?.data as { object?: Record<string, unknown> } | undefined)?.object;
  if (
    !e ||
    typeof e !== 'object' ||
    e.object !== 'event' ||
    typeof e.id !== 'string' ||
    !EVENT_ID.test(e.id) ||
    typeof e.type !== 'string' ||
    e.type.length === 0 ||
    e.type.length > 100 ||
    !Number.isSafeInteger(e.created) ||
    typeof e.livemode !== 'boolean' ||
    !object ||
    typeof object !== 'object'
  ) {
    throw new WebhookRejection('malformed_body', 'The body is not a Stripe event');
  }
  const text = (value: unknown, max: number) => (typeof value === 'string' && value.length <= max ? value : null);
  return {
    id: e.id,
    type: e.type,
    objectType: text(object.object, 100),
    objectId: text(object.id, 255),
    created: e.created as number,
    livemode: e.livemode,
    apiVersion: text(e.api_version, 50),
    raw,
    payload: event as Stripe.Event,
  };
}
