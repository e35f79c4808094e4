// The orders list the console reads: newest first with keyset pagination, filters by status and sync
// state, and the shared search box (order id, pi_, cs_, email).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../server/platform/db/db';
import { listOrders, type OrderListFilter, type OrderListRow } from '../../server/orders/orders.sql';
import { parseSearch } from '../../server/orders/search';
import { createTestDb, type TestDb } from '../helpers/db';

let testDb: TestDb;
let db: Db;
const T0 = Date.parse('2026-11-01T12:00:00Z');
const ada = randomUUID();
const bob = randomUUID();
/** 25 orders, two a second (ties on created_at), alternating customers, statuses and sync states. */
const orders = Array.from({ length: 25 }, (_, n) => ({
  n,
  id: randomUUID(),
  customerId: n % 2 ? bob : ada,
  status: ['pending', 'paid', 'failed'][n % 3]!,
  syncState: [null, 'confirmed', 'provisional', 'failed', 'confirmed'][n % 5] ?? null,
  paymentIntentId: n % 4 === 0 ? `pi_listOrder${n}` : null,
  checkoutSessionId: n % 4 === 1 ? `cs_test_listOrder${n}` : null,
}));

beforeAll(async () => {
  testDb = await createTestDb();
  db = testDb.db;
  await db.query(`insert into customers (id, email) values ($1, 'ada@example.com'), ($2, 'bob@example.com')`, [ada, bob]);
  for (const o of orders) {
    await db.query(
      `insert into orders (id, customer_id, product_id, price_id, amount, currency, status, sync_state, payment_intent_id, checkout_session_id, metadata, created_at)
       values ($1, $2, 'business_plan_builder', 'business_plan_builder_usd', 9900, 'usd', $3, $4, $5, $6, $7, $8)`,
      [o.id, o.customerId, o.status, o.syncState, o.paymentIntentId, o.checkoutSessionId, { n: String(o.n) }, new Date(T0 + Math.floor(o.n / 2) * 1000)],
    );
  }
  // An order whose PaymentIntent is known only through its attempt (not paid yet).
  await db.query(
    `insert into payment_attempts (order_id, attempt, kind, stripe_idempotency_key, stripe_object_id, status) values ($1, 1, 'payment_intent', 'k-list-2', 'pi_attemptOnly2', 'open')`,
    [orders[2]!.id],
  );
});
afterAll(() => testDb?.close());

async function walk(filter: OrderListFilter | null, first: number): Promise<OrderListRow[]> {
  const seen: OrderListRow[] = [];
  let after = null;
  for (let pages = 0; pages < 100; pages++) {
    const page = await listOrders(db, { filter, first, after });
    seen.push(...page.rows);
    if (!page.hasNextPage) return seen;
    const last = page.rows[page.rows.length - 1]!;
    after = { createdUs: last.created_us, id: last.order.id };
  }
  throw new Error('more than 100 pages');
}

const ns = (rows: OrderListRow[]) => rows.map((row) => Number(row.order.metadata.n));
/** The list's order: created_at descending (two orders a second), then id descending. */
const newestFirst = (list: number[]) =>
  [...list].sort((a, b) => Math.floor(b / 2) - Math.floor(a / 2) || (orders[b]!.id > orders[a]!.id ? 1 : orders[b]!.id < orders[a]!.id ? -1 : 0));
const all = orders.map((o) => o.n);

describe('listOrders', () => {
  it('lists newest first, every order once across pages, each as the order view', async () => {
    const rows = await walk(null, 4);
    expect(ns(rows)).toEqual(newestFirst(all));
    expect(rows[0]!.order).toMatchObject({ id: orders[24]!.id, status: 'pending', amount: 9900, currency: 'usd', customer_email: 'ada@example.com', payment_intent_id: 'pi_listOrder24' });
  });

  it('filters by status and sync state, alone and together', async () => {
    expect(ns(await walk({ status: 'paid' }, 3))).toEqual(newestFirst(all.filter((n) => n % 3 === 1)));
    expect(ns(await walk({ syncState: 'failed' }, 3))).toEqual(newestFirst(all.filter((n) => n % 5 === 3)));
    expect(ns(await walk({ status: 'failed', syncState: 'confirmed' }, 3))).toEqual(newestFirst(all.filter((n) => n % 3 === 2 && [1, 4].includes(n % 5))));
  });

  it('finds orders by id, PaymentIntent (order or attempt), Checkout Session and customer email', async () => {
    const search = async (text: string) => ns(await walk({ search: parseSearch(text) }, 10));
    expect(await search(orders[7]!.id)).toEqual([7]);
    expect(await search('pi_listOrder8')).toEqual([8]);
    expect(await search('pi_attemptOnly2')).toEqual([2]);
    expect(await search('cs_test_listOrder9')).toEqual([9]);
    expect(await search('BOB@example.com')).toEqual(newestFirst(all.filter((n) => n % 2 === 1)));
    expect(await search('pi_nothing')).toEqual([]);
  });
});
