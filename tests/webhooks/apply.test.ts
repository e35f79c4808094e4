// The webhook applier, through the real HTTP route: every handled event type, signed as Stripe signs
// it, applied to one of our orders, with the rows it must leave; the whole story in order; repeats;
// events that are not ours, not handled or of the other mode; an order made from a payment's
// metadata when the storefront never told us about it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../server/platform/db/db';
import { FIXTURE_IDS, FIXTURE_TYPES, type FixtureType } from '../helpers/webhookFixtures';
import { startTestServer, type TestServer } from '../helpers/server';
import { deliver, eventRow, newStory, OTHER_ENDINGS, seedSandbox, type Story, storyState, WEBHOOK_TEST_SECRET } from '../helpers/webhookStory';

let server: TestServer;
let db: Db;

beforeAll(async () => {
  server = await startTestServer({ STRIPE_WEBHOOK_SECRET: WEBHOOK_TEST_SECRET });
  server.app.stripeSandbox!.core.events.stopAutoDelivery(); // only what the tests send
  db = server.app.db;
});
afterAll(() => server?.stop());

/** Delivers the events in order over HTTP, each acknowledged, and waits until the applier is done. */
async function send(story: Story, ...types: FixtureType[]) {
  for (const type of types) {
    expect(await deliver(server.url, story.event(type))).toEqual({ status: 200, body: { received: true } });
  }
  await server.app.webhookApplier.drain();
}

async function orderRow(story: Story) {
  const { rows } = await db.query<{ status: string; sync_state: string | null }>('select status, sync_state from orders where id = $1', [story.orderId]);
  return rows[0]!;
}

async function logTypes(story: Story): Promise<string[]> {
  const { rows } = await db.query<{ event_type: string }>(
    `select event_type from payment_logs where order_id = $1 or (order_id is null and customer_id = $2) order by id`,
    [story.orderId, story.customerId],
  );
  return rows.map((row) => row.event_type);
}

/** The story's subscription invoices as the subscription's invoice list shows them. */
async function invoiceRows(story: Story) {
  const { rows } = await db.query<{ id: string; status: string; amount_due: number; amount_paid: number }>(
    `select id, status, amount_due::int as amount_due, amount_paid::int as amount_paid from subscription_invoices where subscription_id = $1 order by id`,
    [story.id(FIXTURE_IDS.subscription)],
  );
  return rows;
}

type Expectation = (story: Story) => Promise<void>;

const orderIs = (status: string, syncState: string | null): Expectation => async (story) => {
  expect(await orderRow(story)).toEqual({ status, sync_state: syncState });
};

