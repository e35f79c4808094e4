// The first paid invoice pays its subscription's order (20261207001600) when customer.subscription.created
// and invoice.paid are applied at the same time (issue 19 review 2, finding 3). They lock different
// stripe_objects rows, so on PostgreSQL each trigger read the other's row from its own snapshot, found
// nothing, and the order stayed pending. Both triggers now take one advisory lock per subscription.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, TEST_ENGINE, type TestDb } from '../helpers/db';

let testDb: TestDb;
beforeAll(async () => {
  testDb = await createTestDb();
});
afterAll(() => testDb?.close());

type Query = { query: (sql: string, params: string[]) => Promise<unknown> };

async function pendingSubscriptionOrder() {
  const db = testDb.db;
  const customer = randomUUID();
  const order = randomUUID();
  await db.query(`insert into customers (id, email) values ($1, $2)`, [customer, `${customer}@example.com`]);
  await db.query(
    `insert into orders (id, customer_id, product_id, price_id, amount, currency, status)
     values ($1, $2, 'business_plan_builder', 'business_plan_builder_usd', 9900, 'usd', 'pending')`,
    [order, customer],
  );
  await db.query(
    `insert into payment_attempts (order_id, attempt, kind, stripe_idempotency_key, stripe_object_id, status)
     values ($1, 1, 'checkout_session', $2, $3, 'open')`,
    [order, `k-${order}`, `cs_test_${order}`],
  );
  return { customer, order, sub: `sub_${order.slice(0, 8)}`, invoice: `in_${order.slice(0, 8)}` };
}
const insertInvoice = (q: Query, sub: string, invoice: string) =>
  q.query(
    `insert into subscription_invoices (id, subscription_id, status, amount_due, amount_paid, currency, stripe_created)
     values ($1, $2, 'paid', 9900, 9900, 'usd', now())`,
    [invoice, sub],
  );
const insertSubscription = (q: Query, sub: string, customer: string, order: string) =>
  q.query(
    `insert into subscriptions (id, customer_id, order_id, status, stripe_price_id, current_period_end)
     values ($1, $2, $3, 'active', 'price_x', now() + interval '30 days')`,
    [sub, customer, order],
  );
const statusOf = async (order: string) => (await testDb.db.query<{ status: string }>('select status from orders where id = $1', [order])).rows[0]!.status;

it('pays the order applied one after the other, in either order', async () => {
  const a = await pendingSubscriptionOrder();
  await insertInvoice(testDb.db, a.sub, a.invoice);
  await insertSubscription(testDb.db, a.sub, a.customer, a.order);
  expect(await statusOf(a.order)).toBe('paid');
  const b = await pendingSubscriptionOrder();
  await insertSubscription(testDb.db, b.sub, b.customer, b.order);
  await insertInvoice(testDb.db, b.sub, b.invoice);
  expect(await statusOf(b.order)).toBe('paid');
});

describe.skipIf(TEST_ENGINE !== 'postgres')('applied at the same time (PostgreSQL)', () => {
  it.each([
    ['invoice.paid first', 'invoice'],
    ['customer.subscription.created first', 'subscription'],
  ])('pays the order (%s)', async (_name, first) => {
    const a = await pendingSubscriptionOrder();
    const one = new pg.Client({ connectionString: testDb.url });
    const two = new pg.Client({ connectionString: testDb.url });
    await one.connect();
    await two.connect();
    try {
      await one.query('begin');
      await two.query('begin');
      const writeInvoice = (q: Query) => insertInvoice(q, a.sub, a.invoice);
      const writeSubscription = (q: Query) => insertSubscription(q, a.sub, a.customer, a.order);
      await (first === 'invoice' ? writeInvoice : writeSubscription)(one);
      // The second waits for the first's lock, then sees its row.
      const second = (first === 'invoice' ? writeSubscription : writeInvoice)(two);
      await one.query('commit');
      await second;
      await two.query('commit');
    } finally {
      await one.end();
      await two.end();
    }
    expect(await statusOf(a.order)).toBe('paid');
  });
});
