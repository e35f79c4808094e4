// Many requests at once, over real HTTP, against the real engine (PGlite here; truly parallel
// connections in the PostgreSQL suite): one key, one order, one Stripe object.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CheckoutServer, newKey, startCheckoutServer } from '../helpers/checkout';
import { TEST_ENGINE } from '../helpers/db';

let server: CheckoutServer;
beforeAll(async () => {
  server = await startCheckoutServer();
});
afterAll(() => server?.stop());

const CALLS = 12;
const guest = () => ({ idempotencyKey: newKey(), track: 'business_plan_builder', email: `guest-${randomUUID()}@example.com` });

/** The Stripe objects whose metadata names this order: what a customer could be charged through. */
async function stripeObjectsFor(orderId: string) {
  const intents = await server.app.stripe.paymentIntents.list({ limit: 100 });
  const sessions = await server.app.stripe.checkout.sessions.list({ limit: 100 });
  return [...intents.data, ...sessions.data].filter((object) => object.metadata?.order_id === orderId);
}

async function ordersOf(email: string) {
  const { rows } = await server.app.db.query<{ id: string }>('select o.id from orders o join customers c on c.id = o.customer_id where lower(c.email) = lower($1)', [email]);
  return rows;
}

describe.each([
  ['createPaymentIntent', 'paymentIntentId', (input: Record<string, unknown>) => server.createPaymentIntent(input)],
  ['createCheckoutSession', 'checkoutSessionId', (input: Record<string, unknown>) => server.createCheckoutSession(input)],
] as const)('%s called concurrently', (mutation, idField, call) => {
  it('makes one order and one Stripe object for one key, and gives every caller that result', async () => {
    const input = guest();
    const responses = await Promise.all(Array.from({ length: CALLS }, () => call(input)));

    for (const response of responses) expect(response.body.errors).toBeUndefined();
    const results = responses.map((response) => response.body.data[mutation]);
    const orderIds = new Set(results.map((result) => result.order.id));
    const objectIds = new Set(results.map((result) => result[idField]));
    expect(orderIds.size).toBe(1);
    expect(objectIds.size).toBe(1);
    const [orderId] = orderIds;
    expect(await ordersOf(input.email)).toEqual([{ id: orderId }]);
    expect((await stripeObjectsFor(orderId!)).map((object) => object.id)).toEqual([...objectIds]);
    const { rows } = await server.app.db.query('select count(*)::int as n from payment_attempts where order_id = $1', [orderId]);
    expect(rows[0]).toEqual({ n: 1 });
  });

  it('lets one of two different inputs with one key win; the other is a CONFLICT', async () => {
    const first = guest();
    const second = { ...first, track: 'social_media_email_campaign' };
    const responses = await Promise.all(Array.from({ length: CALLS }, (_, i) => call(i % 2 === 0 ? first : second)));

    const succeeded = responses.filter((response) => !response.body.errors);
    const conflicts = responses.filter((response) => response.body.errors?.[0]?.extensions?.code === 'CONFLICT');
    expect(succeeded.length + conflicts.length).toBe(CALLS);
    expect(succeeded.length).toBe(CALLS / 2);
    expect(new Set(succeeded.map((response) => response.body.data[mutation].order.id)).size).toBe(1);
    expect(await ordersOf(first.email)).toHaveLength(1);
  });

  // Several rounds: each retires the same stale attempt from twelve requests at once, the race in which
  // attempt-first and order-first locking met in a deadlock on PostgreSQL (migration 20261207001400).
  it.each([1, 2, 3, 4])('gives concurrent requests for one order with different keys the same open object (round %i)', async () => {
    const created = (await call(guest())).body.data[mutation];
    const id = created[idField];
    // Retire the first object so that the concurrent requests race to make the order's next one.
    if (mutation === 'createPaymentIntent') await server.app.stripe.paymentIntents.cancel(id);
    else await server.app.stripe.checkout.sessions.expire(id);

    const responses = await Promise.all(Array.from({ length: CALLS }, () => call({ idempotencyKey: newKey(), orderId: created.order.id })));
    for (const response of responses) expect(response.body.errors).toBeUndefined();
    const next = new Set(responses.map((response) => response.body.data[mutation][idField]));
    expect(next.size).toBe(1);
    expect(next.has(id)).toBe(false);
    const open = (await stripeObjectsFor(created.order.id)).filter((object) => object.status !== 'canceled' && object.status !== 'expired');
    expect(open.map((object) => object.id)).toEqual([...next]);
  });
});

it('keeps an order payable through one object when Elements and hosted Checkout are asked for at once', async () => {
  const created = (await server.createPaymentIntent(guest())).body.data.createPaymentIntent;
  await server.app.stripe.paymentIntents.cancel(created.paymentIntentId);

  const responses = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      i % 2 === 0
        ? server.createPaymentIntent({ idempotencyKey: newKey(), orderId: created.order.id })
        : server.createCheckoutSession({ idempotencyKey: newKey(), orderId: created.order.id }),
    ),
  );
  for (const response of responses) expect(response.body.errors).toBeUndefined();

  // However the race went, at most one object of the order can still be paid, and it is the order's live attempt.
  const open = (await stripeObjectsFor(created.order.id)).filter((object) =>
    object.object === 'payment_intent' ? object.status !== 'canceled' : object.status === 'open',
  );
  // A Checkout Session makes its PaymentIntent only when paid, so every open object is one we created.
  expect(open).toHaveLength(1);
  const { rows } = await server.app.db.query<{ stripe_object_id: string }>(
    "select stripe_object_id from payment_attempts where order_id = $1 and status in ('creating', 'open')",
    [created.order.id],
  );
  expect(rows).toEqual([{ stripe_object_id: open[0]!.id }]);
});

// The same race, made deterministic: a transaction that holds the order (as checkout_begin and
// order_apply_payment do, order first) and then writes its attempt, while checkout_mark_attempt retires
// that attempt. Marking used to take the attempt first and then the order (its payment log's foreign
// key), the opposite order, and PostgreSQL killed one side. Only PostgreSQL runs two connections at once.
describe.skipIf(TEST_ENGINE !== 'postgres')('retiring an attempt while another transaction holds its order (PostgreSQL)', () => {
  it('waits for the order instead of deadlocking, and both finish', async () => {
    const created = (await server.createPaymentIntent(guest())).body.data.createPaymentIntent;
    const { rows } = await server.app.db.query<{ id: string }>('select id from payment_attempts where order_id = $1', [created.order.id]);
    const attemptId = rows[0]!.id;
    const holder = new pg.Client({ connectionString: server.testDb.url });
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query(`set local lock_timeout = '10s'`);
      await holder.query('select 1 from orders where id = $1 for update', [created.order.id]);
      const marked = server.app.db.query<{ a: { status: string } }>('select checkout_mark_attempt($1::jsonb) as a', [{ attempt_id: attemptId, status: 'canceled', actor: 'test', error: 'retired' }]);
      await vi.waitFor(
        async () => {
          const waiting = await holder.query<{ n: number }>('select count(*)::int as n from pg_locks where not granted and pid <> pg_backend_pid()');
          expect(waiting.rows[0]!.n).toBeGreaterThan(0);
        },
        { timeout: 10_000, interval: 20 },
      );
      // The holder's next write, the attempt, must not be held by the mark.
      await holder.query('update payment_attempts set updated_at = now() where id = $1', [attemptId]);
      await holder.query('commit');
      const result = await marked;
      expect(result.rows[0]!.a.status).toBe('canceled');
    } finally {
      await holder.query('rollback').catch(() => undefined);
      await holder.end();
    }
  });
});
