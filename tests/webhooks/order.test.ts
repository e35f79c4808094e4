// Object order, not arrival order: every permutation of the events of one payment's life, each event
// stored and applied before the next arrives, ends in the same final state; so do the refund and
// dispute events after it, and a subscription's. Same-second events are ordered by Stripe's
// progression, or settled by asking Stripe. Two appliers draining at once apply each event once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import type { Db } from '../../server/platform/db/db';
import { createLogger } from '../../server/platform/observability/logger';
import { createWebhookApplier } from '../../server/webhooks/applier';
import { FIXTURE_IDS, type FixtureType } from '../helpers/webhookFixtures';
import { startTestServer, type TestServer } from '../helpers/server';
import { eventRow, newStory, seedSandbox, storeEvents, type Story, storyState, WEBHOOK_TEST_SECRET } from '../helpers/webhookStory';

let server: TestServer;
let db: Db;

beforeAll(async () => {
  // No jobs: nothing applies an event but the drains below, so arrival order is the test's.
  server = await startTestServer({ STRIPE_WEBHOOK_SECRET: WEBHOOK_TEST_SECRET, JOBS_ENABLED: 'false' });
  server.app.stripeSandbox!.core.events.stopAutoDelivery();
  db = server.app.db;
});
afterAll(() => server?.stop());

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

/** Stores the event as the endpoint does (same SQL), then lets the applier apply what is due. */
async function arrive(event: Stripe.Event) {
  await storeEvents(db, event);
  await server.app.webhookApplier.drain();
}

/** The story's final state with its ids made story-independent, so stories compare. */
async function finalState(story: Story) {
  return JSON.parse(JSON.stringify(await storyState(db, story)).replaceAll(`_${story.suffix}`, ''));
}

/**
 * The money invariants (issue 15), after any sequence of one order's events: what our payments hold
 * (captured minus refunded) is what Stripe holds, and the order is paid at most once by a payment not
 * flagged as a duplicate (or a mismatch), with one `payment.paid` and no fulfilment without it.
 */
async function expectMoneyInvariants(story: Story, heldAtStripe: number, label: string) {
  const { rows } = await db.query<{ held: number; unflagged: number; paid_logs: number; status: string }>(
    `select (select coalesce(sum(amount - amount_refunded), 0)::int from payments where order_id = $1 and status = 'succeeded') as held,
            (select count(*)::int from payments where order_id = $1 and finding is null and status in ('succeeded', 'processing')) as unflagged,
            (select count(*)::int from payment_logs where order_id = $1 and event_type = 'payment.paid') as paid_logs,
            (select status from orders where id = $1) as status`,
    [story.orderId],
  );
  const [row] = rows;
  expect(row!.held, `held in ${label}`).toBe(heldAtStripe);
  expect(row!.unflagged, `unflagged payments in ${label}`).toBeLessThanOrEqual(1);
  expect(row!.paid_logs, `payment.paid logs in ${label}`).toBeLessThanOrEqual(1);
}

async function runAllOrders(types: readonly FixtureType[], setup: (story: Story) => Promise<void> = async () => {}, heldAtStripe = 9900) {
  const finals = new Map<string, string[]>();
  for (const order of permutations(types)) {
    const story = await newStory(db);
    await setup(story);
    for (const type of order) await arrive(story.event(type));
    for (const type of order) expect(await eventRow(db, story.event(type).id), `${type} in ${order.join(' → ')}`).toMatchObject({ status: 'applied' });
    await expectMoneyInvariants(story, heldAtStripe, order.join(' → '));
    const final = JSON.stringify(await finalState(story));
    finals.set(final, [...(finals.get(final) ?? []), order.join(' → ')]);
  }
  return finals;
}

describe('every arrival order ends in the same state', () => {
  it("a card payment's life: declined, 3-D Secure, processing, succeeded, Checkout completed (120 orders)", async () => {
    const finals = await runAllOrders([
      'payment_intent.payment_failed',
      'payment_intent.requires_action',
      'payment_intent.processing',
      'payment_intent.succeeded',
      'checkout.session.completed',
    ]);
    expect([...finals.keys()].map((state) => JSON.parse(state))).toEqual([
      {
        order: { status: 'paid', sync_state: 'confirmed', payment_intent_id: FIXTURE_IDS.paymentIntent },
        attempts: [{ attempt: 1, status: 'succeeded' }],
        payments: [{ pi: FIXTURE_IDS.paymentIntent, charge: FIXTURE_IDS.charge, status: 'succeeded', amount_refunded: 0 }],
        refunds: [],
        disputes: [],
        subscriptions: [],
      },
    ]);
  }, 120_000);

  it('after payment: refunded, refund succeeded then failed, disputed, lost (120 orders)', async () => {
    const finals = await runAllOrders(
      ['charge.refunded', 'refund.updated', 'refund.failed', 'charge.dispute.created', 'charge.dispute.closed'],
      (story) => arrive(story.event('payment_intent.succeeded')),
    );
    expect([...finals.keys()].map((state) => JSON.parse(state))).toEqual([
      {
        order: { status: 'disputed', sync_state: 'confirmed', payment_intent_id: FIXTURE_IDS.paymentIntent },
        attempts: [{ attempt: 1, status: 'succeeded' }],
        payments: [{ pi: FIXTURE_IDS.paymentIntent, charge: FIXTURE_IDS.charge, status: 'succeeded', amount_refunded: 0 }],
        refunds: [{ id: FIXTURE_IDS.refund, status: 'failed', amount: 9900 }],
        disputes: [{ id: FIXTURE_IDS.dispute, status: 'lost' }],
        subscriptions: [],
      },
    ]);
  }, 120_000);

  it("a subscription's life: trial, paused, resumed, set to cancel, ended (120 orders)", async () => {
    const finals = await runAllOrders([
      'customer.subscription.created',
      'customer.subscription.paused',
      'customer.subscription.resumed',
      'customer.subscription.updated',
      'customer.subscription.deleted',
    ], undefined, 0);
    expect([...finals.keys()].map((state) => JSON.parse(state).subscriptions)).toEqual([
      [{ id: FIXTURE_IDS.subscription, status: 'canceled', price: 'price_fixture0002', cancel_at_period_end: true, canceled: true }],
    ]);
  }, 120_000);
});

