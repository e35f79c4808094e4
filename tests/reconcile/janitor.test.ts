// The reconciliation janitor (issue 17) through the real server in sandbox mode: its Stripe client talks
// to the sandbox over HTTP, its SQL runs on the suite's engine, and the sandbox's clock is what the
// pass reads time from. Every webhook is dropped, so what settles an order here is the janitor.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openPostgres } from '../../server/platform/db/postgres';
import { runReconciliation } from '../../server/reconcile/janitor';
import { dueProvisionalOrders, readCursors } from '../../server/reconcile/reconcile.sql';
import { type CheckoutServer, newKey, startCheckoutServer } from '../helpers/checkout';
import { TEST_ENGINE } from '../helpers/db';

let server: CheckoutServer;
beforeAll(async () => {
  // The job is off: each test starts the passes it means to see.
  server = await startCheckoutServer({ RECONCILE_INTERVAL: 'off' });
});
afterAll(() => server?.stop());
// Every webhook is lost: the sandbox's fault injection drops each delivery (moving its clock delivers
// what is due, and that too is dropped), so the janitor is the only way anything is learnt.
beforeEach(() => {
  server.app.stripeSandbox!.core.events.stopAutoDelivery();
  server.app.stripeSandbox!.webhookFaults.dropNext = 1_000_000;
});

const RETURN_URL = 'https://shop.test/checkout/return';
const sandbox = () => server.app.stripeSandbox!;
const pass = (actor = 'test') => runReconciliation(server.app.reconciliation, { trigger: 'manual', actor });
const guest = () => ({ idempotencyKey: newKey(), track: 'business_plan_builder', email: `guest-${randomUUID()}@example.com` });

async function order(id: string) {
  const { rows } = await server.app.db.query<{ status: string; sync_state: string | null; sync_attempts: number }>('select status, sync_state, sync_attempts from orders where id = $1', [id]);
  return rows[0];
}

async function logsOf(orderId: string, prefix = 'reconcile.') {
  const { rows } = await server.app.db.query<{ event_type: string; metadata: Record<string, unknown> }>(
    `select event_type, metadata from payment_logs where order_id = $1 and event_type like $2 || '%' order by id`,
    [orderId, prefix],
  );
  return rows;
}

async function findingsOf(subject: string) {
  const { rows } = await server.app.db.query<{ kind: string; status: string; resolution: string | null; checks: number }>(
    'select kind, status, resolution, checks from reconciliation_findings where subject = $1 order by first_seen_at',
    [subject],
  );
  return rows;
}

/** An intent with our metadata made straight at Stripe (never recorded by us), as a crash or another tool would leave it. */
async function intentAtStripe(orderId: string, email: string) {
  return server.app.stripe.paymentIntents.create({
    amount: 9900,
    currency: 'usd',
    receipt_email: email,
    metadata: { order_id: orderId, customer_id: randomUUID(), track: 'business_plan_builder', attempt: '1' },
  });
}

describe('step 1: provisional orders', () => {
  it('confirms an order whose webhook never came, once it has been provisional past RECONCILE_PROVISIONAL_AFTER_SECONDS', async () => {
    const created = (await server.createPaymentIntent(guest())).body.data.createPaymentIntent;
    await server.app.stripe.paymentIntents.confirm(created.paymentIntentId, { payment_method: 'pm_card_visa', return_url: RETURN_URL });
    const confirmed = (await server.confirmPayment({ paymentIntentId: created.paymentIntentId })).body.data.confirmPayment;
    expect(confirmed.order).toMatchObject({ status: 'PAID', syncState: 'PROVISIONAL' });
    const orderId = confirmed.order.id;

    await sandbox().advanceClock(121);
    const result = await pass();
    expect(result).toMatchObject({ outcome: 'succeeded', run: { status: 'succeeded', trigger: 'manual', actor: 'test', counters: { synced: 1 } } });
    expect(await order(orderId)).toMatchObject({ status: 'paid', sync_state: 'confirmed' });
    expect(await logsOf(orderId)).toEqual([{ event_type: 'reconcile.order_synced', metadata: expect.objectContaining({ run_id: result.run.id, stripe_object_id: created.paymentIntentId }) }]);
    expect(await logsOf(orderId, 'payment.confirmed')).toEqual([{ event_type: 'payment.confirmed', metadata: expect.objectContaining({ source: 'janitor', actor: `janitor:${result.run.id}` }) }]);

    // Confirmed: no further pass asks Stripe about it.
    await sandbox().advanceClock(3600);
    expect((await pass()).run.counters.synced).toBe(0);
  });
});

