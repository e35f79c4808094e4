// Which invoice pays a subscription's order (20261207001600, review 19 finding 5): only its first, once
// paid. A renewal paid months after a first invoice that never was does not pay the failed order, and a
// first invoice that paid another amount is logged once, however often its row is written again.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db';

let testDb: TestDb;
beforeAll(async () => {
  testDb = await createTestDb();
});
afterAll(() => testDb?.close());

async function subscriptionOrder(status: string) {
  const db = testDb.db;
  const customer = randomUUID();
  const order = randomUUID();
  const sub = `sub_${order.slice(0, 8)}`;
  await db.query(`insert into customers (id, email) values ($1, $2)`, [customer, `${customer}@example.com`]);
  await db.query(
    `insert into orders (id, customer_id, product_id, price_id, amount, currency, status)
     values ($1, $2, 'business_plan_builder', 'business_plan_builder_usd', 9900, 'usd', $3)`,
    [order, customer, status],
  );
  await db.query(
    `insert into payment_attempts (order_id, attempt, kind, stripe_idempotency_key, stripe_object_id, status)
     values ($1, 1, 'checkout_session', $2, $3, 'open')`,
    [order, `k-${order}`, `cs_test_${order}`],
  );
  await db.query(
    `insert into subscriptions (id, customer_id, order_id, status, stripe_price_id, current_period_end)
     values ($1, $2, $3, 'active', 'price_x', now() + interval '30 days')`,
    [sub, customer, order],
  );
  return { order, sub };
}

const invoice = (id: string, sub: string, status: string, amountPaid: number, created: string) =>
  testDb.db.query(
    `insert into subscription_invoices (id, subscription_id, status, amount_due, amount_paid, currency, stripe_created)
     values ($1, $2, $3, 9900, $4, 'usd', $5::timestamptz)
     on conflict (id) do update set status = excluded.status, amount_paid = excluded.amount_paid, updated_at = now()`,
    [id, sub, status, amountPaid, created],
  );
const orderOf = async (order: string) =>
  (await testDb.db.query<{ status: string; sync_state: string }>('select status, sync_state from orders where id = $1', [order])).rows[0]!;
const mismatchLogs = async (order: string) =>
  (await testDb.db.query<{ n: number }>(`select count(*)::int as n from payment_logs where order_id = $1 and event_type = 'payment.amount_mismatch'`, [order])).rows[0]!.n;

it('does not pay a failed order from a renewal paid after a first invoice that never was', async () => {
  const { order, sub } = await subscriptionOrder('failed');
  await invoice(`in_first_${order.slice(0, 6)}`, sub, 'open', 0, '2026-11-01T00:00:00Z');
  await invoice(`in_renew_${order.slice(0, 6)}`, sub, 'paid', 9900, '2026-12-01T00:00:00Z');
  expect((await orderOf(order)).status).toBe('failed');
  // The first invoice paid at last: that is the order's payment.
  await invoice(`in_first_${order.slice(0, 6)}`, sub, 'paid', 9900, '2026-11-01T00:00:00Z');
  expect((await orderOf(order)).status).toBe('paid');
});

it('logs a first invoice that paid another amount once, however often its row is written again', async () => {
  const { order, sub } = await subscriptionOrder('pending');
  const id = `in_short_${order.slice(0, 6)}`;
  await invoice(id, sub, 'paid', 5000, '2026-11-01T00:00:00Z');
  expect(await orderOf(order)).toEqual({ status: 'pending', sync_state: 'failed' });
  await invoice(id, sub, 'paid', 5000, '2026-11-01T00:00:00Z');
  await invoice(id, sub, 'paid', 5000, '2026-11-01T00:00:00Z');
  await invoice(`in_renew_${order.slice(0, 6)}`, sub, 'paid', 9900, '2026-12-01T00:00:00Z');
  expect(await mismatchLogs(order)).toBe(1);
  expect((await orderOf(order)).status).toBe('pending');
});
