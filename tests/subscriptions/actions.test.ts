// The subscription actions service (server/subscriptions/actions.ts) against the real server in
// sandbox mode: what happens when the webhook of the change is applied before Stripe's answer is
// recorded, two changes pressed at once, Stripe unreachable, and the change's events delivered in
// every order.
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import Stripe from 'stripe';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Viewer } from '../../server/auth/viewer';
import { createLogger } from '../../server/platform/observability/logger';
import { runSubscriptionAction, type SubscriptionAction } from '../../server/subscriptions/actions';
import { findSubscription } from '../../server/subscriptions/read.sql';
import type { StripeSandbox } from '../../stripe-sandbox/sandbox';
import { type CheckoutServer, newKey, startCheckoutServer } from '../helpers/checkout';
import { TEST_ENGINE } from '../helpers/db';

const silent = createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, done) => done() }) });
const SUPPORT: Viewer = { role: 'SUPPORT', id: randomUUID(), name: 'support@staff.test', kind: 'user' };
const customerId = randomUUID();

let server: CheckoutServer;
let sandbox: StripeSandbox;
let stripe: Stripe;
let priceId: string;

beforeAll(async () => {
  server = await startCheckoutServer({ JOBS_ENABLED: 'false' });
  sandbox = server.app.stripeSandbox!;
  stripe = server.app.stripe;
  await server.app.db.query(`insert into customers (id, user_id, email) values ($1, $2, 'actions@example.com')`, [customerId, randomUUID()]);
  const { rows } = await server.app.db.query<{ stripe_price_id: string }>("select stripe_price_id from prices where id = 'website_audit_feedback_usd_monthly'");
  priceId = rows[0]!.stripe_price_id;
});
afterAll(() => server?.stop());

async function settle(): Promise<void> {
  await sandbox.flushWebhooks();
  await server.app.webhookApplier.drain();
}

async function subscribe(): Promise<string> {
  const customer = await stripe.customers.create({ email: `${randomUUID()}@example.com` });
  const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: priceId }], default_payment_method: 'pm_card_visa', metadata: { customer_id: customerId } });
  await settle();
  return sub.id;
}

/** The server's Stripe client with subscriptions.update replaced. */
function withUpdate(update: (...args: Parameters<Stripe['subscriptions']['update']>) => Promise<Stripe.Subscription>): Stripe {
  const client = Object.create(stripe) as Stripe;
  Object.defineProperty(client, 'subscriptions', { value: { update, cancel: stripe.subscriptions.cancel.bind(stripe.subscriptions) } });
  return client;
}

const run = (client: Stripe, subscriptionId: string, action: SubscriptionAction, key = newKey()) =>
  runSubscriptionAction({ db: server.app.db, stripe: client, logger: silent }, { viewer: SUPPORT, idempotencyKey: key, subscriptionId, action });

async function stateLogs(subscriptionId: string): Promise<string[]> {
  const { rows } = await server.app.db.query<{ event_type: string }>(
    "select event_type from payment_logs where metadata->>'subscription_id' = $1 and event_type not like '%\\_requested' and event_type not like '%\\_failed' order by id",
    [subscriptionId],
  );
  return rows.map((r) => r.event_type);
}

