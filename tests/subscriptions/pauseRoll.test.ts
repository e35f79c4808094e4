// Pause and resume across a period roll (issue 19), through the GraphQL mutations against the real
// server in sandbox mode, the sandbox's clock rolling the billing period. While collection is paused
// Stripe still invoices the new period, and handles the invoice as pause_collection's behavior says
// (docs.stripe.com/billing/subscriptions/pause-payment): VOID voids it, MARK_UNCOLLECTIBLE finalizes
// it and marks it uncollectible, KEEP_AS_DRAFT leaves it a draft; nothing is charged and the
// subscription stays active with its pause. Resumed, the next period's invoice is paid and charged.
// In a file of its own: the sandbox's clock is months ahead afterwards.
import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StripeSandbox } from '../../stripe-sandbox/sandbox';
import { type CheckoutServer, newKey, startCheckoutServer } from '../helpers/checkout';

let server: CheckoutServer;
let sandbox: StripeSandbox;
let stripe: Stripe;
let owner: string;
let priceId: string;
const ownerUserId = randomUUID();
const ownerCustomerId = randomUUID();

beforeAll(async () => {
  server = await startCheckoutServer({ JOBS_ENABLED: 'false' });
  sandbox = server.app.stripeSandbox!;
  stripe = server.app.stripe;
  owner = await server.customerToken({ id: ownerUserId, email: 'pauser@example.com' });
  await server.app.db.query(`insert into customers (id, user_id, email) values ($1, $2, 'pauser@example.com')`, [ownerCustomerId, ownerUserId]);
  const { rows } = await server.app.db.query<{ stripe_price_id: string }>("select stripe_price_id from prices where id = 'social_media_email_campaign_usd_monthly'");
  priceId = rows[0]!.stripe_price_id;
});
afterAll(() => server?.stop());

const PAYLOAD = `subscription { id status pause { behavior resumesAt } } error { code message } isRepeat`;
const PAUSE = `mutation ($input: PauseSubscriptionInput!) { pauseSubscription(input: $input) { ${PAYLOAD} } }`;
const RESUME = `mutation ($input: ResumeSubscriptionInput!) { resumeSubscription(input: $input) { ${PAYLOAD} } }`;
const SUBSCRIPTION = `query ($id: ID!) { subscription(id: $id) {
  id status currentPeriodStart currentPeriodEnd pause { behavior resumesAt }
  latestInvoice { id status amountDue { amount } amountPaid { amount } }
  invoices { id status amountDue { amount } amountPaid { amount } } } }`;

/** Every event the sandbox has to deliver reaches the endpoint, and every stored event is applied. */
async function settle(): Promise<void> {
  await sandbox.flushWebhooks();
  await server.app.webhookApplier.drain();
  const { rows } = await server.app.db.query("select id, type, last_error from stripe_events where status not in ('applied', 'ignored')");
  expect(rows).toEqual([]);
}

async function gql(query: string, variables: Record<string, unknown>) {
  const response = await server.graphql(query, { variables, token: owner });
  expect(response.body.errors).toBeUndefined();
  return response.body.data;
}

const read = async (id: string) => (await gql(SUBSCRIPTION, { id })).subscription;

/** Rolls the sandbox's clock to the subscription's period end: Stripe bills the next period. */
async function roll(id: string): Promise<number> {
  const sub = await stripe.subscriptions.retrieve(id);
  const end = sub.items.data[0]!.current_period_end;
  await sandbox.advanceClock(end - sandbox.core.clock.now());
  await settle();
  return end;
}

/** What Stripe charged the customer: its succeeded charges' amounts. */
async function charged(customer: string): Promise<number[]> {
  const charges = await stripe.charges.list({ customer, limit: 100 });
  return charges.data.filter((c) => c.status === 'succeeded').map((c) => c.amount);
}

