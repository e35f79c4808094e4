// 20261207001000_refunds.sql over a database that already holds refunds: a row the applier once stored
// with Stripe's nullable status as the text 'null' is normalised to 'pending' before the status
// constraint is added, so the migration applies on PostgreSQL and PGlite alike.
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import { DEFAULT_MIGRATIONS_DIR, migrate, readMigrations } from '../../server/platform/db/migrate';
import { createEmptyTestDb, type TestDb } from '../helpers/db';

const REFUNDS = '20261207001000';
let fresh: TestDb | undefined;
let dir: string | undefined;

afterAll(async () => {
  await fresh?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('a refund stored with status \'null\' before the migration becomes pending, and the migration applies', async () => {
  fresh = await createEmptyTestDb();
  dir = await mkdtemp(join(tmpdir(), 'payments-ops-refunds-migration-'));
  const files = (await readMigrations(DEFAULT_MIGRATIONS_DIR)).map((m) => `${m.version}_${m.name}.sql`);
  const before = files.filter((f) => f < REFUNDS);
  for (const f of before) await copyFile(join(DEFAULT_MIGRATIONS_DIR, f), join(dir, f));
  await migrate(fresh.db, dir);

  const id = 're_nullstatus0001';
  await fresh.db.transaction(async (tx) => {
    // The refund row is what matters: its order and payment are bare (their foreign keys and triggers off).
    await tx.query('set local session_replication_role = replica');
    const [orderId, paymentId] = [randomUUID(), randomUUID()];
    await tx.query("insert into orders (id, customer_id, product_id, price_id, amount, currency) values ($1, $2, 'p', 'p', 100, 'usd')", [orderId, randomUUID()]);
    await tx.query("insert into payments (id, order_id, stripe_payment_intent_id, amount, currency, status) values ($1, $2, 'pi_nullstatus0001', 100, 'usd', 'succeeded')", [paymentId, orderId]);
    await tx.query("insert into refunds (id, order_id, payment_id, amount, currency, status) values ($1, $2, $3, 100, 'usd', 'null')", [id, orderId, paymentId]);
  });

  const refunds = files.find((f) => f.startsWith(REFUNDS))!;
  await copyFile(join(DEFAULT_MIGRATIONS_DIR, refunds), join(dir, refunds));
  await migrate(fresh.db, dir);
  const { rows } = await fresh.db.query<{ status: string; stripe_refund_id: string }>('select status, stripe_refund_id from refunds where id = $1', [id]);
  expect(rows).toEqual([{ status: 'pending', stripe_refund_id: id }]);
});
