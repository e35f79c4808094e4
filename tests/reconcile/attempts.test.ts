// Step 2 of the janitor (issue 17): attempts left `creating` or `needs_cleanup` by real failures of the
// checkout path (database faults injected by a decorator over the real engine, Stripe faults by the
// sandbox), then settled by a pass without ever sending a create again.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runReconciliation } from '../../server/reconcile/janitor';
import { type CheckoutServer, newKey, startCheckoutServer } from '../helpers/checkout';
import { type FaultyDb, faultyDb } from '../../server/platform/db/faultyDb';

let server: CheckoutServer;
let faults: FaultyDb;
beforeAll(async () => {
  server = await startCheckoutServer({ RECONCILE_INTERVAL: 'off' }, { wrapDb: (db) => (faults = faultyDb(db)).db });
});
afterAll(() => server?.stop());
beforeEach(() => {
  server.app.stripeSandbox!.core.events.stopAutoDelivery();
  server.app.stripeSandbox!.webhookFaults.dropNext = 1_000_000;
});

const RECORD = /checkout_record_attempt/;
const MARK = /checkout_mark_attempt/;
const sandbox = () => server.app.stripeSandbox!;
const guest = () => ({ idempotencyKey: newKey(), track: 'business_plan_builder', email: `guest-${randomUUID()}@example.com` });
const pass = () => runReconciliation(server.app.reconciliation, { trigger: 'manual', actor: 'test' });
const intentsFor = async (orderId: string) => (await server.app.stripe.paymentIntents.list({ limit: 100 })).data.filter((pi) => pi.metadata.order_id === orderId);

async function attemptsOf(email: string) {
  const { rows } = await server.app.db.query<{ id: string; order_id: string; status: string; stripe_object_id: string | null; last_error: string | null }>(
    `select a.id, a.order_id, a.status, a.stripe_object_id, a.last_error from payment_attempts a
       join orders o on o.id = a.order_id join customers c on c.id = o.customer_id where c.email = $1 order by a.attempt`,
    [email],
  );
  return rows;
}

async function janitorLogs(orderId: string) {
  const { rows } = await server.app.db.query<{ event_type: string }>(`select event_type from payment_logs where order_id = $1 and event_type like 'reconcile.%' order by id`, [orderId]);
  return rows.map((r) => r.event_type);
}

describe('step 2: our attempts without a known object', () => {
  it('cancels at Stripe the PaymentIntent of a needs_cleanup attempt (record and compensation both failed), with the attempt’s key', async () => {
    const input = guest();
    faults.failNext(RECORD, { onFail: () => sandbox().failNext('api_error', 'api_error') });
    await server.createPaymentIntent(input);
    const [stuck] = await attemptsOf(input.email);
    expect(stuck).toMatchObject({ status: 'needs_cleanup', stripe_object_id: expect.stringMatching(/^pi_/) });

    const result = await pass();
    expect(result.run.counters).toMatchObject({ canceled: 1 });
    // The order was never paid: the PaymentIntent was abandoned, not a duplicate.
    expect(await server.app.stripe.paymentIntents.retrieve(stuck!.stripe_object_id!)).toMatchObject({ status: 'canceled', cancellation_reason: 'abandoned' });
    expect(await attemptsOf(input.email)).toMatchObject([{ status: 'canceled', stripe_object_id: stuck!.stripe_object_id }]);
    expect(await janitorLogs(stuck!.order_id)).toEqual(['reconcile.attempt_canceled']);
  });

  it('records the PaymentIntent of an attempt left creating by a crash, found by its metadata, without a second create', async () => {
    const input = guest();
    faults.failNext(RECORD, { onFail: () => sandbox().failNext('connection_reset', 'connection_reset') });
    faults.failNext(MARK);
    await server.createPaymentIntent(input);
    const [stranded] = await attemptsOf(input.email);
    expect(stranded).toMatchObject({ status: 'creating', stripe_object_id: null });
    const [made] = await intentsFor(stranded!.order_id);

    // Under 5 minutes a request may still be working on it: left alone.
    await pass();
    expect((await attemptsOf(input.email))[0]).toMatchObject({ status: 'creating' });

    await sandbox().advanceClock(301);
    await pass();
    expect(await attemptsOf(input.email)).toMatchObject([{ status: 'open', stripe_object_id: made!.id }]);
    expect((await intentsFor(stranded!.order_id)).map((pi) => pi.id)).toEqual([made!.id]);
    expect(await janitorLogs(stranded!.order_id)).toEqual(['reconcile.attempt_recorded']);
  });

  it('applies the payment of a crashed attempt the customer paid at Stripe', async () => {
    const input = guest();
    faults.failNext(RECORD, { onFail: () => sandbox().failNext('connection_reset', 'connection_reset') });
    faults.failNext(MARK);
    await server.createPaymentIntent(input);
    const [stranded] = await attemptsOf(input.email);
    const [made] = await intentsFor(stranded!.order_id);
    await server.app.stripe.paymentIntents.confirm(made!.id, { payment_method: 'pm_card_visa', return_url: 'https://shop.test/return' });

    await server.app.db.query(`update payment_attempts set updated_at = updated_at - interval '301 seconds' where id = $1`, [stranded!.id]);
    await pass();
    expect(await attemptsOf(input.email)).toMatchObject([{ status: 'succeeded', stripe_object_id: made!.id }]);
    const { rows } = await server.app.db.query('select status, sync_state from orders where id = $1', [stranded!.order_id]);
    expect(rows).toEqual([{ status: 'paid', sync_state: 'confirmed' }]);
  });

  it('abandons an attempt Stripe made nothing for (an outage during the create)', async () => {
    const input = guest();
    sandbox().failNext('api_error', 'api_error');
    await server.createPaymentIntent(input);
    const [attempt] = await attemptsOf(input.email);
    expect(attempt).toMatchObject({ status: 'creating', stripe_object_id: null });

    await server.app.db.query(`update payment_attempts set updated_at = updated_at - interval '301 seconds' where id = $1`, [attempt!.id]);
    await pass();
    expect(await attemptsOf(input.email)).toMatchObject([{ status: 'abandoned', last_error: expect.stringContaining('abandoned') }]);
    expect(await intentsFor(attempt!.order_id)).toEqual([]);
    expect(await janitorLogs(attempt!.order_id)).toEqual(['reconcile.attempt_abandoned']);
  });
});
