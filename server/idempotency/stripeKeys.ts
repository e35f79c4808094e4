// Every idempotency key we send to Stripe, in one place (DESIGN.md decision 4b: `operation:stable_id:attempt`).
// A key must be stable across retries and crashes, so it is built from stored ids only.
//
// Two are formatted in SQL, where the attempt row is made, and must stay equal to these functions
// (tests/idempotency/stripeKeys.test.ts checks it against a migrated database):
//   checkout_begin()                  format('create_%s:%s:%s', kind, order_id, attempt)
//   order_create_from_payment()       'made_from_webhook:' || object_id   (never sent: the object exists)

/** The two kinds of Stripe object an attempt creates (payment_attempts.kind). */
export type StripeAttemptKind = 'payment_intent' | 'checkout_session';

export interface AttemptRef {
  order_id: string;
  attempt: number;
}

/** The key that creates an attempt's PaymentIntent or Checkout Session (formatted by checkout_begin()). */
export const createAttemptKey = (kind: StripeAttemptKind, attempt: AttemptRef) => `create_${kind}:${attempt.order_id}:${attempt.attempt}`;

/** The key that cancels an attempt's PaymentIntent when we could not record it. */
export const cancelPaymentIntentKey = (attempt: AttemptRef) => `cancel_payment_intent:${attempt.order_id}:${attempt.attempt}`;

/** The key that expires an attempt's Checkout Session when we could not record it. */
export const expireCheckoutSessionKey = (attempt: AttemptRef) => `expire_checkout_session:${attempt.order_id}:${attempt.attempt}`;

/** The attempt row of an order made from a webhook event names the object that paid it (no Stripe call). */
export const madeFromWebhookKey = (objectId: string) => `made_from_webhook:${objectId}`;
