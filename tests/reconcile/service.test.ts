// The Reconciliation service's passes (issue 17's runReconciliation and reconciliationStatus): a pass
// started in the background, found running by a second start, stopped by shutdown; the janitor's status;
// and where stored events came from. A gate over the real database holds a pass at one statement, so a
// test sees it running without racing it.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Db, Queryable } from '../../server/platform/db/db';
import { runReconciliation } from '../../server/reconcile/janitor';
import { readCursors } from '../../server/reconcile/reconcile.sql';
import { createReconciliation } from '../../server/reconcile/service';
import { type CheckoutServer, startCheckoutServer } from '../helpers/checkout';

let server: CheckoutServer;
beforeAll(async () => {
  server = await startCheckoutServer({ RECONCILE_INTERVAL: 'off' });
});
afterAll(() => server?.stop());
beforeEach(() => {
  server.app.stripeSandbox!.core.events.stopAutoDelivery();
  server.app.stripeSandbox!.webhookFaults.dropNext = 1_000_000;
});

const ADMIN = 'staff:11111111-2222-4333-8444-555555555555';

/** The real database, with statements matching `match` held until release() (and seen() resolving when one arrives). */
function gatedDb(real: Db, match: RegExp) {
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  let arrived: () => void = () => {};
  const seen = new Promise<void>((resolve) => (arrived = resolve));
  const wrap = (target: Queryable): Queryable => ({
    query: async (sql, params) => {
      if (match.test(sql)) {
        arrived();
        await opened;
      }
      return target.query(sql, params);
    },
    exec: (sql) => target.exec(sql),
  });
  const db: Db = { engine: real.engine, ...wrap(real), transaction: (fn) => real.transaction((tx) => fn(wrap(tx))), close: () => real.close() };
  return { db, seen, release: () => open() };
}

async function runOf(id: string) {
  const { rows } = await server.app.db.query<{ status: string; error: string | null; finished_at: string | null }>('select status, error, finished_at from reconciliation_runs where id = $1', [id]);
  return rows[0];
}

describe('start', () => {
  it('answers at once with the claimed run RUNNING; a second start meanwhile gets that run, not started; the pass ends succeeded', async () => {
    const gate = gatedDb(server.app.db, /reconcile_finish_run/);
    const reconciler = createReconciliation({ ...server.app.reconciliation, db: gate.db });

    const first = await reconciler.start({ trigger: 'manual', actor: ADMIN });
    expect(first).toMatchObject({ started: true, run: { status: 'running', trigger: 'manual', actor: ADMIN, finished_at: null } });
    await gate.seen; // the pass has done its work and is about to record its end
    const second = await reconciler.start({ trigger: 'cli', actor: 'cli:ops' });
    expect(second).toEqual({ started: false, run: expect.objectContaining({ id: first.run.id, status: 'running' }) });
    expect((await reconciler.status()).running).toMatchObject({ id: first.run.id });

    gate.release();
    await reconciler.idle();
    expect(await runOf(first.run.id)).toMatchObject({ status: 'succeeded', error: null, finished_at: expect.anything() });
    const { rows } = await server.app.db.query<{ n: number }>(`select count(*)::int as n from reconciliation_runs where actor = 'cli:ops'`);
    expect(rows[0]!.n).toBe(0);
  });

  it('widens steps 3 and 4 back to `since`: an orphan created before the cursor is found only with it', async () => {
    const intent = await server.app.stripe.paymentIntents.create({
      amount: 9900,
      currency: 'usd',
      metadata: { order_id: randomUUID(), customer_id: randomUUID(), track: 'business_plan_builder', attempt: '1' },
    });
    const createdAt = new Date(intent.created * 1000);
    // A pass has already read past it: the cursor is two hours after its creation.
    await server.app.stripeSandbox!.advanceClock(2 * 3600);
    await server.app.db.query(`update reconciliation_cursors set position = $1`, [new Date(createdAt.getTime() + 2 * 3600_000).toISOString()]);
    await server.app.db.query(`insert into reconciliation_cursors (name, position) values ('payment_intents', $1) on conflict do nothing`, [new Date(createdAt.getTime() + 2 * 3600_000).toISOString()]);
    const findings = async () => (await server.app.db.query('select kind from reconciliation_findings where subject = $1', [intent.id])).rows;

    await server.app.reconciler.start({ trigger: 'manual', actor: ADMIN });
    await server.app.reconciler.idle();
    expect(await findings()).toEqual([]);

    await server.app.reconciler.start({ trigger: 'manual', actor: ADMIN, since: new Date(createdAt.getTime() - 60_000) });
    await server.app.reconciler.idle();
    expect(await findings()).toEqual([{ kind: 'STRIPE_WITHOUT_RECORD' }]);
  });
});

