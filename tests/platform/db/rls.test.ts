// Row-level security, as Supabase's Data API would exercise it: a transaction that switches to the
// `authenticated` (or `anon`) role with the verified JWT's claims in request.jwt.claims.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db, Queryable, SqlParam } from '../../../server/platform/db/db';
import { createTestDb, type TestDb } from '../../helpers/db';

const ALICE = 'a11ce000-0000-4000-8000-000000000001';
const BOB = 'b0b00000-0000-4000-8000-000000000002';
const NOBODY = 'deadbeef-0000-4000-8000-000000000003';

let testDb: TestDb;
let db: Db;
const ids = {
  aliceCustomer: '',
  bobCustomer: '',
  guestCustomer: '',
  aliceOrders: [] as string[],
  bobOrders: [] as string[],
  guestOrders: [] as string[],
};

type Role = 'anon' | 'authenticated';

/**
 * Runs fn as `role` with the given JWT claims, the way PostgREST does, and rolls back afterwards so a
 * test leaves nothing behind. Errors thrown by fn propagate.
 */
async function as<T>(role: Role, claims: Record<string, unknown> | undefined, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  const rollback = new Error('rollback');
  let result: T | undefined;
  try {
    await db.transaction(async (tx) => {
      // The role name is a constant here; claims, the only variable, are bound.
      await tx.query(`set local role ${role}`);
      if (claims) await tx.query("select set_config('request.jwt.claims', $1, true)", [JSON.stringify(claims)]);
      result = await fn(tx);
      throw rollback;
    });
  } catch (error) {
    if (error !== rollback) throw error;
  }
  return result as T;
}

const userClaims = (sub: string) => ({ sub, role: 'authenticated', aud: 'authenticated' });

async function select<Row = Record<string, unknown>>(role: Role, claims: Record<string, unknown> | undefined, sql: string, params: SqlParam[] = []) {
  return as(role, claims, async (tx) => (await tx.query<Row>(sql, params)).rows);
}

async function insertCustomer(userId: string | null, email: string): Promise<string> {
  const { rows } = await db.query<{ id: string }>('insert into customers (user_id, email) values ($1, $2) returning id', [userId, email]);
  return rows[0]!.id;
}

async function insertOrder(customerId: string, status: string): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `insert into orders (customer_id, product_id, price_id, amount, currency, status)
     values ($1, 'business_plan_builder', 'business_plan_builder_usd', 9900, 'usd', $2) returning id`,
    [customerId, status],
  );
  return rows[0]!.id;
}

async function insertLog(userId: string | null, customerId: string, orderId: string, eventType: string) {
  await db.query(
    `insert into payment_logs (event_type, user_id, customer_id, order_id, amount, currency, status)
     values ($1, $2, $3, $4, 9900, 'usd', 'succeeded')`,
    [eventType, userId, customerId, orderId],
  );
}

beforeAll(async () => {
  testDb = await createTestDb();
  db = testDb.db;
  // Fixture rows, written by the server's own connection (the tables' owner).
  ids.aliceCustomer = await insertCustomer(ALICE, 'alice@example.com');
  ids.bobCustomer = await insertCustomer(BOB, 'bob@example.com');
  ids.guestCustomer = await insertCustomer(null, 'guest@example.com');
  ids.aliceOrders = [await insertOrder(ids.aliceCustomer, 'paid'), await insertOrder(ids.aliceCustomer, 'pending')];
  ids.bobOrders = [await insertOrder(ids.bobCustomer, 'paid')];
  ids.guestOrders = [await insertOrder(ids.guestCustomer, 'paid')];
  await insertLog(ALICE, ids.aliceCustomer, ids.aliceOrders[0]!, 'payment_intent.succeeded');
  await insertLog(ALICE, ids.aliceCustomer, ids.aliceOrders[1]!, 'checkout.session.created');
  await insertLog(BOB, ids.bobCustomer, ids.bobOrders[0]!, 'payment_intent.succeeded');
  await insertLog(null, ids.guestCustomer, ids.guestOrders[0]!, 'payment_intent.succeeded');
  // A retired product track with its price: hidden from everyone but the owner.
  await db.query("insert into products (id, name, active) values ('retired_track', 'Retired track', false)");
  await db.query("insert into prices (id, product_id, currency, unit_amount, active) values ('retired_track_usd', 'retired_track', 'usd', 100, false)");
});

afterAll(async () => {
  await testDb?.close();
});

const sorted = (values: string[]) => [...values].sort();

