// The Stripe objects checkout creates: the parameters of a PaymentIntent or Checkout Session for an
// order's attempt, with the metadata that lets an event or the janitor find the order again.
import type Stripe from 'stripe';
import {
  CatalogUnavailableError,
  forgetStripeProduct,
  forgetStripeRecurringPrice,
  isMissingStripeProduct,
  stripeProductFor,
  stripeRecurringPriceOf,
  type StripeRecurringPrice,
} from '../catalog/stripeProducts';
import type { Queryable } from '../platform/db/db';
import { BadUserInputError } from '../platform/errors';
import type { Logger } from '../platform/observability/logger';
import type { OrderRow } from '../orders/orders.sql';
import type { PaymentAttempt } from './checkout.sql';
import type { CheckoutUrls } from './returnUrls';
import type { CheckoutMode } from './input';

/** Our metadata on every object: how an event or the janitor finds the order (and the attempt) again. */
export function paymentMetadata(order: OrderRow, attempt: PaymentAttempt): Record<string, string> {
  return {
    ...order.metadata,
    order_id: order.id,
    customer_id: order.customer_id,
    track: order.product_id,
    attempt: String(attempt.attempt),
  };
}

export function paymentIntentParams(order: OrderRow, attempt: PaymentAttempt): Stripe.PaymentIntentCreateParams {
  return {
    amount: order.amount,
    currency: order.currency,
    automatic_payment_methods: { enabled: true },
    description: order.product_name,
    receipt_email: order.customer_email,
    metadata: paymentMetadata(order, attempt),
  };
}

/**
 * `stripeProductId`: the track's product at Stripe (server/catalog/stripeProducts.ts). Without one
 * (Stripe could not be reached to make it) the product is described inline, which makes Stripe
 * create a product (and a product.created event) for this session alone.
 */
export function checkoutSessionParams(
  order: OrderRow,
  attempt: PaymentAttempt,
  urls: CheckoutUrls,
  stripeProductId: string | null = null,
): Stripe.Checkout.SessionCreateParams {
  const metadata = paymentMetadata(order, attempt);
  const fill = (url: string) => url.replaceAll('{ORDER_ID}', order.id);
  // The amount is always the order's, inline: the product names what is sold, the order what it costs.
  const product = stripeProductId ? { product: stripeProductId } : { product_data: { name: order.product_name } };
  return {
    mode: 'payment',
    line_items: [{ quantity: 1, price_data: { currency: order.currency, unit_amount: order.amount, ...product } }],
    customer_email: order.customer_email,
    client_reference_id: order.id,
    metadata,
    // The PaymentIntent Checkout creates carries the same metadata, so its events find the order too.
    payment_intent_data: { metadata, description: order.product_name },
    success_url: fill(urls.successUrl),
    cancel_url: fill(urls.cancelUrl),
  };
}

/**
 * Creates the attempt's Checkout Session with the track's Stripe product. If Stripe no longer has that
 * product (deleted there, or the sandbox was reset), it is made again and the request sent once more
 * with the same idempotency key: Stripe saves no result for a request it refused for its parameters.
 */
export async function createCheckoutSession(
  deps: { db: Queryable; stripe: Stripe; logger: Logger; checkoutUrls: CheckoutUrls },
  order: OrderRow,
  attempt: PaymentAttempt,
  options: Stripe.RequestOptions,
  mode: CheckoutMode = 'payment',
): Promise<Stripe.Checkout.Session> {
  if (mode === 'subscription') return createSubscriptionSession(deps, order, attempt, options);
  const productId = await stripeProductFor(deps, order.product_id, order.product_name);
  try {
    return await deps.stripe.checkout.sessions.create(checkoutSessionParams(order, attempt, deps.checkoutUrls, productId), options);
  } catch (error) {
    if (productId === null || !isMissingStripeProduct(error)) throw error;
    forgetStripeProduct(deps.stripe, order.product_id);
    const again = await stripeProductFor(deps, order.product_id, order.product_name);
    if (again === null) throw error;
    deps.logger.warn({ track: order.product_id, stripeProductId: again }, 'catalog: Stripe had lost the track’s product; made it again');
    return deps.stripe.checkout.sessions.create(checkoutSessionParams(order, attempt, deps.checkoutUrls, again), options);
  }
}