// What each event type, arriving alone for a fresh order paid through Checkout, must leave behind.
const ALONE: Record<FixtureType, Expectation> = {
  'payment_intent.payment_failed': async (story) => {
    await orderIs('failed', 'confirmed')(story);
    const { rows } = await db.query<{ metadata: { failure: { code: string } } }>(
      `select metadata from payment_logs where order_id = $1 and event_type = 'payment.failed'`,
      [story.orderId],
    );
    expect(rows.map((row) => row.metadata.failure.code)).toEqual(['insufficient_funds']);
  },
  'payment_intent.requires_action': orderIs('requires_action', null),
  'payment_intent.processing': async (story) => {
    await orderIs('processing', 'confirmed')(story);
    expect((await storyState(db, story)).payments).toEqual([
      { pi: story.id(FIXTURE_IDS.paymentIntent), charge: story.id('py_fixture0001'), status: 'processing', amount_refunded: 0 },
    ]);
  },
  'payment_intent.succeeded': async (story) => {
    await orderIs('paid', 'confirmed')(story);
    expect((await storyState(db, story)).payments).toEqual([
      { pi: story.id(FIXTURE_IDS.paymentIntent), charge: story.id(FIXTURE_IDS.charge), status: 'succeeded', amount_refunded: 0 },
    ]);
  },
  'checkout.session.completed': async (story) => {
    await orderIs('paid', 'confirmed')(story);
    const state = await storyState(db, story);
    expect(state.attempts).toEqual([{ attempt: 1, status: 'succeeded' }]);
    expect(state.order).toMatchObject({ payment_intent_id: story.id(FIXTURE_IDS.paymentIntent) });
  },
  'customer.subscription.created': async (story) => {
    expect((await storyState(db, story)).subscriptions).toEqual([
      { id: story.id(FIXTURE_IDS.subscription), status: 'trialing', price: story.id('price_fixture0002'), cancel_at_period_end: false, canceled: false },
    ]);
    const { rows } = await db.query<{ stripe_customer_id: string }>('select stripe_customer_id from customers where id = $1', [story.customerId]);
    expect(rows[0]!.stripe_customer_id).toBe(story.id(FIXTURE_IDS.customer));
  },
  'checkout.session.expired': async (story) => {
    await orderIs('pending', null)(story);
    expect((await storyState(db, story)).attempts).toEqual([{ attempt: 1, status: 'expired' }]);
  },
  // Checkout cancels its PaymentIntent with the session; the session's own event retires the attempt.
  'payment_intent.canceled': async (story) => {
    await orderIs('pending', null)(story);
    expect((await storyState(db, story)).attempts).toEqual([{ attempt: 1, status: 'open' }]);
  },
  'checkout.session.async_payment_succeeded': orderIs('paid', 'confirmed'),
  'checkout.session.async_payment_failed': orderIs('failed', 'confirmed'),
  'charge.refunded': async (story) => {
    await orderIs('refunded', 'confirmed')(story);
    const state = await storyState(db, story);
    expect(state.refunds).toEqual([{ id: story.id(FIXTURE_IDS.refund), status: 'pending', amount: 9900 }]);
    expect(state.payments).toMatchObject([{ status: 'succeeded', amount_refunded: 9900 }]);
  },
  // A refund event does not carry its charge's amount, and here no payment of ours is known yet: the
  // applier asks Stripe, whose refund (by the story's end, failed) comes with its PaymentIntent and the
  // amount it took. The order is paid by that amount, never by its own standing in for it.
  'refund.updated': async (story) => {
    await orderIs('paid', 'confirmed')(story);
    expect((await storyState(db, story)).refunds).toEqual([{ id: story.id(FIXTURE_IDS.refund), status: 'failed', amount: 9900 }]);
    expect((await storyState(db, story)).payments).toMatchObject([{ status: 'succeeded', amount_refunded: 0 }]);
  },
  'customer.subscription.paused': async (story) => {
    expect((await storyState(db, story)).subscriptions).toMatchObject([{ status: 'paused' }]);
  },
  'invoice.payment_failed': async (story) => {
    expect(await logTypes(story)).toContain('invoice.payment_failed');
  },
  'invoice.paid': async (story) => {
    const { rows } = await db.query<{ amount: string; status: string }>(
      `select amount::text, status from payment_logs where customer_id = $1 and event_type = 'invoice.paid'`,
      [story.customerId],
    );
    expect(rows).toEqual([{ amount: '9900', status: 'paid' }]);
  },
  'customer.subscription.resumed': async (story) => {
    expect((await storyState(db, story)).subscriptions).toMatchObject([{ status: 'active', cancel_at_period_end: false }]);
  },
  // A refund that failed gives the money back to the order: paid, nothing refunded.
  'refund.failed': async (story) => {
    await orderIs('paid', 'confirmed')(story);
    const state = await storyState(db, story);
    expect(state.refunds).toEqual([{ id: story.id(FIXTURE_IDS.refund), status: 'failed', amount: 9900 }]);
    expect(state.payments).toMatchObject([{ status: 'succeeded', amount_refunded: 0 }]);
  },
  // A dispute names no order of ours, and here no payment of ours is known yet: the applier asks
  // Stripe, whose dispute (by the story's end, lost) names the order through its PaymentIntent.
  // A proration invoice Stripe marked uncollectible as it was finalized (collection paused with
  // mark_uncollectible): recorded with what is due and nothing paid, though no earlier event named it.
  'invoice.marked_uncollectible': async (story) => {
    expect(await invoiceRows(story)).toEqual([{ id: story.id(FIXTURE_IDS.prorationInvoice), status: 'uncollectible', amount_due: 4900, amount_paid: 0 }]);
    expect(await logTypes(story)).toContain('invoice.marked_uncollectible');
  },
  'invoice.voided': async (story) => {
    expect(await invoiceRows(story)).toEqual([{ id: story.id(FIXTURE_IDS.prorationInvoice), status: 'void', amount_due: 4900, amount_paid: 0 }]);
    expect(await logTypes(story)).toContain('invoice.voided');
  },
  'charge.dispute.created': async (story) => {
    await orderIs('disputed', 'confirmed')(story);
    expect((await storyState(db, story)).disputes).toEqual([{ id: story.id(FIXTURE_IDS.dispute), status: 'lost' }]);
  },
  'charge.dispute.updated': async (story) => {
    await orderIs('disputed', 'confirmed')(story);
    expect((await storyState(db, story)).disputes).toEqual([{ id: story.id(FIXTURE_IDS.dispute), status: 'lost' }]);
  },
  'customer.subscription.updated': async (story) => {
    expect((await storyState(db, story)).subscriptions).toMatchObject([{ status: 'active', cancel_at_period_end: true }]);
  },
  'customer.subscription.deleted': async (story) => {
    expect((await storyState(db, story)).subscriptions).toMatchObject([{ status: 'canceled', canceled: true }]);
  },
  'charge.dispute.closed': async (story) => {
    await orderIs('disputed', 'confirmed')(story);
    expect((await storyState(db, story)).disputes).toEqual([{ id: story.id(FIXTURE_IDS.dispute), status: 'lost' }]);
  },
};

