// What reaches the outbox, through the real paths that change orders: signed Stripe events over HTTP
// and the webhook applier, and the storefront's confirmPayment. One completed checkout is one
// add_project delivery however often (and in whatever form) the completion arrives; a kind without a
// route is not enqueued; a change that rolls back leaves no delivery; every payload matches the
// published JSON Schema and reaches Make signed, with the delivery id in a header.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApiKey } from '../../server/auth/apiKeys';
import type { Db } from '../../server/platform/db/db';
import { CONFIRM_PAYMENT, CREATE_PAYMENT_INTENT, newKey } from '../helpers/checkout';
import { startTestServer, type TestServer } from '../helpers/server';
import type { FixtureType } from '../helpers/webhookFixtures';
import { deliver, newStory, type Story, WEBHOOK_TEST_SECRET } from '../helpers/webhookStory';
import { deliveries, MAKE_TEST_API_KEY, type MakeHook, makeEnv, schemaErrors, startMakeHook } from './makeHelpers';

let server: TestServer;
let db: Db;
let hook: MakeHook;

beforeAll(async () => {
  hook = startMakeHook();
  // payment_failed has no scenario: it must never be enqueued.
  server = await startTestServer({ STRIPE_WEBHOOK_SECRET: WEBHOOK_TEST_SECRET, ...makeEnv(['add_project', 'refund_completed', 'dispute_opened', 'subscription_changed']) });
  server.app.stripeSandbox!.core.events.stopAutoDelivery(); // only what the tests send
  db = server.app.db;
});
afterAll(async () => {
  await server?.stop();
  hook?.close();
});
beforeEach(() => hook.reset());

async function send(story: Story, ...events: Array<FixtureType | { type: FixtureType; freshId: true }>) {
  for (const item of events) {
    const event = typeof item === 'string' ? story.event(item) : story.event(item.type, { freshId: true });
    expect((await deliver(server.url, event)).status).toBe(200);
  }
  await server.app.webhookApplier.drain();
}

const ofOrder = (story: Story) => deliveries(db, 'order_id = $1', [story.orderId]);

describe('a completed checkout', () => {
  it('is one add_project delivery, however many times and in whatever form the completion arrives', async () => {
    const story = await newStory(db);
    await send(
      story,
      'checkout.session.completed',
      'checkout.session.completed', // the same event again (stored once)
      { type: 'checkout.session.completed', freshId: true }, // the same change as another event
      { type: 'checkout.session.completed', freshId: true },
      'payment_intent.succeeded', // the same payment, seen through its PaymentIntent
      { type: 'payment_intent.succeeded', freshId: true },
    );
    await server.app.makeOutbox.drain();

    const rows = await ofOrder(story);
    expect(rows.map((row) => [row.kind, row.status])).toEqual([['add_project', 'delivered']]);
    const [row] = rows;
    expect(hook.received.map((received) => received.deliveryId)).toEqual([row!.id]);
    expect(row!.payload).toMatchObject({
      type: 'add_project',
      version: 1,
      delivery_id: row!.id,
      data: {
        order_id: story.orderId,
        status: 'paid',
        customer: { id: story.customerId, email: `story-${story.suffix}@customers.test`, name: null },
        track: { id: 'business_plan_builder', name: 'Business Plan Builder' },
        amount: 9900,
        currency: 'usd',
        checkout_session_id: story.id('cs_test_fixture0001'),
        payment_intent_id: story.id('pi_fixture0001'),
        metadata: {},
      },
    });
    expect(schemaErrors(row!.payload)).toEqual([]);
  });

  it('reaches Make as the stored payload, signed, with the delivery id and the API key in headers', async () => {
    const story = await newStory(db);
    await send(story, 'checkout.session.completed');
    await server.app.makeOutbox.drain();

    const [row] = await ofOrder(story);
    const [received] = hook.received;
    expect(received).toMatchObject({
      kind: 'add_project',
      deliveryId: row!.id,
      signatureValid: true,
      apiKey: MAKE_TEST_API_KEY,
      contentType: 'application/json',
    });
    expect(received!.body).toEqual(row!.payload);
  });

  it('is one delivery for a PaymentIntent order the storefront confirmed, then Stripe confirmed again', async () => {
    const { key } = await createApiKey(db, 'test storefront', 'storefront');
    const asStorefront = { headers: { 'x-api-key': key } };
    const input = { idempotencyKey: newKey(), track: 'website_audit_feedback', email: `pi-${randomUUID()}@customers.test`, name: 'Ada Lovelace' };
    const created = (await server.graphql(CREATE_PAYMENT_INTENT, { variables: { input }, ...asStorefront })).body.data.createPaymentIntent;
    await server.app.stripe.paymentIntents.confirm(created.paymentIntentId, { payment_method: 'pm_card_visa', return_url: 'https://shop.test/return' });
    for (let i = 0; i < 3; i += 1) {
      const confirmed = await server.graphql(CONFIRM_PAYMENT, { variables: { input: { paymentIntentId: created.paymentIntentId } }, ...asStorefront });
      expect(confirmed.body.data.confirmPayment.order.status).toBe('PAID');
    }
    // Stripe's own events for the payment arrive afterwards and confirm it.
    const events = server.app.stripeSandbox!.core.events;
    events.startAutoDelivery(10);
    await events.flush();
    events.stopAutoDelivery();
    await server.app.webhookApplier.drain();
    await server.app.makeOutbox.drain();

    const orderId = created.order.id as string;
    const { rows: order } = await db.query<{ sync_state: string }>('select sync_state from orders where id = $1', [orderId]);
    expect(order[0]!.sync_state).toBe('confirmed');
    const rows = await deliveries(db, 'order_id = $1', [orderId]);
    expect(rows.map((row) => [row.kind, row.status])).toEqual([['add_project', 'delivered']]);
    expect(rows[0]!.payload.data).toMatchObject({
      track: { id: 'website_audit_feedback' },
      amount: 7900,
      customer: { name: 'Ada Lovelace' },
      payment_intent_id: created.paymentIntentId,
      checkout_session_id: null,
    });
    expect(schemaErrors(rows[0]!.payload)).toEqual([]);
    expect(hook.received.filter((received) => received.deliveryId === rows[0]!.id)).toHaveLength(1);
  });
});

