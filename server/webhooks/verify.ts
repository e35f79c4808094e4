// Turns a delivery (raw body + Stripe-Signature header) into a verified event, or a short reason for
// the 400. The signature is Stripe's scheme (HMAC-SHA256 over `t.body`, compared in constant time by
// the SDK), checked against each configured secret, so secrets can be rotated without downtime.
import Stripe from 'stripe';
import type { EventFacts } from './translate';

export type RejectionReason =
  | 'missing_signature'
  | 'malformed_signature'
  | 'bad_signature'
  | 'stale_timestamp'
  | 'future_timestamp'
  | 'malformed_body'
  | 'unstorable_event'
  | 'body_too_large';

export const REJECTION_REASONS: readonly RejectionReason[] = [
  'missing_signature',
  'malformed_signature',
  'bad_signature',
  'stale_timestamp',
  'future_timestamp',
  'malformed_body',
  'unstorable_event',
  'body_too_large',
];

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

export function verifyDelivery(
  raw: string,
  header: string | undefined,
  secrets: readonly string[],
  toleranceSeconds = Stripe.webhooks.DEFAULT_TOLERANCE,
  nowMs = Date.now(),
): VerifiedEvent {
  if (!header) throw new WebhookRejection('missing_signature', 'Missing Stripe-Signature header');
  checkSignature(raw, header, secrets, toleranceSeconds, nowMs);
  let event: unknown;
  try {
    event = JSON.parse(raw);
  } catch {
    throw new WebhookRejection('malformed_body', 'The body is not JSON');
  }
  const verified = readEvent(event, raw);
  // Checked before the event joins a batch: stored with others in one statement, an event the
  // database refuses would fail every delivery of its batch (see eventStore.ts).
  checkStorable(verified.payload, raw);
  return verified;
}

function checkSignature(raw: string, header: string, secrets: readonly string[], toleranceSeconds: number, nowMs: number) {
  const signature = Stripe.webhooks.signature;
  if (!signature) throw new Error('the Stripe SDK has no webhook signature helper');
  let stale = false;
  for (const secret of secrets) {
    try {
      signature.verifyHeader(raw, header, secret, toleranceSeconds, undefined, nowMs);
    } catch (error) {
      const message = error instanceof Error ? error.message : '';
      if (/Unable to extract|No signatures found with expected scheme/.test(message)) {
        throw new WebhookRejection('malformed_signature', 'The Stripe-Signature header is malformed');
      }
      // The signature matched this secret but the timestamp is older than the tolerance.
      if (/Timestamp outside the tolerance zone/.test(message)) stale = true;
      continue;
    }
    // The SDK refuses only old timestamps. One far ahead is refused too: a signed delivery captured
    // with a future `t` could otherwise be replayed until that time plus the tolerance.
    const signedAt = signedTimestamp(header);
    // The SDK signs over whatever parseInt made of `t` and lets NaN through its age check: a
    // signature over `NaN.<body>` would never expire. Stripe's `t` is always whole seconds.
    if (!Number.isSafeInteger(signedAt)) throw new WebhookRejection('malformed_signature', 'The Stripe-Signature header is malformed');
    const ahead = signedAt - Math.floor(nowMs / 1000);
    if (toleranceSeconds > 0 && ahead > toleranceSeconds) {
      throw new WebhookRejection('future_timestamp', `The signature timestamp is more than ${toleranceSeconds} s in the future`);
    }
    return;
  }
  if (stale) throw new WebhookRejection('stale_timestamp', 'The signature timestamp is outside the tolerance');
  throw new WebhookRejection('bad_signature', 'No signature matches a configured webhook secret');
}

/** The `t` the signature covers, read as the SDK reads it (the last `t=`, parseInt), so both agree. */
function signedTimestamp(header: string): number {
  let timestamp = Number.NaN;
  for (const item of header.split(',')) {
    const [key, value] = item.split('=');
    if (key === 't') timestamp = Number.parseInt(value ?? '', 10);
  }
  return timestamp;
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
    !Number.isInteger(e.created) ||
    typeof e.livemode !== 'boolean' ||
    !object ||
    typeof object !== 'object'
  ) {
    throw new WebhookRejection('malformed_body', 'The body is not a Stripe event');
  }
  const created = e.created as number;
  if (created < 0 || created > MAX_CREATED) {
    throw new WebhookRejection('unstorable_event', `created must be a Unix time from 0 to ${MAX_CREATED} (the year 9999); got ${created}`);
  }
  const text = (value: unknown, max: number) => (typeof value === 'string' && value.length <= max ? value : null);
  return {
    id: e.id,
    type: e.type,
    objectType: text(object.object, 100),
    objectId: text(object.id, 255),
    created,
    livemode: e.livemode,
    apiVersion: text(e.api_version, 50),
    raw,
    payload: event as Stripe.Event,
  };
}

// Seconds since the epoch at the end of the year 9999. PostgreSQL's timestamptz takes up to the year
// 294276 (to_timestamp raises 22008 beyond it), but a JavaScript Date ends in the year 275760 and
// dates past 9999 have no four-digit ISO form: a `created` outside 0..9999 is no real Stripe event.
const MAX_CREATED = 253_402_300_799;