describe('step 1: an order Stripe cannot show', () => {
  it('records it for staff and goes on with the pass, instead of failing every pass on it', async () => {
    const created = (await server.createPaymentIntent(guest())).body.data.createPaymentIntent;
    await server.app.stripe.paymentIntents.confirm(created.paymentIntentId, { payment_method: 'pm_card_visa', return_url: RETURN_URL });
    const orderId = (await server.confirmPayment({ paymentIntentId: created.paymentIntentId })).body.data.confirmPayment.order.id;
    // Stripe no longer has the PaymentIntent (test data deleted, another account's key): retrieve is a 404.
    sandbox().core.store.collection('payment_intent').delete(created.paymentIntentId);
    // Something for step 3 in the same pass, to show the pass got past step 1.
    const adopted = await intentAtStripe(randomUUID(), `buyer-${randomUUID()}@example.com`);
    await server.app.stripe.paymentIntents.confirm(adopted.id, { payment_method: 'pm_card_visa', return_url: RETURN_URL });

    await sandbox().advanceClock(121);
    const result = await pass();
    expect(result).toMatchObject({ outcome: 'succeeded', run: { status: 'succeeded', counters: { failed: 1, adopted: 1 } } });
    expect(await findingsOf(orderId)).toEqual([{ kind: 'PROVISIONAL_TOO_LONG', status: 'open', resolution: null, checks: 1 }]);
    expect(await logsOf(orderId)).toEqual([{ event_type: 'reconcile.order_unreadable', metadata: expect.objectContaining({ run_id: result.run.id, checks: 1 }) }]);
    expect(await order(orderId)).toMatchObject({ sync_attempts: 1 });
    // Not asked about again before its backoff: the next pass does not fail on it.
    expect(await pass()).toMatchObject({ outcome: 'succeeded', run: { counters: { failed: 0 } } });
  });
});

describe('step 1: the backoff of a provisional order Stripe has not settled', () => {
  it('asks again 5 minutes, 1 hour, then 1 day after the last check, never sooner', async () => {
    const created = (await server.createPaymentIntent(guest())).body.data.createPaymentIntent;
    await server.app.stripe.paymentIntents.confirm(created.paymentIntentId, { payment_method: 'pm_card_visa', return_url: RETURN_URL });
    const orderId = (await server.confirmPayment({ paymentIntentId: created.paymentIntentId })).body.data.confirmPayment.order.id;
    const now = new Date();
    const due = async (checks: number, lastCheckedSecondsAgo: number) => {
      await server.app.db.query(`update orders set sync_attempts = $2, last_sync_at = $3 where id = $1`, [orderId, checks, new Date(now.getTime() - lastCheckedSecondsAgo * 1000).toISOString()]);
      const page = await dueProvisionalOrders(server.app.db, { now, afterSeconds: 120, afterId: null, limit: 1000 });
      return page.some((o) => o.id === orderId);
    };
    expect([await due(1, 299), await due(1, 301)]).toEqual([false, true]);
    expect([await due(2, 3599), await due(2, 3601)]).toEqual([false, true]);
    expect([await due(3, 86_399), await due(3, 86_401)]).toEqual([false, true]);
  });
});

