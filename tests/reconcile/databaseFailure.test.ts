// The database failing in the middle of a janitor pass (issue 17): one statement refused, or the
// database going away altogether, while the pass has already settled part of what it found. Real
// server in sandbox mode; the faults come from a decorator over the real engine (server/platform/db/faultyDb.ts).
// What must hold: the pass ends failed (or, when not even its end can be written, this process
// records it failed before its next pass), nothing is half-written (every finding and reconcile.* log names a run that
// exists, every paid order has its one payment), the cursors stay where they were, and the next pass
// settles the rest without doing anything twice.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Db, Queryable, SqlParam } from '../../server/platform/db/db';
import { DatabaseUnavailableError } from '../../server/platform/db/errors';
import { runReconciliation } from '../../server/reconcile/janitor';
import { readCursors } from '../../server/reconcile/reconcile.sql';
import { type CheckoutServer, newKey, startCheckoutServer } from '../helpers/checkout';
import { type FaultyDb, faultyDb, InjectedDbError } from '../../server/platform/db/faultyDb';

/**
 * The database is unreachable while `down` is set (every statement fails, as when it stops), and
 * refuses the statements matching `refusing` while that is set (a lock timeout, a full disk), however
 * often they are retried.
 */
const outage: { down: boolean; refusing: RegExp | null; lostOnce: RegExp | null } = { down: false, refusing: null, lostOnce: null };
function withOutage(real: Db): Db {
  const guard = (sql: string) => {
    // What the Db port throws when PostgreSQL cannot be reached (server/platform/db/errors.ts).
    if (outage.down) throw new DatabaseUnavailableError(new InjectedDbError('injected outage: the database is down'));
    if (outage.refusing?.test(sql)) throw new InjectedDbError(`injected database failure: ${outage.refusing}`);
    // One statement lost to a brief outage (a PostgreSQL restart), the next one fine.
    if (outage.lostOnce?.test(sql)) {
      outage.lostOnce = null;
      throw new DatabaseUnavailableError(new InjectedDbError('injected outage: one statement lost'));
    }
  };
  const wrap = (target: Queryable): Queryable => ({
    query: async (sql, params) => {
      guard(sql);
      return target.query(sql, params);
    },
    exec: async (sql) => {
      guard(sql);
      return target.exec(sql);
    },
  });
  return { ...real, ...wrap(real), transaction: (fn) => real.transaction((tx) => fn(wrap(tx))), close: () => real.close() };
}

let server: CheckoutServer;
let faults: FaultyDb;
beforeAll(async () => {
  server = await startCheckoutServer({ RECONCILE_INTERVAL: 'off' }, { wrapDb: (db) => withOutage((faults = faultyDb(db)).db) });
});
afterAll(() => server?.stop());
beforeEach(() => {
  outage.down = false;
  outage.refusing = null;
  outage.lostOnce = null;
  server.app.stripeSandbox!.core.events.stopAutoDelivery();
  server.app.stripeSandbox!.webhookFaults.dropNext = 1_000_000;
});

const RETURN_URL = 'https://shop.test/checkout/return';
const sandbox = () => server.app.stripeSandbox!;
const db = () => server.app.db;
const pass = () => runReconciliation(server.app.reconciliation, { trigger: 'manual', actor: 'test' });

/** What a pass has to settle: an order whose webhook never came, a PaymentIntent paid at Stripe we never recorded, their events. */
async function unsettled() {
  const created = (await server.createPaymentIntent({ idempotencyKey: newKey(), track: 'business_plan_builder', email: `guest-${randomUUID()}@example.com` })).body.data.createPaymentIntent;
  await server.app.stripe.paymentIntents.confirm(created.paymentIntentId, { payment_method: 'pm_card_visa', return_url: RETURN_URL });
  const confirmed = (await server.confirmPayment({ paymentIntentId: created.paymentIntentId })).body.data.confirmPayment;
  expect(confirmed.order).toMatchObject({ status: 'PAID', syncState: 'PROVISIONAL' });
  const orphanOrderId = randomUUID();
  const orphan = await server.app.stripe.paymentIntents.create({
    amount: 9900,
    currency: 'usd',
    receipt_email: `orphan-${randomUUID()}@example.com`,
    metadata: { order_id: orphanOrderId, customer_id: randomUUID(), track: 'business_plan_builder', attempt: '1' },
  });
  await server.app.stripe.paymentIntents.confirm(orphan.id, { payment_method: 'pm_card_visa', return_url: RETURN_URL });
  await sandbox().advanceClock(121);
  return { provisionalOrderId: confirmed.order.id as string, orphanOrderId, orphanId: orphan.id };
}

