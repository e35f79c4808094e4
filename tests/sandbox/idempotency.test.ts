import Stripe from 'stripe';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { startSandboxHarness } from '../helpers/stripeSandbox';

// One msw server per file. The harness client does not retry; `retrying` (same msw server, same
// sandbox) retries like a production client does.
const h = startSandboxHarness();
const retrying = new Stripe('sk_test_sandbox_retrying', {
  httpClient: Stripe.createFetchHttpClient((input, init) => fetch(input, init)),
  maxNetworkRetries: 3,
});
afterAll(() => h.close());
beforeEach(() => h.reset());

/**
 * A response header. The typings declare lastResponse.headers as a plain object, but with the fetch
 * HTTP client (which the harness uses) lastResponse is the fetch Response, so headers is a Headers.
 */
function header(response: { lastResponse: { headers: unknown } }, name: string): string | undefined {
  const headers = response.lastResponse.headers as Headers | Record<string, string>;
  return headers instanceof Headers ? (headers.get(name) ?? undefined) : headers[name];
}

const params = { amount: 2000, currency: 'usd', metadata: { order: '42' } };

describe('Idempotency-Key', () => {
  it('replays the first response for the same key and parameters (Idempotent-Replayed: true), creating one object', async () => {
    const first = await h.stripe.paymentIntents.create(params, { idempotencyKey: 'order-42' });
    expect(header(first, 'idempotent-replayed')).toBeUndefined();
    const again = await h.stripe.paymentIntents.create({ currency: 'usd', metadata: { order: '42' }, amount: 2000 }, { idempotencyKey: 'order-42' });
    expect(again.id).toBe(first.id);
    expect(again.client_secret).toBe(first.client_secret);
    expect(header(again, 'idempotent-replayed')).toBe('true');
    expect(header(again, 'idempotency-key')).toBe('order-42');
    expect((await h.stripe.paymentIntents.list()).data).toHaveLength(1);
    await h.sandbox.flushWebhooks();
    expect(h.received.map((e) => e.type)).toEqual(['payment_intent.created']);
    expect(h.received[0]!.request).toEqual({ id: first.lastResponse.requestId, idempotency_key: 'order-42' });
  });

  it('refuses the same key with different parameters (StripeIdempotencyError)', async () => {
    await h.stripe.paymentIntents.create(params, { idempotencyKey: 'order-43' });
    const error = await h.stripe.paymentIntents.create({ ...params, amount: 2001 }, { idempotencyKey: 'order-43' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(error).toMatchObject({ type: 'StripeIdempotencyError', statusCode: 400 });
    expect((error as Error).message).toContain("Keys for idempotent requests can only be used with the same parameters");
    expect((await h.stripe.paymentIntents.list()).data).toHaveLength(1);
  });

  it('replays a declined confirmation (402) rather than charging again', async () => {
    const pi = await h.stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    const first = await h.stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_chargeDeclined', return_url: 'https://shop.example/return' }, { idempotencyKey: 'confirm-1' }).catch((e: unknown) => e);
    const second = await h.stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_chargeDeclined', return_url: 'https://shop.example/return' }, { idempotencyKey: 'confirm-1' }).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(second).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect((second as Stripe.errors.StripeCardError).headers?.['idempotent-replayed']).toBe('true');
    expect((second as Stripe.errors.StripeCardError).raw).toMatchObject({ charge: ((first as Stripe.errors.StripeCardError).raw as { charge: string }).charge });
    expect((await h.stripe.charges.list({ payment_intent: pi.id })).data).toHaveLength(1);
  });

  it('does not save requests refused for bad parameters: the key can be used again', async () => {
    await expect(h.stripe.paymentIntents.create({ currency: 'usd' } as never, { idempotencyKey: 'fix-me' })).rejects.toMatchObject({ statusCode: 400 });
    const ok = await h.stripe.paymentIntents.create(params, { idempotencyKey: 'fix-me' });
    expect(header(ok, 'idempotent-replayed')).toBeUndefined();
  });

  it('forgets keys after 24 hours of sandbox time', async () => {
    h.sandbox.core.clock.freeze(); // exact boundary below: real seconds must not slip in
    const first = await h.stripe.paymentIntents.create(params, { idempotencyKey: 'daily' });
    await h.sandbox.advanceClock(24 * 3600 - 10);
    expect((await h.stripe.paymentIntents.create(params, { idempotencyKey: 'daily' })).id).toBe(first.id);
    await h.sandbox.advanceClock(11);
    const later = await h.stripe.paymentIntents.create(params, { idempotencyKey: 'daily' });
    expect(later.id).not.toBe(first.id);
    expect(header(later, 'idempotent-replayed')).toBeUndefined();
    expect((await h.stripe.paymentIntents.list()).data).toHaveLength(2);
  });

  it('creates one object for two concurrent requests with one key (no retries: the other replays or gets 409)', async () => {
    const results = await Promise.allSettled([
      h.stripe.paymentIntents.create(params, { idempotencyKey: 'race' }),
      h.stripe.paymentIntents.create(params, { idempotencyKey: 'race' }),
      h.stripe.paymentIntents.create(params, { idempotencyKey: 'race' }),
    ]);
    const ids = new Set<string>();
    for (const r of results) {
      if (r.status === 'fulfilled') ids.add(r.value.id);
      else expect(r.reason).toMatchObject({ statusCode: 409, code: 'idempotency_key_in_use' });
    }
    expect(ids.size).toBe(1);
    expect((await h.stripe.paymentIntents.list()).data).toHaveLength(1);
  });

  it('creates one object for concurrent requests with one key, all answered when the client retries 409s', async () => {
    const results = await Promise.all([
      retrying.paymentIntents.create(params, { idempotencyKey: 'race-retry' }),
      retrying.paymentIntents.create(params, { idempotencyKey: 'race-retry' }),
      retrying.paymentIntents.create(params, { idempotencyKey: 'race-retry' }),
    ]);
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect((await h.stripe.paymentIntents.list()).data).toHaveLength(1);
  });
});