describe('each handled event type, alone, for an order paid through Checkout', () => {
  it.each(FIXTURE_TYPES)('%s is applied with its effect', async (type) => {
    const story = await newStory(db);
    seedSandbox(server.app.stripeSandbox!, story);
    await send(story, type);
    expect(await eventRow(db, story.event(type).id)).toMatchObject({ status: 'applied', attempts: 1, last_error: null });
    await ALONE[type](story);
  });
});

describe('the whole story, in order', () => {
  it('ends disputed and lost, with the failed refund given back and the subscription ended', async () => {
    const story = await newStory(db);
    seedSandbox(server.app.stripeSandbox!, story);
    await send(story, ...FIXTURE_TYPES);
    expect(await storyState(db, story)).toEqual({
      order: { status: 'disputed', sync_state: 'confirmed', payment_intent_id: story.id(FIXTURE_IDS.paymentIntent) },
      attempts: [{ attempt: 1, status: 'succeeded' }],
      payments: [{ pi: story.id(FIXTURE_IDS.paymentIntent), charge: story.id(FIXTURE_IDS.charge), status: 'succeeded', amount_refunded: 0 }],
      refunds: [{ id: story.id(FIXTURE_IDS.refund), status: 'failed', amount: 9900 }],
      disputes: [{ id: story.id(FIXTURE_IDS.dispute), status: 'lost' }],
      subscriptions: [{ id: story.id(FIXTURE_IDS.subscription), status: 'canceled', price: story.id('price_fixture0002'), cancel_at_period_end: true, canceled: true }],
    });
    // The other endings (expired, canceled, the bank debit's) came after the payment: stale, no effect.
    for (const type of OTHER_ENDINGS) {
      expect(await eventRow(db, story.event(type).id)).toMatchObject({ status: 'applied', outcome: 'stale' });
    }
    expect(await logTypes(story)).toEqual([
      'order.created',
      'checkout.attempt_started',
      'checkout.session_created',
      'payment.failed',
      'payment.requires_action',
      'payment.processing',
      'payment.paid',
      'customer.subscription.created',
      'refund.pending',
      'order.refunded',
      'refund.succeeded',
      'customer.subscription.paused',
      'invoice.payment_failed',
      'invoice.paid',
      'customer.subscription.resumed',
      'refund.failed',
      'order.paid',
      'invoice.marked_uncollectible',
      'invoice.voided',
      'dispute.needs_response',
      'order.disputed',
      'dispute.under_review',
      'customer.subscription.updated',
      'customer.subscription.deleted',
      'dispute.lost',
    ]);
  });
});

