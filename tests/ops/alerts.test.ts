// The alert conditions of DESIGN.md decision 12, from rows placed in time relative to the database's
// clock, and the one definition shared by the Overview and the alert job.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../server/platform/db/db';
import { createLogger } from '../../server/platform/observability/logger';
import { createAlertMonitor } from '../../server/ops/alertMonitor';
import { alertFigures, evaluateAlerts } from '../../server/ops/alerts';
import { opsOverview } from '../../server/ops/overview.sql';
import { createTestDb, type TestDb } from '../helpers/db';
import { LogCapture } from '../helpers/server';

let testDb: TestDb;
let db: Db;
const customerId = randomUUID();

beforeAll(async () => {
  testDb = await createTestDb();
  db = testDb.db;
  await db.query(`insert into customers (id, email) values ($1, 'alerts@example.com')`, [customerId]);
});
afterAll(() => testDb?.close());
beforeEach(async () => {
  await db.query('delete from payment_logs');
  await db.query('delete from make_deliveries');
  await db.query('delete from stripe_events');
  await db.query('delete from ops_alerts');
});

/** `count` payment outcomes of one kind, `ago` (an SQL interval) before now. */
async function outcomes(count: number, eventType: 'payment.paid' | 'payment.failed', ago = '1 minute') {
  await db.query(
    `insert into payment_logs (event_type, customer_id, status, created_at)
     select $1, $2, 'x', now() - $3::interval from generate_series(1, $4::int)`,
    [eventType, customerId, ago, count],
  );
}

const holding = async () => evaluateAlerts(await alertFigures(db)).filter((a) => a.holding).map((a) => a.code);

describe('the payment failure alert', () => {
  it('holds over 5% of the payments in the last 15 minutes, with at least 20 of them', async () => {
    await outcomes(18, 'payment.paid');
    await outcomes(1, 'payment.failed');
    expect(await holding()).toEqual([]); // 1 of 19: too few payments to judge

    await outcomes(1, 'payment.paid');
    expect(await holding()).toEqual([]); // 1 of 20 is 5%, not over

    await outcomes(1, 'payment.failed');
    expect(await holding()).toEqual(['PAYMENT_FAILURE_RATE']); // 2 of 21
    const [alert] = evaluateAlerts(await alertFigures(db)).filter((a) => a.holding);
    expect(alert).toMatchObject({
      title: 'Payment failure rate over 5% in 15 minutes',
      message: '9.5% of the payments in the last 15 minutes failed (2 of 21); the alert is over 5% with at least 20 payments.',
      figures: { failedPayments15m: 2, payments15m: 21 },
    });
  });

  it('counts only the last 15 minutes', async () => {
    await outcomes(20, 'payment.paid', '20 minutes');
    await outcomes(10, 'payment.failed', '20 minutes');
    await outcomes(5, 'payment.failed');
    expect(await alertFigures(db)).toMatchObject({ payments15m: 5, failedPayments15m: 5 });
    expect(await holding()).toEqual([]);
  });
});

describe('one definition', () => {
  it('holds any dead Make delivery and any failed webhook event; orphaned payments only while a reconciliation finding is open', async () => {
    const id = randomUUID();
    await db.query(`insert into make_deliveries (id, kind, dedupe_key, payload, status, attempts) values ($1, 'add_project', $2, '{}', 'dead', 9)`, [id, id]);
    await db.query(`insert into stripe_events (id, type, created, livemode, payload, status) values ('evt_alerts_failed', 'charge.refunded', now(), false, '{}', 'failed')`);
    const evaluations = evaluateAlerts(await alertFigures(db));
    expect(evaluations.find((a) => a.code === 'ORPHANED_PAYMENTS')).toMatchObject({ holding: false, figures: { openOrphanedPayments: 0 } });
    expect(evaluations.filter((a) => a.holding).map((a) => a.code)).toEqual(['MAKE_DEAD', 'WEBHOOK_FAILED']);

    await db.query(`insert into reconciliation_findings (kind, subject, stripe_object_id) values ('STRIPE_WITHOUT_RECORD', 'pi_alerts_orphan', 'pi_alerts_orphan')`);
    const withFinding = evaluateAlerts(await alertFigures(db));
    expect(withFinding.find((a) => a.code === 'ORPHANED_PAYMENTS')).toMatchObject({ holding: true, message: '1 orphaned payment found by reconciliation is open.' });
    await db.query(`update reconciliation_findings set status = 'resolved' where subject = 'pi_alerts_orphan'`);
  });

  it('gives the Overview the alerts the job records, with the onset the job recorded', async () => {
    await outcomes(20, 'payment.paid');
    await outcomes(2, 'payment.failed');
    const id = randomUUID();
    await db.query(`insert into make_deliveries (id, kind, dedupe_key, payload, status, attempts) values ($1, 'add_project', $2, '{}', 'dead', 9)`, [id, id]);

    const monitor = createAlertMonitor({ db, logger: createLogger({ level: 'info', destination: new LogCapture() }), notify: () => undefined });
    const result = await monitor.evaluate();
    if (result.outcome !== 'evaluated') throw new Error('the only evaluator was skipped');

    const overview = await opsOverview(db);
    expect(overview).toMatchObject({ paymentsLast15Minutes: 22, failedPaymentsLast15Minutes: 2, makeDead: 1 });
    expect(overview.alerts).toEqual(result.onsets.map((onset) => ({ code: onset.code, title: onset.title, message: onset.message, since: onset.since })));
    expect(overview.alerts.map((a) => a.code)).toEqual(['PAYMENT_FAILURE_RATE', 'MAKE_DEAD']);
  });
});
