// The one Stripe client the server uses: the official SDK, against Stripe itself when a key is
// configured, or against the built-in sandbox (served by this same server) when none is. Network
// failures, 429s and 5xx are retried by the SDK with idempotency keys (maxNetworkRetries).
import Stripe from 'stripe';
import type { Config } from '../config';

export const SANDBOX_SECRET_KEY = 'sk_test_sandbox';

export function createStripeClient(stripe: Config['stripe'], sandboxUrl?: string): Stripe {
  const common = { maxNetworkRetries: stripe.maxNetworkRetries, timeout: 20_000, appInfo: { name: 'payments-ops' } } as const;
  const apiBase = stripe.apiBase ?? (stripe.mode === 'sandbox' ? sandboxUrl : undefined);
  if (!apiBase) {
    if (stripe.mode === 'sandbox') throw new Error('Sandbox mode needs the sandbox URL');
    return new Stripe(stripe.secretKey!, common);
  }
  const url = new URL(apiBase);
  return new Stripe(stripe.secretKey ?? SANDBOX_SECRET_KEY, {
    ...common,
    host: url.hostname,
    port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
    protocol: url.protocol === 'https:' ? 'https' : 'http',
  });
}