describe('subscription actions', () => {
  it('leaves the state to the webhook when it was applied before Stripe’s answer is recorded, and applies it once', async () => {
    const id = await subscribe();
    const before = await stateLogs(id);
    // Stripe answers, but its webhook reaches the server and is applied before our record runs.
    const client = withUpdate(async (...args) => {
      const answer = await stripe.subscriptions.update(...args);
      await settle();
      return answer;
    });
    const result = await run(client, id, { kind: 'cancel', atPeriodEnd: true });
    expect(result.response.error).toBeNull();
    const { rows } = await server.app.db.query<{ status: string }>('select status from subscription_actions where id = $1', [result.response.actionId]);
    expect(rows[0]!.status).toBe('done');
    expect((await findSubscription(server.app.db, id))!.cancel_at_period_end).toBe(true);
    // One state change, written by the webhook alone.
    expect(await stateLogs(id)).toEqual([...before, 'customer.subscription.updated']);
    await settle();
    expect(await stateLogs(id)).toEqual([...before, 'customer.subscription.updated']);
  });

  it('tells the second of two changes pressed at once that the first is still at Stripe, and writes nothing for it', async () => {
    const id = await subscribe();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let asked!: () => void;
    const reached = new Promise<void>((resolve) => (asked = resolve));
    const slow = withUpdate(async (...args) => {
      asked();
      await held;
      return stripe.subscriptions.update(...args);
    });
    const first = run(slow, id, { kind: 'pause', behavior: 'void', resumesAt: null });
    await reached;
    const second = await run(stripe, id, { kind: 'cancel', atPeriodEnd: true });
    expect(second.response.error?.code).toBe('SUBSCRIPTION_CHANGE_IN_PROGRESS');
    expect(second.response.actionId).toBeNull();
    release();
    expect((await first).response.error).toBeNull();
    const { rows } = await server.app.db.query<{ action: string }>('select action from subscription_actions where subscription_id = $1', [id]);
    expect(rows.map((r) => r.action)).toEqual(['pause']);
    const sub = (await findSubscription(server.app.db, id))!;
    expect([sub.pause_behavior, sub.cancel_at_period_end]).toEqual(['void', false]);
  });

  it('answers PAYMENT_PROVIDER_UNAVAILABLE when Stripe cannot be reached, and the same key then completes the change', async () => {
    const id = await subscribe();
    const key = newKey();
    const down = withUpdate(async () => {
      throw new Stripe.errors.StripeConnectionError({ message: 'connection refused' });
    });
    const failed = await run(down, id, { kind: 'pause', behavior: 'mark_uncollectible', resumesAt: null }, key);
    expect(failed.response.error?.code).toBe('PAYMENT_PROVIDER_UNAVAILABLE');
    expect((await findSubscription(server.app.db, id))!.pause_behavior).toBeNull();
    const retried = await run(stripe, id, { kind: 'pause', behavior: 'mark_uncollectible', resumesAt: null }, key);
    expect(retried).toMatchObject({ isRepeat: false, response: { error: null } });
    expect((await findSubscription(server.app.db, id))!.pause_behavior).toBe('mark_uncollectible');
    const { rows } = await server.app.db.query<{ event_type: string }>("select event_type from payment_logs where metadata->>'subscription_id' = $1 and event_type like 'subscription.pause%' order by id", [id]);
    // Unreachable is not an answer: no pause_failed row, only the change made.
    expect(rows.map((r) => r.event_type)).toEqual(['subscription.pause', 'subscription.pause_requested']);
  });

  it('asks Stripe again with the same key when its answer to a cancel was lost, so the retry succeeds and no failure is logged', async () => {
    const id = await subscribe();
    const key = newKey();
    const stripeKeys: Array<string | undefined> = [];
    // Stripe cancels the subscription, then the answer is lost on the way back (a timeout).
    const lost = Object.create(stripe) as Stripe;
    Object.defineProperty(lost, 'subscriptions', {
      value: {
        cancel: async (...args: Parameters<Stripe['subscriptions']['cancel']>) => {
          stripeKeys.push(args[2]?.idempotencyKey);
          await stripe.subscriptions.cancel(...args);
          throw new Stripe.errors.StripeConnectionError({ message: 'timed out' });
        },
      },
    });
    const recording = Object.create(stripe) as Stripe;
    Object.defineProperty(recording, 'subscriptions', {
      value: {
        cancel: (...args: Parameters<Stripe['subscriptions']['cancel']>) => {
          stripeKeys.push(args[2]?.idempotencyKey);
          return stripe.subscriptions.cancel(...args);
        },
      },
    });
    const first = await run(lost, id, { kind: 'cancel', atPeriodEnd: false }, key);
    expect(first.response.error?.code).toBe('PAYMENT_PROVIDER_UNAVAILABLE');
    const retried = await run(recording, id, { kind: 'cancel', atPeriodEnd: false }, key);
    expect(retried).toMatchObject({ isRepeat: false, response: { error: null, actionId: first.response.actionId } });
    // The same Stripe key both times: Stripe replays its first answer instead of refusing a second cancel.
    expect(stripeKeys).toHaveLength(2);
    expect(stripeKeys[1]).toBe(stripeKeys[0]);
    await settle();
    expect((await findSubscription(server.app.db, id))!.status).toBe('canceled');
    // The action's own rows: one cancel_requested, no cancel_failed (nor any other *_failed).
    const { rows } = await server.app.db.query<{ event_type: string }>(
      "select event_type from payment_logs where metadata->>'subscription_id' = $1 and (event_type like '%\\_requested' or event_type like '%\\_failed') order by id",
      [id],
    );
    expect(rows.map((r) => r.event_type)).toEqual(['subscription.cancel_requested']);
    const actions = await server.app.db.query<{ status: string }>('select status from subscription_actions where subscription_id = $1', [id]);
    expect(actions.rows.map((r) => r.status)).toEqual(['done']);
    // The kept answer is the success.
    const again = await run(recording, id, { kind: 'cancel', atPeriodEnd: false }, key);
    expect(again).toMatchObject({ isRepeat: true, response: { error: null } });
    expect(stripeKeys).toHaveLength(2);
  });

  it('ends in the same state whatever order a pause’s and a cancel’s webhooks arrive in', async () => {
    const orders: Array<'forward' | 'reverse'> = ['forward', 'reverse'];
    const finals: unknown[] = [];
    for (const order of orders) {
      const id = await subscribe();
      // The changes made at Stripe directly (the same second at the sandbox's clock): their events are
      // held, then delivered together, oldest or newest first.
      sandbox.webhookFaults.delaySeconds = 30;
      try {
        await stripe.subscriptions.update(id, { pause_collection: { behavior: 'keep_as_draft' } });
        await stripe.subscriptions.update(id, { cancel_at_period_end: true });
        sandbox.webhookFaults.reorder = order === 'reverse';
        await sandbox.advanceClock(30);
        await settle();
      } finally {
        sandbox.webhookFaults.delaySeconds = 0;
        sandbox.webhookFaults.reorder = false;
      }
      // The two updates' events reached the server in the order asked for (arrival, not object order).
      const { rows } = await server.app.db.query<{ cancel: boolean }>(
        "select (payload->'data'->'object'->>'cancel_at_period_end')::boolean as cancel from stripe_events where object_id = $1 and type = 'customer.subscription.updated' order by received_at, id",
        [id],
      );
      expect(rows.map((r) => r.cancel)).toEqual(order === 'forward' ? [false, true] : [true, false]);
      const sub = (await findSubscription(server.app.db, id))!;
      finals.push({ status: sub.status, pause: sub.pause_behavior, cancelAtPeriodEnd: sub.cancel_at_period_end });
    }
    expect(finals).toEqual([
      { status: 'active', pause: 'keep_as_draft', cancelAtPeriodEnd: true },
      { status: 'active', pause: 'keep_as_draft', cancelAtPeriodEnd: true },
    ]);
  });
});