describe('step 1 from the lists of step 3', () => {
  it('settles a due provisional order from the PaymentIntent step 3 lists, without a retrieve, and retrieves one created before the list window', async () => {
    const provisional = async () => {
      const created = (await server.createPaymentIntent(guest())).body.data.createPaymentIntent;
      await server.app.stripe.paymentIntents.confirm(created.paymentIntentId, { payment_method: 'pm_card_visa', return_url: RETURN_URL });
      const orderId: string = (await server.confirmPayment({ paymentIntentId: created.paymentIntentId })).body.data.confirmPayment.order.id;
      return { orderId, intentId: created.paymentIntentId as string };
    };
    const deps = server.app.reconciliation;
    // The last pass ended 400 s after `older` was made: its PaymentIntent is older than step 3's window
    // (the cursor less 5 minutes), `listed`'s, made after, is in it.
    const older = await provisional();
    await sandbox().advanceClock(400);
    const lastPassEnded = new Date(sandbox().core.clock.now() * 1000).toISOString();
    await server.app.db.query(
      `insert into reconciliation_cursors (name, position) select unnest(array['payment_intents', 'checkout_sessions', 'events']), $1::timestamptz
         on conflict (name) do update set position = excluded.position`,
      [lastPassEnded],
    );
    const listed = await provisional();
    await sandbox().advanceClock(121);

    const requests: string[] = [];
    const onRequest = (event: { method: string; path: string }) => requests.push(`${event.method} ${event.path.split('?')[0]}`);
    deps.stripe.on('request', onRequest);
    let result;
    try {
      result = await pass();
    } finally {
      deps.stripe.off('request', onRequest);
    }
    expect(result.outcome).toBe('succeeded');
    // (Orders of earlier tests in this file may be due too: only these two are looked at.)
    const retrieved = (intentId: string) => requests.filter((r) => r === `GET /v1/payment_intents/${intentId}`).length;
    expect([retrieved(older.intentId), retrieved(listed.intentId)]).toEqual([1, 0]);
    expect(requests).toContain('GET /v1/payment_intents');
    // The same outcome, log and backoff either way.
    for (const { orderId, intentId } of [older, listed]) {
      expect(await order(orderId)).toMatchObject({ status: 'paid', sync_state: 'confirmed' });
      expect(await logsOf(orderId)).toEqual([
        { event_type: 'reconcile.order_synced', metadata: expect.objectContaining({ run_id: result.run.id, stripe_object_id: intentId, stripe_status: 'succeeded' }) },
      ]);
    }
  });
});

describe('step 1 past the bound of orders settled from the lists', () => {
  it('retrieves the due orders past the bound one by one, as before, and settles each once', async () => {
    const made: Array<{ orderId: string; intentId: string }> = [];
    for (let i = 0; i < 3; i++) {
      const created = (await server.createPaymentIntent(guest())).body.data.createPaymentIntent;
      await server.app.stripe.paymentIntents.confirm(created.paymentIntentId, { payment_method: 'pm_card_visa', return_url: RETURN_URL });
      made.push({ orderId: (await server.confirmPayment({ paymentIntentId: created.paymentIntentId })).body.data.confirmPayment.order.id, intentId: created.paymentIntentId });
    }
    await sandbox().advanceClock(121);
    const deps = { ...server.app.reconciliation, listedDueLimit: 1 };
    const requests: string[] = [];
    const onRequest = (event: { method: string; path: string }) => requests.push(`${event.method} ${event.path.split('?')[0]}`);
    deps.stripe.on('request', onRequest);
    let result;
    try {
      result = await runReconciliation(deps, { trigger: 'manual', actor: 'test' });
    } finally {
      deps.stripe.off('request', onRequest);
    }
    expect(result.outcome).toBe('succeeded');
    // Held: the first due order in id order (earlier tests' orders may be due too, so at most one of these three).
    const retrieves = made.filter(({ intentId }) => requests.includes(`GET /v1/payment_intents/${intentId}`)).length;
    expect(retrieves).toBeGreaterThanOrEqual(2);
    for (const { orderId } of made) {
      expect(await order(orderId)).toMatchObject({ status: 'paid', sync_state: 'confirmed' });
      expect((await logsOf(orderId)).map((l) => l.event_type)).toEqual(['reconcile.order_synced']);
    }
  });
});