describe('the other kinds', () => {
  it('enqueues a refund that succeeded, a dispute opened and a subscription created, each once, each matching the schema', async () => {
    const story = await newStory(db);
    await send(story, 'checkout.session.completed', 'charge.refunded', 'refund.updated', 'refund.updated', 'charge.dispute.created', 'customer.subscription.created');
    await send(story, { type: 'refund.updated', freshId: true }, { type: 'charge.dispute.created', freshId: true });
    await server.app.makeOutbox.drain();

    const rows = await deliveries(db, 'order_id = $1 or customer_id = $2', [story.orderId, story.customerId]);
    expect(rows.map((row) => row.kind).sort()).toEqual(['add_project', 'dispute_opened', 'refund_completed', 'subscription_changed']);
    for (const row of rows) expect(schemaErrors(row.payload), row.kind).toEqual([]);
    const refund = rows.find((row) => row.kind === 'refund_completed')!;
    expect(refund.payload.data.refund).toMatchObject({ id: refund.subject_id, currency: 'usd' });
    const subscription = rows.find((row) => row.kind === 'subscription_changed')!;
    expect(subscription.payload.data).toMatchObject({ customer: { id: story.customerId }, subscription: { id: story.id('sub_fixture0001'), previous_status: null } });
    expect(new Set(hook.received.map((received) => received.deliveryId))).toEqual(new Set(rows.map((row) => row.id)));
  });

  it('enqueues nothing for a kind without a scenario (payment_failed here)', async () => {
    const story = await newStory(db);
    await send(story, 'payment_intent.payment_failed');
    const { rows } = await db.query<{ status: string }>('select status from orders where id = $1', [story.orderId]);
    expect(rows[0]!.status).toBe('failed');
    expect(await ofOrder(story)).toEqual([]);
  });
});

describe('the outbox and the change', () => {
  it('commit together: an order change that rolls back leaves no delivery', async () => {
    const story = await newStory(db);
    await expect(
      db.transaction(async (tx) => {
        await tx.query(`update orders set status = 'paid' where id = $1`, [story.orderId]);
        const { rows } = await tx.query('select 1 from make_deliveries where order_id = $1', [story.orderId]);
        expect(rows).toHaveLength(1); // written by the change itself, in its transaction
        throw new Error('the rest of the change failed');
      }),
    ).rejects.toThrow('the rest of the change failed');
    expect(await ofOrder(story)).toEqual([]);
  });

  it('a routed kind is written with any code path that changes the order, even plain SQL', async () => {
    const story = await newStory(db);
    await db.query(`update orders set status = 'paid' where id = $1`, [story.orderId]);
    await db.query(`update orders set status = 'paid', updated_at = now() where id = $1`, [story.orderId]);
    expect((await ofOrder(story)).map((row) => row.kind)).toEqual(['add_project']);
  });
});
