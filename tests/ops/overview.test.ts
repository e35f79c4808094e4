// The Overview's numbers and alert conditions, from rows placed in time relative to the database's clock.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Db, Queryable } from '../../server/platform/db/db';
import { opsOverview } from '../../server/ops/overview.sql';
import { createTestDb, type TestDb } from '../helpers/db';

let testDb: TestDb;
let db: Db;
const customerId = randomUUID();

beforeAll(async () => {
  testDb = await createTestDb();
  db = testDb.db;
  await db.query(`insert into customers (id, email) values ($1, 'lead@example.com')`, [customerId]);
});
afterAll(() => testDb?.close());
beforeEach(async () => {
  await db.query('delete from payment_logs');
  await db.query('delete from make_deliveries');
  await db.query('delete from orders');
  await db.query('delete from stripe_events');
  await db.query('delete from ops_alerts');
});

/** A payment log row `ago` (an SQL interval) before now. */
const log = (q: Queryable, eventType: string, ago: string) =>
  q.query(`insert into payment_logs (event_type, customer_id, status, created_at) values ($1, $2, 'x', now() - $3::interval)`, [eventType, customerId, ago]);

/** Orders with the given sync state, changed `ago` before now. */
async function orders(count: number, syncState: string | null, ago = '1 hour') {
  for (let i = 0; i < count; i++) {
    await db.query(
      `insert into orders (customer_id, product_id, price_id, amount, currency, sync_state, updated_at)
       values ($1, 'business_plan_builder', 'business_plan_builder_usd', 9900, 'usd', $2, now() - $3::interval)`,
      [customerId, syncState, ago],
    );
  }
}

describe('opsOverview', () => {
  it('is all zeros, 24 empty hours and no alert on a quiet system', async () => {
    const overview = await opsOverview(db);
    expect(overview).toMatchObject({ paymentsToday: 0, failureRate: 0, syncFailureRate: 0, webhookBacklog: 0, webhookLagSeconds: null, alerts: [] });
    expect(overview.hourly).toHaveLength(24);
    expect(overview.hourly.every((h) => h.succeeded === 0 && h.failed === 0)).toBe(true);
  });

  // In one transaction, so that now() is one instant for the rows and the figures (an hour or a day
  // that turned between the two would move the rows to another bucket).
  it('counts payments per hour over the last 24, and the failure rate over those hours', async () => {
    const overview = await db.transaction(async (tx) => {
      await log(tx, 'payment.paid', '0 minutes');
      await log(tx, 'payment.paid', '0 minutes');
      await log(tx, 'payment.failed', '0 minutes');
      await log(tx, 'payment.paid', '5 hours');
      await log(tx, 'payment.failed', '30 hours'); // outside the window
      await log(tx, 'payment.pending', '0 minutes'); // not an outcome
      return opsOverview(tx);
    });
    const last = overview.hourly[23]!;
    expect(last).toMatchObject({ succeeded: 2, failed: 1 });
    expect(overview.hourly.reduce((sum, h) => sum + h.succeeded, 0)).toBe(3);
    expect(overview.hourly[23]!.hour.getTime() - overview.hourly[0]!.hour.getTime()).toBe(23 * 3_600_000);
    expect(overview.failureRate).toBeCloseTo(1 / 4);
  });

  it('counts payments since midnight UTC as today', async () => {
    const overview = await db.transaction(async (tx) => {
      await tx.query(
        `insert into payment_logs (event_type, customer_id, status, created_at)
         values ('payment.paid', $1, 'x', date_trunc('day', now() at time zone 'UTC') at time zone 'UTC'),
                ('payment.paid', $1, 'x', (date_trunc('day', now() at time zone 'UTC') at time zone 'UTC') - interval '1 second')`,
        [customerId],
      );
      return opsOverview(tx);
    });
    expect(overview.paymentsToday).toBe(1);
  });

  it('raises the sync failure alert over 5% of the orders synced in the last 24 hours, not at 5%', async () => {
    await orders(19, 'confirmed');
    await orders(1, 'failed');
    await orders(5, 'failed', '2 days'); // long ago
    await orders(3, null); // never synced
    const atFive = await opsOverview(db);
    expect(atFive.syncFailureRate).toBeCloseTo(0.05);
    expect(atFive.alerts).toEqual([]);
    await orders(1, 'failed');
    const over = await opsOverview(db);
    expect(over.alerts).toEqual([{ code: 'SYNC_FAILURE_RATE', title: 'Sync failure rate over 5%', message: expect.stringContaining('2 of 21'), since: null }]);
  });

  it('reports the webhook backlog and raises the lag alert past 10 minutes', async () => {
    const event = (id: string, receivedAgo: string, status = 'received') =>
      db.query(
        `insert into stripe_events (id, type, created, livemode, payload, status, received_at)
         values ($1, 'payment_intent.succeeded', now(), false, '{}', $2, now() - $3::interval)`,
        [id, status, receivedAgo],
      );
    await event('evt_lag_recent', '1 minute');
    await event('evt_lag_applied', '1 hour', 'applied');
    const recent = await opsOverview(db);
    expect(recent).toMatchObject({ webhookBacklog: 1, alerts: [] });
    expect(recent.webhookLagSeconds).toBeGreaterThanOrEqual(60);
    await event('evt_lag_old', '11 minutes');
    const lagging = await opsOverview(db);
    expect(lagging.webhookBacklog).toBe(2);
    expect(lagging.alerts).toEqual([{ code: 'WEBHOOK_LAG', title: 'Webhook lag over 10 minutes', message: expect.stringContaining('11 minutes'), since: null }]);
  });

  it('counts Make deliveries failing (waiting to retry after a failed attempt) and dead', async () => {
    const delivery = (status: string, attempts: number) => {
      const id = randomUUID();
      return db.query(`insert into make_deliveries (id, kind, dedupe_key, payload, status, attempts) values ($1, 'add_project', $2, '{}', $3, $4)`, [id, id, status, attempts]);
    };
    await delivery('pending', 0); // not tried yet
    await delivery('pending', 2);
    await delivery('pending', 1);
    await delivery('delivering', 1);
    await delivery('delivered', 3);
    await delivery('dead', 9);
    expect(await opsOverview(db)).toMatchObject({ makeFailing: 2, makeDead: 1 });
  });
});