describe('step 3: Stripe objects we have no record of', () => {
  it('adopts a PaymentIntent paid at Stripe with our metadata: one order, one Make add_project', async () => {
    const orderId = randomUUID();
    const email = `orphan-${randomUUID()}@example.com`;
    const intent = await intentAtStripe(orderId, email);
    await server.app.stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_visa', return_url: RETURN_URL });

    const result = await pass();
    expect(result.run.counters).toMatchObject({ adopted: 1 });
    expect(await order(orderId)).toMatchObject({ status: 'paid', sync_state: 'confirmed' });
    expect((await logsOf(orderId)).map((l) => [l.event_type, l.metadata.run_id])).toEqual([['reconcile.adopted', result.run.id]]);

    await pass();
    const { rows } = await server.app.db.query<{ n: number }>(`select count(*)::int as n from make_deliveries where kind = 'add_project' and order_id = $1`, [orderId]);
    expect(rows[0]!.n).toBe(1);
    const orders = await server.app.db.query<{ n: number }>(`select count(*)::int as n from orders o join customers c on c.id = o.customer_id where c.email = $1`, [email]);
    expect(orders.rows[0]!.n).toBe(1);
  });

  it('records an open one as STRIPE_WITHOUT_RECORD and cancels it at Stripe after RECONCILE_CANCEL_OPEN_ORPHANS_AFTER_HOURS of sandbox clock', async () => {
    const intent = await intentAtStripe(randomUUID(), `open-${randomUUID()}@example.com`);
    const found = await pass();
    expect(found.run.counters).toMatchObject({ orphansFound: 1 });
    expect(await findingsOf(intent.id)).toEqual([{ kind: 'STRIPE_WITHOUT_RECORD', status: 'open', resolution: null, checks: 1 }]);
    expect((await server.app.stripe.paymentIntents.retrieve(intent.id)).status).toBe('requires_payment_method');

    await sandbox().advanceClock(23 * 3600);
    await pass();
    expect((await server.app.stripe.paymentIntents.retrieve(intent.id)).status).toBe('requires_payment_method');

    await sandbox().advanceClock(3600 + 1);
    const canceled = await pass();
    expect(canceled.run.counters).toMatchObject({ canceled: 1 });
    expect((await server.app.stripe.paymentIntents.retrieve(intent.id)).status).toBe('canceled');
    expect(await findingsOf(intent.id)).toEqual([{ kind: 'STRIPE_WITHOUT_RECORD', status: 'resolved', resolution: expect.stringContaining('cancelled at Stripe'), checks: 3 }]);
    const { rows } = await server.app.db.query<{ metadata: Record<string, unknown> }>(`select metadata from payment_logs where event_type = 'reconcile.orphan_canceled' and metadata->>'stripe_object_id' = $1`, [intent.id]);
    expect(rows).toEqual([{ metadata: expect.objectContaining({ run_id: canceled.run.id }) }]);
  });

  it('adopts a paid one whose amount nothing sells at as AMOUNT_MISMATCH: the order is made for staff, never fulfilled', async () => {
    const orderId = randomUUID();
    const intent = await server.app.stripe.paymentIntents.create({
      amount: 1234,
      currency: 'usd',
      receipt_email: `mismatch-${randomUUID()}@example.com`,
      metadata: { order_id: orderId, customer_id: randomUUID(), track: 'business_plan_builder', attempt: '1' },
    });
    await server.app.stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_visa', return_url: RETURN_URL });

    const result = await pass();
    expect(result.run.counters).toMatchObject({ adopted: 0, failed: 1 });
    expect(await findingsOf(intent.id)).toEqual([{ kind: 'AMOUNT_MISMATCH', status: 'open', resolution: null, checks: 1 }]);
    expect(await order(orderId)).toMatchObject({ sync_state: 'failed' });
    const { rows } = await server.app.db.query<{ n: number }>(`select count(*)::int as n from make_deliveries where order_id = $1`, [orderId]);
    expect(rows[0]!.n).toBe(0);
  });

  it('records an open Checkout Session with our metadata and no record as STRIPE_WITHOUT_RECORD, and closes the finding once it expired at Stripe', async () => {
    const session = await server.app.stripe.checkout.sessions.create({
      mode: 'payment',
      success_url: 'https://shop.test/done',
      line_items: [{ price_data: { currency: 'usd', unit_amount: 9900, product_data: { name: 'Business plan builder' } }, quantity: 1 }],
      metadata: { order_id: randomUUID(), customer_id: randomUUID(), track: 'business_plan_builder', attempt: '1' },
    });
    await pass();
    expect(await findingsOf(session.id)).toEqual([{ kind: 'STRIPE_WITHOUT_RECORD', status: 'open', resolution: null, checks: 1 }]);

    await server.app.stripe.checkout.sessions.expire(session.id);
    await pass();
    expect(await findingsOf(session.id)).toEqual([{ kind: 'STRIPE_WITHOUT_RECORD', status: 'resolved', resolution: 'expired at Stripe', checks: 1 }]);
  });

  it('never touches an object without our metadata', async () => {
    const theirs = await server.app.stripe.paymentIntents.create({ amount: 500, currency: 'usd', metadata: { other_system: 'x' } });
    const result = await pass();
    expect(result.outcome).toBe('succeeded');
    expect(await findingsOf(theirs.id)).toEqual([]);
    expect((await server.app.stripe.paymentIntents.retrieve(theirs.id)).status).toBe('requires_payment_method');
  });
});

