// A dry-run pass (`payments-ops reconcile --dry-run`, server/reconcile/dryRun.ts): the real pass's
// counters, with nothing sent to Stripe and nothing left in the database; the pass after it does it all.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dryRunPass } from '../../server/reconcile/dryRun';
import { runReconciliation } from '../../server/reconcile/janitor';
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

const RETURN_URL = 'https://shop.test/checkout/return';

async function count(sql: string, params: unknown[] = []) {
  const { rows } = await server.app.db.query<{ n: number }>(`select count(*)::int as n from (${sql}) x`, params as string[]);
  return rows[0]!.n;
}

/** What a pass writes: its run, findings, orders, logs, stored events and cursors. */
async function written() {
  return {
    runs: await count('select * from reconciliation_runs'),
    findings: await count('select * from reconciliation_findings'),
    orders: await count('select * from orders'),
    logs: await count('select * from payment_logs'),
    events: await count('select * from stripe_events'),
    cursors: (await server.app.db.query('select * from reconciliation_cursors order by 1')).rows,
  };
}

describe('reconcile --dry-run', () => {
  it('counts an orphan it would adopt and one it would cancel, sends no cancel and writes nothing; the real pass then does both', async () => {
    const stripe = server.app.stripe;
    const metadata = (orderId: string) => ({ order_id: orderId, customer_id: randomUUID(), track: 'business_plan_builder', attempt: '1' });
    const paid = await stripe.paymentIntents.create({ amount: 9900, currency: 'usd', receipt_email: `paid-${randomUUID()}@example.com`, metadata: metadata(randomUUID()) });
    await stripe.paymentIntents.confirm(paid.id, { payment_method: 'pm_card_visa', return_url: RETURN_URL });
    const open = await stripe.paymentIntents.create({ amount: 9900, currency: 'usd', metadata: metadata(randomUUID()) });
    // Past RECONCILE_CANCEL_OPEN_ORPHANS_AFTER_HOURS (24), still inside a first pass's look-back (24 h
    // and 5 min): a real pass cancels it at Stripe.
    await server.app.stripeSandbox!.advanceClock(24 * 3600 + 60);
    const before = await written();

    const dry = await dryRunPass(server.app.reconciliation, { actor: 'cli:test@host' });

    expect(dry).toMatchObject({ outcome: 'succeeded', counters: { adopted: 1, canceled: 1 }, error: null });
    expect((await stripe.paymentIntents.retrieve(open.id)).status).toBe('requires_payment_method');
    expect(await written()).toEqual(before);

    const real = await runReconciliation(server.app.reconciliation, { trigger: 'manual', actor: 'test' });
    expect(real.run.counters).toMatchObject({ adopted: 1, canceled: 1 });
    expect((await stripe.paymentIntents.retrieve(open.id)).status).toBe('canceled');
    expect(await count('select * from reconciliation_runs')).toBe(before.runs + 1);
  });

  // Why a dry run once said `failed 1`, `would adopt 0` for a paid PaymentIntent we had no record of:
  // not the rolled-back transaction. Stripe had no email for its buyer (no receipt_email), and an order
  // is made for someone (order_create_from_payment needs the email), so no pass can adopt it: the real
  // pass counts the same and leaves the payment to a person as an open finding.
  it('counts a paid PaymentIntent with no buyer email as failed, not adopted, exactly as the real pass does, which leaves a finding', async () => {
    const stripe = server.app.stripe;
    const orderId = randomUUID();
    const paid = await stripe.paymentIntents.create({ amount: 9900, currency: 'usd', metadata: { order_id: orderId, customer_id: randomUUID(), track: 'business_plan_builder', attempt: '1' } });
    await stripe.paymentIntents.confirm(paid.id, { payment_method: 'pm_card_visa', return_url: RETURN_URL });
    const before = await written();

    const dry = await dryRunPass(server.app.reconciliation, { actor: 'cli:test@host' });

    expect(dry).toMatchObject({ outcome: 'succeeded', counters: { adopted: 0, failed: 1 }, error: null });
    expect(await written()).toEqual(before);
    const real = await runReconciliation(server.app.reconciliation, { trigger: 'manual', actor: 'test' });
    expect(real.run.counters).toMatchObject({ adopted: 0, failed: 1 });
    expect(await count('select * from orders where id = $1', [orderId])).toBe(0);
    const { rows } = await server.app.db.query('select kind, status, details from reconciliation_findings where subject = $1', [paid.id]);
    expect(rows).toEqual([{ kind: 'STRIPE_WITHOUT_RECORD', status: 'open', details: { error: 'unknown_payment' } }]);
  });

  // The real pass runs each statement on its own, so one the database refuses (an event's \u0000,
  // which jsonb cannot hold) is that item's failure and the pass goes on. In the dry run's one
  // transaction such a statement used to abort the transaction, and every statement after it failed.
  it('passes over a statement the database refuses as the real pass does, instead of failing whole', async () => {
    const stripe = server.app.stripe;
    const odd = await stripe.paymentIntents.create({ amount: 9900, currency: 'usd', metadata: { note: 'a\u0000b' } });
    await stripe.paymentIntents.cancel(odd.id);
    const before = await written();

    const dry = await dryRunPass(server.app.reconciliation, { actor: 'cli:test@host', since: new Date(Date.now() - 3_600_000) });

    expect(dry).toMatchObject({ outcome: 'succeeded', error: null });
    if (dry.outcome === 'busy') throw new Error('busy');
    expect(dry.counters.failed).toBeGreaterThanOrEqual(1);
    expect(await written()).toEqual(before);
    const real = await runReconciliation(server.app.reconciliation, { trigger: 'manual', actor: 'test', since: new Date(Date.now() - 3_600_000) });
    expect(real).toMatchObject({ outcome: 'succeeded', run: { counters: dry.counters } });
    expect(await count(`select * from payment_logs where event_type = 'reconcile.event_unstorable'`)).toBeGreaterThanOrEqual(1);
  });

  it('answers busy, doing nothing, while a pass is running', async () => {
    const running = await server.app.db.query<{ id: string }>(`insert into reconciliation_runs (trigger, actor, status) values ('manual', 'test', 'running') returning id`);
    try {
      const dry = await dryRunPass(server.app.reconciliation, { actor: 'cli:test@host' });
      expect(dry).toMatchObject({ outcome: 'busy', run: { id: running.rows[0]!.id } });
    } finally {
      await server.app.db.query(`update reconciliation_runs set status = 'failed', finished_at = now() where id = $1`, [running.rows[0]!.id]);
    }
  });
});
