// switchSubscription (issue 19) over real HTTP against the real server in sandbox mode, with the
// sandbox clock frozen so that the preview and the switch are at one known Stripe time: the switch
// made with the preview's prorationDate is billed what the preview showed to the cent; ALWAYS_INVOICE
// with a declining card switches nothing; two switches at once; roles; bad input and an expired
// preview write nothing.
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signStaffToken } from '../../server/auth/staffTokens';
import { stripeRecurringPriceFor } from '../../server/catalog/stripeProducts';
import type { Viewer } from '../../server/auth/viewer';
import { createLogger } from '../../server/platform/observability/logger';
import { runSubscriptionSwitch } from '../../server/subscriptions/switch';
import type { StripeSandbox } from '../../stripe-sandbox/sandbox';
import { type CheckoutServer, JWT_SECRET, newKey, startCheckoutServer } from '../helpers/checkout';
import type { GraphQLResponse } from '../helpers/server';

type Caller = 'owner' | 'other' | 'storefront' | 'support' | 'admin';
type Auth = { token?: string; headers?: Record<string, string> };

const silent = createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, done) => done() }) });
let server: CheckoutServer;
let sandbox: StripeSandbox;
let stripe: Stripe;
const as = {} as Record<Caller, Auth>;
const ownerUserId = randomUUID();
const ownerCustomerId = randomUUID();
const otherUserId = randomUUID();
const stripePrice: Record<string, string> = {};

beforeAll(async () => {
  server = await startCheckoutServer({ JOBS_ENABLED: 'false' });
  sandbox = server.app.stripeSandbox!;
  stripe = server.app.stripe;
  // One Stripe time for a preview and its switch: only advance() moves it.
  sandbox.core.clock.freeze();
  const staff = (staffRole: 'support' | 'admin') =>
    signStaffToken(JWT_SECRET, { userId: randomUUID(), email: `${staffRole}@staff.test`, staffRole, audience: 'authenticated', expiresIn: '1h' });
  Object.assign(as, {
    owner: { token: await server.customerToken({ id: ownerUserId, email: 'switch-owner@example.com' }) },
    other: { token: await server.customerToken({ id: otherUserId, email: 'switch-other@example.com' }) },
    storefront: server.asStorefront,
    support: { token: await staff('support') },
    admin: { token: await staff('admin') },
  });
  await server.app.db.query(`insert into customers (id, user_id, email, name) values ($1, $2, 'switch-owner@example.com', 'Owner'), ($3, $4, 'switch-other@example.com', 'Other')`, [
    ownerCustomerId,
    ownerUserId,
    randomUUID(),
    otherUserId,
  ]);
  const { rows } = await server.app.db.query<{ product_id: string; stripe_price_id: string }>("select product_id, stripe_price_id from prices where kind = 'recurring' and stripe_price_id is not null");
  for (const row of rows) stripePrice[row.product_id] = row.stripe_price_id;
});
afterAll(() => server?.stop());

async function settle(): Promise<void> {
  await sandbox.flushWebhooks();
  await server.app.webhookApplier.drain();
}

/** A paid monthly subscription of the owner's to a track, its webhooks applied. */
async function subscribe(track: string): Promise<string> {
  const customer = await stripe.customers.create({ email: `${randomUUID()}@example.com` });
  const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: stripePrice[track]! }], default_payment_method: 'pm_card_visa', metadata: { customer_id: ownerCustomerId } });
  await settle();
  return sub.id;
}

const PREVIEW = `query ($id: ID!, $track: ID!) {
  previewSubscriptionSwitch(subscriptionId: $id, track: $track) {
    preview { prorationDate price { id unitAmount { amount } } prorationTotal { amount } amountDueNow { amount } creditApplied { amount } nextInvoiceAmount { amount } lines { amount { amount } } }
    error { code }
  }
}`;
const SWITCH = `mutation ($input: SwitchSubscriptionInput!) {
  switchSubscription(input: $input) { subscription { id track status } error { code message declineCode } isRepeat }
}`;

const gql = (query: string, variables: Record<string, unknown>, caller: Caller) => server.graphql(query, { variables, ...as[caller] });
const ok = (response: GraphQLResponse) => {
  expect(response.body.errors).toBeUndefined();
  return response.body.data;
};

