// Issue 19, catalog: each track's monthly recurring price, seeded by migration 20261207001100, shown
// by `pricing`, and made at Stripe (the sandbox the server serves, through the real SDK) once, so a
// subscription can name it. Real server, real database, real webhooks.
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forgetStripeRecurringPrice, stripeProductId, stripeRecurringPriceFor } from '../../server/catalog/stripeProducts';
import { createLogger } from '../../server/platform/observability/logger';
import { type CheckoutServer, newKey, startCheckoutServer } from '../helpers/checkout';

const TRACKS = [
  { track: 'business_plan_builder', amount: 9900 },
  { track: 'social_media_email_campaign', amount: 4900 },
  { track: 'website_audit_feedback', amount: 7900 },
];
const monthlyId = (track: string) => `${track}_usd_monthly`;

let server: CheckoutServer;
// What a mutation would pass: the server's database and Stripe client, logging where the server's go.
const deps = () => ({ db: server.app.db, stripe: server.app.stripe, logger: createLogger({ level: 'info', destination: server.logs }) });

beforeAll(async () => {
  server = await startCheckoutServer();
});
afterAll(() => server?.stop());

async function stripePrices(): Promise<Stripe.Price[]> {
  return (await server.app.stripe.prices.list({ limit: 100 })).data;
}

/** price.created events the sandbox sent and the server stored. */
async function pricesCreated(): Promise<number> {
  await server.app.stripeSandbox!.flushWebhooks();
  const { rows: [row] } = await server.app.db.query<{ n: number }>("select count(*)::int as n from stripe_events where type = 'price.created'");
  return row!.n;
}

describe('the monthly prices in the database', () => {
  it('seeds a monthly price beside each one-time price, at the same amount, and pricing shows both', async () => {
    const { rows } = await server.app.db.query<{ id: string; product_id: string; unit_amount: number; currency: string; kind: string; recurring_interval: string | null }>(
      "select id, product_id, unit_amount, currency, kind, recurring_interval from prices where kind = 'recurring' order by id",
    );
    expect(rows).toEqual(TRACKS.map(({ track, amount }) => ({ id: monthlyId(track), product_id: track, unit_amount: amount, currency: 'usd', kind: 'recurring', recurring_interval: 'month' })));

    const { body } = await server.graphql('{ pricing { id prices { id kind recurringInterval unitAmount { amount currency formatted } } } }');
    expect(body.errors).toBeUndefined();
    expect(body.data.pricing).toEqual(
      TRACKS.map(({ track, amount }) => ({
        id: track,
        prices: [
          { id: `${track}_usd`, kind: 'ONE_TIME', recurringInterval: null, unitAmount: { amount, currency: 'usd', formatted: `$${amount / 100}.00` } },
          { id: monthlyId(track), kind: 'RECURRING', recurringInterval: 'month', unitAmount: { amount, currency: 'usd', formatted: `$${amount / 100}.00` } },
        ],
      })),
    );
  });

  it('leaves one-time checkouts on the one-time price', async () => {
    const response = await server.createCheckoutSession({ idempotencyKey: newKey(), track: 'website_audit_feedback', email: 'one-time@example.com' });
    expect(response.body.errors).toBeUndefined();
    const { order } = response.body.data.createCheckoutSession;
    const { rows: [row] } = await server.app.db.query<{ price_id: string; amount: number }>('select price_id, amount from orders where id = $1', [order.id]);
    expect(row).toEqual({ price_id: 'website_audit_feedback_usd', amount: 7900 });
    const items = await server.app.stripe.checkout.sessions.listLineItems(response.body.data.createCheckoutSession.checkoutSessionId);
    expect(items.data[0]!.price).toMatchObject({ type: 'one_time', unit_amount: 7900 });
  });
});

