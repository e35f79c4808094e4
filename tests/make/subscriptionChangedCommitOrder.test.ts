// subscription_changed when transactions commit in another order than they began (issue 19 review 2,
// finding 4). The state Make last heard of is kept on the subscription's row, read and written under
// its row lock; it was found in make_deliveries by created_at, the transaction's start, so a state
// reached again after a resume written by a transaction that began first was taken for the last one
// announced and dropped. The commit-order test needs two connections: PostgreSQL only.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, TEST_ENGINE, type TestDb } from '../helpers/db';

let testDb: TestDb;
beforeAll(async () => {
  testDb = await createTestDb();
  await testDb.db.query(`insert into make_routes (kind, url) values ('subscription_changed', 'https://hook.example/x') on conflict do nothing`);
});
afterAll(() => testDb?.close());

async function activeSubscription(): Promise<string> {
  const customer = randomUUID();
  const sub = `sub_${customer.slice(0, 8)}`;
  await testDb.db.query(`insert into customers (id, email) values ($1, $2)`, [customer, `${customer}@example.com`]);
  await testDb.db.query(
    `insert into subscriptions (id, customer_id, status, stripe_price_id, current_period_end)
     values ($1, $2, 'active', 'price_x', now() + interval '30 days')`,
    [sub, customer],
  );
  return sub;
}

/** The pause behaviour each subscription_changed delivery announced, in the order they were told. */
const pauses = async (sub: string) =>
  (
    await testDb.db.query<{ pause: string | null }>(
      `select payload->'data'->'subscription'->>'pause_behavior' as pause from make_deliveries
        where kind = 'subscription_changed' and subject_id = $1 order by split_part(dedupe_key, '|n', 2)::int`,
      [sub],
    )
  ).rows.map((row) => row.pause);

const pause = (sub: string, behavior: string | null) => testDb.db.query(`update subscriptions set pause_behavior = $2 where id = $1`, [sub, behavior]);

describe('subscription_changed, one per state announced', () => {
  it('announces active, paused, resumed and paused again, and nothing for the same state written again', async () => {
    const sub = await activeSubscription();
    await pause(sub, 'void');
    await pause(sub, 'void');
    await pause(sub, null);
    await pause(sub, 'void');
    expect(await pauses(sub)).toEqual([null, 'void', null, 'void']);
  });
});

describe.skipIf(TEST_ENGINE !== 'postgres')('transactions that commit in another order than they began (PostgreSQL)', () => {
  it('announces a pause reached again after a resume written by a transaction that began earlier', async () => {
    const sub = await activeSubscription();
    const early = new pg.Client({ connectionString: testDb.url });
    const late = new pg.Client({ connectionString: testDb.url });
    await early.connect();
    await late.connect();
    try {
      // An applier batch that began first (its now() is the earlier one) ...
      await early.query('begin');
      await early.query('select now()');
      // ... while another transaction pauses and commits ...
      await late.query('begin');
      await late.query(`update subscriptions set pause_behavior = 'void' where id = $1`, [sub]);
      await late.query('commit');
      // ... and then the first resumes and commits.
      await early.query(`update subscriptions set pause_behavior = null where id = $1`, [sub]);
      await early.query('commit');
    } finally {
      await early.end();
      await late.end();
    }
    await pause(sub, 'void');
    // Make hears: active, paused, resumed, paused again.
    expect(await pauses(sub)).toEqual([null, 'void', null, 'void']);
  });
});