/** Nothing half-written: no finding or janitor log without its run, no paid order without its payment. */
async function nothingHalfWritten() {
  const { rows } = await db().query<{ findings: number; logs: number; paid_without_payment: number }>(
    `select (select count(*)::int from reconciliation_findings f where f.run_id is null or not exists (select 1 from reconciliation_runs r where r.id = f.run_id)) as findings,
            (select count(*)::int from payment_logs l where l.event_type like 'reconcile.%'
               and not exists (select 1 from reconciliation_runs r where r.id::text = l.metadata->>'run_id')) as logs,
            (select count(*)::int from orders o where o.status = 'paid' and not exists (select 1 from payments p where p.order_id = o.id)) as paid_without_payment`,
  );
  expect(rows[0]).toEqual({ findings: 0, logs: 0, paid_without_payment: 0 });
}

/** What the janitor did to each, counted over every pass: each thing once. */
async function doneOnce(s: { provisionalOrderId: string; orphanOrderId: string; orphanId: string }) {
  const count = async (sql: string, params: SqlParam[]) => (await db().query<{ n: number }>(sql, params)).rows[0]!.n;
  return {
    provisional: await db().query('select status, sync_state from orders where id = $1', [s.provisionalOrderId]).then((r) => r.rows[0]),
    synced: await count(`select count(*)::int as n from payment_logs where order_id = $1 and event_type = 'reconcile.order_synced'`, [s.provisionalOrderId]),
    provisionalPaidLogs: await count(`select count(*)::int as n from payment_logs where order_id = $1 and event_type = 'payment.paid'`, [s.provisionalOrderId]),
    orphan: await db().query('select status, sync_state from orders where id = $1', [s.orphanOrderId]).then((r) => r.rows[0]),
    adopted: await count(`select count(*)::int as n from payment_logs where event_type = 'reconcile.adopted' and metadata->>'stripe_object_id' = $1`, [s.orphanId]),
    orphanPayments: await count('select count(*)::int as n from payments where stripe_payment_intent_id = $1', [s.orphanId]),
    addProject: await count(`select count(*)::int as n from make_deliveries where kind = 'add_project' and order_id = any($1::uuid[])`, [[s.provisionalOrderId, s.orphanOrderId]]),
  };
}

const settledOnce = {
  provisional: { status: 'paid', sync_state: 'confirmed' },
  synced: 1,
  provisionalPaidLogs: 1,
  orphan: { status: 'paid', sync_state: 'confirmed' },
  adopted: 1,
  orphanPayments: 1,
  addProject: 2,
};

async function runningRuns() {
  return (await db().query<{ id: string }>(`select id from reconciliation_runs where status = 'running'`)).rows;
}

describe('the database refusing writes in the middle of a pass', () => {
  it('fails the pass with the error and the cursors unmoved, leaves nothing half-written, and the next pass settles the rest once', async () => {
    await pass();
    const cursors = await readCursors(db());
    const s = await unsettled();
    // Steps 1 and 3 have settled the order and the orphan by the time step 4 stores its first event;
    // no event can be stored during this pass (the event store's own retry one by one included).
    outage.refusing = /stripe_events_store/;

    const failed = await pass();
    outage.refusing = null;
    expect(failed).toMatchObject({ outcome: 'failed', run: { status: 'failed', error: expect.stringContaining('injected database failure'), finished_at: expect.any(String) } });
    expect(failed.run.counters).toMatchObject({ synced: 1, adopted: 1 });
    expect(await readCursors(db())).toEqual(cursors);
    expect(await runningRuns()).toEqual([]);
    await nothingHalfWritten();

    const next = await pass();
    expect(next).toMatchObject({ outcome: 'succeeded', run: { error: null, counters: { synced: 0, adopted: 0, failed: 0 } } });
    expect(next.run.counters.eventsBackfilled).toBeGreaterThan(0);
    await expect.poll(async () => (await db().query<{ n: number }>(`select count(*)::int as n from stripe_events where status = 'received'`)).rows[0]!.n).toBe(0);
    await nothingHalfWritten();
    expect(await doneOnce(s)).toEqual(settledOnce);
    expect((await readCursors(db())).events!.getTime()).toBeGreaterThan(cursors.events!.getTime());
  });
});