describe('stop', () => {
  it('stops a background pass between items: its run fails and the cursors stay where they were', async () => {
    await runReconciliation(server.app.reconciliation, { trigger: 'manual', actor: 'test' });
    const before = await readCursors(server.app.db);
    // Held at its first page of provisional orders, before steps 2 to 4.
    const gate = gatedDb(server.app.db, /o\.sync_state = 'provisional'/);
    const reconciler = createReconciliation({ ...server.app.reconciliation, db: gate.db });
    const { run } = await reconciler.start({ trigger: 'manual', actor: ADMIN });
    await gate.seen;

    const stopped = reconciler.stop();
    gate.release();
    await stopped;
    expect(await runOf(run.id)).toMatchObject({ status: 'failed', error: expect.stringContaining('shutdown') });
    expect(await readCursors(server.app.db)).toEqual(before);
    await expect(reconciler.start({ trigger: 'manual', actor: ADMIN })).rejects.toThrow(/shutting down/);
  });
});

describe('status', () => {
  it('shows the last run, open findings by kind, and no schedule in a process that runs no jobs', async () => {
    const { rows } = await server.app.db.query<{ id: string }>(`insert into reconciliation_findings (kind, subject) values ('NEEDS_CLEANUP', $1) returning id`, [randomUUID()]);
    const { run } = await server.app.reconciler.start({ trigger: 'manual', actor: ADMIN });
    await server.app.reconciler.idle();

    const status = await server.app.reconciler.status();
    expect(status).toMatchObject({ running: null, lastRun: { id: run.id, status: 'succeeded' }, schedule: null, nextScheduledAt: null });
    expect(status.openByKind.NEEDS_CLEANUP).toBeGreaterThanOrEqual(1);
    await server.app.db.query(`update reconciliation_findings set status = 'resolved' where id = $1`, [rows[0]!.id]);
  });

  it('gives the schedule and its next time where this process schedules the janitor', async () => {
    const reconciler = createReconciliation({ ...server.app.reconciliation, schedulesJobs: true, settings: { ...server.app.reconciliation.settings, schedule: '*/5 * * * *' } });
    const status = await reconciler.status();
    expect(status.schedule).toBe('*/5 * * * *');
    expect(status.nextScheduledAt!.getTime()).toBeGreaterThan(Date.now());
    expect(status.nextScheduledAt!.getUTCMinutes() % 5).toBe(0);
    expect(status.nextScheduledAt!.getUTCSeconds()).toBe(0);
  });
});

describe('where a stored event came from', () => {
  it('marks events delivered to the endpoint `endpoint` and those the janitor listed from Stripe `backfill`', async () => {
    // Delivered: the sandbox sends this one to the endpoint.
    server.app.stripeSandbox!.webhookFaults.dropNext = 0;
    server.app.stripeSandbox!.core.events.startAutoDelivery();
    const delivered = await server.app.stripe.paymentIntents.create({ amount: 700, currency: 'usd', metadata: { source_test: 'delivered' } });
    await server.app.stripeSandbox!.flushWebhooks();
    server.app.stripeSandbox!.core.events.stopAutoDelivery();
    server.app.stripeSandbox!.webhookFaults.dropNext = 1_000_000;
    // Dropped: only the janitor's step 4 can store this one.
    const dropped = await server.app.stripe.paymentIntents.create({ amount: 701, currency: 'usd', metadata: { source_test: 'dropped' } });
    await runReconciliation(server.app.reconciliation, { trigger: 'manual', actor: 'test' });

    const sourceOf = async (objectId: string) =>
      (await server.app.db.query<{ source: string }>('select distinct source from stripe_events where object_id = $1', [objectId])).rows.map((r) => r.source);
    expect(await sourceOf(delivered.id)).toEqual(['endpoint']);
    expect(await sourceOf(dropped.id)).toEqual(['backfill']);
  });
});
