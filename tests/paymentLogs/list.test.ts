// The payment logs list the console reads: newest first with keyset pagination (ties on created_at
// included), every filter alone and together, and the search box's four kinds of id.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../server/platform/db/db';
import { parseSearch } from '../../server/orders/search';
import { listPaymentLogs, type PaymentLogFilter, type PaymentLogRow } from '../../server/paymentLogs/paymentLogs.sql';
import { createTestDb, type TestDb } from '../helpers/db';

let testDb: TestDb;
let db: Db;
const T0 = Date.parse('2026-11-01T12:00:00Z');
const ada = { id: randomUUID(), email: 'Ada@Example.com' };
const bob = { id: randomUUID(), email: 'bob@example.com' };
/** Paid: its PaymentIntent on the order. */
const paid = { id: randomUUID(), customer: ada, pi: 'pi_paidOrder0001', cs: null };
/** Checkout: a session, and the PaymentIntent Checkout made known only through the payment row. */
const hosted = { id: randomUUID(), customer: ada, pi: null, cs: 'cs_test_hostedOrder0001', paymentRowPi: 'pi_fromCheckout0001' };
/** Not paid yet: its PaymentIntent known only through the attempt. */
const open = { id: randomUUID(), customer: bob, pi: null, cs: null, attemptPi: 'pi_openAttempt0001' };
const TYPES = ['payment.pending', 'payment.paid', 'payment.failed'];

beforeAll(async () => {
  testDb = await createTestDb();
  db = testDb.db;
  for (const c of [ada, bob]) await db.query('insert into customers (id, email) values ($1, $2)', [c.id, c.email]);
  for (const o of [paid, hosted, open]) {
    await db.query(
      `insert into orders (id, customer_id, product_id, price_id, amount, currency, payment_intent_id, checkout_session_id)
       values ($1, $2, 'business_plan_builder', 'business_plan_builder_usd', 9900, 'usd', $3, $4)`,
      [o.id, o.customer.id, o.pi, o.cs],
    );
  }
  const attempt = (orderId: string, kind: string, objectId: string) =>
    db.query(`insert into payment_attempts (order_id, attempt, kind, stripe_idempotency_key, stripe_object_id, status) values ($1, 1, $2, $3, $4, 'open')`, [
      orderId,
      kind,
      `create_${kind}:${orderId}:1`,
      objectId,
    ]);
  await attempt(hosted.id, 'checkout_session', hosted.cs);
  await attempt(open.id, 'payment_intent', open.attemptPi);
  await db.query(`insert into payments (order_id, stripe_payment_intent_id, amount, currency, status) values ($1, $2, 9900, 'usd', 'succeeded')`, [hosted.id, hosted.paymentRowPi]);

  // 60 rows: 20 per order, two per second (ties on created_at, told apart by id), across 30 seconds.
  const orders = [paid, hosted, open];
  for (let n = 0; n < 60; n++) {
    const order = orders[n % 3]!;
    await db.query(
      `insert into payment_logs (event_type, customer_id, order_id, amount, currency, status, metadata, created_at)
       values ($1, $2, $3, 9900, 'usd', $4, $5, $6)`,
      [TYPES[n % 3]!, order.customer.id, order.id, n % 2 ? 'paid' : 'pending', { n }, new Date(T0 + Math.floor(n / 2) * 1000)],
    );
  }
});
afterAll(() => testDb?.close());

/** Every row the filter gives, page by page. */
async function walk(filter: PaymentLogFilter | null, first: number): Promise<PaymentLogRow[]> {
  const seen: PaymentLogRow[] = [];
  let after = null;
  for (let pages = 0; pages < 100; pages++) {
    const page = await listPaymentLogs(db, { filter, first, after });
    seen.push(...page.rows);
    if (!page.hasNextPage) return seen;
    const last = page.rows[page.rows.length - 1]!;
    after = { createdUs: last.created_us, id: last.id };
  }
  throw new Error('more than 100 pages');
}

const ns = (rows: PaymentLogRow[]) => rows.map((row) => (row.metadata as { n: number }).n);
const newestFirst = (list: number[]) => [...list].sort((a, b) => b - a);