/**
 * A subscription's Checkout Session: the track's monthly Stripe price (made from the database price by
 * the catalog sync), our metadata on the session and on the subscription it starts (so its events and
 * invoices find the order and the customer).
 */
export function subscriptionSessionParams(order: OrderRow, attempt: PaymentAttempt, urls: CheckoutUrls, stripePriceId: string): Stripe.Checkout.SessionCreateParams {
  const metadata = paymentMetadata(order, attempt);
  const fill = (url: string) => url.replaceAll('{ORDER_ID}', order.id);
  return {
    mode: 'subscription',
    line_items: [{ quantity: 1, price: stripePriceId }],
    customer_email: order.customer_email,
    client_reference_id: order.id,
    metadata,
    subscription_data: { metadata, description: order.product_name },
    success_url: fill(urls.successUrl),
    cancel_url: fill(urls.cancelUrl),
  };
}

async function createSubscriptionSession(
  deps: { db: Queryable; stripe: Stripe; logger: Logger; checkoutUrls: CheckoutUrls },
  order: OrderRow,
  attempt: PaymentAttempt,
  options: Stripe.RequestOptions,
): Promise<Stripe.Checkout.Session> {
  const urls = deps.checkoutUrls;
  const price = await orderStripePrice(deps, order);
  try {
    return await deps.stripe.checkout.sessions.create(subscriptionSessionParams(order, attempt, urls, price.stripePriceId), options);
  } catch (error) {
    if (!isRefusedStripePrice(error)) throw error;
    // Stripe lost the price or no longer sells it (deleted or archived there, or the sandbox was reset):
    // the sync looks at Stripe again and makes a new one; sent once more with the same key (Stripe keeps
    // no answer for a request it refused for its parameters).
    forgetStripeRecurringPrice(deps.stripe, price.priceId);
    const again = await orderStripePrice(deps, order);
    // Stripe refuses the very price the sync finds there: nothing more to make; try again later.
    if (again.stripePriceId === price.stripePriceId) throw new CatalogUnavailableError(order.product_id);
    deps.logger.warn({ track: order.product_id, stripePriceId: again.stripePriceId }, 'catalog: Stripe had lost or archived the order’s monthly price; made it again');
    return deps.stripe.checkout.sessions.create(subscriptionSessionParams(order, attempt, urls, again.stripePriceId), options);
  }
}

/**
 * The Stripe price of the order's own price (orders.price_id: the price it was made at, whatever the
 * track sells besides). A price no longer sold, or whose amount changed since the order was made, is
 * the caller's typed error: charging another amount than the order's would be a guess.
 */
async function orderStripePrice(deps: { db: Queryable; stripe: Stripe; logger: Logger }, order: OrderRow): Promise<StripeRecurringPrice> {
  const { rows: [own] } = await deps.db.query<{ price_id: string }>('select price_id from orders where id = $1', [order.id]);
  const price = own ? await stripeRecurringPriceOf(deps, own.price_id) : null;
  if (price === null) throw new BadUserInputError('This product has no monthly price for sale', { reason: 'NO_PRICE', field: 'track' });
  if (Number(price.unitAmount) !== Number(order.amount) || price.currency !== order.currency) {
    throw new BadUserInputError('The monthly price changed since this subscription was started: start again with a new idempotency key', { reason: 'PRICE_CHANGED', field: 'idempotencyKey' });
  }
  return price;
}

/**
 * A Stripe error refusing a price named in the request: missing, or archived (Stripe answers an inactive
 * price with an invalid_request_error on the line item's price, without a code).
 */
function isRefusedStripePrice(error: unknown): boolean {
  const e = error as { type?: string; code?: string; param?: string; message?: string };
  if (e?.type !== 'StripeInvalidRequestError' || typeof e.param !== 'string' || !e.param.includes('price')) return false;
  return e.code === 'resource_missing' || /inactive|not active/i.test(e.message ?? '');
}