describe('a signed-in customer (authenticated)', () => {
  it('sees only their own orders, through customers.user_id', async () => {
    const rows = await select<{ id: string }>('authenticated', userClaims(ALICE), 'select id from orders');
    expect(sorted(rows.map((r) => r.id))).toEqual(sorted(ids.aliceOrders));
  });

  it('sees only their own payment log rows', async () => {
    const rows = await select<{ event_type: string; user_id: string }>(
      'authenticated',
      userClaims(ALICE),
      'select event_type, user_id from payment_logs order by event_type',
    );
    expect(rows).toEqual([
      { event_type: 'checkout.session.created', user_id: ALICE },
      { event_type: 'payment_intent.succeeded', user_id: ALICE },
    ]);
  });

  it('sees only their own customer row', async () => {
    const rows = await select<{ id: string }>('authenticated', userClaims(BOB), 'select id from customers');
    expect(rows).toEqual([{ id: ids.bobCustomer }]);
  });

  it("sees none of another user's orders or log rows, even when asking for them by id", async () => {
    const orders = await select('authenticated', userClaims(BOB), 'select id from orders where id = any($1::uuid[])', [ids.aliceOrders]);
    const logs = await select('authenticated', userClaims(BOB), 'select id from payment_logs where user_id = $1', [ALICE]);
    expect(orders).toEqual([]);
    expect(logs).toEqual([]);
  });

  it('sees no orders or log rows when the user has none, or the token carries no subject', async () => {
    for (const claims of [userClaims(NOBODY), { role: 'authenticated' }, undefined]) {
      expect(await select('authenticated', claims, 'select id from orders')).toEqual([]);
      expect(await select('authenticated', claims, 'select id from payment_logs')).toEqual([]);
    }
  });

  it('cannot insert an order, even for their own customer row', async () => {
    const attempt = as('authenticated', userClaims(ALICE), (tx) =>
      tx.query(
        `insert into orders (customer_id, product_id, price_id, amount, currency)
         values ($1, 'business_plan_builder', 'business_plan_builder_usd', 1, 'usd')`,
        [ids.aliceCustomer],
      ),
    );
    await expect(attempt).rejects.toMatchObject({ code: '42501', message: expect.stringMatching(/permission denied/) });
    const { rows } = await db.query('select count(*)::int as n from orders where customer_id = $1', [ids.aliceCustomer]);
    expect(rows).toEqual([{ n: 2 }]);
  });

  it('cannot update their own order', async () => {
    const attempt = as('authenticated', userClaims(ALICE), (tx) => tx.query("update orders set status = 'refunded', amount = 0 where id = $1", [ids.aliceOrders[0]!]));
    await expect(attempt).rejects.toMatchObject({ code: '42501', message: expect.stringMatching(/permission denied/) });
    const { rows } = await db.query('select status, amount from orders where id = $1', [ids.aliceOrders[0]!]);
    expect(rows).toEqual([{ status: 'paid', amount: 9900 }]);
  });

  it('cannot insert or update payment log rows', async () => {
    // One after the other: a second attempt started alongside could reject before anything awaits it,
    // which Node reports as an unhandled rejection (it did, on PostgreSQL).
    await expect(
      as('authenticated', userClaims(ALICE), (tx) => tx.query("insert into payment_logs (event_type, user_id, status) values ('forged', $1, 'succeeded')", [ALICE])),
    ).rejects.toMatchObject({ code: '42501' });
    await expect(
      as('authenticated', userClaims(ALICE), (tx) => tx.query("update payment_logs set status = 'forged' where user_id = $1", [ALICE])),
    ).rejects.toMatchObject({ code: '42501' });
    const { rows } = await db.query<{ status: string }>("select status from payment_logs where user_id = $1 or event_type = 'forged'", [ALICE]);
    expect(rows.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
  });

  it('reads active products and prices only', async () => {
    const products = await select<{ id: string }>('authenticated', userClaims(ALICE), 'select id from products order by sort_order, id');
    expect(products.map((p) => p.id)).not.toContain('retired_track');
    expect(products).toHaveLength(3);
  });
});

describe('an anonymous caller (anon)', () => {
  it('may not read orders, payment logs or customers at all', async () => {
    for (const table of ['orders', 'payment_logs', 'customers']) {
      await expect(select('anon', undefined, `select id from ${table}`)).rejects.toMatchObject({ code: '42501' });
    }
  });

  it("sees no orders or log rows even where a Supabase project's default grants let it query the tables", async () => {
    // A Supabase project grants anon select on public tables by default; then RLS alone must hide the rows.
    const seen = await as('anon', undefined, async (tx) => {
      await tx.query('reset role');
      await tx.query('grant select on orders, payment_logs, customers to anon');
      await tx.query('set local role anon');
      const orders = await tx.query('select id from orders');
      const logs = await tx.query('select id from payment_logs');
      const customers = await tx.query('select id from customers');
      return [orders.rows, logs.rows, customers.rows];
    });
    expect(seen).toEqual([[], [], []]);
  });

  it('reads the active products and prices, not the retired ones', async () => {
    const products = await select<{ id: string }>('anon', undefined, 'select id from products order by sort_order, id');
    const prices = await select<{ id: string; unit_amount: number }>('anon', undefined, 'select id, unit_amount from prices order by id');
    expect(products.map((p) => p.id)).toEqual(['business_plan_builder', 'social_media_email_campaign', 'website_audit_feedback']);
    expect(prices).toEqual([
      { id: 'business_plan_builder_usd', unit_amount: 9900 },
      { id: 'business_plan_builder_usd_monthly', unit_amount: 9900 },
      { id: 'social_media_email_campaign_usd', unit_amount: 4900 },
      { id: 'social_media_email_campaign_usd_monthly', unit_amount: 4900 },
      { id: 'website_audit_feedback_usd', unit_amount: 7900 },
      { id: 'website_audit_feedback_usd_monthly', unit_amount: 7900 },
    ]);
  });

  it('cannot change products or prices', async () => {
    await expect(as('anon', undefined, (tx) => tx.query("update prices set unit_amount = 1 where id = 'business_plan_builder_usd'"))).rejects.toMatchObject({
      code: '42501',
    });
    const { rows } = await db.query("select unit_amount from prices where id = 'business_plan_builder_usd'");
    expect(rows).toEqual([{ unit_amount: 9900 }]);
  });
});

describe('the server-only tables and functions (checkout, webhook events)', () => {
  const FUNCTIONS = [
    "checkout_begin('{}'::jsonb)",
    "checkout_record_attempt('{}'::jsonb)",
    "checkout_mark_attempt('{}'::jsonb)",
    "order_apply_payment('{}'::jsonb)",
    "order_view('00000000-0000-4000-8000-000000000000'::uuid)",
    "stripe_events_store('[]'::jsonb)",
  ];

  it.each(['anon', 'authenticated'] as const)('are closed to %s: no idempotency keys, payment attempts or events to read, no function to call', async (role) => {
    for (const table of ['idempotency_keys', 'payment_attempts', 'stripe_events']) {
      await expect(select(role, userClaims(ALICE), `select * from ${table}`)).rejects.toMatchObject({ code: '42501' });
    }
    // Supabase grants EXECUTE on new functions to its API roles by default; the migration revokes it.
    for (const call of FUNCTIONS) {
      await expect(select(role, userClaims(ALICE), `select ${call}`)).rejects.toMatchObject({
        code: '42501',
        message: expect.stringMatching(/^permission denied for function /),
      });
    }
  });

  it("hide every row even where a Supabase project's default grants let the API roles query them", async () => {
    await db.query(
      `insert into payment_attempts (order_id, attempt, kind, stripe_idempotency_key) values ($1, 1, 'payment_intent', 'create_payment_intent:rls:1')`,
      [ids.aliceOrders[0]!],
    );
    const seen = await as('authenticated', userClaims(ALICE), async (tx) => {
      await tx.query('reset role');
      await tx.query('grant select on payment_attempts, idempotency_keys to authenticated');
      await tx.query('set local role authenticated');
      return [(await tx.query('select id from payment_attempts')).rows, (await tx.query('select key from idempotency_keys')).rows];
    });
    expect(seen).toEqual([[], []]);
    await db.query("delete from payment_attempts where stripe_idempotency_key = 'create_payment_intent:rls:1'");
  });
});

describe('every migration, as a whole', () => {
  // Catches a new table or function a migration forgot to close, not only those listed above.
  it('enables row-level security on every table', async () => {
    const { rows } = await db.query<{ relname: string }>(
      `select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relrowsecurity order by 1`,
    );
    expect(rows).toEqual([]);
  });

  it("lets Supabase's API roles execute no function but a pure helper that reads no table", async () => {
    const { rows } = await db.query<{ fn: string }>(
      `select p.oid::regprocedure::text as fn from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'public' and (has_function_privilege('anon', p.oid, 'execute') or has_function_privilege('authenticated', p.oid, 'execute'))
        order by 1`,
    );
    expect(rows.map((row) => row.fn)).toEqual(['order_status_rank(text)']);
  });
});

describe("the server's own connection (the tables' owner)", () => {
  it('sees every order, log row, customer and product, RLS not applying to it', async () => {
    const orders = await db.query<{ id: string }>('select id from orders');
    const logs = await db.query('select id from payment_logs');
    const customers = await db.query('select id from customers');
    const products = await db.query<{ id: string }>('select id from products');
    expect(sorted(orders.rows.map((r) => r.id))).toEqual(sorted([...ids.aliceOrders, ...ids.bobOrders, ...ids.guestOrders]));
    expect(logs.rows).toHaveLength(4);
    expect(customers.rows).toHaveLength(3);
    // The three tracks, the retired one seeded above, and the hidden product of payment request shares (not for sale).
    expect(sorted(products.rows.map((r) => r.id))).toEqual(['business_plan_builder', 'payment_request', 'retired_track', 'social_media_email_campaign', 'website_audit_feedback']);
  });

  it('owns tables that have RLS enabled but not forced, so the owner is exempt on any server', async () => {
    const { rows } = await db.query<{ relname: string; rls: boolean; forced: boolean; owned: boolean }>(
      `select c.relname, c.relrowsecurity as rls, c.relforcerowsecurity as forced, pg_get_userbyid(c.relowner) = current_user as owned
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'public' and c.relname = any($1::text[]) order by c.relname`,
      [['api_keys', 'audit_log', 'customers', 'orders', 'payment_logs', 'payments', 'prices', 'products']],
    );
    expect(rows).toHaveLength(8);
    for (const row of rows) expect(row).toEqual({ relname: row.relname, rls: true, forced: false, owned: true });
  });
});
