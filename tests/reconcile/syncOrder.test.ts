// "Sync with Stripe" on one order (issue 17's syncOrder, through the Reconciliation service): each
// outcome against the sandbox with every webhook dropped, so what the order learns comes from the sync.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
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

const RETURN_URL = 'https://shop.test/checkout/return';
const SUPPORT = 'staff:22222222-3333-4444-8555-666666666666';
const sandbox = () => server.app.stripeSandbox!;
const guest = () => ({ idempotencyKey: newKey(), track: 'business_plan_builder', email: `guest-${randomUUID()}@example.com` });
const sync = (orderId: string) => server.app.reconciler.syncOrder({ orderId, actor: SUPPORT });

async function order(id: string) {
  const { rows } = await server.app.db.query<{ status: string; sync_state: string | null; sync_attempts: number; last_sync_at: string | null }>(
    'select status, sync_state, sync_attempts, last_sync_at from orders where id = $1',
    [id],
  );
  return rows[0];
}

async function syncLogs(orderId: string) {
  const { rows } = await server.app.db.query<{ event_type: string; metadata: Record<string, unknown> }>(
    `select event_type, metadata from payment_logs where order_id = $1 and event_type like 'reconcile.order_%' order by id`,
    [orderId],
  );
  return rows;
}

/** An order paid at Stripe whose webhook never came: provisional, as the storefront's confirm left it. */
async function provisionalOrder() {
  const created = (await server.createPaymentIntent(guest())).body.data.createPaymentIntent;
  await server.app.stripe.paymentIntents.confirm(created.paymentIntentId, { payment_method: 'pm_card_visa', return_url: RETURN_URL });
  const confirmed = (await server.confirmPayment({ paymentIntentId: created.paymentIntentId })).body.data.confirmPayment;
  expect(confirmed.order).toMatchObject({ status: 'PAID', syncState: 'PROVISIONAL' });
  return { orderId: confirmed.order.id as string, paymentIntentId: created.paymentIntentId as string };
}