const STRIPE_STATUS = { VOID: 'void', MARK_UNCOLLECTIBLE: 'uncollectible', KEEP_AS_DRAFT: 'draft' } as const;

describe('pause and resume across a period roll', () => {
  it.each(Object.keys(STRIPE_STATUS) as Array<keyof typeof STRIPE_STATUS>)('%s: the paused period is invoiced as Stripe documents and not charged; resumed, the next one is paid', async (behavior) => {
    const customer = await stripe.customers.create({ email: 'pauser@example.com' });
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: priceId }], default_payment_method: 'pm_card_visa', metadata: { customer_id: ownerCustomerId } });
    await settle();
    const first = sub.latest_invoice as string;
    expect(await charged(customer.id)).toEqual([4900]);

    const paused = (await gql(PAUSE, { input: { idempotencyKey: newKey(), subscriptionId: sub.id, behavior } })).pauseSubscription;
    expect(paused).toMatchObject({ error: null, subscription: { status: 'ACTIVE', pause: { behavior, resumesAt: null } } });
    await settle();

    // The period rolls while paused: Stripe invoices it and handles the invoice as the behavior says.
    const rolledAt = await roll(sub.id);
    const atStripe = await stripe.subscriptions.retrieve(sub.id);
    expect(atStripe).toMatchObject({ status: 'active', pause_collection: { behavior: behavior.toLowerCase() } });
    const pausedInvoice = await stripe.invoices.retrieve(atStripe.latest_invoice as string);
    expect(pausedInvoice.id).not.toBe(first);
    expect(pausedInvoice).toMatchObject({ status: STRIPE_STATUS[behavior], amount_paid: 0, period_end: rolledAt });
    expect(await charged(customer.id)).toEqual([4900]);

    // We keep the subscription active at its new period, still paused, with no second paid invoice.
    const kept = await read(sub.id);
    expect(kept).toMatchObject({ status: 'ACTIVE', pause: { behavior, resumesAt: null }, currentPeriodStart: new Date(rolledAt * 1000).toISOString() });
    expect(kept.invoices.filter((i: { status: string }) => i.status === 'PAID').map((i: { id: string }) => i.id)).toEqual([first]);
    const { rows: paidLogs } = await server.app.db.query<{ n: number }>(
      "select count(*)::int as n from payment_logs where event_type = 'invoice.paid' and metadata->>'subscription_id' = $1",
      [sub.id],
    );
    expect(paidLogs[0]!.n).toBe(1);

    const resumed = (await gql(RESUME, { input: { idempotencyKey: newKey(), subscriptionId: sub.id } })).resumeSubscription;
    expect(resumed).toMatchObject({ error: null, subscription: { status: 'ACTIVE', pause: null } });
    await settle();

    // Resumed, the next period's invoice is paid and charged.
    const nextAt = await roll(sub.id);
    const renewed = await stripe.subscriptions.retrieve(sub.id);
    const renewal = await stripe.invoices.retrieve(renewed.latest_invoice as string);
    expect(renewal.id).not.toBe(pausedInvoice.id);
    expect(renewal).toMatchObject({ status: 'paid', amount_paid: 4900, period_end: nextAt });
    expect(await charged(customer.id)).toEqual([4900, 4900]);
    // The paused invoice is as the pause left it: resuming does not collect it.
    expect(await stripe.invoices.retrieve(pausedInvoice.id)).toMatchObject({ status: STRIPE_STATUS[behavior], amount_paid: 0 });

    const after = await read(sub.id);
    expect(after).toMatchObject({
      status: 'ACTIVE',
      pause: null,
      currentPeriodStart: new Date(nextAt * 1000).toISOString(),
      latestInvoice: { id: renewal.id, status: 'PAID', amountPaid: { amount: 4900 } },
    });
    expect(after.invoices.filter((i: { status: string }) => i.status === 'PAID').map((i: { id: string }) => i.id).sort()).toEqual([first, renewal.id].sort());
  });
});
