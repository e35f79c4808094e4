// Console data benchmark (issue 7): the payment logs list as the console asks for it, through
// listPaymentLogs() on the node-postgres adapter, against a throwaway PostgreSQL database holding
// 1,000,000 payment_logs rows (BENCH_PAYMENT_LOGS) for 50,000 customers and 200,000 orders spread
// over 90 days. Each query runs BENCH_QUERY_RUNS (300) times after a warm-up; the figures are p50/p99
// per query, and EXPLAIN shows which index served it. Goal: every query under 30 ms p99.
// Needs DATABASE_URL (PGlite is not the production engine for a million rows).
import { migrate } from '../server/platform/db/migrate';
import { openPostgres } from '../server/platform/db/postgres';
import type { Db } from '../server/platform/db/db';
import { listPaymentLogs, type PaymentLogFilter, type PaymentLogKey } from '../server/paymentLogs/paymentLogs.sql';
import { createThrowawayDatabase } from './throwawayDatabase';

const ROWS = Number(process.env.BENCH_PAYMENT_LOGS ?? 1_000_000);
const RUNS = Number(process.env.BENCH_QUERY_RUNS ?? 300);
const CUSTOMERS = Math.max(1, Math.round(ROWS / 20));
const ORDERS = Math.max(1, Math.round(ROWS / 5));
const GOAL_P99_MS = 30;
const PAGE = 50;

export async function benchConsole() {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    console.log('\nConsole data: set DATABASE_URL (a PostgreSQL server) for the payment logs benchmark.');
    return;
  }
  const database = await createThrowawayDatabase(serverUrl, 'bench_console');
  const db = openPostgres(database.url, { max: 2 });
  try {
    await migrate(db);
    const seeded = performance.now();
    await seed(db);
    console.log(`\nConsole data: seeded ${ROWS.toLocaleString('en')} payment_logs rows in ${((performance.now() - seeded) / 1000).toFixed(0)} s`);
    const cases = await queryCases(db);
    const lines: string[] = [];
    let worst = 0;
    for (const [name, filter, after] of cases) {
      const run = () => listPaymentLogs(db, { filter, first: PAGE, after });
      const page = await run();
      if (page.rows.length === 0) throw new Error(`${name}: the query found nothing, so it measures nothing`);
      for (let i = 0; i < 20; i++) await run();
      const times: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const start = performance.now();
        await run();
        times.push(performance.now() - start);
      }
      times.sort((a, b) => a - b);
      const p50 = times[Math.floor(RUNS * 0.5)]!;
      const p99 = times[Math.min(RUNS - 1, Math.floor(RUNS * 0.99))]!;
      worst = Math.max(worst, p99);
      const indexes = (await indexesUsed(db, filter, after)).join(', ') || 'none';
      lines.push(`${name.padEnd(20)}${`${p50.toFixed(1)} ms`.padStart(10)}${`${p99.toFixed(1)} ms`.padStart(10)}  ${indexes}`);
    }
    console.log(`\nConsole data, PostgreSQL: payment logs pages of ${PAGE} from ${ROWS.toLocaleString('en')} rows, ${RUNS} runs each`);
    console.log(`${'query'.padEnd(20)}${'p50'.padStart(10)}${'p99'.padStart(10)}  indexes in its plan (EXPLAIN)`);
    console.log(lines.join('\n'));
    console.log(`goal: every query under ${GOAL_P99_MS} ms p99: worst ${worst.toFixed(1)} ms, ${worst < GOAL_P99_MS ? 'met' : 'NOT met'}`);
  } finally {
    await db.close();
    await database.drop();
  }
}