describe('the statement that ends a pass refused', () => {
  it('records the pass failed instead, with the cursors where they were: they move only in the statement that records success', async () => {
    await pass();
    const cursors = await readCursors(db());
    const s = await unsettled();
    faults.failNext(/reconcile_finish_run/);

    const failed = await pass();
    expect(failed).toMatchObject({ outcome: 'failed', run: { status: 'failed', error: expect.stringContaining('injected database failure') } });
    expect(await readCursors(db())).toEqual(cursors);
    expect(await runningRuns()).toEqual([]);
    await nothingHalfWritten();

    // What the failed pass did stays done; the next one reads the same window and does none of it again.
    const next = await pass();
    expect(next).toMatchObject({ outcome: 'succeeded', run: { error: null, counters: { synced: 0, adopted: 0, eventsBackfilled: 0 } } });
    await expect.poll(async () => (await db().query<{ n: number }>(`select count(*)::int as n from stripe_events where status = 'received'`)).rows[0]!.n).toBe(0);
    expect(await doneOnce(s)).toEqual(settledOnce);
  });
});

describe('the database lost for one statement of one item', () => {
  it('fails the pass rather than recording a finding about a healthy order, and the next pass confirms it', async () => {
    await pass();
    const s = await unsettled();
    // Step 1 applies what Stripe says about the provisional order: that statement is lost.
    outage.lostOnce = /order_apply_payment/;
    const failed = await pass();
    expect(failed).toMatchObject({ outcome: 'failed', run: { status: 'failed' } });
    const findings = await db().query('select kind from reconciliation_findings where order_id = $1', [s.provisionalOrderId]);
    expect(findings.rows).toEqual([]);

    expect(await pass()).toMatchObject({ outcome: 'succeeded' });
    expect((await doneOnce(s)).provisional).toEqual({ status: 'paid', sync_state: 'confirmed' });
    await nothingHalfWritten();
  });
});

describe('the database going away in the middle of a pass', () => {
  it('leaves no half-written adoption and the cursors unmoved; its run, whose end could not be written, is recorded failed by this process before its next pass, which settles the rest once', async () => {
    await pass();
    const cursors = await readCursors(db());
    const s = await unsettled();
    // Step 1 has confirmed the order; the database stops as step 3 makes the orphan's order.
    faults.failNext(/order_create_from_payment/, { onFail: () => (outage.down = true) });

    const cut = await pass().then(
      (result) => ({ result, error: undefined }),
      (error: unknown) => ({ result: undefined, error }),
    );
    outage.down = false;
    // Nothing could be written once the database went, not even the pass's end: the pass rejects with
    // the database's error (the job runner logs it and backs off).
    expect(cut).toEqual({ result: undefined, error: expect.any(DatabaseUnavailableError) });
    expect(await readCursors(db())).toEqual(cursors);
    await nothingHalfWritten();
    expect(await db().query('select count(*)::int as n from orders where id = $1', [s.orphanOrderId]).then((r) => r.rows[0])).toEqual({ n: 0 });
    expect((await doneOnce(s)).provisional).toEqual({ status: 'paid', sync_state: 'confirmed' });

    // The run says `running` still: its end could not be written. This process remembers it and
    // records it failed before it claims the next pass, so the janitor resumes as soon as the database
    // is back (the 15-minute takeover is for a process that died: janitor.test.ts).
    const [stuck] = await runningRuns();
    expect(stuck).toBeDefined();

    const next = await pass();
    expect(next).toMatchObject({ outcome: 'succeeded', run: { error: null, counters: { adopted: 1, failed: 0 } } });
    const { rows } = await db().query<{ status: string; error: string }>('select status, error from reconciliation_runs where id = $1', [stuck!.id]);
    expect(rows).toEqual([{ status: 'failed', error: expect.stringContaining('recorded late: the database was unavailable') }]);
    await expect.poll(async () => (await db().query<{ n: number }>(`select count(*)::int as n from stripe_events where status = 'received'`)).rows[0]!.n).toBe(0);
    await nothingHalfWritten();
    expect(await doneOnce(s)).toEqual(settledOnce);
  });
});
