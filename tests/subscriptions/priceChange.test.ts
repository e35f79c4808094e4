// A monthly price's amount changes while a customer subscribes to it (issue 19 review, finding 1).
// Stripe prices are immutable: the catalog sync makes a new Stripe price for the new amount and the
// subscriber stays on the old one at Stripe. The subscription must still read its track and the
// amount it is billed, be previewed and switched (SAME_TRACK judged by any Stripe price we made for
// the track), while a new checkout starts on the new Stripe price. Real server, real sandbox, hosted
// Checkout paid over HTTP.
import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signStaffToken } from '../../server/auth/staffTokens';
import { stripeRecurringPriceFor } from '../../server/catalog/stripeProducts';
import { createLogger } from '../../server/platform/observability/logger';
import type { StripeSandbox } from '../../stripe-sandbox/sandbox';
import { type CheckoutServer, JWT_SECRET, newKey, startCheckoutServer } from '../helpers/checkout';
import type { GraphQLResponse } from '../helpers/server';

const TRACK = 'business_plan_builder';
const MONTHLY = `${TRACK}_usd_monthly`;

const CHECKOUT = `mutation ($input: SubscriptionCheckoutInput!) {
  createSubscriptionCheckout(input: $input) { order { id } checkoutSessionId url error { code } }
}`;
const READ = `query ($id: ID!) { subscription(id: $id) { id track trackName stripePriceId price { id unitAmount { amount currency } } } }`;
const PREVIEW = `query ($id: ID!, $track: ID!) {
  previewSubscriptionSwitch(subscriptionId: $id, track: $track) { preview { prorationDate fromTrack price { id unitAmount { amount } } lines { amount { amount } } } error { code } }
}`;
const SWITCH = `mutation ($input: SwitchSubscriptionInput!) {
  switchSubscription(input: $input) { subscription { id track } error { code } }
}`;

let server: CheckoutServer;
let sandbox: StripeSandbox;
let stripe: Stripe;
let admin: { token: string };

beforeAll(async () => {
  server = await startCheckoutServer({ JOBS_ENABLED: 'false' });
  sandbox = server.app.stripeSandbox!;
  stripe = server.app.stripe;
  sandbox.core.clock.freeze();
  admin = { token: await signStaffToken(JWT_SECRET, { userId: randomUUID(), email: 'admin@staff.test', staffRole: 'admin', audience: 'authenticated', expiresIn: '1h' }) };
});
afterAll(() => server?.stop());

const deps = () => ({ db: server.app.db, stripe, logger: createLogger({ level: 'info', destination: server.logs }) });
const ok = (response: GraphQLResponse) => {
  expect(response.body.errors).toBeUndefined();
  return response.body.data;
};

async function settle(): Promise<void> {
  await sandbox.flushWebhooks();
  await server.app.webhookApplier.drain();
}

/** A subscription through hosted Checkout, paid: its Stripe id and the Stripe price it is on. */
async function subscribeThroughCheckout(): Promise<{ subscriptionId: string; stripePriceId: string }> {
  const input = { idempotencyKey: newKey(), track: TRACK, email: `price-change-${randomUUID()}@example.com` };
  const started = ok(await server.graphql(CHECKOUT, { variables: { input }, ...server.asStorefront })).createSubscriptionCheckout;
  expect(started.error).toBeNull();
  const paid = await fetch(started.url, { method: 'POST', body: new URLSearchParams({ card_number: '4242424242424242', email: input.email, name: 'Payer' }), redirect: 'manual' });
  expect(paid.status).toBe(303);
  await settle();
  const session = await stripe.checkout.sessions.retrieve(started.checkoutSessionId);
  const subscriptionId = typeof session.subscription === 'string' ? session.subscription : session.subscription!.id;
  const sub = await stripe.subscriptions.retrieve(subscriptionId);
  return { subscriptionId, stripePriceId: sub.items.data[0]!.price.id };
}