describe('listPaymentLogs', () => {
  it('lists newest first, every row once across pages, ties on created_at included', async () => {
    const rows = await walk(null, 7);
    expect(ns(rows)).toEqual(newestFirst([...Array(60).keys()]));
    expect(rows[0]).toMatchObject({ event_type: TYPES[59 % 3], status: 'paid', amount: 9900, currency: 'usd', order_id: open.id, customer_email: bob.email });
  });

  it('says whether another page follows', async () => {
    expect((await listPaymentLogs(db, { first: 60 })).hasNextPage).toBe(false);
    expect((await listPaymentLogs(db, { first: 59 })).hasNextPage).toBe(true);
  });

  it('filters by event type, status, customer and date range, alone and together', async () => {
    const all = [...Array(60).keys()];
    expect(ns(await walk({ eventType: 'payment.failed' }, 5))).toEqual(newestFirst(all.filter((n) => n % 3 === 2)));
    expect(ns(await walk({ status: 'paid' }, 5))).toEqual(newestFirst(all.filter((n) => n % 2 === 1)));
    expect(ns(await walk({ customerId: bob.id }, 5))).toEqual(newestFirst(all.filter((n) => n % 3 === 2)));
    const from = new Date(T0 + 10_000);
    const to = new Date(T0 + 20_000);
    expect(ns(await walk({ from, to }, 5))).toEqual(newestFirst(all.filter((n) => n >= 20 && n < 40)));
    expect(ns(await walk({ eventType: 'payment.pending', status: 'paid', customerId: ada.id, from }, 3))).toEqual(
      newestFirst(all.filter((n) => n % 3 === 0 && n % 2 === 1 && n >= 20)),
    );
  });

  it('finds the rows of one order by its id, its PaymentIntent (order, payment or attempt) or its Checkout Session', async () => {
    const ofOrder = (i: number) => newestFirst([...Array(60).keys()].filter((n) => n % 3 === i));
    const search = async (text: string) => ns(await walk({ search: parseSearch(text) }, 50));
    expect(await search(paid.id)).toEqual(ofOrder(0));
    expect(await search(paid.id.toUpperCase())).toEqual(ofOrder(0));
    expect(await search(paid.pi)).toEqual(ofOrder(0));
    expect(await search(hosted.paymentRowPi)).toEqual(ofOrder(1));
    expect(await search(hosted.cs)).toEqual(ofOrder(1));
    expect(await search(` ${open.attemptPi} `)).toEqual(ofOrder(2));
    expect(await search('pi_unknown0001')).toEqual([]);
    expect(await search(randomUUID())).toEqual([]);
  });

  it('finds a customer’s rows by email, whatever its case', async () => {
    const rows = await walk({ search: parseSearch('ada@example.COM') }, 50);
    expect(ns(rows)).toEqual(newestFirst([...Array(60).keys()].filter((n) => n % 3 !== 2)));
    expect(await walk({ search: parseSearch('nobody@example.com') }, 50)).toEqual([]);
  });
});

describe('parseSearch', () => {
  it('tells the four kinds of search apart', () => {
    expect(parseSearch('  pi_3Q0abc  ')).toEqual({ by: 'payment_intent', id: 'pi_3Q0abc' });
    expect(parseSearch('cs_test_a1b2')).toEqual({ by: 'checkout_session', id: 'cs_test_a1b2' });
    expect(parseSearch('A@B.co')).toEqual({ by: 'email', email: 'A@B.co' });
    expect(parseSearch('0F8FAD5B-D9CB-469F-A165-70867728950E')).toEqual({ by: 'order', orderId: '0f8fad5b-d9cb-469f-a165-70867728950e' });
  });

  it('refuses anything else: null, for the caller to answer with a typed error', () => {
    for (const text of ['', '   ', 'hello', 'pi_', "pi_1' or '1'='1", 'cs_ x', 'ch_3Q0abc', '@example.com', 'a@', 'a b@c.d', `${'x'.repeat(320)}@y.z`, '0f8fad5b-d9cb-469f-a165']) {
      expect(parseSearch(text), text).toBeNull();
    }
  });
});