// Stripe's objects nest about a dozen levels. PostgreSQL refuses jsonb nested beyond what its stack
// takes (54001 at about 10,000 levels with the default max_stack_depth), and PGlite gave a wrong
// answer at 8,000 levels and died at 10,000 (tried with @electric-sql/pglite): a limit far below both.
export const MAX_PAYLOAD_DEPTH = 256;

// A NUL (jsonb has no \u0000: 22P05) or a lone surrogate (\ud800 alone is not Unicode: 22P02)
// in any key or string value. Both can only come from a \u escape: the body was decoded as UTF-8,
// which yields neither, and JSON forbids raw control characters in strings.
const UNSTORABLE_CHARACTER = /[\u0000\p{Cs}]/u;

/**
 * Refuses an event PostgreSQL cannot store as jsonb, naming where the problem is. Numbers are left
 * to the database (jsonb takes up to about 1e131071, far beyond a double): an event it refuses for
 * another reason is isolated by the store's retry per event and refused there (endpoint.ts).
 */
function checkStorable(payload: unknown, raw: string) {
  const checkText = raw.includes('\\u');
  // Iterative: a deeply nested body must not overflow our own stack either.
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value: payload, path: '', depth: 0 }];
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop()!;
    if (typeof value === 'string') {
      if (checkText) refuseText(value, path);
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth >= MAX_PAYLOAD_DEPTH) {
      throw new WebhookRejection('unstorable_event', `The event nests deeper than ${MAX_PAYLOAD_DEPTH} levels`);
    }
    if (Array.isArray(value)) {
      value.forEach((item, index) => stack.push({ value: item, path: checkText ? `${path}[${index}]` : '', depth: depth + 1 }));
      continue;
    }
    for (const [key, item] of Object.entries(value)) {
      // Paths are only for the message about a character, so only built when one may be found.
      const at = checkText ? `${path}${path ? '.' : ''}${printable(key)}` : '';
      if (checkText) refuseText(key, `${at} (the key)`);
      stack.push({ value: item, path: at, depth: depth + 1 });
    }
  }
}

function refuseText(text: string, path: string) {
  const found = UNSTORABLE_CHARACTER.exec(text)?.[0];
  if (found === undefined) return;
  const what = found === '\u0000' ? 'a NUL character (\\u0000)' : 'a lone surrogate (an unpaired \\ud800-\\udfff escape)';
  throw new WebhookRejection('unstorable_event', `${path || 'The event'} holds ${what}, which PostgreSQL cannot store`);
}

/** A key as it can be shown in a message: escaped, and cut short. */
function printable(key: string): string {
  const escaped = JSON.stringify(key.slice(0, 40)).slice(1, -1);
  return key.length > 40 ? `${escaped}…` : escaped;
}

/**
 * The values of an event's facts (translate.ts) that the applier writes to a column of bounded length
 * (the length checks in supabase/migrations), and the bound: Stripe's ids are far shorter, but one
 * longer would pass the endpoint and fail every time it is applied (a CHECK violation, retried, then
 * failed), so it is refused here like the other values the database cannot take.
 */
function boundedValues(facts: EventFacts): Array<[what: string, value: string | null, max: number]> {
  const object = 'object' in facts ? facts.object : null;
  const values: Array<[string, string | null, number]> = [];
  // stripe_objects.id and the id columns of disputes, refunds, subscriptions and subscription_invoices.
  if (object) values.push([`The ${object.type} id`, object.id, ID_MAX], [`The ${object.type}'s state`, object.state, 500]);
  switch (facts.effect) {
    case 'payment':
      // An order made from the payment records an attempt keyed 'made_from_webhook:<object id>'
      // (order_create_from_payment; payment_attempts.stripe_idempotency_key is 255 at most).
      values.push([`The ${facts.payment.kind} id`, facts.payment.object_id, ID_MAX - 'made_from_webhook:'.length]);
      break;
    case 'refunds':
      for (const refund of facts.refunds) {
        values.push(['The refund id', refund.object.id, ID_MAX], ['The refund reason', refund.reason, 100], ['The refund failure_reason', refund.failure_reason, 100]);
      }
      break;
    case 'dispute':
      values.push(['The dispute reason', facts.dispute.reason, 100]);
      break;
    case 'subscription':
      values.push(["The subscription's price id", facts.subscription.price_id, ID_MAX]);
      break;
    case 'invoice':
      values.push(
        ["The invoice's subscription id", facts.invoice.subscription_id, ID_MAX],
        ["The invoice's price id", facts.invoice.price_id, ID_MAX],
        ["The invoice's hosted_invoice_url", facts.invoice.hosted_invoice_url, 2048],
      );
      break;
  }
  return values;
}

const ID_MAX = 255;

/**
 * Refuses an event whose facts hold a value longer than the column the applier writes it to. Called
 * by the endpoint with the facts it stores; null facts are translated again by the applier, which
 * records why it could not. The janitor's backfill does not call it yet: such an event it stores fails
 * at apply time, visible as a failed event (Stripe's own ids are far shorter than these bounds).
 */
export function checkFactsStorable(facts: EventFacts | null): void {
  if (!facts) return;
  for (const [what, value, max] of boundedValues(facts)) {
    if (value !== null && value.length > max) {
      throw new WebhookRejection('unstorable_event', `${what} is ${value.length} characters long, more than the ${max} we store`);
    }
  }
}
