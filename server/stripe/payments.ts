// What a retrieved PaymentIntent or Checkout Session means for its order, and which Stripe failures a
// customer should see as "try again later". Read by checkout (confirming a payment) and by the webhook
// translator and applier, so it sits next to the Stripe client rather than in either domain.
import Stripe from 'stripe';

/** Where a payment stands, as the storefront's success page needs to know it. */
export type PaymentOutcome = 'SUCCEEDED' | 'PROCESSING' | 'REQUIRES_ACTION' | 'DECLINED' | 'NOT_COMPLETED' | 'CANCELED' | 'EXPIRED';

export interface PaymentReading {
  outcome: PaymentOutcome;
  orderStatus: 'pending' | 'requires_action' | 'processing' | 'paid';
  paymentIntentId: string | null;
  chargeId: string | null;
  paymentStatus: string | null;
  amount: number;
  currency: string;
  metadata: Stripe.Metadata;
  /** 3-D Secure: where the customer must go to authenticate. */
  nextActionUrl: string | null;
  /** What the customer is told: words they can act on, never Stripe's own message. */
  decline: PaymentError | null;
  /** Stripe's account of the failure, written for developers: for the log, never for the customer. */
  stripeError: StripeErrorDetail | null;
}

export interface StripeErrorDetail {
  type: string;
  code: string | null;
  declineCode: string | null;
  message: string | null;
}

const idOf = (value: string | { id: string } | null | undefined) => (typeof value === 'string' ? value : (value?.id ?? null));

export function readPaymentIntent(intent: Stripe.PaymentIntent): PaymentReading {
  const base = {
    paymentIntentId: intent.id,
    chargeId: idOf(intent.latest_charge),
    paymentStatus: intent.status,
    amount: intent.amount,
    currency: intent.currency,
    metadata: intent.metadata,
    nextActionUrl: null,
    decline: null,
    stripeError: null,
  };
  switch (intent.status) {
    case 'succeeded':
      return { ...base, outcome: 'SUCCEEDED', orderStatus: 'paid' };
    case 'processing':
    case 'requires_capture': // authorised, not yet captured: the money is on its way
      return { ...base, outcome: 'PROCESSING', orderStatus: 'processing' };
    case 'requires_action':
      return { ...base, outcome: 'REQUIRES_ACTION', orderStatus: 'requires_action', nextActionUrl: intent.next_action?.redirect_to_url?.url ?? null };
    case 'canceled':
      return { ...base, outcome: 'CANCELED', orderStatus: 'pending' };
    default: {
      // A decline (card_error) or a failed 3-D Secure (payment_intent_authentication_failure, an
      // invalid_request_error whose message tells a developer to "provide payment_method_data"): the
      // customer gets our words for the code, the log gets Stripe's.
      const error = intent.last_payment_error;
      const decline = error ? declineFor(error.decline_code ?? error.code ?? null) : null;
      const stripeError = error ? { type: error.type, code: error.code ?? null, declineCode: error.decline_code ?? null, message: error.message ?? null } : null;
      return { ...base, outcome: decline ? 'DECLINED' : 'NOT_COMPLETED', orderStatus: 'pending', decline, stripeError };
    }
  }
}

/** A Checkout Session, retrieved with `expand: ['payment_intent']`. */
export function readCheckoutSession(session: Stripe.Checkout.Session): PaymentReading {
  const intent = typeof session.payment_intent === 'object' ? session.payment_intent : null;
  const base = {
    paymentIntentId: idOf(session.payment_intent),
    chargeId: intent ? idOf(intent.latest_charge) : null,
    paymentStatus: intent?.status ?? null,
    amount: session.amount_total ?? 0,
    currency: session.currency ?? '',
    metadata: session.metadata ?? {},
    nextActionUrl: null,
    decline: null,
    stripeError: null,
  };
  if (session.status === 'expired') return { ...base, outcome: 'EXPIRED', orderStatus: 'pending' };
  if (session.status !== 'complete') return { ...base, outcome: 'NOT_COMPLETED', orderStatus: 'pending' };
  // Complete but unpaid: a delayed payment method (bank debit) that settles later.
  return session.payment_status === 'unpaid'
    ? { ...base, outcome: 'PROCESSING', orderStatus: 'processing', paymentStatus: intent?.status ?? 'processing' }
    : { ...base, outcome: 'SUCCEEDED', orderStatus: 'paid', paymentStatus: intent?.status ?? 'succeeded' };
}

