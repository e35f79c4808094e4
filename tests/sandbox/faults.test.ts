import Stripe from 'stripe';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { startSandboxHarness } from '../helpers/stripeSandbox';

// One msw server per file: the harness client retries like a production client; `noRetries`
// (same msw server, same sandbox) shows what surfaces when nothing retries.
const h = startSandboxHarness({ maxNetworkRetries: 2 });
const noRetries = new Stripe('sk_test_sandbox_no_retries', {
  httpClient: Stripe.createFetchHttpClient((input, init) => fetch(input, init)),
  maxNetworkRetries: 0,
});
afterAll(() => h.close());
beforeEach(() => h.reset());

const params = { amount: 1500, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, return_url: 'https://shop.example/return' };

async function intentCount(): Promise<number> {
  return (await h.stripe.paymentIntents.list({ limit: 100 })).data.length;
}

describe('API fault injection', () => {
  for (const fault of ['api_error', 'connection_reset'] as const) {
    it(`${fault}: the SDK retries (reusing its idempotency key) and exactly one payment is made`, async () => {
      h.sandbox.failNext(fault);
      const pi = await h.stripe.paymentIntents.create(params);
      expect(pi.status).toBe('succeeded');
      expect(await intentCount()).toBe(1);
      expect((await h.stripe.charges.list()).data).toHaveLength(1);
    });
  }

  it('api_error twice, then success, within two retries', async () => {
    h.sandbox.failNext('api_error', 'connection_reset');
    const pi = await h.stripe.paymentIntents.create(params);
    expect(pi.status).toBe('succeeded');
    expect(await intentCount()).toBe(1);
  });

  it('gives up after maxNetworkRetries with the last error', async () => {
    h.sandbox.failNext('api_error', 'api_error', 'api_error');
    await expect(h.stripe.paymentIntents.create(params)).rejects.toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(await intentCount()).toBe(0);
  });

  // The SDK retries a 429 only when the response carries `Stripe-Should-Retry: true`, as Stripe sends it.
  it('rate_limit: the SDK retries (Stripe-Should-Retry: true) and exactly one payment is made', async () => {
    h.sandbox.failNext('rate_limit');
    const pi = await h.stripe.paymentIntents.create(params);
    expect(pi.status).toBe('succeeded');
  });

  it('without retries: rate_limit → StripeRateLimitError (429), api_error → StripeAPIError (500), connection_reset → StripeConnectionError', async () => {
    h.sandbox.failNext('rate_limit');
    const rate = await noRetries.paymentIntents.create(params).catch((e: unknown) => e);
    expect(rate).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect(rate).toMatchObject({ statusCode: 429, code: 'rate_limit' });

    h.sandbox.failNext('api_error');
    const api = await noRetries.paymentIntents.create(params).catch((e: unknown) => e);
    expect(api).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(api).toMatchObject({ statusCode: 500 });

    h.sandbox.failNext('connection_reset');
    const reset = await noRetries.paymentIntents.create(params).catch((e: unknown) => e);
    expect(reset).toBeInstanceOf(Stripe.errors.StripeConnectionError);

    expect(await intentCount()).toBe(0);
    // Faults are used up: the next call goes through.
    expect((await noRetries.paymentIntents.create(params)).status).toBe('succeeded');
  });

  it('a fault on a confirm does not charge twice when the SDK retries it', async () => {
    const pi = await h.stripe.paymentIntents.create({ amount: 1500, currency: 'usd' });
    h.sandbox.failNext('connection_reset');
    const confirmed = await h.stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa', return_url: 'https://shop.example/return' });
    expect(confirmed.status).toBe('succeeded');
    expect((await h.stripe.charges.list({ payment_intent: pi.id })).data).toHaveLength(1);
  });
});