describe('a second PaymentIntent paid for the same order', () => {
  it('in every arrival order, one payment pays the order and the other is flagged as a duplicate, once (6 orders)', async () => {
    for (const order of permutations(['payment_intent.succeeded', 'checkout.session.completed', 'second'] as const)) {
      const story = await newStory(db);
      // Another PaymentIntent with our order in its metadata (an old tab's), paid too.
      const second = JSON.parse(
        JSON.stringify(story.event('payment_intent.succeeded', { freshId: true }))
          .replaceAll(story.id('pi_fixture0001'), story.id('pi_fixture0009'))
          .replaceAll(story.id('ch_fixture0001'), story.id('ch_fixture0009')),
      ) as Stripe.Event;
      const events = order.map((type) => (type === 'second' ? second : story.event(type)));
      for (const event of events) await arrive(event);
      const label = order.join(' → ');
      for (const event of events) expect(await eventRow(db, event.id), label).toMatchObject({ status: 'applied' });
      await expectMoneyInvariants(story, 2 * 9900, label);
      const { rows } = await db.query<{ finding: string | null }>('select finding from payments where order_id = $1 order by finding nulls first', [story.orderId]);
      expect(rows, label).toEqual([{ finding: null }, { finding: 'duplicate' }]);
      const { rows: state } = await db.query('select status, sync_state from orders where id = $1', [story.orderId]);
      expect(state, label).toEqual([{ status: 'paid', sync_state: 'failed' }]);
      const { rows: logs } = await db.query<{ n: number }>(`select count(*)::int as n from payment_logs where order_id = $1 and event_type = 'payment.duplicate'`, [story.orderId]);
      expect(logs[0]!.n, label).toBe(1);
    }
  }, 60_000);
});

describe('the same second', () => {
  const SECOND = 1793714630; // payment_intent.succeeded's

  it('succeeded and processing in one second, succeeded first: the terminal state holds', async () => {
    const story = await newStory(db);
    const processing = story.event('payment_intent.processing', { overrides: { created: SECOND } });
    await arrive(story.event('payment_intent.succeeded'));
    await arrive(processing);
    expect(await eventRow(db, processing.id)).toMatchObject({ status: 'applied', outcome: 'stale' });
    expect((await finalState(story)).order).toMatchObject({ status: 'paid', sync_state: 'confirmed' });
  });

  it('requires_action then processing in one second: the later state in the progression applies', async () => {
    const story = await newStory(db);
    await arrive(story.event('payment_intent.requires_action', { overrides: { created: SECOND } }));
    const processing = story.event('payment_intent.processing', { overrides: { created: SECOND } });
    await arrive(processing);
    expect(await eventRow(db, processing.id)).toMatchObject({ status: 'applied', outcome: 'applied' });
    expect((await finalState(story)).order).toMatchObject({ status: 'processing' });
  });

  it('a decline in the same second as 3-D Secure: the progression cannot tell, so Stripe is asked', async () => {
    const story = await newStory(db);
    seedSandbox(server.app.stripeSandbox!, story); // Stripe holds the PaymentIntent succeeded
    await arrive(story.event('payment_intent.requires_action', { overrides: { created: SECOND } }));
    const declined = story.event('payment_intent.payment_failed', { overrides: { created: SECOND } });
    await arrive(declined);
    expect(await eventRow(db, declined.id)).toMatchObject({ status: 'applied', outcome: 'applied' });
    expect((await finalState(story)).order).toMatchObject({ status: 'paid', sync_state: 'confirmed' });
    const { rows } = await db.query<{ state: string; last_event_id: string }>('select state, last_event_id from stripe_objects where id = $1', [
      story.id(FIXTURE_IDS.paymentIntent),
    ]);
    expect(rows).toEqual([{ state: 'succeeded', last_event_id: declined.id }]);
  });
});

describe('several appliers', () => {
  it('two appliers draining the same events at once apply each exactly once', async () => {
    const silent = createLogger({ level: 'silent' });
    const appliers = [0, 1].map(() =>
      createWebhookApplier({ db, stripe: () => server.app.stripe, logger: silent, expectLive: false, maxAttempts: 5, batchSize: 3 }),
    );
    const stories = await Promise.all(Array.from({ length: 8 }, () => newStory(db)));
    const types: FixtureType[] = ['payment_intent.requires_action', 'payment_intent.succeeded', 'checkout.session.completed', 'charge.refunded'];
    const rows = stories.flatMap((story) => types.map((type) => story.event(type)));
    // Stored in one batch with no applier awake: the two below race for them.
    await storeEvents(db, ...rows);
    const counts = await Promise.all(appliers.map((applier) => applier.drain()));
    expect(counts[0]! + counts[1]!).toBe(rows.length);
    for (const story of stories) {
      expect((await finalState(story)).order).toMatchObject({ status: 'refunded', sync_state: 'confirmed' });
      const { rows: logs } = await db.query<{ n: number }>(`select count(*)::int as n from payment_logs where order_id = $1 and event_type = 'payment.paid'`, [story.orderId]);
      expect(logs[0]!.n).toBe(1);
    }
    for (const event of rows) expect(await eventRow(db, event.id)).toMatchObject({ status: 'applied', attempts: 1 });
  });
});