describe('syncOrder', () => {
  it('confirms a provisional order from Stripe at once (SYNCED), records when, and logs it with the staff member', async () => {
    const { orderId } = await provisionalOrder();
    expect(await sync(orderId)).toEqual({ outcome: 'SYNCED', orderId, error: null });
    expect(await order(orderId)).toMatchObject({ status: 'paid', sync_state: 'confirmed', sync_attempts: 0, last_sync_at: expect.anything() });
    // payment_logs rows may be read by the order's customer: "staff", never the staff member's id.
    expect(await syncLogs(orderId)).toEqual([{ event_type: 'reconcile.order_synced', metadata: expect.objectContaining({ actor: 'staff', outcome: 'SYNCED' }) }]);
    const { rows } = await server.app.db.query<{ metadata: Record<string, unknown> }>(`select metadata from payment_logs where order_id = $1 and event_type = 'payment.confirmed'`, [orderId]);
    expect(rows).toEqual([{ metadata: expect.objectContaining({ source: 'janitor', actor: 'staff' }) }]);
    const { rows: leaked } = await server.app.db.query(`select 1 from payment_logs where order_id = $1 and metadata::text like '%' || $2 || '%'`, [orderId, SUPPORT.slice('staff:'.length)]);
    expect(leaked).toEqual([]);
  });

  it('closes the open PROVISIONAL_TOO_LONG finding of the order it confirms, naming the staff member on the finding (staff-only)', async () => {
    const { orderId } = await provisionalOrder();
    await server.app.db.query(
      `insert into reconciliation_findings (kind, subject, order_id, details) values ('PROVISIONAL_TOO_LONG', $1::text, $1::uuid, '{}')`,
      [orderId],
    );
    expect(await sync(orderId)).toEqual({ outcome: 'SYNCED', orderId, error: null });
    const { rows } = await server.app.db.query('select status, resolved_by from reconciliation_findings where subject = $1', [orderId]);
    expect(rows).toEqual([{ status: 'resolved', resolved_by: SUPPORT }]);
  });

  it('answers UNCHANGED when Stripe says what we have: a second sync, or an order whose payment is not made yet', async () => {
    const { orderId } = await provisionalOrder();
    await sync(orderId);
    expect(await sync(orderId)).toEqual({ outcome: 'UNCHANGED', orderId, error: null });
    expect((await syncLogs(orderId)).map((l) => l.event_type)).toEqual(['reconcile.order_synced', 'reconcile.order_checked']);

    const unpaid = (await server.createPaymentIntent(guest())).body.data.createPaymentIntent;
    expect(await sync(unpaid.order.id)).toEqual({ outcome: 'UNCHANGED', orderId: unpaid.order.id, error: null });
    expect(await order(unpaid.order.id)).toMatchObject({ status: 'pending', sync_attempts: 0 });
  });

  it("leaves the janitor's backoff step (sync_attempts) alone however often staff press, so its own checks still come", async () => {
    const { orderId } = await provisionalOrder();
    await server.app.db.query('update orders set sync_attempts = 1 where id = $1', [orderId]);
    // Stripe unreachable: the order stays provisional, as it would be for the janitor's next check.
    for (let press = 0; press < 3; press += 1) {
      sandbox().failNext('api_error', 'api_error');
      await sync(orderId);
    }
    expect(await order(orderId)).toMatchObject({ sync_state: 'provisional', sync_attempts: 1, last_sync_at: expect.anything() });
  });

  it('answers SYNCED with PAYMENT_PROVIDER_UNAVAILABLE when Stripe fails after one attempt was applied, saying the rest could not be asked', async () => {
    const { orderId } = await provisionalOrder();
    const second = await server.app.stripe.paymentIntents.create({ amount: 9900, currency: 'usd', metadata: { order_id: orderId, attempt: '2' } });
    await server.app.db.query(
      `insert into payment_attempts (order_id, attempt, kind, status, stripe_object_id, stripe_idempotency_key) values ($1, 2, 'payment_intent', 'open', $2, $3)`,
      [orderId, second.id, `test-${randomUUID()}`],
    );
    // Attempt 1's retrieve goes through; Stripe then fails attempt 2's (the call and its one SDK retry).
    const intents = server.app.stripe.paymentIntents;
    const retrieve = intents.retrieve;
    let calls = 0;
    intents.retrieve = (async (...args: Parameters<typeof retrieve>) => {
      const answer = await retrieve.apply(intents, args);
      if (++calls === 1) sandbox().failNext('api_error', 'api_error');
      return answer;
    }) as typeof retrieve;
    try {
      expect(await sync(orderId)).toMatchObject({ outcome: 'SYNCED', orderId, error: { code: 'PAYMENT_PROVIDER_UNAVAILABLE', message: expect.stringContaining('the rest could not be asked') } });
    } finally {
      intents.retrieve = retrieve;
    }
    expect(await order(orderId)).toMatchObject({ sync_state: 'confirmed' });
    expect((await syncLogs(orderId)).map((l) => l.event_type)).toEqual(['reconcile.order_synced']);
  });

  it('answers FAILED with ORDER_NOT_FOUND for an id that names no order, writing nothing', async () => {
    const before = await server.counts();
    expect(await sync(randomUUID())).toEqual({ outcome: 'FAILED', orderId: null, error: expect.objectContaining({ code: 'ORDER_NOT_FOUND' }) });
    expect(await sync('not-a-uuid')).toMatchObject({ outcome: 'FAILED', error: { code: 'ORDER_NOT_FOUND' } });
    expect(await server.counts()).toEqual(before);
  });

  it('answers FAILED with PAYMENT_PROVIDER_UNAVAILABLE when Stripe cannot be reached, leaving the order as it was', async () => {
    const { orderId } = await provisionalOrder();
    // One call and its one SDK retry (STRIPE_MAX_NETWORK_RETRIES=1 in these servers).
    sandbox().failNext('api_error', 'api_error');
    expect(await sync(orderId)).toMatchObject({ outcome: 'FAILED', orderId, error: { code: 'PAYMENT_PROVIDER_UNAVAILABLE' } });
    expect(await order(orderId)).toMatchObject({ status: 'paid', sync_state: 'provisional' });
    expect(await sync(orderId)).toMatchObject({ outcome: 'SYNCED' });
  });

  it('answers FAILED with STRIPE_OBJECT_NOT_FOUND when Stripe no longer has the payment', async () => {
    const { orderId, paymentIntentId } = await provisionalOrder();
    sandbox().core.store.collection('payment_intent').delete(paymentIntentId);
    expect(await sync(orderId)).toMatchObject({ outcome: 'FAILED', orderId, error: { code: 'STRIPE_OBJECT_NOT_FOUND', message: expect.stringContaining(paymentIntentId) } });
    expect(await order(orderId)).toMatchObject({ sync_state: 'provisional' });
    expect((await syncLogs(orderId)).map((l) => l.metadata.error)).toEqual(['STRIPE_OBJECT_NOT_FOUND']);
  });

  it('answers FAILED with AMOUNT_MISMATCH when Stripe was paid a different amount than the order, applying nothing', async () => {
    const created = (await server.createPaymentIntent(guest())).body.data.createPaymentIntent;
    // The amount changed at Stripe after we recorded the intent (another tool, a dashboard edit).
    await server.app.stripe.paymentIntents.update(created.paymentIntentId, { amount: 1234 });
    await server.app.stripe.paymentIntents.confirm(created.paymentIntentId, { payment_method: 'pm_card_visa', return_url: RETURN_URL });
    expect(await sync(created.order.id)).toMatchObject({ outcome: 'FAILED', error: { code: 'AMOUNT_MISMATCH' } });
    const { rows } = await server.app.db.query<{ n: number }>(`select count(*)::int as n from make_deliveries where order_id = $1`, [created.order.id]);
    expect(rows[0]!.n).toBe(0);
  });

  it("settles an attempt a crash left creating by finding its object by our metadata, never creating another", async () => {
    const input = guest();
    faults.failNext(/checkout_record_attempt/, { onFail: () => sandbox().failNext('connection_reset', 'connection_reset') });
    faults.failNext(/checkout_mark_attempt/);
    await server.createPaymentIntent(input);
    const { rows } = await server.app.db.query<{ id: string; order_id: string }>(
      `select a.id, a.order_id from payment_attempts a join orders o on o.id = a.order_id join customers c on c.id = o.customer_id where c.email = $1`,
      [input.email],
    );
    const [made] = (await server.app.stripe.paymentIntents.list({ limit: 100 })).data.filter((pi) => pi.metadata.order_id === rows[0]!.order_id);
    await server.app.stripe.paymentIntents.confirm(made!.id, { payment_method: 'pm_card_visa', return_url: RETURN_URL });
    await server.app.db.query(`update payment_attempts set updated_at = updated_at - interval '301 seconds' where id = $1`, [rows[0]!.id]);

    expect(await sync(rows[0]!.order_id)).toMatchObject({ outcome: 'SYNCED', error: null });
    const { rows: attempts } = await server.app.db.query('select status, stripe_object_id from payment_attempts where order_id = $1', [rows[0]!.order_id]);
    expect(attempts).toEqual([{ status: 'succeeded', stripe_object_id: made!.id }]);
    expect((await server.app.stripe.paymentIntents.list({ limit: 100 })).data.filter((pi) => pi.metadata.order_id === rows[0]!.order_id)).toHaveLength(1);
  });
});