/** Customers, orders with their PaymentIntents, and the log rows, generated in SQL. */
async function seed(db: Db) {
  await db.query(
    `insert into customers (email, name, created_at)
     select 'buyer' || n || '@bench.example', 'Buyer ' || n, now() - interval '90 days'
       from generate_series(1, $1::int) as n`,
    [CUSTOMERS],
  );
  await db.query(
    `insert into orders (customer_id, product_id, price_id, amount, currency, status, sync_state, payment_intent_id, created_at)
     select c.id, p.product_id, p.id, p.unit_amount, 'usd', 'paid', 'confirmed', 'pi_bench' || lpad(n::text, 20, '0'),
            now() - interval '90 days' * random()
       from generate_series(1, $1::int) as n
       join (select id, row_number() over (order by id) as rn from customers) as c on c.rn = 1 + n % $2::int
       join (select id, product_id, unit_amount, row_number() over (order by id) as rn from prices) as p on p.rn = 1 + n % 3`,
    [ORDERS, CUSTOMERS],
  );
  await db.query(
    `insert into payment_attempts (order_id, attempt, kind, stripe_idempotency_key, stripe_object_id, status)
     select id, 1, 'checkout_session', 'create_checkout_session:' || id || ':1', 'cs_bench' || replace(id::text, '-', ''), 'succeeded' from orders`,
  );
  await db.query('analyze customers, orders, payment_attempts');
  await db.query(
    `insert into payment_logs (event_type, user_id, customer_id, order_id, amount, currency, status, metadata, created_at)
     select (array['checkout.attempt_open', 'payment.pending', 'payment.paid', 'payment.confirmed', 'payment.failed',
                   'payment.refunded', 'refund.succeeded', 'dispute.created', 'invoice.paid', 'payment.processing'])[1 + (n % 10)],
            null, o.customer_id, o.id, o.amount, o.currency,
            (array['pending', 'paid', 'paid', 'paid', 'failed', 'refunded', 'succeeded', 'disputed', 'paid', 'processing'])[1 + (n % 10)],
            jsonb_build_object('source', 'webhook', 'stripe_object_id', o.payment_intent_id),
            o.created_at + interval '1 second' * (n % 3600)
       from generate_series(1, $1::int) as n
       join (select *, row_number() over (order by payment_intent_id) as rn from orders) as o on o.rn = 1 + n % $2::int`,
    [ROWS, ORDERS],
  );
  await db.query('vacuum analyze payment_logs');
}

type Case = [string, PaymentLogFilter | null, PaymentLogKey | null];

async function queryCases(db: Db): Promise<Case[]> {
  // A customer, an order and its PaymentIntent and Checkout Session, picked from the middle.
  const { rows } = await db.query<{ email: string; order_id: string; payment_intent_id: string; session_id: string }>(
    `select c.email, o.id as order_id, o.payment_intent_id, a.stripe_object_id as session_id
       from orders o join customers c on c.id = o.customer_id join payment_attempts a on a.order_id = o.id
      where o.payment_intent_id = 'pi_bench' || lpad(($1::int / 2)::text, 20, '0')`,
    [ORDERS],
  );
  const picked = rows[0]!;
  // The cursor of the 10,000th row, as a console that loaded 200 pages would hold it.
  const { rows: deep } = await db.query<{ created_us: string; id: string }>(
    `select (extract(epoch from created_at) * 1000000)::bigint::text as created_us, id::text
       from payment_logs order by created_at desc, id desc offset 9999 limit 1`,
  );
  const week = new Date(Date.now() - 7 * 86_400_000);
  return [
    ['first page', null, null],
    ['type, last 7 days', { eventType: 'payment.failed', from: week }, null],
    ['status', { status: 'disputed' }, null],
    ['search order id', { search: { by: 'order', orderId: picked.order_id } }, null],
    ['search pi_', { search: { by: 'payment_intent', id: picked.payment_intent_id } }, null],
    ['search cs_', { search: { by: 'checkout_session', id: picked.session_id } }, null],
    ['search email', { search: { by: 'email', email: picked.email.toUpperCase() } }, null],
    ['after 10,000 rows', null, { createdUs: deep[0]!.created_us, id: deep[0]!.id }],
  ];
}

/** The index names in the query's plan, read with EXPLAIN through the same statement the list runs. */
async function indexesUsed(db: Db, filter: PaymentLogFilter | null, after: PaymentLogKey | null): Promise<string[]> {
  const plan: string[] = [];
  const explaining: Pick<Db, 'query'> = {
    query: async (sql, params) => {
      const result = await db.query<{ 'QUERY PLAN': string }>(`explain ${sql}`, params);
      plan.push(...result.rows.map((row) => row['QUERY PLAN']));
      return { rows: [], rowCount: 0 } as never;
    },
  };
  await listPaymentLogs(explaining as Db, { filter, first: PAGE, after });
  const text = plan.join('\n');
  const names = [...text.matchAll(/(?:Index Scan|Index Only Scan) using (\w+)|Bitmap Index Scan on (\w+)/g)].map((match) => match[1] ?? match[2]!);
  return [...new Set(names)].concat(/Seq Scan on payment_logs/.test(text) ? ['SEQ SCAN on payment_logs'] : []);
}

if (import.meta.url === `file://${process.argv[1]}`) await benchConsole();