describe('step 4: missed events', () => {
  it("stores the events Stripe never delivered through the endpoint's store, and the applier applies each once", async () => {
    const created = (await server.createPaymentIntent(guest())).body.data.createPaymentIntent;
    await server.app.stripe.paymentIntents.confirm(created.paymentIntentId, { payment_method: 'pm_card_visa', return_url: RETURN_URL });
    const missed = (await server.app.stripe.events.list({ limit: 100 })).data.filter((e) => (e.data.object as { id?: string }).id === created.paymentIntentId);
    expect(missed.length).toBeGreaterThan(0);

    const first = await pass();
    expect(first.run.counters.eventsBackfilled).toBeGreaterThanOrEqual(missed.length);
    const ids = missed.map((e) => e.id);
    await expect.poll(async () => {
      const { rows } = await server.app.db.query<{ status: string }>('select status from stripe_events where id = any($1::text[])', [ids]);
      return rows.length === ids.length && rows.every((r) => r.status !== 'received');
    }).toBe(true);
    expect(await order(created.order.id)).toMatchObject({ status: 'paid', sync_state: 'confirmed' });

    const second = await pass();
    expect(second.run.counters.eventsBackfilled).toBe(0);
    expect(await logsOf(created.order.id, 'payment.paid')).toHaveLength(1);
  });
});

describe('step 4: which events a pass lists', () => {
  it('lists only the events Stripe did not deliver on a pass without since; a pass with since stores one Stripe never tried to send (its endpoint disabled)', async () => {
    const endpoints = (await server.app.stripe.webhookEndpoints.list()).data.filter((e) => e.status === 'enabled');
    expect(endpoints.length).toBeGreaterThan(0);
    const setDisabled = (disabled: boolean) => Promise.all(endpoints.map((e) => server.app.stripe.webhookEndpoints.update(e.id, { disabled })));
    const startedAt = new Date(sandbox().core.clock.now() * 1000);
    await setDisabled(true);
    const unsent = await server.app.stripe.customers.create({ email: `unsent-${randomUUID()}@example.com` });
    await setDisabled(false);
    const pending = await server.app.stripe.customers.create({ email: `pending-${randomUUID()}@example.com` }); // its delivery dropped or not yet made
    const eventOf = async (customerId: string) => (await server.app.stripe.events.list({ type: 'customer.created', limit: 100 })).data.find((e) => (e.data.object as { id: string }).id === customerId)!.id;
    const stored = async (eventId: string) => (await server.app.db.query<{ source: string }>('select source from stripe_events where id = $1', [eventId])).rows.map((r) => r.source);
    const [unsentEvent, pendingEvent] = [await eventOf(unsent.id), await eventOf(pending.id)];

    expect((await pass()).outcome).toBe('succeeded');
    expect(await stored(pendingEvent)).toEqual(['backfill']);
    expect(await stored(unsentEvent)).toEqual([]);

    const widened = await runReconciliation(server.app.reconciliation, { trigger: 'manual', actor: 'test', since: new Date(startedAt.getTime() - 60_000) });
    expect(widened).toMatchObject({ outcome: 'succeeded', run: { counters: { eventsBackfilled: 1 } } });
    expect(await stored(unsentEvent)).toEqual(['backfill']);
  });
});