describe('invoices voided or marked uncollectible follow Stripe, never back', () => {
  /** Delivers one event made for the test (not a fixture as it stands) and waits for the applier. */
  async function sendEvent(event: ReturnType<Story['event']>) {
    expect(await deliver(server.url, event)).toEqual({ status: 200, body: { received: true } });
    await server.app.webhookApplier.drain();
  }

  it('the whole story leaves the paid invoice paid and the proration invoice void', async () => {
    const story = await newStory(db);
    seedSandbox(server.app.stripeSandbox!, story);
    await send(story, ...FIXTURE_TYPES);
    expect(await invoiceRows(story)).toEqual([
      { id: story.id(FIXTURE_IDS.invoice), status: 'paid', amount_due: 9900, amount_paid: 9900 },
      { id: story.id(FIXTURE_IDS.prorationInvoice), status: 'void', amount_due: 4900, amount_paid: 0 },
    ]);
  });

  it('a stale uncollectible after the void changes nothing; an open invoice voided is void', async () => {
    const story = await newStory(db);
    await send(story, 'invoice.voided', 'invoice.marked_uncollectible');
    expect(await eventRow(db, story.event('invoice.marked_uncollectible').id)).toMatchObject({ status: 'applied', outcome: 'stale' });
    expect(await invoiceRows(story)).toMatchObject([{ status: 'void' }]);

    const open = await newStory(db);
    await send(open, 'invoice.payment_failed');
    const voided = open.event('invoice.voided', { freshId: true, overrides: { created: 1794600000, data: { object: { id: FIXTURE_IDS.invoice, amount_due: 9900, amount_remaining: 0 } } } });
    await sendEvent(voided);
    expect(await invoiceRows(open)).toEqual([{ id: open.id(FIXTURE_IDS.invoice), status: 'void', amount_due: 9900, amount_paid: 0 }]);
  });

  it('an uncollectible invoice paid later is paid; a paid one is never marked uncollectible again', async () => {
    const story = await newStory(db);
    await send(story, 'invoice.marked_uncollectible');
    const paid = story.event('invoice.paid', { freshId: true, overrides: { created: 1794750000, data: { object: { id: FIXTURE_IDS.prorationInvoice, amount_due: 4900, amount_paid: 4900 } } } });
    await sendEvent(paid);
    expect(await invoiceRows(story)).toEqual([{ id: story.id(FIXTURE_IDS.prorationInvoice), status: 'paid', amount_due: 4900, amount_paid: 4900 }]);
    // The same second as the payment, delivered after it: paid is final.
    const late = story.event('invoice.marked_uncollectible', { freshId: true, overrides: { created: 1794750000 } });
    await sendEvent(late);
    expect(await eventRow(db, late.id)).toMatchObject({ status: 'applied', outcome: 'stale' });
    expect(await invoiceRows(story)).toMatchObject([{ status: 'paid' }]);
  });
});

describe('repeats', () => {
  it('an event delivered three times (and replayed by Stripe later) has the effect of one', async () => {
    const story = await newStory(db);
    await send(story, 'payment_intent.succeeded');
    const before = await logTypes(story);
    const event = story.event('payment_intent.succeeded');
    for (let i = 0; i < 3; i++) expect(await deliver(server.url, event)).toEqual({ status: 200, body: { received: true, duplicate: true } });
    await server.app.webhookApplier.drain();
    expect(await logTypes(story)).toEqual(before);
    expect(await eventRow(db, event.id)).toMatchObject({ status: 'applied', attempts: 1 });
  });

  it('two events saying the same (completed, then the PaymentIntent succeeded) confirm the order once', async () => {
    const story = await newStory(db);
    await send(story, 'checkout.session.completed', 'payment_intent.succeeded', 'checkout.session.async_payment_succeeded');
    expect((await logTypes(story)).filter((type) => type.startsWith('payment.'))).toEqual(['payment.paid']);
    expect(await eventRow(db, story.event('checkout.session.async_payment_succeeded').id)).toMatchObject({ status: 'applied', outcome: 'unchanged' });
  });
});

describe('events that are not applied', () => {
  it('a payment with none of our metadata is recorded, marked ignored as not ours, and changes nothing', async () => {
    const story = await newStory(db, { order: false });
    const event = story.event('payment_intent.succeeded', {
      overrides: { data: { object: { metadata: { order_id: undefined, customer_id: undefined, track: undefined, attempt: undefined, note: 'from another app' } } } },
    });
    const before = await db.query('select count(*)::int as n from orders');
    expect((await deliver(server.url, event)).status).toBe(200);
    await server.app.webhookApplier.drain();
    expect(await eventRow(db, event.id)).toMatchObject({ status: 'ignored', ignored_reason: expect.stringMatching(/^not ours/) });
    expect((await db.query('select count(*)::int as n from orders')).rows).toEqual(before.rows);
    const { rows } = await db.query('select 1 from stripe_objects where id = $1', [event.data.object.id]);
    expect(rows).toEqual([]);
  });

  it('a refund of a payment we do not know is ignored as not ours', async () => {
    const story = await newStory(db, { order: false });
    const event = story.event('refund.updated', { overrides: { data: { object: { metadata: {} } } } });
    await deliver(server.url, event);
    await server.app.webhookApplier.drain();
    expect(await eventRow(db, event.id)).toMatchObject({ status: 'ignored', ignored_reason: expect.stringMatching(/^not ours/) });
  });

  it('an event type we do not handle is stored, marked ignored at once, and acknowledged', async () => {
    const story = await newStory(db);
    const event = { ...story.event('payment_intent.succeeded', { freshId: true }), type: 'payment_intent.created' };
    expect(await deliver(server.url, event)).toEqual({ status: 200, body: { received: true } });
    expect(await eventRow(db, event.id)).toMatchObject({ status: 'ignored', ignored_reason: 'unhandled event type payment_intent.created', attempts: 0 });
    expect(await orderRow(story)).toEqual({ status: 'pending', sync_state: null });
  });

  it('a live-mode event reaching a test-mode server is stored and flagged, not applied', async () => {
    const story = await newStory(db);
    const event = story.event('payment_intent.succeeded', { overrides: { livemode: true } });
    expect((await deliver(server.url, event)).status).toBe(200);
    await server.app.webhookApplier.drain();
    expect(await eventRow(db, event.id)).toMatchObject({ status: 'ignored', ignored_reason: 'live-mode event, but this server runs in test mode' });
    expect(await orderRow(story)).toEqual({ status: 'pending', sync_state: null });
  });
});

