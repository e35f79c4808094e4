// Where Stripe Checkout sends the customer back to: the storefront's pages from configuration, or,
// when none are configured, the sandbox's demo pages (sandbox mode, so the hosted flow can be followed
// to its end offline) or a storefront on localhost:3000 (development against Stripe's test mode).
import type { Config } from '../config';

export interface CheckoutUrls {
  /** Contains `{CHECKOUT_SESSION_ID}` (Stripe fills it in); `{ORDER_ID}` is ours to fill. */
  successUrl: string;
  cancelUrl: string;
}

export const SANDBOX_STOREFRONT_PATH = '/sandbox/storefront';

export function checkoutReturnUrls(configured: Config['checkout'], sandboxServerUrl: string | undefined): CheckoutUrls {
  const base = sandboxServerUrl ? `${sandboxServerUrl}${SANDBOX_STOREFRONT_PATH}` : 'http://localhost:3000';
  return {
    successUrl: configured.successUrl ?? `${base}/checkout/details?session_id={CHECKOUT_SESSION_ID}&order_id={ORDER_ID}`,
    cancelUrl: configured.cancelUrl ?? `${base}/checkout?order_id={ORDER_ID}&canceled=1`,
  };
}
