// The Stripe price of a subscription Checkout Session (issue 19 review, finding 2): the order's own
// price, whatever else the track sells; a Stripe price archived at Stripe while this process still
// knows it is made again; and a price that can no longer be charged as the order says is a typed
// error, never INTERNAL. Real server, the sandbox through the real SDK, its fault injection for a
// Stripe outage that leaves the order's attempt to be created by the retry.
import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StripeSandbox } from '../../stripe-sandbox/sandbox';
import { type CheckoutServer, newKey, startCheckoutServer } from '../helpers/checkout';

const CHECKOUT = `mutation ($input: SubscriptionCheckoutInput!) {
  createSubscriptionCheckout(input: $input) { order { id amount { amount } } checkoutSessionId isRepeat error { code } }
}`;

let server: CheckoutServer;
let sandbox: StripeSandbox;
let stripe: Stripe;

beforeAll(async () => {
  server = await startCheckoutServer({ JOBS_ENABLED: 'false' });
  sandbox = server.app.stripeSandbox!;
  stripe = server.app.stripe;
  // Only the checkout path is under test: no webhook settles anything meanwhile.
  sandbox.core.events.stopAutoDelivery();
});
afterAll(() => server?.stop());

const guest = (track: string) => ({ idempotencyKey: newKey(), track, email: `price-${randomUUID()}@example.com` });
const start = (input: Record<string, unknown>) => server.graphql(CHECKOUT, { variables: { input }, ...server.asStorefront });

const currentStripePrice = async (priceId: string) =>
  (await server.app.db.query<{ stripe_price_id: string }>('select stripe_price_id from prices where id = $1', [priceId])).rows[0]!.stripe_price_id;

async function sessionPrice(sessionId: string): Promise<Stripe.Price> {
  const items = await stripe.checkout.sessions.listLineItems(sessionId);
  return items.data[0]!.price!;
}

/** A subscription checkout whose session Stripe could not make (an outage through the SDK's retries): its order waits for the retry. */
async function startedWithoutSession(track: string) {
  const input = guest(track);
  sandbox.failNext('api_error', 'api_error');
  const response = await start(input);
  expect(response.body.errors).toBeUndefined();
  expect(response.body.data.createSubscriptionCheckout).toMatchObject({ checkoutSessionId: null, error: { code: 'PAYMENT_PROVIDER_UNAVAILABLE' } });
  return { input, orderId: response.body.data.createSubscriptionCheckout.order.id as string };
}

describe('the Stripe price of a subscription Checkout Session', () => {
  it('is the order’s own price, not the cheapest the track sells now', async () => {
    const track = 'website_audit_feedback';
    const { input, orderId } = await startedWithoutSession(track);
    // Meanwhile the track starts selling a cheaper monthly price beside the order's.
    await server.app.db.query(
      `insert into prices (id, product_id, currency, unit_amount, kind, recurring_interval, active) values ('website_audit_feedback_usd_monthly_intro', $1, 'usd', 1900, 'recurring', 'month', true)`,
      [track],
    );
    try {
      const retried = await start(input);
      expect(retried.body.errors).toBeUndefined();
      const result = retried.body.data.createSubscriptionCheckout;
      expect(result).toMatchObject({ error: null, order: { id: orderId, amount: { amount: 7900 } }, checkoutSessionId: expect.stringMatching(/^cs_/) });
      const price = await sessionPrice(result.checkoutSessionId);
      expect(price).toMatchObject({ id: await currentStripePrice('website_audit_feedback_usd_monthly'), unit_amount: 7900 });
    } finally {
      await server.app.db.query("update prices set active = false where id = 'website_audit_feedback_usd_monthly_intro'");
    }
  });

  it('is made again when the one this process knows was archived at Stripe', async () => {
    const archived = await currentStripePrice('social_media_email_campaign_usd_monthly');
    await stripe.prices.update(archived, { active: false });
    const response = await start(guest('social_media_email_campaign'));
    expect(response.body.errors).toBeUndefined();
    const result = response.body.data.createSubscriptionCheckout;
    expect(result).toMatchObject({ error: null, checkoutSessionId: expect.stringMatching(/^cs_/) });
    const price = await sessionPrice(result.checkoutSessionId);
    expect(price.id).not.toBe(archived);
    expect(price).toMatchObject({ active: true, unit_amount: 4900, lookup_key: 'social_media_email_campaign_usd_monthly' });
    expect(await currentStripePrice('social_media_email_campaign_usd_monthly')).toBe(price.id);
  });

  it('is a typed error, with no session made, when the order’s price changed or is no longer sold', async () => {
    const track = 'business_plan_builder';
    const changed = await startedWithoutSession(track);
    await server.app.db.query("update prices set unit_amount = 10900 where id = 'business_plan_builder_usd_monthly'");
    try {
      const response = await start(changed.input);
      expect(response.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'PRICE_CHANGED' });
    } finally {
      await server.app.db.query("update prices set unit_amount = 9900 where id = 'business_plan_builder_usd_monthly'");
    }

    const withdrawn = await startedWithoutSession(track);
    await server.app.db.query("update prices set active = false where id = 'business_plan_builder_usd_monthly'");
    try {
      const response = await start(withdrawn.input);
      expect(response.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'NO_PRICE' });
    } finally {
      await server.app.db.query("update prices set active = true where id = 'business_plan_builder_usd_monthly'");
    }
    const sessions = (await stripe.checkout.sessions.list({ limit: 100 })).data.filter((s) => [changed.orderId, withdrawn.orderId].includes(s.client_reference_id ?? ''));
    expect(sessions).toEqual([]);
  });
});