describe('the monthly prices at Stripe', () => {
  it('makes one monthly Stripe price per track at start, found by its lookup key, and records it', async () => {
    const prices = (await stripePrices()).filter((p) => p.type === 'recurring');
    expect(prices).toHaveLength(TRACKS.length);
    const { rows } = await server.app.db.query<{ id: string; stripe_price_id: string | null }>("select id, stripe_price_id from prices where kind = 'recurring' order by id");
    for (const { track, amount } of TRACKS) {
      const price = prices.find((p) => p.lookup_key === monthlyId(track));
      expect(price).toMatchObject({
        active: true,
        product: stripeProductId(track),
        currency: 'usd',
        unit_amount: amount,
        recurring: { interval: 'month', interval_count: 1 },
        metadata: { track, price_id: monthlyId(track) },
      });
      expect(rows.find((r) => r.id === monthlyId(track))?.stripe_price_id).toBe(price!.id);
    }
    // One-time checkouts keep describing their price inline (Stripe keeps such a price archived): the
    // catalog makes no one-time price at Stripe.
    expect((await stripePrices()).filter((p) => p.type === 'one_time' && p.active)).toEqual([]);
    expect(await pricesCreated()).toBe(TRACKS.length);
  });

  it('gives a subscription the synced price, and a process that starts again finds it instead of making another', async () => {
    const before = await pricesCreated();
    const synced = await stripeRecurringPriceFor(deps(), 'social_media_email_campaign');
    const atStripe = (await stripePrices()).find((p) => p.lookup_key === monthlyId('social_media_email_campaign'))!;
    expect(synced).toEqual({ priceId: monthlyId('social_media_email_campaign'), track: 'social_media_email_campaign', currency: 'usd', unitAmount: 4900, interval: 'month', stripePriceId: atStripe.id });
    // As a new process: nothing remembered, the lookup key finds the price.
    forgetStripeRecurringPrice(server.app.stripe, monthlyId('social_media_email_campaign'));
    expect(await stripeRecurringPriceFor(deps(), 'social_media_email_campaign')).toEqual(synced);
    expect(await pricesCreated()).toBe(before);
  });

  it('makes a new price when the amount changes in the database, archives the old one, and concurrent callers make one', async () => {
    const track = 'business_plan_builder';
    const old = (await stripeRecurringPriceFor(deps(), track))!;
    const before = await pricesCreated();
    await server.app.db.query('update prices set unit_amount = 12900 where id = $1', [monthlyId(track)]);
    const results = await Promise.all([stripeRecurringPriceFor(deps(), track), stripeRecurringPriceFor(deps(), track), stripeRecurringPriceFor(deps(), track)]);
    const fresh = results[0]!;
    for (const r of results) expect(r).toEqual(fresh);
    expect(fresh).toMatchObject({ unitAmount: 12900, priceId: monthlyId(track) });
    expect(fresh.stripePriceId).not.toBe(old.stripePriceId);
    expect(await pricesCreated()).toBe(before + 1);

    const now = await server.app.stripe.prices.retrieve(fresh.stripePriceId);
    expect(now).toMatchObject({ active: true, unit_amount: 12900, lookup_key: monthlyId(track) });
    // Existing subscribers keep renewing at the old price; no new subscription starts on it.
    expect(await server.app.stripe.prices.retrieve(old.stripePriceId)).toMatchObject({ active: false, lookup_key: null, unit_amount: 9900 });
    const { rows: [row] } = await server.app.db.query<{ stripe_price_id: string }>('select stripe_price_id from prices where id = $1', [monthlyId(track)]);
    expect(row!.stripe_price_id).toBe(fresh.stripePriceId);
    // The one-time price is untouched.
    const { rows: [oneTime] } = await server.app.db.query<{ unit_amount: number }>("select unit_amount from prices where id = 'business_plan_builder_usd'");
    expect(oneTime!.unit_amount).toBe(9900);
  });

  it('answers null for a track that sells no monthly price, and makes nothing', async () => {
    const before = await pricesCreated();
    await server.app.db.query("update prices set active = false where id = $1", [monthlyId('website_audit_feedback')]);
    try {
      expect(await stripeRecurringPriceFor(deps(), 'website_audit_feedback')).toBeNull();
      expect(await stripeRecurringPriceFor(deps(), 'no_such_track')).toBeNull();
      expect(await stripeRecurringPriceFor(deps(), 'social_media_email_campaign', 'year')).toBeNull();
    } finally {
      await server.app.db.query('update prices set active = true where id = $1', [monthlyId('website_audit_feedback')]);
    }
    expect(await pricesCreated()).toBe(before);
  });

  it('throws Stripe’s error when Stripe fails, remembers nothing, and the next call syncs', async () => {
    const track = 'website_audit_feedback';
    forgetStripeRecurringPrice(server.app.stripe, monthlyId(track));
    // Both tries of the SDK (it retries once in tests) fail.
    server.app.stripeSandbox!.failNext('api_error', 'api_error');
    await expect(stripeRecurringPriceFor(deps(), track)).rejects.toMatchObject({ type: 'StripeAPIError' });
    expect(server.logs.lines).toContainEqual(expect.objectContaining({ level: 40, priceId: monthlyId(track), msg: expect.stringMatching(/could not sync the recurring price/) }));
    const price = await stripeRecurringPriceFor(deps(), track);
    expect(price).toMatchObject({ priceId: monthlyId(track), unitAmount: 7900 });
    expect((await server.app.stripe.prices.retrieve(price!.stripePriceId)).lookup_key).toBe(monthlyId(track));
  });
});
