// The one Stripe client the server uses: the official SDK, against Stripe itself when a key is
// configured, or against the built-in sandbox (served by this same server) when none is. Network
// failures, 429s and 5xx are retried by the SDK with idempotency keys (maxNetworkRetries).
import Stripe from 'stripe';
import type { Config } from '../config';

export const SANDBOX_SECRET_KEY = 'sk_test_sandbox';

export function createStripeClient(stripe: Config['stripe'], sandboxUrl?: string): Stripe {
  const common = { maxNetworkRetries: 3, timeout: 20_000, appInfo: { name: 'payments-ops' } } as const;
  if (stripe.mode !== 'sandbox') return new Stripe(stripe.secretKey!, common);
  if (!sandboxUrl) throw new Error('Sandbox mode needs the sandbox URL');
  const url = new URL(sandboxUrl);
  return new Stripe(SANDBOX_SECRET_KEY, {
    ...common,
    host: url.hostname,
    port: Number(url.port || 80),
    protocol: url.protocol === 'https:' ? 'https' : 'http',
  });
}
