// confirmPayment: the storefront's success page says "the customer paid"; we ask Stripe, and if the
// payment succeeded (or is processing) the order becomes visible at once as provisional, through the
// same locked SQL path the webhook applier confirms it with. The customer never waits for a webhook.
import type { Viewer } from '../auth/viewer';
import { BadUserInputError, ConflictError, ForbiddenError, NotFoundError } from '../platform/errors';
import type { OrderRow } from '../orders/orders.sql';
import { applyPayment } from './checkout.sql';
import type { AttemptKind } from './input';
import { factsFrom, retrievePayment, type CheckoutDeps } from './startPayment';
import { isProviderUnavailable, isStripeNotFound, type PaymentError, type PaymentOutcome, PROVIDER_UNAVAILABLE } from '../stripe/payments';

export interface ConfirmPaymentInputFields {
  paymentIntentId?: string | null;
  checkoutSessionId?: string | null;
}

export interface ConfirmPaymentResult {
  outcome: PaymentOutcome | null;
  order: OrderRow | null;
  nextActionUrl: string | null;
  error: PaymentError | null;
}

const PAYMENT_INTENT_ID = /^pi_[A-Za-z0-9]{1,250}$/;
const CHECKOUT_SESSION_ID = /^cs_(test|live)_[A-Za-z0-9]{1,250}$/;

/** Which object the storefront names: exactly one of the two ids, well formed. */
export function parsePaymentReference(input: ConfirmPaymentInputFields): { kind: AttemptKind; id: string } {
  const { paymentIntentId, checkoutSessionId } = input;
  if ((paymentIntentId == null) === (checkoutSessionId == null)) {
    throw new BadUserInputError('Give either paymentIntentId or checkoutSessionId', { reason: 'PAYMENT_REFERENCE', field: 'paymentIntentId' });
  }
  if (paymentIntentId != null) {
    if (!PAYMENT_INTENT_ID.test(paymentIntentId)) {
      throw new BadUserInputError('paymentIntentId must be a PaymentIntent id (pi_…)', { reason: 'INVALID_PAYMENT_INTENT_ID', field: 'paymentIntentId' });
    }
    return { kind: 'payment_intent', id: paymentIntentId };
  }
  if (!CHECKOUT_SESSION_ID.test(checkoutSessionId!)) {
    throw new BadUserInputError('checkoutSessionId must be a Checkout Session id (cs_…)', { reason: 'INVALID_CHECKOUT_SESSION_ID', field: 'checkoutSessionId' });
  }
  return { kind: 'checkout_session', id: checkoutSessionId! };
}

export async function confirmPayment(deps: CheckoutDeps, viewer: Viewer, input: ConfirmPaymentInputFields): Promise<ConfirmPaymentResult> {
  const { kind, id } = parsePaymentReference(input);
  const actor = `${viewer.kind}:${viewer.id}`;
  let reading;
  try {
    reading = await retrievePayment(deps.stripe, kind, id);
  } catch (error) {
    if (isStripeNotFound(error)) throw new NotFoundError('There is no such payment', { field: kind === 'payment_intent' ? 'paymentIntentId' : 'checkoutSessionId' });
    if (isProviderUnavailable(error)) return { outcome: null, order: null, nextActionUrl: null, error: PROVIDER_UNAVAILABLE };
    throw error;
  }

  // A customer may confirm only their own order: the SQL checks it before changing anything.
  const userId = viewer.role === 'CUSTOMER' ? viewer.id : null;
  const applied = await applyPayment(deps.db, factsFrom(kind, id, reading, { source: 'storefront', userId, actor }));
  if (applied.outcome === 'error') {
    switch (applied.error) {
      case 'unknown_payment':
        throw new NotFoundError('This payment does not belong to an order of this shop');
      case 'order_of_another_customer':
        throw new ForbiddenError('This payment belongs to another customer’s order');
      case 'amount_mismatch':
        deps.logger.error({ stripeObjectId: id, orderId: applied.order_id }, 'a payment’s amount does not match its order');
        throw new ConflictError('This payment’s amount does not match its order; the order is marked for staff to check', { reason: 'AMOUNT_MISMATCH' });
    }
  }

  if (reading.stripeError) {
    // The customer sees reading.decline; what Stripe said (for developers) is kept here, without the
    // payment method Stripe attaches to the error.
    deps.logger.info({ paymentIntentId: reading.paymentIntentId, orderId: applied.order.id, stripeError: reading.stripeError }, 'payment not completed');
  }
  return {
    outcome: reading.outcome,
    order: applied.order,
    nextActionUrl: reading.nextActionUrl,
    error: reading.decline,
  };
}