async function preview(id: string, track: string) {
  const { preview: value, error } = ok(await gql(PREVIEW, { id, track }, 'owner')).previewSubscriptionSwitch;
  expect(error).toBeNull();
  return value;
}

/** What a switch sends back from its preview: the proration date and the price shown. */
const fromPreview = (shown: { prorationDate: string; price: { id: string; unitAmount: { amount: number } } }) => ({
  prorationDate: shown.prorationDate,
  priceId: shown.price.id,
  unitAmount: shown.price.unitAmount.amount,
});

async function writes(subscriptionId: string) {
  const { rows } = await server.app.db.query(
    `select (select count(*) from subscription_actions where subscription_id = $1)::int as actions,
            (select count(*) from payment_logs where metadata->>'subscription_id' = $1)::int as logs,
            (select count(*) from audit_log where target_id = $1)::int as audits,
            (select count(*) from idempotency_keys where operation = 'switch_subscription')::int as keys,
            (select stripe_price_id from subscriptions where id = $1) as price`,
    [subscriptionId],
  );
  return rows[0]!;
}

describe('switchSubscription', () => {
  it('bills the switch made with the preview’s prorationDate exactly what the preview showed, to the cent', async () => {
    const id = await subscribe('business_plan_builder');
    await sandbox.advanceClock(9 * 86_400 + 1234); // mid-period: the prorations are partial amounts
    await settle();
    const shown = await preview(id, 'website_audit_feedback');
    const lines = shown.lines.map((l: { amount: { amount: number } }) => l.amount.amount);
    expect(lines).toHaveLength(2);
    await sandbox.advanceClock(600); // the customer reads the preview for ten minutes
    const key = newKey();
    const input = { idempotencyKey: key, subscriptionId: id, track: 'website_audit_feedback', ...fromPreview(shown) };
    const result = ok(await gql(SWITCH, { input }, 'owner')).switchSubscription;
    expect(result).toMatchObject({ error: null, isRepeat: false, subscription: { id, track: 'website_audit_feedback' } });
    const upcoming = await stripe.invoices.createPreview({ subscription: id });
    expect(upcoming.lines.data.filter((l) => l.parent?.subscription_item_details?.proration).map((l) => l.amount)).toEqual(lines);
    expect(upcoming.amount_due).toBe(shown.nextInvoiceAmount.amount);
    // The same key: the first answer, nothing asked of Stripe again; the webhooks change nothing more.
    expect(ok(await gql(SWITCH, { input }, 'owner')).switchSubscription).toMatchObject({ error: null, isRepeat: true });
    await settle();
    const { rows: logs } = await server.app.db.query<{ event_type: string; metadata: Record<string, unknown> }>(
      "select event_type, metadata from payment_logs where metadata->>'subscription_id' = $1 and event_type like 'subscription.switch%'",
      [id],
    );
    // Stripe's answer applied as the state once (its webhook later applied nothing more), and the request's row.
    expect(logs.map((l) => l.event_type).sort()).toEqual(['subscription.switch', 'subscription.switch_requested']);
    const requested = logs.find((l) => l.event_type === 'subscription.switch_requested')!;
    expect(requested.metadata).toMatchObject({ actor: 'customer', params: { track: 'website_audit_feedback', proration_behavior: 'create_prorations' } });
    expect(JSON.stringify(logs)).not.toContain(ownerUserId);
    const { rows: audits } = await server.app.db.query("select actor_type from audit_log where target_id = $1 and action = 'subscription.switch'", [id]);
    expect(audits).toEqual([{ actor_type: 'customer' }]);
    const { rows: actions } = await server.app.db.query('select action, status from subscription_actions where subscription_id = $1', [id]);
    expect(actions).toEqual([{ action: 'switch', status: 'done' }]);
  });

  it('answers CARD_DECLINED for an ALWAYS_INVOICE switch whose card declines, and leaves the subscription on its track', async () => {
    const id = await subscribe('social_media_email_campaign');
    await stripe.subscriptions.update(id, { default_payment_method: 'pm_card_chargeCustomerFail' });
    await settle();
    const shown = await preview(id, 'business_plan_builder');
    expect(shown.amountDueNow.amount).toBeGreaterThan(0);
    const input = { idempotencyKey: newKey(), subscriptionId: id, track: 'business_plan_builder', ...fromPreview(shown), prorationBehavior: 'ALWAYS_INVOICE' };
    const result = ok(await gql(SWITCH, { input }, 'support')).switchSubscription;
    expect(result.error.code).toBe('CARD_DECLINED');
    expect(result.subscription.track).toBe('social_media_email_campaign');
    await settle();
    expect((await stripe.subscriptions.retrieve(id)).items.data[0]!.price.id).toBe(stripePrice.social_media_email_campaign);
    expect((await writes(id)).price).toBe(stripePrice.social_media_email_campaign);
    const { rows } = await server.app.db.query('select status, error_code from subscription_actions where subscription_id = $1', [id]);
    expect(rows).toEqual([{ status: 'failed', error_code: 'CARD_DECLINED' }]);
  });

  it('lets one of two switches at once through and tells the other a change is in progress, writing nothing for it', async () => {
    const id = await subscribe('business_plan_builder');
    const shown = await preview(id, 'website_audit_feedback');
    const prorationDate = Date.parse(shown.prorationDate) / 1000;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let asked!: () => void;
    const reached = new Promise<void>((resolve) => (asked = resolve));
    const slow = Object.create(stripe) as Stripe;
    Object.defineProperty(slow, 'subscriptions', {
      value: {
        retrieve: stripe.subscriptions.retrieve.bind(stripe.subscriptions),
        update: async (...args: Parameters<Stripe['subscriptions']['update']>) => {
          asked();
          await held;
          return stripe.subscriptions.update(...args);
        },
      },
    });
    const viewer: Viewer = { role: 'SUPPORT', id: randomUUID(), name: 'support@staff.test', kind: 'user' };
    const deps = (client: Stripe) => ({ db: server.app.db, stripe: client, logger: silent, now: () => sandbox.core.clock.now() * 1000 });
    const first = runSubscriptionSwitch(deps(slow), { viewer, idempotencyKey: newKey(), subscriptionId: id, track: 'website_audit_feedback', priceId: shown.price.id, unitAmount: shown.price.unitAmount.amount, prorationDate, prorationBehavior: 'create_prorations' });
    await reached;
    const other = await preview(id, 'social_media_email_campaign');
    const second = await runSubscriptionSwitch(deps(stripe), { viewer, idempotencyKey: newKey(), subscriptionId: id, track: 'social_media_email_campaign', priceId: other.price.id, unitAmount: other.price.unitAmount.amount, prorationDate, prorationBehavior: 'create_prorations' });
    expect(second.response.error?.code).toBe('SUBSCRIPTION_CHANGE_IN_PROGRESS');
    expect(second.response.actionId).toBeNull();
    release();
    expect((await first).response.error).toBeNull();
    await settle();
    const { rows } = await server.app.db.query<{ params: { track: string } }>('select params from subscription_actions where subscription_id = $1', [id]);
    expect(rows.map((r) => r.params.track)).toEqual(['website_audit_feedback']);
    expect((await writes(id)).price).toBe(stripePrice.website_audit_feedback);
  });

  it('does not let a customer switch another’s subscription, nor a storefront key switch any', async () => {
    const id = await subscribe('business_plan_builder');
    const shown = await preview(id, 'website_audit_feedback');
    const before = await writes(id);
    const input = { idempotencyKey: newKey(), subscriptionId: id, track: 'website_audit_feedback', ...fromPreview(shown) };
    expect(ok(await gql(SWITCH, { input }, 'other')).switchSubscription.error.code).toBe('SUBSCRIPTION_NOT_FOUND');
    const machine = await gql(SWITCH, { input: { ...input, idempotencyKey: newKey() } }, 'storefront');
    expect(machine.body.errors?.[0]?.extensions?.code).toMatch(/FORBIDDEN|UNAUTHENTICATED/);
    expect(await writes(id)).toEqual(before);
  });

  it('refuses bad input, the same track and an expired or future preview with nothing written', async () => {
    const id = await subscribe('business_plan_builder');
    const shown = await preview(id, 'website_audit_feedback');
    const before = await writes(id);
    const base = { subscriptionId: id, track: 'website_audit_feedback', ...fromPreview(shown) };
    for (const bad of [
      { prorationDate: 'yesterday' },
      { prorationDate: '2026-12-07T10:00:00.500Z' },
      { track: 'no_such_track' },
      { track: 'Bad Track!' },
      { subscriptionId: 'pi_123' },
      { priceId: 'Bad Price!' },
      { priceId: '' },
      { unitAmount: -1 },
    ]) {
      const response = await gql(SWITCH, { input: { ...base, ...bad, idempotencyKey: newKey() } }, 'admin');
      expect(response.body.errors?.[0]?.extensions?.code, JSON.stringify(bad)).toBe('BAD_USER_INPUT');
    }
    const invalidEnum = await gql(SWITCH, { input: { ...base, idempotencyKey: newKey(), prorationBehavior: 'SOMETIMES' } }, 'admin');
    expect(invalidEnum.body.errors).toBeDefined();
    const code = async (input: Record<string, unknown>) => ok(await gql(SWITCH, { input: { ...base, ...input, idempotencyKey: newKey() } }, 'admin')).switchSubscription.error?.code;
    expect(await code({ track: 'business_plan_builder' })).toBe('SAME_TRACK');
    const future = new Date(Date.parse(shown.prorationDate) + 60_000).toISOString().replace('.000Z', 'Z');
    expect(await code({ prorationDate: future })).toBe('PREVIEW_EXPIRED');
    // Another price than the preview's, or the same at another amount, was not shown.
    expect(await code({ priceId: 'social_media_email_campaign_usd_monthly' })).toBe('PREVIEW_EXPIRED');
    expect(await code({ unitAmount: shown.price.unitAmount.amount + 1 })).toBe('PREVIEW_EXPIRED');
    // An hour and a second later by Stripe's clock the preview is out of date.
    await sandbox.advanceClock(3601);
    expect(await code({})).toBe('PREVIEW_EXPIRED');
    await settle();
    expect(await writes(id)).toEqual(before);
    // A fresh preview then switches.
    const again = await preview(id, 'website_audit_feedback');
    expect(await code({ prorationDate: again.prorationDate })).toBeUndefined();
  });

  it('charges at once what the preview showed as due now when the customer holds a credit from a downgrade, and says the credit used', async () => {
    const id = await subscribe('business_plan_builder');
    const switchNow = async (track: string) => {
      const shown = await preview(id, track);
      const input = { idempotencyKey: newKey(), subscriptionId: id, track, ...fromPreview(shown), prorationBehavior: 'ALWAYS_INVOICE' };
      expect(ok(await gql(SWITCH, { input }, 'owner')).switchSubscription.error).toBeNull();
      await settle();
      return shown;
    };
    await sandbox.advanceClock(5 * 86_400);
    // Down to a cheaper track: the unused time is a credit on the customer's balance.
    const down = await switchNow('social_media_email_campaign');
    expect(down.amountDueNow.amount).toBe(0);
    const { customer } = await stripe.subscriptions.retrieve(id);
    const credit = -((await stripe.customers.retrieve(customer as string)) as Stripe.Customer).balance;
    expect(credit).toBeGreaterThan(0);
    await sandbox.advanceClock(86_400);
    // Back up: the prorations come to more than the credit, which is used first.
    const up = await switchNow('business_plan_builder');
    expect(up.creditApplied.amount).toBe(Math.min(credit, up.prorationTotal.amount));
    expect(up.amountDueNow.amount).toBe(Math.max(0, up.prorationTotal.amount - credit));
    const latest = (await stripe.invoices.list({ subscription: id, limit: 1 })).data[0]!;
    expect(latest.amount_paid).toBe(up.amountDueNow.amount);
  });

  it('takes over its own switch Stripe could not be reached for with the Stripe price its action row kept, under the same Stripe key', async () => {
    const id = await subscribe('business_plan_builder');
    const shown = await preview(id, 'website_audit_feedback');
    const sent: Array<{ price: unknown; key: string | undefined }> = [];
    const client = (lose: boolean) => {
      const wrapped = Object.create(stripe) as Stripe;
      Object.defineProperty(wrapped, 'subscriptions', {
        value: {
          retrieve: stripe.subscriptions.retrieve.bind(stripe.subscriptions),
          update: async (...args: Parameters<Stripe['subscriptions']['update']>) => {
            sent.push({ price: args[1]?.items?.[0]?.price, key: args[2]?.idempotencyKey });
            const answer = await stripe.subscriptions.update(...args);
            // Stripe made the switch; its answer is lost on the way back.
            if (lose) throw new Stripe.errors.StripeConnectionError({ message: 'timed out' });
            return answer;
          },
        },
      });
      return wrapped;
    };
    const viewer: Viewer = { role: 'CUSTOMER', id: ownerUserId, name: 'owner@example.com', kind: 'user' };
    const deps = (c: Stripe) => ({ db: server.app.db, stripe: c, logger: silent, now: () => sandbox.core.clock.now() * 1000 });
    const request = { viewer, idempotencyKey: newKey(), subscriptionId: id, track: 'website_audit_feedback', priceId: shown.price.id, unitAmount: shown.price.unitAmount.amount, prorationDate: Date.parse(shown.prorationDate) / 1000, prorationBehavior: 'create_prorations' as const };
    expect((await runSubscriptionSwitch(deps(client(true)), request)).response.error?.code).toBe('PAYMENT_PROVIDER_UNAVAILABLE');
    // Meanwhile the catalog bills the same price with another Stripe price (the old one archived by hand).
    const { rows: [row] } = await server.app.db.query<{ stripe_price_id: string }>("select stripe_price_id from prices where id = 'website_audit_feedback_usd_monthly'");
    const replacement = await stripe.prices.create({ product: 'track_website_audit_feedback', currency: 'usd', unit_amount: shown.price.unitAmount.amount, recurring: { interval: 'month' } });
    await server.app.db.query("update prices set stripe_price_id = $1 where id = 'website_audit_feedback_usd_monthly'", [replacement.id]);
    try {
      expect((await runSubscriptionSwitch(deps(client(false)), request)).response.error).toBeNull();
    } finally {
      await server.app.db.query("update prices set stripe_price_id = $1 where id = 'website_audit_feedback_usd_monthly'", [row!.stripe_price_id]);
    }
    expect(sent).toHaveLength(2);
    expect(sent[1]).toEqual(sent[0]);
    expect(sent[0]!.price).toBe(row!.stripe_price_id);
  });

  // Last in the file: it changes a track's monthly price.
  it('refuses a switch whose track’s price changed since the preview, charging nothing; a fresh preview is charged as shown', async () => {
    const id = await subscribe('business_plan_builder');
    await sandbox.advanceClock(10 * 86_400);
    const shown = await preview(id, 'website_audit_feedback');
    // The business raises the target's monthly price; the catalog sync makes its new Stripe price.
    await server.app.db.query("update prices set unit_amount = unit_amount + 20000 where id = 'website_audit_feedback_usd_monthly'");
    await stripeRecurringPriceFor({ db: server.app.db, stripe, logger: silent }, 'website_audit_feedback');
    await sandbox.advanceClock(600);
    const before = await writes(id);
    const invoices = async () => (await stripe.invoices.list({ subscription: id, limit: 100 })).data.length;
    const invoicesBefore = await invoices();
    const input = { idempotencyKey: newKey(), subscriptionId: id, track: 'website_audit_feedback', ...fromPreview(shown), prorationBehavior: 'ALWAYS_INVOICE' };
    const refused = ok(await gql(SWITCH, { input }, 'owner')).switchSubscription;
    expect(refused.error).toMatchObject({ code: 'PREVIEW_EXPIRED', message: expect.stringMatching(/price changed/) });
    await settle();
    expect(await writes(id)).toEqual(before);
    expect(await invoices()).toBe(invoicesBefore);
    // Previewed again at the new price, the switch charges what that preview showed.
    const again = await preview(id, 'website_audit_feedback');
    expect(again.price.unitAmount.amount).toBe(shown.price.unitAmount.amount + 20000);
    const switched = ok(await gql(SWITCH, { input: { ...input, ...fromPreview(again), idempotencyKey: newKey() } }, 'owner')).switchSubscription;
    expect(switched.error).toBeNull();
    await settle();
    const latest = (await stripe.invoices.list({ subscription: id, limit: 1 })).data[0]!;
    expect(latest.amount_paid).toBe(again.amountDueNow.amount);
  });

  it('refuses to switch a canceled subscription', async () => {
    const id = await subscribe('business_plan_builder');
    const shown = await preview(id, 'website_audit_feedback');
    await stripe.subscriptions.cancel(id);
    await settle();
    const before = await writes(id);
    const input = { idempotencyKey: newKey(), subscriptionId: id, track: 'website_audit_feedback', ...fromPreview(shown) };
    expect(ok(await gql(SWITCH, { input }, 'admin')).switchSubscription.error.code).toBe('SUBSCRIPTION_NOT_ACTIVE');
    expect(await writes(id)).toEqual(before);
  });
});