describe('a payment for an order we never made', () => {
  it('succeeded: the order is made from the metadata and the buyer, paid and confirmed', async () => {
    const story = await newStory(db, { order: false });
    await send(story, 'payment_intent.succeeded');
    const { rows } = await db.query<{ id: string; status: string; sync_state: string; product_id: string; amount: string; email: string }>(
      `select o.id, o.status, o.sync_state, o.product_id, o.amount::text, c.email
         from orders o join customers c on c.id = o.customer_id where o.payment_intent_id = $1`,
      [story.id(FIXTURE_IDS.paymentIntent)],
    );
    expect(rows).toEqual([{ id: story.orderId, status: 'paid', sync_state: 'confirmed', product_id: 'business_plan_builder', amount: '9900', email: 'jenny.rosen@example.com' }]);
    expect(await logTypes(story)).toEqual(['order.created_from_payment', 'payment.paid']);
  });

  it('completed through Checkout: the same, and the later PaymentIntent event finds it', async () => {
    const story = await newStory(db, { order: false });
    await send(story, 'checkout.session.completed', 'payment_intent.succeeded');
    expect(await orderRow(story)).toEqual({ status: 'paid', sync_state: 'confirmed' });
    expect((await storyState(db, story)).attempts).toEqual([{ attempt: 1, status: 'succeeded' }]);
    expect(await eventRow(db, story.event('payment_intent.succeeded').id)).toMatchObject({ status: 'applied' });
  });

  it('a failed payment for an order we never made makes none', async () => {
    const story = await newStory(db, { order: false });
    await send(story, 'payment_intent.payment_failed');
    expect((await db.query('select 1 from orders where id = $1', [story.orderId])).rows).toEqual([]);
    expect(await eventRow(db, story.event('payment_intent.payment_failed').id)).toMatchObject({ status: 'ignored' });
  });
});

describe('refund and dispute outcomes', () => {
  it('a partial refund leaves the order partially refunded', async () => {
    const story = await newStory(db);
    await send(story, 'payment_intent.succeeded');
    const partial = story.event('charge.refunded', {
      overrides: { data: { object: { amount_refunded: 2500, refunds: { data: [{ ...story.event('refund.updated').data.object, amount: 2500 }] } } } },
    });
    await deliver(server.url, partial);
    await server.app.webhookApplier.drain();
    expect(await orderRow(story)).toEqual({ status: 'partially_refunded', sync_state: 'confirmed' });
    expect((await storyState(db, story)).payments).toMatchObject([{ amount_refunded: 2500 }]);
  });

  it('a dispute won gives the order back its paid status', async () => {
    const story = await newStory(db);
    await send(story, 'payment_intent.succeeded', 'charge.dispute.created');
    expect(await orderRow(story)).toEqual({ status: 'disputed', sync_state: 'confirmed' });
    await deliver(server.url, story.event('charge.dispute.closed', { overrides: { data: { object: { status: 'won' } } } }));
    await server.app.webhookApplier.drain();
    expect(await orderRow(story)).toEqual({ status: 'paid', sync_state: 'confirmed' });
    expect((await logTypes(story)).slice(-2)).toEqual(['dispute.won', 'order.paid']);
  });
});