// The webhook applier locks a subscription's stripe_objects row, then its subscriptions row. The record
// of an action must take them in the same order: its own webhook comes milliseconds after Stripe's
// answer, and opposite orders deadlock (PostgreSQL kills one side). Only PostgreSQL runs statements of
// two connections at once.
describe.skipIf(TEST_ENGINE !== 'postgres')('an action recorded while the applier holds the subscription (PostgreSQL)', () => {
  it('waits for the applier instead of deadlocking with it, and both finish', async () => {
    const id = await subscribe();
    const applier = new pg.Client({ connectionString: server.testDb.url });
    await applier.connect();
    try {
      // Stripe answers; before our record runs, "the applier" takes the stripe_objects row, as it does first.
      const client = withUpdate(async (...args) => {
        const answer = await stripe.subscriptions.update(...args);
        await applier.query('begin');
        await applier.query(`set local lock_timeout = '10s'`);
        await applier.query('select 1 from stripe_objects where id = $1 for update', [id]);
        return answer;
      });
      const recorded = run(client, id, { kind: 'cancel', atPeriodEnd: true });
      // The record is now waiting for a lock the applier holds...
      await vi.waitFor(
        async () => {
          const { rows } = await applier.query<{ n: number }>(`select count(*)::int as n from pg_locks where not granted and pid <> pg_backend_pid()`);
          expect(rows[0]!.n).toBeGreaterThan(0);
        },
        { timeout: 10_000, interval: 20 },
      );
      // ...and the applier's next lock, the subscriptions row, must not be held by the record.
      await applier.query('select 1 from subscriptions where id = $1 for update', [id]);
      await applier.query('commit');
      expect((await recorded).response.error).toBeNull();
    } finally {
      await applier.query('rollback').catch(() => undefined);
      await applier.end();
    }
  });
});
