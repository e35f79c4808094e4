// The Overview's opsActivity(period) over real HTTP against the real server: staff only, a period that
// is not one of the enum's values refused before anything is read, the chart's buckets per period,
// and revenue by track (gross of orders paid in the period, refunds that succeeded in it, net).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signStaffToken } from '../../../server/auth/staffTokens';
import { type CheckoutServer, JWT_SECRET, startCheckoutServer } from '../../helpers/checkout';
import type { GraphQLResponse } from '../../helpers/server';

let server: CheckoutServer;
let support: { token: string };
let customer: { token: string };
const customerId = randomUUID();

const ACTIVITY = `query ($period: OpsPeriod!) {
  opsActivity(period: $period) {
    period
    buckets { start succeeded failed }
    revenueByTrack { track trackName gross { amount currency formatted } refunded { amount currency } net { amount currency formatted } }
  }
}`;

const ok = (response: GraphQLResponse) => {
  expect(response.body.errors).toBeUndefined();
  return response.body.data;
};

/** An order of `track` paid `ago` before now (its payment.paid log), `paidLogs` times. */
async function paidOrder(track: string, amount: number, ago: string, paidLogs = 1): Promise<string> {
  const id = randomUUID();
  const db = server.app.db;
  await db.query(
    `insert into orders (id, customer_id, product_id, price_id, amount, currency, status, sync_state)
     values ($1, $2, $3, $4, $5, 'usd', 'paid', 'confirmed')`,
    [id, customerId, track, `${track}_usd`, amount],
  );
  for (let i = 0; i < paidLogs; i++) {
    await db.query(
      `insert into payment_logs (event_type, customer_id, order_id, amount, currency, status, created_at) values ('payment.paid', $1, $2, $3, 'usd', 'paid', now() - $4::interval)`,
      [customerId, id, amount, ago],
    );
  }
  return id;
}

/** A succeeded refund of `amount` of the order, `ago` before now. */
async function refund(orderId: string, amount: number, ago: string) {
  const db = server.app.db;
  const paymentId = randomUUID();
  await db.query(`insert into payments (id, order_id, stripe_payment_intent_id, amount, currency, status) values ($1, $2, $3, $4, 'usd', 'succeeded')`, [paymentId, orderId, `pi_${paymentId.slice(0, 8)}`, 9900]);
  await db.query(
    `insert into refunds (id, order_id, payment_id, amount, currency, status, created_at, updated_at) values ($1, $2, $3, $4, 'usd', 'succeeded', now() - $5::interval, now() - $5::interval)`,
    [`re_${randomUUID().slice(0, 12)}`, orderId, paymentId, amount, ago],
  );
}

beforeAll(async () => {
  server = await startCheckoutServer({ JOBS_ENABLED: 'false' });
  support = { token: await signStaffToken(JWT_SECRET, { userId: randomUUID(), email: 'support@staff.test', staffRole: 'support', audience: 'authenticated', expiresIn: '1h' }) };
  customer = { token: await server.customerToken() };
  await server.app.db.query(`insert into customers (id, email) values ($1, 'lead@example.com')`, [customerId]);
  const recent = await paidOrder('business_plan_builder', 9900, '1 hour', 2); // two payment.paid rows: counted once
  await paidOrder('business_plan_builder', 9900, '3 days');
  await paidOrder('website_audit_feedback', 7900, '20 days');
  const old = await paidOrder('website_audit_feedback', 7900, '40 days'); // outside every period
  await refund(recent, 2000, '30 minutes');
  await refund(old, 7900, '2 days'); // an old order refunded this week
  await server.app.db.query(
    `insert into payment_logs (event_type, customer_id, status, created_at) values ('payment.failed', $1, 'failed', now() - interval '2 hours')`,
    [customerId],
  );
});
afterAll(() => server?.stop());

describe('opsActivity', () => {
  it('is refused to a customer (FORBIDDEN) and to an anonymous caller (UNAUTHENTICATED), with nothing answered', async () => {
    const forbidden = await server.graphql(ACTIVITY, { variables: { period: 'DAY' }, ...customer });
    expect(forbidden.body.data ?? null).toBeNull();
    expect(forbidden.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const anonymous = await server.graphql(ACTIVITY, { variables: { period: 'DAY' } });
    expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('refuses a period that is not DAY, WEEK or MONTH as BAD_USER_INPUT', async () => {
    for (const period of ['YEAR', 'day', '', 7]) {
      const response = await server.graphql(ACTIVITY, { variables: { period }, ...support });
      expect(response.body.data ?? null).toBeNull();
      expect(response.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
  });

  it('answers 24 hourly buckets, 7 and 30 daily ones, oldest first, with the payments in them', async () => {
    for (const [period, count, step] of [['DAY', 24, 3_600_000], ['WEEK', 7, 86_400_000], ['MONTH', 30, 86_400_000]] as const) {
      const { opsActivity } = ok(await server.graphql(ACTIVITY, { variables: { period }, ...support }));
      expect(opsActivity.period).toBe(period);
      expect(opsActivity.buckets).toHaveLength(count);
      const starts = opsActivity.buckets.map((b: { start: string }) => Date.parse(b.start));
      expect(starts.at(-1)! - starts[0]!).toBe((count - 1) * step);
      const total = (key: 'succeeded' | 'failed') => opsActivity.buckets.reduce((sum: number, b: Record<string, number>) => sum + (b[key] ?? 0), 0);
      expect({ succeeded: total('succeeded'), failed: total('failed') }).toEqual(
        { DAY: { succeeded: 2, failed: 1 }, WEEK: { succeeded: 3, failed: 1 }, MONTH: { succeeded: 4, failed: 1 } }[period],
      );
    }
  });

  it('sums gross (each order once), refunded and net by track for the period', async () => {
    const revenue = async (period: string) => ok(await server.graphql(ACTIVITY, { variables: { period }, ...support })).opsActivity.revenueByTrack;
    expect(await revenue('DAY')).toEqual([
      {
        track: 'business_plan_builder',
        trackName: expect.any(String),
        gross: { amount: 9900, currency: 'usd', formatted: '$99.00' },
        refunded: { amount: 2000, currency: 'usd' },
        net: { amount: 7900, currency: 'usd', formatted: '$79.00' },
      },
    ]);
    const week = await revenue('WEEK');
    expect(week.map((r: { track: string; gross: { amount: number }; refunded: { amount: number }; net: { amount: number } }) => [r.track, r.gross.amount, r.refunded.amount, r.net.amount])).toEqual([
      ['business_plan_builder', 19800, 2000, 17800],
      // Refunded this week, paid before it: a negative net, not left out.
      ['website_audit_feedback', 0, 7900, -7900],
    ]);
    const month = await revenue('MONTH');
    expect(month.map((r: { track: string; net: { amount: number } }) => [r.track, r.net.amount])).toEqual([
      ['business_plan_builder', 17800],
      ['website_audit_feedback', 0],
    ]);
  });
});
