// A subscription's invoices in the order Stripe made them (issue 19, from the review of the switch):
// stripe_created is whole seconds, so a first invoice and a switch's invoice made in the same second
// fell back to id order, which is random, and latestInvoice could be the older one. Within a second
// the order they were first recorded in (seq) decides.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { invoicesOfSubscription } from '../../server/subscriptions/read.sql';
import { createTestDb, type TestDb } from '../helpers/db';

let testDb: TestDb;
beforeAll(async () => {
  testDb = await createTestDb();
});
afterAll(() => testDb?.close());

const record = (id: string, sub: string, created: string) =>
  testDb.db.query(
    `insert into subscription_invoices (id, subscription_id, status, amount_due, amount_paid, currency, stripe_created)
     values ($1, $2, 'paid', 100, 100, 'usd', $3::timestamptz)`,
    [id, sub, created],
  );

it('lists the invoice recorded later first when two were made in the same second, whatever their ids', async () => {
  const sub = `sub_${randomUUID().slice(0, 8)}`;
  // The first invoice's id sorts after the switch's: id order would put the first invoice on top.
  await record('in_zzz_first', sub, '2026-12-07T10:00:00Z');
  await record('in_aaa_switch', sub, '2026-12-07T10:00:00Z');
  await record('in_mmm_earlier', sub, '2026-12-06T10:00:00Z');
  expect((await invoicesOfSubscription(testDb.db, sub)).map((invoice) => invoice.id)).toEqual(['in_aaa_switch', 'in_zzz_first', 'in_mmm_earlier']);
});
