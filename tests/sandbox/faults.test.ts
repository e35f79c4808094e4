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

  describe('faults for the calls a match names', () => {
    it('meet only matching calls, and the same one of two concurrent calls whichever reaches the sandbox first', async () => {
      const made = await h.stripe.paymentIntents.create(params);
      // Two refunds of one PaymentIntent at once, a cent apart: the fault is for the larger one only.
      for (const order of [[0, 1], [1, 0]]) {
        h.sandbox.failMatching({ method: 'POST', path: '/v1/refunds', params: { amount: '300', 'metadata[race]': 'r' } }, 'api_error');
        const calls = [300, 299].map((amount) => () => noRetries.refunds.create({ payment_intent: made.id, amount, metadata: { race: 'r' } }).then(() => 'made', (e: Stripe.errors.StripeError) => e.type));
        const answers: string[] = [];
        await Promise.all(order.map(async (i) => (answers[i] = await calls[i]!())));
        expect(answers).toEqual(['StripeAPIError', 'made']);
        expect(h.sandbox.pendingFaultCount()).toBe(0);
      }
    });

    it('wait for a matching call, while others go through; failNext still takes the next call of any kind', async () => {
      h.sandbox.failMatching({ method: 'POST', path: /^\/v1\/refunds$/ }, 'rate_limit', 'rate_limit');
      const intent = await noRetries.paymentIntents.create(params);
      expect(intent.status).toBe('succeeded');
      expect(h.sandbox.pendingFaultCount()).toBe(2);
      await expect(noRetries.refunds.create({ payment_intent: intent.id, amount: 100 })).rejects.toBeInstanceOf(Stripe.errors.StripeRateLimitError);
      h.sandbox.failNext('connection_reset');
      // The queue armed first that matches goes first: the refund's second rate_limit, then the reset.
      await expect(noRetries.refunds.create({ payment_intent: intent.id, amount: 100 })).rejects.toBeInstanceOf(Stripe.errors.StripeRateLimitError);
      await expect(noRetries.refunds.create({ payment_intent: intent.id, amount: 100 })).rejects.toBeInstanceOf(Stripe.errors.StripeConnectionError);
      expect(h.sandbox.pendingFaultCount()).toBe(0);
      h.sandbox.failMatching({ params: { amount: '100' } }, 'api_error');
      h.sandbox.clearPendingFaults();
      expect((await noRetries.refunds.create({ payment_intent: intent.id, amount: 100 })).status).toBe('succeeded');
    });

    it('over the control API: a match is taken, and a bad one refused with nothing queued', async () => {
      const control = (body: unknown) => h.sandbox.handle(new Request('https://sandbox.stripe.test/_sandbox/faults/api', { method: 'POST', body: JSON.stringify(body) }));
      for (const match of [{ method: 'PUT' }, { path: 'v1/refunds' }, { params: { amount: 100 } }, { other: 1 }, []]) {
        const refused = await control({ faults: ['api_error'], match });
        expect(refused.status).toBe(400);
        expect((await refused.json()).error).toMatch(/^match/);
      }
      expect(h.sandbox.pendingFaultCount()).toBe(0);
      expect((await control({ faults: ['api_error'], match: { method: 'POST', path: '/v1/refunds', params: { amount: '100' } } })).status).toBe(200);
      const intent = await noRetries.paymentIntents.create(params);
      await expect(noRetries.refunds.create({ payment_intent: intent.id, amount: 99 })).resolves.toMatchObject({ status: 'succeeded' });
      await expect(noRetries.refunds.create({ payment_intent: intent.id, amount: 100 })).rejects.toBeInstanceOf(Stripe.errors.StripeAPIError);
    });
  });
});