describe('a subscriber after its monthly price changes', () => {
  it('still reads its track at the amount it is billed, previews and switches, and a new checkout starts on the new Stripe price', async () => {
    const { subscriptionId, stripePriceId: oldPrice } = await subscribeThroughCheckout();
    expect(ok(await server.graphql(READ, { variables: { id: subscriptionId }, ...admin })).subscription).toMatchObject({ track: TRACK, stripePriceId: oldPrice });

    // The business raises the monthly price; the catalog sync makes a new Stripe price for it.
    await server.app.db.query('update prices set unit_amount = 14900 where id = $1', [MONTHLY]);
    const fresh = (await stripeRecurringPriceFor(deps(), TRACK))!;
    expect(fresh.stripePriceId).not.toBe(oldPrice);
    const { rows: [current] } = await server.app.db.query<{ stripe_price_id: string }>('select stripe_price_id from prices where id = $1', [MONTHLY]);
    expect(current!.stripe_price_id).toBe(fresh.stripePriceId);
    // Stripe's webhooks for the subscription (a renewal, say) still name the old price.
    await stripe.subscriptions.update(subscriptionId, { metadata: { touched: 'yes' } });
    await settle();

    const read = ok(await server.graphql(READ, { variables: { id: subscriptionId }, ...admin })).subscription;
    expect(read).toEqual({
      id: subscriptionId,
      track: TRACK,
      trackName: expect.any(String),
      stripePriceId: oldPrice,
      // What this subscriber is billed: the old amount, not the catalog's new one.
      price: { id: MONTHLY, unitAmount: { amount: 9900, currency: 'usd' } },
    });
    const listed = ok(await server.graphql(`query { subscriptions(filter: { track: "${TRACK}" }, first: 200) { nodes { id } } }`, admin)).subscriptions.nodes;
    expect(listed.map((n: { id: string }) => n.id)).toContain(subscriptionId);

    // A switch to its own track is SAME_TRACK, in the preview and under the claim's lock.
    expect(ok(await server.graphql(PREVIEW, { variables: { id: subscriptionId, track: TRACK }, ...admin })).previewSubscriptionSwitch.error).toEqual({ code: 'SAME_TRACK' });
    const { rows: [claim] } = await server.app.db.query<{ result: { ok: boolean; code?: string } }>('select subscription_action_claim($1::jsonb) as result', [
      JSON.stringify({ subscription_id: subscriptionId, action: 'switch', params: { track: TRACK }, actor: 'test' }),
    ]);
    expect(claim!.result).toEqual({ ok: false, code: 'SAME_TRACK' });

    // Another track: previewed and switched.
    const preview = ok(await server.graphql(PREVIEW, { variables: { id: subscriptionId, track: 'website_audit_feedback' }, ...admin })).previewSubscriptionSwitch;
    expect(preview.error).toBeNull();
    expect(preview.preview.fromTrack).toBe(TRACK);
    const input = { idempotencyKey: newKey(), subscriptionId, track: 'website_audit_feedback', priceId: preview.preview.price.id, unitAmount: preview.preview.price.unitAmount.amount, prorationDate: preview.preview.prorationDate };
    expect(ok(await server.graphql(SWITCH, { variables: { input }, ...admin })).switchSubscription).toEqual({ subscription: { id: subscriptionId, track: 'website_audit_feedback' }, error: null });

    // A new subscriber starts on the new Stripe price at the new amount.
    const next = await subscribeThroughCheckout();
    expect(next.stripePriceId).toBe(fresh.stripePriceId);
    expect(ok(await server.graphql(READ, { variables: { id: next.subscriptionId }, ...admin })).subscription).toMatchObject({
      track: TRACK,
      price: { id: MONTHLY, unitAmount: { amount: 14900, currency: 'usd' } },
    });
  });

  it('keeps every Stripe price made for a price, each with the amount it bills', async () => {
    const { rows } = await server.app.db.query<{ price_id: string; unit_amount: number }>(
      'select price_id, unit_amount::float8 as unit_amount from stripe_prices where price_id = $1 order by created_at, unit_amount',
      [MONTHLY],
    );
    expect(rows).toEqual([
      { price_id: MONTHLY, unit_amount: 9900 },
      { price_id: MONTHLY, unit_amount: 14900 },
    ]);
  });
});