describe('step 4 over many pages', () => {
  it('backfills hundreds of dropped events across list pages, each stored once, and a second pass finds none missing', async () => {
    // This test's events: by the sandbox clock, which earlier tests moved ahead of real time.
    const since = sandbox().core.clock.now();
    for (let i = 0; i < 80; i++) {
      const intent = await server.app.stripe.paymentIntents.create({ amount: 700 + i, currency: 'usd', metadata: { bulk: String(i) } });
      await server.app.stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_visa', return_url: RETURN_URL });
    }
    const atStripe: string[] = [];
    for await (const event of server.app.stripe.events.list({ created: { gte: since }, limit: 100 })) atStripe.push(event.id);
    expect(atStripe.length).toBeGreaterThan(200);

    const first = await pass();
    expect(first.outcome).toBe('succeeded');
    const { rows } = await server.app.db.query<{ n: number; distinct_ids: number }>(
      'select count(*)::int as n, count(distinct id)::int as distinct_ids from stripe_events where id = any($1::text[])',
      [atStripe],
    );
    expect(rows[0]).toEqual({ n: atStripe.length, distinct_ids: atStripe.length });
    await expect.poll(async () => {
      const { rows: waiting } = await server.app.db.query<{ n: number }>(`select count(*)::int as n from stripe_events where status = 'received'`);
      return waiting[0]!.n;
    }).toBe(0);

    expect((await pass()).run.counters.eventsBackfilled).toBe(0);
  });
});

describe('one pass at a time', () => {
  // On PostgreSQL the second pass runs on a pool of its own, as another process would.
  it('runs one of two passes started together; the other finds it running and does nothing', async () => {
    const other = TEST_ENGINE === 'postgres' ? openPostgres(server.testDb.url!, { max: 2 }) : server.app.db;
    try {
      const results = await Promise.all([pass('first'), runReconciliation({ ...server.app.reconciliation, db: other }, { trigger: 'cli', actor: 'second' })]);
      expect(results.map((r) => r.outcome).sort()).toEqual(['busy', 'succeeded']);
      const busy = results.find((r) => r.outcome === 'busy')!;
      const ran = results.find((r) => r.outcome === 'succeeded')!;
      expect(busy.run.id).toBe(ran.run.id);
      const { rows } = await server.app.db.query<{ n: number }>(`select count(*)::int as n from reconciliation_runs where actor in ('first', 'second')`);
      expect(rows[0]!.n).toBe(1);
    } finally {
      if (other !== server.app.db) await other.close();
    }
  });
});

describe('a pass whose process died', () => {
  it('is failed as abandoned once its row has not been touched for 15 minutes, and the next pass runs', async () => {
    const { rows } = await server.app.db.query<{ id: string }>(
      `insert into reconciliation_runs (trigger, actor, started_at, heartbeat_at) values ('schedule', 'dead-process', now() - interval '1 hour', now() - interval '16 minutes') returning id`,
    );
    const result = await pass();
    expect(result.outcome).toBe('succeeded');
    const { rows: dead } = await server.app.db.query<{ status: string; error: string }>('select status, error from reconciliation_runs where id = $1', [rows[0]!.id]);
    expect(dead).toEqual([{ status: 'failed', error: expect.stringContaining('abandoned') }]);
  });

  it('is left alone while it is still being touched: a new pass finds it running', async () => {
    const { rows } = await server.app.db.query<{ id: string }>(`insert into reconciliation_runs (trigger, actor) values ('cli', 'live-process') returning id`);
    const result = await pass();
    expect(result).toMatchObject({ outcome: 'busy', run: { id: rows[0]!.id, actor: 'live-process', status: 'running' } });
    await server.app.db.query(`update reconciliation_runs set status = 'succeeded', finished_at = now() where id = $1`, [rows[0]!.id]);
  });
});

describe('Stripe failing', () => {
  it('leaves a failed run with its error and the cursors where they were; the next pass is clean and reads the same window', async () => {
    await pass();
    const before = await readCursors(server.app.db);
    const orphan = await intentAtStripe(randomUUID(), `late-${randomUUID()}@example.com`);
    // One call and its one SDK retry (STRIPE_MAX_NETWORK_RETRIES=1 in these servers).
    sandbox().failNext('api_error', 'api_error');

    const failed = await pass();
    expect(failed).toMatchObject({ outcome: 'failed', run: { status: 'failed', error: expect.stringContaining('StripeAPIError 500') } });
    expect(await readCursors(server.app.db)).toEqual(before);
    const { rows } = await server.app.db.query<{ n: number }>(`select count(*)::int as n from reconciliation_runs where status = 'running'`);
    expect(rows[0]!.n).toBe(0);

    const next = await pass();
    expect(next).toMatchObject({ outcome: 'succeeded', run: { error: null } });
    expect(await findingsOf(orphan.id)).toEqual([expect.objectContaining({ kind: 'STRIPE_WITHOUT_RECORD', status: 'open' })]);
  });
});
