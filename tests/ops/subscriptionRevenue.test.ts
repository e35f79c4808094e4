// The Overview's revenue by track counts every paid subscription invoice once (the simulator's finding,
// issue 25): a subscription bought through the hosted Checkout (its first invoice pays its order, counted
// as the order), then switched to another track with the proration invoiced at once, then renewed. All
// against the real server in sandbox mode, the webhooks delivered and applied; the sandbox clock is
// frozen and moved only by advanceClock, so Stripe's month passes while our clock (paid_at, the payment
// log) stays in the Overview's window. Each invoice is on the track of the price it billed: a renewal
// paid before a switch stays on the track it renewed.
import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signStaffToken } from '../../server/auth/staffTokens';
import type { StripeSandbox } from '../../stripe-sandbox/sandbox';
import { type CheckoutServer, JWT_SECRET, newKey, startCheckoutServer } from '../helpers/checkout';

let server: CheckoutServer;
let sandbox: StripeSandbox;
let stripe: Stripe;
let support: { token: string };
const priceOf: Record<string, string> = {};

const ACTIVITY = `query ($period: OpsPeriod!) {
  opsActivity(period: $period) {
    buckets { succeeded }
    revenueByTrack { track gross { amount currency } refunded { amount } net { amount } }
  }
}`;

async function settle(): Promise<void> {
  await sandbox.flushWebhooks();
  await server.app.webhookApplier.drain();
  const { rows } = await server.app.db.query("select id, type, last_error from stripe_events where status not in ('applied', 'ignored')");
  expect(rows).toEqual([]);
}

async function activity(period: 'DAY' | 'WEEK' | 'MONTH') {
  const response = await server.graphql(ACTIVITY, { variables: { period }, ...support });
  expect(response.body.errors).toBeUndefined();
  const { buckets, revenueByTrack } = response.body.data.opsActivity;
  return {
    payments: buckets.reduce((sum: number, b: { succeeded: number }) => sum + b.succeeded, 0),
    revenue: Object.fromEntries(
      revenueByTrack.map((r: { track: string; gross: { amount: number; currency: string }; refunded: { amount: number }; net: { amount: number } }) => [
        `${r.track} ${r.gross.currency}`,
        { gross: r.gross.amount, refunded: r.refunded.amount, net: r.net.amount },
      ]),
    ),
  };
}

/** Stripe's paid invoices of the subscription, oldest first: what the customer paid. */
async function paidAtStripe(subscriptionId: string) {
  const invoices = sandbox.core.store.collection<Stripe.Invoice>('invoice').all();
  return invoices
    .filter((i) => i.status === 'paid' && (i.parent?.subscription_details?.subscription ?? (i as { subscription?: string }).subscription) === subscriptionId)
    .sort((a, b) => a.created - b.created)
    .map((i) => ({ reason: i.billing_reason, paid: i.amount_paid }));
}

/** A subscription bought through the hosted Checkout and paid, its webhooks applied: its order and Stripe id. */
async function subscribe(track: string): Promise<{ order: { id: string }; subscription: string }> {
  const started = await server.graphql(
    `mutation ($input: SubscriptionCheckoutInput!) { createSubscriptionCheckout(input: $input) { order { id } url error { code } } }`,
    { variables: { input: { idempotencyKey: newKey(), track, email: `guest-${randomUUID()}@example.com` } }, ...server.asStorefront },
  );
  expect(started.body.errors).toBeUndefined();
  const { order, url } = started.body.data.createSubscriptionCheckout;
  const paid = await fetch(url, { method: 'POST', body: new URLSearchParams({ card_number: '4242424242424242', email: 'payer@example.com', name: 'Payer' }), redirect: 'manual' });
  expect(paid.status).toBe(303);
  await settle();
  const session = sandbox.core.store.collection<Stripe.Checkout.Session>('checkout.session').newestFirst((s) => s.metadata?.order_id === order.id)[0]!;
  return { order, subscription: String(session.subscription) };
}

beforeAll(async () => {
  server = await startCheckoutServer({ JOBS_ENABLED: 'false' });
  sandbox = server.app.stripeSandbox!;
  stripe = server.app.stripe;
  sandbox.core.clock.freeze();
  support = { token: await signStaffToken(JWT_SECRET, { userId: randomUUID(), email: 'support@staff.test', staffRole: 'support', audience: 'authenticated', expiresIn: '1h' }) };
  const { rows } = await server.app.db.query<{ id: string; stripe_price_id: string }>("select id, stripe_price_id from prices where kind = 'recurring'");
  for (const row of rows) priceOf[row.id] = row.stripe_price_id;
});
afterAll(() => server?.stop());