/** The payment failures a customer is told about (the schema's PaymentErrorCode, kept equal by a type test). */
export type PaymentErrorCode =
  | 'CARD_DECLINED'
  | 'INSUFFICIENT_FUNDS'
  | 'EXPIRED_CARD'
  | 'INCORRECT_CVC'
  | 'INCORRECT_NUMBER'
  | 'PROCESSING_ERROR'
  | 'AUTHENTICATION_FAILED'
  | 'PAYMENT_PROVIDER_UNAVAILABLE'
  | 'ORDER_ALREADY_PAID'
  | 'ORDER_NOT_PAYABLE'
  // changeOrderTrack: the order is already for the track asked for.
  | 'SAME_TRACK';

export interface PaymentError {
  code: PaymentErrorCode;
  message: string;
  /** Stripe's decline code, for the storefront's own handling; never shown to the customer as is. */
  declineCode?: string | null;
}

// Messages a customer can act on. Lost, stolen and fraud declines read as a plain decline on purpose:
// telling a fraudster why helps only the fraudster.
const DECLINES: Record<string, Omit<PaymentError, 'declineCode'>> = {
  insufficient_funds: { code: 'INSUFFICIENT_FUNDS', message: 'Your card has insufficient funds. Try another card.' },
  expired_card: { code: 'EXPIRED_CARD', message: 'Your card has expired. Check the expiry date or try another card.' },
  incorrect_cvc: { code: 'INCORRECT_CVC', message: 'Your card’s security code is incorrect. Check it and try again.' },
  invalid_cvc: { code: 'INCORRECT_CVC', message: 'Your card’s security code is incorrect. Check it and try again.' },
  incorrect_number: { code: 'INCORRECT_NUMBER', message: 'Your card number is incorrect. Check it and try again.' },
  invalid_number: { code: 'INCORRECT_NUMBER', message: 'Your card number is incorrect. Check it and try again.' },
  processing_error: { code: 'PROCESSING_ERROR', message: 'Your card could not be processed just now. Try again in a moment.' },
  authentication_required: { code: 'AUTHENTICATION_FAILED', message: 'Your bank could not confirm it was you. Try again, or use another card.' },
  payment_intent_authentication_failure: {
    code: 'AUTHENTICATION_FAILED',
    message: 'Your bank could not confirm it was you. Try again, or use another card.',
  },
};
const GENERIC_DECLINE = { code: 'CARD_DECLINED', message: 'Your card was declined. Try another card.' } as const;

export function declineFor(code: string | null): PaymentError {
  return { ...(code ? (DECLINES[code] ?? GENERIC_DECLINE) : GENERIC_DECLINE), declineCode: code };
}

export const PROVIDER_UNAVAILABLE: PaymentError = {
  code: 'PAYMENT_PROVIDER_UNAVAILABLE',
  message: 'Payments are unavailable for a moment. Nothing was charged. Try again in a minute.',
};

/**
 * Stripe could not be reached or could not answer, even after the SDK's retries: an outage or a
 * rate limit, not a problem with the request. Such a call may or may not have taken effect at Stripe;
 * the same idempotency key makes trying again safe.
 */
export function isProviderUnavailable(error: unknown): boolean {
  return (
    error instanceof Stripe.errors.StripeConnectionError ||
    error instanceof Stripe.errors.StripeAPIError ||
    error instanceof Stripe.errors.StripeRateLimitError ||
    // 409: a concurrent request with the same idempotency key was still running.
    (error instanceof Stripe.errors.StripeError && (error.statusCode === 409 || (error.statusCode ?? 0) >= 500))
  );
}

export function isStripeNotFound(error: unknown): boolean {
  return error instanceof Stripe.errors.StripeInvalidRequestError && error.code === 'resource_missing';
}

/** A short, secret-free description of a Stripe failure for the attempt's last_error. */
export function describeStripeError(error: unknown): string {
  if (error instanceof Stripe.errors.StripeError) {
    return `${error.type}${error.statusCode ? ` ${error.statusCode}` : ''}${error.code ? ` ${error.code}` : ''}: ${error.message}`.slice(0, 500);
  }
  return error instanceof Error ? error.message.slice(0, 500) : String(error).slice(0, 500);
}
