// The Db port behaves the same on both adapters (PGlite and node-postgres): bound parameters,
// transactions, the shapes of the values it returns, and the schema's constraints.
import { connect, createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../../server/platform/db/db';
import { DatabaseUnavailableError } from '../../../server/platform/db/errors';
import { openPostgres } from '../../../server/platform/db/postgres';
import { createTestDb, TEST_ENGINE, type TestDb } from '../../helpers/db';

let testDb: TestDb;
let db: Db;
let customerId: string;

beforeAll(async () => {
  testDb = await createTestDb();
  db = testDb.db;
  const { rows } = await db.query<{ id: string }>("insert into customers (email, name) values ('adapter@example.com', 'Adapter') returning id");
  customerId = rows[0]!.id;
});

afterAll(async () => {
  await testDb?.close();
});

const count = async (sql: string, params: unknown[] = []) =>
  (await db.query<{ n: number }>(`select count(*)::int as n from (${sql}) counted`, params as never)).rows[0]!.n;

async function insertOrder(values: { amount?: number; currency?: string; status?: string; metadata?: Record<string, unknown> } = {}) {
  const { rows } = await db.query<{ id: string }>(
    `insert into orders (customer_id, product_id, price_id, amount, currency, status, metadata)
     values ($1, 'business_plan_builder', 'business_plan_builder_usd', $2, $3, $4, $5) returning id`,
    [customerId, values.amount ?? 9900, values.currency ?? 'usd', values.status ?? 'pending', values.metadata ?? {}],
  );
  return rows[0]!.id;
}

it(`reports the engine it runs on (${TEST_ENGINE})`, () => {
  expect(db.engine).toBe(TEST_ENGINE);
});

describe('parameters', () => {
  it('stores a value that looks like SQL verbatim, never executing it', async () => {
    const hostile = "Robert'); drop table products; -- $1 \\ \"quoted\"";
    const { rows } = await db.query<{ name: string }>("insert into customers (email, name) values ('hostile@example.com', $1) returning name", [hostile]);
    expect(rows).toEqual([{ name: hostile }]);
    const stored = await db.query('select name from customers where name = $1', [hostile]);
    expect(stored.rows).toEqual([{ name: hostile }]);
    // The three tracks for sale (the inactive payment_request product of request shares is not counted).
    expect(await count('select id from products where active')).toBe(3);
  });

  it("matches nothing for a value like \"' or '1'='1\" used in a where clause", async () => {
    const { rows } = await db.query('select id from customers where email = $1', ["' or '1'='1"]);
    expect(rows).toEqual([]);
  });

  it('binds null, booleans, numbers, dates, text arrays and objects', async () => {
    const at = new Date('2026-01-02T03:04:05.678Z');
    const { rows } = await db.query(
      'select $1::text as nothing, $2::boolean as yes, $3::int as n, $4::timestamptz as at, $5::text[] as list, $6::jsonb as doc',
      [null, true, 42, at, ['a', "b'c", 'd,e'], { nested: { list: [1, 2], text: "it's" } }],
    );
    expect(rows).toEqual([{ nothing: null, yes: true, n: 42, at, list: ['a', "b'c", 'd,e'], doc: { nested: { list: [1, 2], text: "it's" } } }]);
  });

  it('reads a JSON text parameter cast to jsonb as the value it encodes', async () => {
    const { rows } = await db.query('select $1::jsonb as list, $2::jsonb as text', [JSON.stringify([1, 'two']), JSON.stringify('hi')]);
    expect(rows).toEqual([{ list: [1, 'two'], text: 'hi' }]);
  });
});

describe('results', () => {
  it('returns bigint columns as JavaScript numbers', async () => {
    const { rows } = await db.query<{ unit_amount: unknown }>("select unit_amount from prices where id = 'business_plan_builder_usd'");
    expect(rows).toEqual([{ unit_amount: 9900 }]);
    expect(typeof rows[0]!.unit_amount).toBe('number');
  });

  it('returns identity ids and counts as numbers too', async () => {
    const { rows } = await db.query<{ id: unknown }>("insert into payment_logs (event_type, status) values ('adapter.test', 'ok') returning id");
    expect(typeof rows[0]!.id).toBe('number');
    const total = await db.query<{ n: unknown }>('select count(*) as n from products where active');
    expect(total.rows).toEqual([{ n: 3 }]);
  });

  it('returns a bigint beyond 2^53 as a BigInt rather than a rounded number', async () => {
    const { rows } = await db.query<{ big: unknown }>("select '9007199254740993'::bigint as big");
    expect(rows[0]!.big).toBe(9007199254740993n);
  });

  it('returns jsonb as objects', async () => {
    const metadata = { source: 'storefront', tags: ['a', 'b'], nested: { amount: 1, flag: false, none: null } };
    const id = await insertOrder({ metadata });
    const { rows } = await db.query<{ metadata: unknown }>('select metadata from orders where id = $1', [id]);
    expect(rows).toEqual([{ metadata }]);
  });

  it('returns timestamptz as Date', async () => {
    const id = await insertOrder();
    const { rows } = await db.query<{ created_at: unknown }>('select created_at from orders where id = $1', [id]);
    expect(rows[0]!.created_at).toBeInstanceOf(Date);
    expect(Number.isNaN((rows[0]!.created_at as Date).getTime())).toBe(false);
  });

  it('counts the rows a statement returned or changed', async () => {
    const selected = await db.query('select id from products where active');
    const updated = await db.query("update products set sort_order = sort_order where active and id <> 'nothing'");
    const none = await db.query("update products set sort_order = 0 where id = 'no_such_product'");
    // The track has two prices: one-time, and monthly (20261207001100_subscription_prices).
    const returned = await db.query("update prices set active = active where product_id = 'business_plan_builder' returning id");
    expect([selected.rowCount, updated.rowCount, none.rowCount, returned.rowCount]).toEqual([3, 3, 0, 2]);
  });
});

describe('exec', () => {
  it('runs a script of several statements', async () => {
    await db.exec("create table exec_script (id int); insert into exec_script values (1); insert into exec_script values (2);");
    expect(await count('select id from exec_script')).toBe(2);
  });
});

describe('transaction', () => {
  it('commits when the function resolves and returns its value', async () => {
    const email = 'committed@example.com';
    const result = await db.transaction(async (tx) => {
      const { rows } = await tx.query<{ id: string }>('insert into customers (email) values ($1) returning id', [email]);
      const seen = await tx.query('select id from customers where email = $1', [email]);
      return { id: rows[0]!.id, seenInside: seen.rowCount };
    });
    expect(result.seenInside).toBe(1);
    const { rows } = await db.query('select id from customers where email = $1', [email]);
    expect(rows).toEqual([{ id: result.id }]);
  });

  it('rolls back every statement when the function throws, and rethrows its error', async () => {
    const failure = new Error('fulfilment failed');
    const attempt = db.transaction(async (tx) => {
      await tx.query("insert into customers (email) values ('rolled-back@example.com')");
      await tx.query("update prices set unit_amount = 1 where id = 'business_plan_builder_usd'");
      throw failure;
    });
    await expect(attempt).rejects.toBe(failure);
    expect(await count("select id from customers where email = 'rolled-back@example.com'")).toBe(0);
    const { rows } = await db.query("select unit_amount from prices where id = 'business_plan_builder_usd'");
    expect(rows).toEqual([{ unit_amount: 9900 }]);
  });

  it('rolls back and rejects when a statement failed, even if the function caught the error', async () => {
    const attempt = db.transaction(async (tx) => {
      await tx.query("insert into customers (email) values ('swallowed@example.com')");
      await tx.query('select 1 / 0').catch(() => undefined);
      return 'looked fine';
    });
    await expect(attempt).rejects.toThrow(/rolled back/);
    expect(await count("select id from customers where email = 'swallowed@example.com'")).toBe(0);
  });

  it('is usable again after a rollback', async () => {
    await db.transaction(async () => Promise.reject(new Error('first'))).catch(() => undefined);
    const value = await db.transaction(async (tx) => (await tx.query<{ one: number }>('select 1 as one')).rows[0]!.one);
    expect(value).toBe(1);
  });
});

describe('schema constraints', () => {
  const ordersBefore = () => count('select id from orders');

  it('refuses a negative amount with a check violation and stores nothing', async () => {
    const before = await ordersBefore();
    await expect(insertOrder({ amount: -1 })).rejects.toMatchObject({ code: '23514', constraint: 'orders_amount_check' });
    expect(await ordersBefore()).toBe(before);
  });

  it("refuses a currency that is not a lower-case ISO code ('US', 'USD')", async () => {
    const before = await ordersBefore();
    await expect(insertOrder({ currency: 'US' })).rejects.toMatchObject({ code: '23514', constraint: 'orders_currency_check' });
    await expect(insertOrder({ currency: 'USD' })).rejects.toMatchObject({ code: '23514', constraint: 'orders_currency_check' });
    expect(await ordersBefore()).toBe(before);
  });

  it('refuses an unknown order status', async () => {
    const before = await ordersBefore();
    await expect(insertOrder({ status: 'shipped' })).rejects.toMatchObject({ code: '23514', constraint: 'orders_status_check' });
    expect(await ordersBefore()).toBe(before);
  });

  it('refuses an order for a product that does not exist', async () => {
    const before = await ordersBefore();
    const attempt = db.query(
      `insert into orders (customer_id, product_id, price_id, amount, currency) values ($1, 'no_such_product', 'business_plan_builder_usd', 1, 'usd')`,
      [customerId],
    );
    await expect(attempt).rejects.toMatchObject({ code: '23503' });
    expect(await ordersBefore()).toBe(before);
  });

  it('refuses a second customer with the same email in another case', async () => {
    await expect(db.query("insert into customers (email) values ('ADAPTER@example.com')")).rejects.toMatchObject({ code: '23505' });
    expect(await count("select id from customers where lower(email) = 'adapter@example.com'")).toBe(1);
  });

  it('refuses a refund larger than the payment', async () => {
    const orderId = await insertOrder();
    const attempt = db.query(
      "insert into payments (order_id, stripe_payment_intent_id, amount, amount_refunded, currency, status) values ($1, 'pi_adapter', 100, 101, 'usd', 'succeeded')",
      [orderId],
    );
    await expect(attempt).rejects.toMatchObject({ code: '23514' });
    expect(await count("select id from payments where stripe_payment_intent_id = 'pi_adapter'")).toBe(0);
  });
});

/** A local port nothing listens on: connecting to it is refused at once, as to a stopped PostgreSQL. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('a database that cannot be reached (node-postgres adapter)', () => {
  it('fails queries and transactions with DatabaseUnavailableError (SERVICE_UNAVAILABLE, 503), not the driver error', async () => {
    const away = openPostgres(`postgres://postgres@127.0.0.1:${await closedPort()}/postgres`, { max: 1 });
    try {
      for (const attempt of [away.query('select 1'), away.exec('select 1'), away.transaction((tx) => tx.query('select 1'))]) {
        const error = await attempt.then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(DatabaseUnavailableError);
        expect(error).toMatchObject({ code: 'SERVICE_UNAVAILABLE', httpStatus: 503, message: 'The database is unavailable at the moment: try again shortly' });
        // The driver's error (it names the host and port) stays in the cause, for the logs.
        expect((error as Error).message).not.toContain('127.0.0.1');
        expect((error as Error).cause).toMatchObject({ code: 'ECONNREFUSED' });
      }
    } finally {
      await away.close();
    }
  });
});

// PGlite runs inside the process: it has no connection to lose.
describe.skipIf(TEST_ENGINE !== 'postgres')('a connection lost under the adapter (PostgreSQL)', () => {
  const pidOf = async (tx: { query: Db['query'] }) => (await tx.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
  // The second argument waits until the backend has exited: its goodbye (57P01) is then on the socket.
  const terminate = (pid: number) => db.query('select pg_terminate_backend($1, 5000)', [pid]);

  it('keeps the process up when the connection of a transaction in progress is terminated, fails that transaction, and serves the next on a new connection', async () => {
    // One connection only: were the broken client pooled again, the next transaction would get it.
    const own = openPostgres(testDb.url!, { max: 1, applicationName: 'adapter-terminated' });
    try {
      let terminated: number | undefined;
      const attempt = own.transaction(async (tx) => {
        await tx.query("insert into customers (email) values ('terminated-tx@example.com')");
        terminated = await pidOf(tx);
        await terminate(terminated);
        // A round trip on another connection: by its end the checked-out client has read its socket's
        // end and emitted 'error', between two statements, with no query of its own to fail.
        await db.query('select 1');
        await tx.query('select 1');
      });

      await expect(attempt).rejects.toBeInstanceOf(DatabaseUnavailableError);
      expect(await count("select id from customers where email = 'terminated-tx@example.com'")).toBe(0);
      const next = await own.transaction(async (tx) => pidOf(tx));
      expect(next).not.toBe(terminated);
    } finally {
      await own.close();
    }
  });

  it('LISTENs after a retry when the first LISTEN connection fails, and hears a NOTIFY then', async () => {
    // A proxy to the server that drops the first connection it is given, as a database briefly away at start.
    const target = new URL(testDb.url!);
    let accepted = 0;
    const proxy = createServer((socket) => {
      accepted += 1;
      if (accepted === 1) return void socket.destroy();
      const upstream = connect(Number(target.port || 5432), target.hostname);
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const proxied = new URL(testDb.url!);
    proxied.hostname = '127.0.0.1';
    proxied.port = String((proxy.address() as { port: number }).port);
    const own = openPostgres(proxied.toString(), { max: 1, applicationName: 'adapter-listen-retry' });
    try {
      let notified = 0;
      const unlisten = await own.listen!('adapter_listen_retry', () => (notified += 1));
      expect(typeof unlisten).toBe('function');
      // Back on the retry: onNotify once for anything sent meanwhile, then a NOTIFY is heard.
      await expect.poll(() => notified, { timeout: 10_000 }).toBe(1);
      await db.exec('notify adapter_listen_retry');
      await expect.poll(() => notified, { timeout: 10_000 }).toBe(2);
      await unlisten();
    } finally {
      await own.close();
      proxy.close();
    }
  });

  it('replaces an idle pooled connection that was terminated, and the next query succeeds', async () => {
    const own = openPostgres(testDb.url!, { max: 1, applicationName: 'adapter-idle-terminated' });
    try {
      const before = await pidOf(own);
      await terminate(before);
      await db.query('select 1');
      // The pool dropped the idle client when it emitted; if it had not, this query would be refused.
      const after = await pidOf(own);
      expect(after).not.toBe(before);
    } finally {
      await own.close();
    }
  });
});