describe("the Overview's revenue and subscription invoices", () => {
  let subscriptionId = '';

  it('counts the first invoice once, as its order, then a switch invoiced at once and a renewal, each once', async () => {
    const { order, subscription } = await subscribe('website_audit_feedback');
    subscriptionId = subscription;
    expect((await server.app.db.query('select status from orders where id = $1', [order.id])).rows[0]).toEqual({ status: 'paid' });

    // The first invoice is the order's payment: 7900 on the track bought, not counted twice.
    expect(await activity('MONTH')).toEqual({ payments: 1, revenue: { 'website_audit_feedback usd': { gross: 7900, refunded: 0, net: 7900 } } });

    // Ten days on, switched to the business plan with the proration invoiced and paid at once.
    await sandbox.advanceClock(10 * 86_400);
    await settle();
    const sub = await stripe.subscriptions.retrieve(subscriptionId);
    await stripe.subscriptions.update(subscriptionId, {
      items: [{ id: sub.items.data[0]!.id, price: priceOf.business_plan_builder_usd_monthly! }],
      proration_behavior: 'always_invoice',
    });
    await settle();
    // Then the month ends and the renewal is paid.
    await sandbox.advanceClock(21 * 86_400);
    await settle();

    const invoices = await paidAtStripe(subscriptionId);
    expect(invoices.map((i) => i.reason)).toEqual(['subscription_create', 'subscription_update', 'subscription_cycle']);
    const [first, switched, renewal] = invoices.map((i) => i.paid) as [number, number, number];
    expect(first).toBe(7900);
    expect(switched).toBeGreaterThan(0);
    expect(renewal).toBe(9900);

    const month = await activity('MONTH');
    expect(month.revenue).toEqual({
      'website_audit_feedback usd': { gross: 7900, refunded: 0, net: 7900 },
      'business_plan_builder usd': { gross: switched + renewal, refunded: 0, net: switched + renewal },
    });
    // The chart counts orders' payments: the subscription's order, paid by its first invoice.
    expect(month.payments).toBe(1);
    // Paid just now by our clock, whatever Stripe's clock says: in today's figures too.
    expect((await activity('DAY')).revenue).toEqual(month.revenue);
  });

  it('times an invoice by when it was first paid, not by a later write of its row', async () => {
    const db = server.app.db;
    await db.query(`update subscription_invoices set paid_at = now() - interval '3 days' where subscription_id = $1 and status = 'paid'`, [subscriptionId]);
    // A later event's write of a paid row (the upsert the applier makes) keeps the time it was paid.
    await db.query(`update subscription_invoices set status = 'paid', updated_at = now() where subscription_id = $1 and status = 'paid'`, [subscriptionId]);
    const day = await activity('DAY');
    // The order's payment log is still today's; the invoices after the first are three days old.
    expect(day.revenue).toEqual({ 'website_audit_feedback usd': { gross: 7900, refunded: 0, net: 7900 } });
    const week = await activity('WEEK');
    expect(Object.keys(week.revenue).sort()).toEqual(['business_plan_builder usd', 'website_audit_feedback usd']);
    await db.query(`update subscription_invoices set paid_at = now() - interval '40 days' where subscription_id = $1 and status = 'paid'`, [subscriptionId]);
    expect((await activity('MONTH')).revenue).toEqual({ 'website_audit_feedback usd': { gross: 7900, refunded: 0, net: 7900 } });
  });

  it('keeps a renewal on the track it billed when the subscription is switched afterwards', async () => {
    const before = await activity('MONTH');
    const earlierPaid = (await paidAtStripe(subscriptionId)).length;
    const renewedId = (await subscribe('website_audit_feedback')).subscription;

    // A month on, the renewal is paid on the track bought; then the subscription is switched, invoiced at once.
    await sandbox.advanceClock(31 * 86_400);
    await settle();
    const sub = await stripe.subscriptions.retrieve(renewedId);
    await stripe.subscriptions.update(renewedId, {
      items: [{ id: sub.items.data[0]!.id, price: priceOf.business_plan_builder_usd_monthly! }],
      proration_behavior: 'always_invoice',
    });
    await settle();

    const invoices = await paidAtStripe(renewedId);
    expect(invoices.map((i) => i.reason)).toEqual(['subscription_create', 'subscription_cycle', 'subscription_update']);
    const [first, renewal, switched] = invoices.map((i) => i.paid) as [number, number, number];
    expect([first, renewal]).toEqual([7900, 7900]);
    expect(switched).toBeGreaterThan(0);
    const { rows } = await server.app.db.query('select stripe_price_id from subscription_invoices where subscription_id = $1 order by stripe_created, seq', [renewedId]);
    expect(rows.map((r) => r.stripe_price_id)).toEqual([priceOf.website_audit_feedback_usd_monthly, priceOf.website_audit_feedback_usd_monthly, priceOf.business_plan_builder_usd_monthly]);

    // The first subscription renewed meanwhile too (on the business plan, where it is).
    const earlier = (await paidAtStripe(subscriptionId)).slice(earlierPaid).reduce((sum, i) => sum + i.paid, 0);
    const gross = (key: string, revenue: Record<string, { gross: number }>) => revenue[key]?.gross ?? 0;
    const after = await activity('MONTH');
    expect(gross('website_audit_feedback usd', after.revenue) - gross('website_audit_feedback usd', before.revenue)).toBe(first + renewal);
    expect(gross('business_plan_builder usd', after.revenue) - gross('business_plan_builder usd', before.revenue)).toBe(earlier + switched);
  });
});
