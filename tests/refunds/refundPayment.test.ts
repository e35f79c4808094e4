// refundPayment (issue 18) against the real server in sandbox mode: the refund service on the
// server's database and its Stripe client (the official SDK against the sandbox, over HTTP), the
// webhooks the sandbox delivers applied by the server's applier, and the janitor's refund step.
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Db, Queryable } from '../../server/platform/db/db';
import { createLogger } from '../../server/platform/observability/logger';
import { runReconciliation } from '../../server/reconcile/janitor';
import { createRefunds } from '../../server/refunds/refundPayment';
import { refundableAmount } from '../../server/refunds/read.sql';
import type { RefundRequest } from '../../server/refunds/service';
import { settleCreatingRefunds } from '../../server/refunds/settleCreating';
import type { StripeSandbox } from '../../stripe-sandbox/sandbox';
import { type CheckoutServer, newKey, startCheckoutServer } from '../helpers/checkout';
import { faultyDb } from '../../server/platform/db/faultyDb';
import { makeEnv } from '../make/makeHelpers';

const RETURN_URL = 'https://shop.test/checkout/return';
const ADMIN_ID = '11111111-2222-4333-8444-555555555555';
const ADMIN = `staff:${ADMIN_ID}`;
const silent = createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, done) => done() }) });

let server: CheckoutServer;
let sandbox: StripeSandbox;
let stripe: Stripe;
/** Refund creations the server's Stripe client sent (every attempt, retries included). */
let refundPosts = 0;

beforeAll(async () => {
  server = await startCheckoutServer({ ...makeEnv(['add_project', 'refund_completed']), JOBS_ENABLED: 'false' });
  sandbox = server.app.stripeSandbox!;
  stripe = server.app.stripe;
  stripe.on('request', (event: { method: string; path: string }) => {
    if (event.method === 'POST' && event.path === '/v1/refunds') refundPosts += 1;
  });
});
afterAll(() => server?.stop());
beforeEach(() => {
  sandbox.webhookFaults.dropNext = 0;
});

const service = (db: Db = server.app.db, client: Stripe = stripe) => createRefunds({ db, stripe: client, logger: silent });

/** The server's Stripe client, but refunds.create waits for `until` first (a create call slow at Stripe). */
function slowCreate(until: Promise<void>): { client: Stripe; called: () => boolean } {
  let called = false;
  const client = Object.create(stripe) as Stripe;
  Object.defineProperty(client, 'refunds', {
    value: {
      list: stripe.refunds.list.bind(stripe.refunds),
      create: async (...args: Parameters<Stripe['refunds']['create']>) => {
        called = true;
        await until;
        return stripe.refunds.create(...args);
      },
    },
  });
  return { client, called: () => called };
}

/** Ages the order's refunds as if created and last touched minutes ago. */
async function ageRefunds(orderId: string, minutes = 6): Promise<void> {
  await server.app.db.query(
    'update refunds set created_at = created_at - make_interval(mins => $2), updated_at = updated_at - make_interval(mins => $2) where order_id = $1',
    [orderId, minutes],
  );
}

/** The order's payment_logs rows (customers read them) whose text names the staff member's id. */
async function logsNamingStaff(orderId: string) {
  const { rows } = await server.app.db.query<{ event_type: string }>("select event_type from payment_logs where order_id = $1 and metadata::text like '%' || $2 || '%'", [orderId, ADMIN_ID]);
  return rows;
}

/** Every event the sandbox has to deliver reaches the endpoint, and every stored event is applied. */
async function settle(): Promise<void> {
  await sandbox.flushWebhooks();
  await server.app.webhookApplier.drain();
  const { rows } = await server.app.db.query("select id, type, last_error from stripe_events where status <> 'applied' and status <> 'ignored'");
  expect(rows).toEqual([]);
}

/** A paid order (99.00 USD) through the storefront and Stripe.js's confirm, its events applied. */
async function paidOrder(paymentMethod = 'pm_card_visa'): Promise<{ orderId: string; paymentIntentId: string }> {
  const response = await server.createPaymentIntent({ idempotencyKey: newKey(), track: 'business_plan_builder', email: `buyer-${randomUUID()}@example.com` });
  expect(response.body.errors).toBeUndefined();
  const created = response.body.data.createPaymentIntent as { order: { id: string }; paymentIntentId: string };
  await stripe.paymentIntents.confirm(created.paymentIntentId, { payment_method: paymentMethod, return_url: RETURN_URL });
  await settle();
  return { orderId: created.order.id, paymentIntentId: created.paymentIntentId };
}

const request = (orderId: string, over: Partial<RefundRequest> = {}): RefundRequest => ({
  orderId,
  amount: null,
  reason: 'requested_by_customer',
  note: 'customer asked by email',
  actor: ADMIN,
  scope: ADMIN,
  idempotencyKey: newKey(),
  ...over,
});

async function orderStatus(orderId: string): Promise<string> {
  const { rows } = await server.app.db.query<{ status: string }>('select status from orders where id = $1', [orderId]);
  return rows[0]!.status;
}

async function refundRows(orderId: string) {
  const { rows } = await server.app.db.query<{ id: string; stripe_refund_id: string | null; amount: number; status: string; failure_reason: string | null; requested_by: string | null }>(
    'select id, stripe_refund_id, amount::int as amount, status, failure_reason, requested_by from refunds where order_id = $1 order by created_at, id',
    [orderId],
  );
  return rows;
}

async function stripeRefunds(paymentIntentId: string) {
  const list = await stripe.refunds.list({ payment_intent: paymentIntentId, limit: 100 });
  return list.data.map((r) => ({ id: r.id, amount: r.amount, status: r.status, refund_id: r.metadata?.refund_id }));
}

async function refundCompleted(orderId: string) {
  const { rows } = await server.app.db.query<{ dedupe_key: string }>("select dedupe_key from make_deliveries where order_id = $1 and kind = 'refund_completed'", [orderId]);
  return rows.map((r) => r.dedupe_key);
}

/** The real database, with statements matching `match` held until `until` resolves. */
function heldDb(real: Db, match: RegExp, until: Promise<void>): Db {
  const wrap = (target: Queryable): Queryable => ({
    query: async (sql, params) => {
      if (match.test(sql)) await until;
      return target.query(sql, params);
    },
    exec: (sql) => target.exec(sql),
  });
  return { engine: real.engine, ...wrap(real), transaction: (fn) => real.transaction((tx) => fn(wrap(tx))), close: () => real.close() };
}

/** What a refusal must leave as it was: our rows and Stripe's refunds. */
async function snapshot(orderId: string, paymentIntentId: string) {
  const { rows } = await server.app.db.query<Record<string, number>>(
    `select (select count(*) from refunds)::int as refunds, (select count(*) from idempotency_keys)::int as keys,
            (select count(*) from audit_log)::int as audit, (select count(*) from payment_logs where order_id = $1)::int as logs`,
    [orderId],
  );
  return { ...rows[0], status: await orderStatus(orderId), stripe: await stripeRefunds(paymentIntentId) };
}

describe('refunds that Stripe makes', () => {
  it('a full refund: one Stripe refund with our metadata, the row succeeded, the order refunded, Make told once', async () => {
    const { orderId, paymentIntentId } = await paidOrder();
    const result = await service().refundPayment(request(orderId));
    expect(result).toMatchObject({ outcome: 'done', isRepeat: false, error: null, refund: { amount: 9900, status: 'succeeded', requested_by: ADMIN } });
    const [atStripe, ...more] = await stripeRefunds(paymentIntentId);
    expect(more).toEqual([]);
    expect(atStripe).toMatchObject({ amount: 9900, status: 'succeeded', refund_id: result.outcome === 'done' ? result.refund.id : '' });
    expect(await orderStatus(orderId)).toBe('refunded');
    await settle(); // charge.refunded and refund.* events: the same row, linked already
    expect(await refundRows(orderId)).toEqual([expect.objectContaining({ stripe_refund_id: atStripe!.id, status: 'succeeded', amount: 9900 })]);
    expect(await refundCompleted(orderId)).toHaveLength(1);
    const { rows: audit } = await server.app.db.query<{ actor_id: string; details: { note: string } }>(
      "select actor_id, details from audit_log where action = 'refund.create' and target_id = $1",
      [orderId],
    );
    expect(audit).toEqual([expect.objectContaining({ actor_id: ADMIN, details: expect.objectContaining({ note: 'customer asked by email', amount: 9900 }) })]);
  });

  it('payment_logs, which the customer reads, say staff, never the staff member\'s id (kept in audit_log)', async () => {
    const { orderId } = await paidOrder();
    expect(await service().refundPayment(request(orderId))).toMatchObject({ outcome: 'done', refund: { status: 'succeeded' } });
    await settle();
    const { rows } = await server.app.db.query<{ event_type: string; actor: string }>(
      "select event_type, metadata->>'actor' as actor from payment_logs where order_id = $1 and event_type in ('refund.creating', 'refund.succeeded', 'order.refunded') order by created_at",
      [orderId],
    );
    expect(rows).toEqual(expect.arrayContaining([
      { event_type: 'refund.creating', actor: 'staff' },
      { event_type: 'refund.succeeded', actor: 'staff' },
      { event_type: 'order.refunded', actor: 'staff' },
    ]));
    expect(await logsNamingStaff(orderId)).toEqual([]);
  });

  it('partial refunds up to the total: partially refunded, then refunded by the remainder, then nothing left to refund', async () => {
    const { orderId, paymentIntentId } = await paidOrder();
    expect(await service().refundPayment(request(orderId, { amount: 2000, reason: 'other' }))).toMatchObject({ outcome: 'done', refund: { amount: 2000, reason: 'other' } });
    expect(await orderStatus(orderId)).toBe('partially_refunded');
    expect(await service().refundPayment(request(orderId, { amount: 3000, reason: 'duplicate' }))).toMatchObject({ outcome: 'done', refund: { amount: 3000 } });
    expect(await orderStatus(orderId)).toBe('partially_refunded');
    expect(await service().refundPayment(request(orderId))).toMatchObject({ outcome: 'done', refund: { amount: 4900 } });
    expect(await orderStatus(orderId)).toBe('refunded');
    await settle();
    expect((await refundRows(orderId)).map((r) => [r.amount, r.status])).toEqual([[2000, 'succeeded'], [3000, 'succeeded'], [4900, 'succeeded']]);
    expect((await stripeRefunds(paymentIntentId)).map((r) => r.amount).sort()).toEqual([2000, 3000, 4900]);
    expect(await refundCompleted(orderId)).toHaveLength(3);

    const before = await snapshot(orderId, paymentIntentId);
    // An amount asked of a refunded order is more than the remainder (0); the rest asked for is not refundable.
    expect(await service().refundPayment(request(orderId, { amount: 1 }))).toMatchObject({ outcome: 'refused', error: { code: 'REFUND_EXCEEDS_REMAINING' }, refundable: { amount: 0 } });
    expect(await service().refundPayment(request(orderId))).toMatchObject({ outcome: 'refused', error: { code: 'ORDER_NOT_REFUNDABLE' } });
    expect(await snapshot(orderId, paymentIntentId)).toEqual(before);
  });
});

describe('refusals change nothing', () => {
  it('more than the remainder is REFUND_EXCEEDS_REMAINING with the remainder, and leaves rows and Stripe as they were', async () => {
    const { orderId, paymentIntentId } = await paidOrder();
    await service().refundPayment(request(orderId, { amount: 9000 }));
    const before = await snapshot(orderId, paymentIntentId);
    const result = await service().refundPayment(request(orderId, { amount: 901 }));
    expect(result).toMatchObject({ outcome: 'refused', refund: null, orderId, error: { code: 'REFUND_EXCEEDS_REMAINING' }, refundable: { amount: 900, currency: 'usd' } });
    expect(await snapshot(orderId, paymentIntentId)).toEqual(before);
  });

  it('an unpaid order is ORDER_NOT_REFUNDABLE and an unknown one ORDER_NOT_FOUND, with nothing written', async () => {
    const response = await server.createPaymentIntent({ idempotencyKey: newKey(), track: 'business_plan_builder', email: `unpaid-${randomUUID()}@example.com` });
    const unpaid = response.body.data.createPaymentIntent as { order: { id: string }; paymentIntentId: string };
    const before = await snapshot(unpaid.order.id, unpaid.paymentIntentId);
    expect(await service().refundPayment(request(unpaid.order.id))).toMatchObject({ outcome: 'refused', error: { code: 'ORDER_NOT_REFUNDABLE' } });
    expect(await service().refundPayment(request(randomUUID()))).toMatchObject({ outcome: 'refused', orderId: null, error: { code: 'ORDER_NOT_FOUND' } });
    expect(await service().refundPayment(request('not-a-uuid'))).toMatchObject({ outcome: 'refused', error: { code: 'ORDER_NOT_FOUND' } });
    expect(await snapshot(unpaid.order.id, unpaid.paymentIntentId)).toEqual(before);
  });

  it('a disputed charge Stripe will not refund is CHARGE_DISPUTED before Stripe: nothing written, refundable 0', async () => {
    const { orderId, paymentIntentId } = await paidOrder('pm_card_createDispute');
    expect(await orderStatus(orderId)).toBe('disputed');
    const { rows: disputes } = await server.app.db.query<{ evidence_due_by: string | null; is_charge_refundable: boolean | null }>(
      'select evidence_due_by, is_charge_refundable from disputes where order_id = $1',
      [orderId],
    );
    expect(disputes).toEqual([{ evidence_due_by: expect.anything(), is_charge_refundable: false }]);
    expect(await refundableAmount(server.app.db, orderId)).toEqual({ amount: 0, currency: 'usd' });
    const before = await snapshot(orderId, paymentIntentId);
    const posts = refundPosts;
    expect(await service().refundPayment(request(orderId, { amount: 1000 }))).toMatchObject({ outcome: 'refused', refund: null, error: { code: 'CHARGE_DISPUTED' } });
    expect(await service().refundPayment(request(orderId))).toMatchObject({ outcome: 'refused', refund: null, error: { code: 'CHARGE_DISPUTED' } });
    expect(refundPosts).toBe(posts);
    expect(await snapshot(orderId, paymentIntentId)).toEqual(before);
    expect(await orderStatus(orderId)).toBe('disputed');
  });

  it('a disputed charge Stripe says is refundable goes to Stripe as before: its refusal there is still CHARGE_DISPUTED', async () => {
    const { orderId, paymentIntentId } = await paidOrder('pm_card_createDispute');
    await server.app.db.query('update disputes set is_charge_refundable = true where order_id = $1', [orderId]);
    expect(await refundableAmount(server.app.db, orderId)).toEqual({ amount: 9900, currency: 'usd' });
    const result = await service().refundPayment(request(orderId, { amount: 1000 }));
    expect(result).toMatchObject({ outcome: 'refused', error: { code: 'CHARGE_DISPUTED' }, refund: { status: 'failed', failure_reason: 'charge_disputed' } });
    expect(await stripeRefunds(paymentIntentId)).toEqual([]);
  });
});

describe('refusals by Stripe of refunds we did not know were made', () => {
  it('a refund made in Stripe\'s dashboard whose webhook has not come yet: Stripe refuses the excess (no code), REFUND_REFUSED with its message, the row failed', async () => {
    const { orderId, paymentIntentId } = await paidOrder();
    sandbox.webhookFaults.dropNext = 1_000_000;
    await stripe.refunds.create({ payment_intent: paymentIntentId, amount: 5000 });
    const req = request(orderId, { amount: 9900 });
    const result = await service().refundPayment(req);
    expect(result).toMatchObject({ outcome: 'refused', error: { code: 'REFUND_REFUSED', message: expect.stringMatching(/.+/) }, refund: { status: 'failed', failure_reason: 'refused' } });
    expect((await stripeRefunds(paymentIntentId)).map((r) => r.amount)).toEqual([5000]);
    // A repeat by its key says the same, without asking Stripe again.
    const posts = refundPosts;
    expect(await service().refundPayment(req)).toMatchObject({ outcome: 'refused', isRepeat: true, error: { code: 'REFUND_REFUSED' } });
    expect(refundPosts).toBe(posts);
  });

  it('a charge refunded in full at Stripe is charge_already_refunded: REFUND_REFUSED, the row failed, the order refunded once the webhook comes', async () => {
    const { orderId, paymentIntentId } = await paidOrder();
    sandbox.webhookFaults.dropNext = 1_000_000;
    await stripe.refunds.create({ payment_intent: paymentIntentId });
    const req = request(orderId, { amount: 100 });
    const result = await service().refundPayment(req);
    expect(result).toMatchObject({ outcome: 'refused', error: { code: 'REFUND_REFUSED' }, refund: { status: 'failed', failure_reason: 'charge_already_refunded' } });
    const posts = refundPosts;
    expect(await service().refundPayment(req)).toMatchObject({ outcome: 'refused', isRepeat: true, error: { code: 'REFUND_REFUSED' } });
    expect(refundPosts).toBe(posts);
    sandbox.webhookFaults.dropNext = 0;
    expect(await runReconciliation(server.app.reconciliation, { trigger: 'manual', actor: ADMIN })).toMatchObject({ outcome: 'succeeded' });
    await settle();
    expect((await refundRows(orderId)).map((r) => [r.amount, r.status]).sort()).toEqual([[100, 'failed'], [9900, 'succeeded']]);
    expect(await orderStatus(orderId)).toBe('refunded');
  });
});

describe('idempotency and concurrency', () => {
  it('ten concurrent refunds of the full amount with different keys make one Stripe refund; nine are REFUND_EXCEEDS_REMAINING', async () => {
    const { orderId, paymentIntentId } = await paidOrder();
    // Whether a loser meets the winner at Stripe (amount held) or recorded (order refunded), the answer is the same.
    const results = await Promise.all(Array.from({ length: 10 }, () => service().refundPayment(request(orderId, { amount: 9900 }))));
    expect(results.filter((r) => r.outcome === 'done')).toHaveLength(1);
    const refused = results.filter((r) => r.outcome === 'refused');
    expect(refused).toHaveLength(9);
    for (const r of refused) expect(r).toMatchObject({ error: { code: 'REFUND_EXCEEDS_REMAINING' }, refundable: { amount: 0 } });
    expect(await stripeRefunds(paymentIntentId)).toHaveLength(1);
    expect(await refundRows(orderId)).toHaveLength(1);
  });

  it('a repeat by key returns the first refund with one Stripe call; the key with other input is a conflict', async () => {
    const { orderId, paymentIntentId } = await paidOrder();
    const first = request(orderId, { amount: 1500 });
    const posts = refundPosts;
    const a = await service().refundPayment(first);
    const b = await service().refundPayment(first);
    expect(refundPosts - posts).toBe(1);
    expect(a).toMatchObject({ outcome: 'done', isRepeat: false });
    expect(b).toMatchObject({ outcome: 'done', isRepeat: true, refund: { id: a.outcome === 'done' ? a.refund.id : '' } });
    expect(await service().refundPayment({ ...first, amount: 1600 })).toEqual({ outcome: 'conflict', operation: 'refund_payment' });
    expect(await stripeRefunds(paymentIntentId)).toHaveLength(1);
  });

  it('Stripe failing past the SDK retries is PAYMENT_PROVIDER_UNAVAILABLE with the row creating; a retry by key makes the one refund', async () => {
    const { orderId, paymentIntentId } = await paidOrder();
    const req = request(orderId, { amount: 2500 });
    sandbox.failNext('api_error', 'rate_limit'); // the first try and the SDK's one retry (STRIPE_MAX_NETWORK_RETRIES=1)
    const first = await service().refundPayment(req);
    expect(first).toMatchObject({ outcome: 'done', error: { code: 'PAYMENT_PROVIDER_UNAVAILABLE' }, refund: { status: 'creating', stripe_refund_id: null } });
    // Held while creating: only the rest can be asked for meanwhile.
    expect(await service().refundPayment(request(orderId, { amount: 7401 }))).toMatchObject({ error: { code: 'REFUND_EXCEEDS_REMAINING' }, refundable: { amount: 7400 } });
    sandbox.failNext('connection_reset', 'connection_reset');
    expect(await service().refundPayment(req)).toMatchObject({ error: { code: 'PAYMENT_PROVIDER_UNAVAILABLE' } });
    const retried = await service().refundPayment(req);
    expect(retried).toMatchObject({ outcome: 'done', isRepeat: true, error: null, refund: { status: 'succeeded', amount: 2500 } });
    expect(await stripeRefunds(paymentIntentId)).toEqual([expect.objectContaining({ amount: 2500 })]);
    await settle();
    expect(await refundRows(orderId)).toEqual([expect.objectContaining({ status: 'succeeded', stripe_refund_id: expect.stringMatching(/^re_/) })]);
    expect(await orderStatus(orderId)).toBe('partially_refunded');
  });
});

describe('our write failing after Stripe made the refund', () => {
  it('the row stays creating; the webhook links it by metadata.refund_id: one row, succeeded, Make told once', async () => {
    const { orderId, paymentIntentId } = await paidOrder();
    const faults = faultyDb(server.app.db);
    faults.failNext(/refund_record/);
    await expect(service(faults.db).refundPayment(request(orderId))).rejects.toThrow(/injected database failure/);
    expect(await refundRows(orderId)).toEqual([expect.objectContaining({ status: 'creating', stripe_refund_id: null })]);
    const [atStripe] = await stripeRefunds(paymentIntentId);
    await settle();
    const rows = await refundRows(orderId);
    expect(rows).toEqual([expect.objectContaining({ stripe_refund_id: atStripe!.id, status: 'succeeded', amount: 9900 })]);
    expect(await orderStatus(orderId)).toBe('refunded');
    expect(await refundCompleted(orderId)).toEqual([rows[0]!.id]);
  });

  it('the webhook applied before our record of Stripe\'s answer: the record leaves the linked row as it is, one row', async () => {
    const { orderId, paymentIntentId } = await paidOrder();
    let webhooksApplied: () => void = () => {};
    const applied = new Promise<void>((resolve) => (webhooksApplied = resolve));
    const held = heldDb(server.app.db, /refund_record/, applied);
    const pending = service(held).refundPayment(request(orderId, { amount: 1200 }));
    await expect.poll(async () => (await stripeRefunds(paymentIntentId)).length).toBe(1);
    await settle();
    const [linked] = await refundRows(orderId);
    expect(linked).toMatchObject({ status: 'succeeded', stripe_refund_id: expect.stringMatching(/^re_/) });
    webhooksApplied();
    expect(await pending).toMatchObject({ outcome: 'done', error: null, refund: { id: linked!.id, status: 'succeeded' } });
    expect(await refundRows(orderId)).toEqual([linked]);
    expect(await refundCompleted(orderId)).toEqual([linked!.id]);
  });

  it('with no webhook, the janitor lists the PaymentIntent\'s refunds and records it; the late webhook adds no second row', async () => {
    const { orderId, paymentIntentId } = await paidOrder();
    sandbox.webhookFaults.dropNext = 1_000_000;
    const faults = faultyDb(server.app.db);
    faults.failNext(/refund_record/);
    await expect(service(faults.db).refundPayment(request(orderId, { amount: 4000 }))).rejects.toThrow(/injected database failure/);
    await sandbox.flushWebhooks();
    await server.app.webhookApplier.drain();
    expect(await refundRows(orderId)).toEqual([expect.objectContaining({ status: 'creating' })]);

    // Not yet 5 minutes old: left alone.
    expect(await settleCreatingRefunds({ db: server.app.db, stripe, logger: silent, actor: 'janitor:test' })).toEqual({ recorded: 0, failed: 0 });
    await ageRefunds(orderId);
    expect(await settleCreatingRefunds({ db: server.app.db, stripe, logger: silent, actor: 'janitor:test' })).toEqual({ recorded: 1, failed: 0 });
    const [atStripe] = await stripeRefunds(paymentIntentId);
    expect(await refundRows(orderId)).toEqual([expect.objectContaining({ stripe_refund_id: atStripe!.id, status: 'succeeded' })]);
    expect(await orderStatus(orderId)).toBe('partially_refunded');

    // The lost deliveries arrive after all: a full janitor pass backfills the events Stripe did not
    // deliver, and the applier meets the row already linked.
    sandbox.webhookFaults.dropNext = 0;
    const pass = await runReconciliation(server.app.reconciliation, { trigger: 'manual', actor: ADMIN });
    expect(pass).toMatchObject({ outcome: 'succeeded' });
    await server.app.webhookApplier.drain();
    const { rows: stored } = await server.app.db.query<{ n: number }>(
      "select count(*)::int as n from stripe_events where type in ('charge.refunded', 'refund.created', 'refund.updated') and payload::text like '%' || $1 || '%'",
      [atStripe!.id],
    );
    expect(stored[0]!.n).toBeGreaterThan(0);
    expect(await refundRows(orderId)).toHaveLength(1);
    expect(await refundCompleted(orderId)).toHaveLength(1);
  });

  it('a refund Stripe never made (unreachable, then no retry) is marked failed by a janitor pass after 5 minutes, its amount given back', async () => {
    const { orderId, paymentIntentId } = await paidOrder();
    sandbox.failNext('api_error', 'api_error');
    const req = request(orderId, { amount: 9900 });
    expect(await service().refundPayment(req)).toMatchObject({ error: { code: 'PAYMENT_PROVIDER_UNAVAILABLE' } });
    await ageRefunds(orderId);
    expect(await runReconciliation(server.app.reconciliation, { trigger: 'manual', actor: ADMIN })).toMatchObject({ outcome: 'succeeded' });
    expect(await refundRows(orderId)).toEqual([expect.objectContaining({ status: 'failed', failure_reason: 'not_created' })]);
    expect(await stripeRefunds(paymentIntentId)).toEqual([]);
    expect(await orderStatus(orderId)).toBe('paid');
    // Completing that press now says it was not made and to press again, not that Stripe refused it.
    const posts = refundPosts;
    expect(await service().refundPayment(req)).toMatchObject({
      outcome: 'refused',
      isRepeat: true,
      error: { code: 'REFUND_REFUSED', message: expect.stringMatching(/not made at Stripe.*press Refund… again/) },
    });
    expect(refundPosts).toBe(posts);
    expect(await service().refundPayment(request(orderId))).toMatchObject({ outcome: 'done', refund: { amount: 9900, status: 'succeeded' } });
  });

  it('the janitor marking failed a refund whose repeat Stripe was still making: Stripe\'s answer replaces not_created, so the amount is never offered again', async () => {
    const { orderId, paymentIntentId } = await paidOrder();
    sandbox.failNext('api_error', 'api_error');
    const req = request(orderId, { amount: 9900 });
    expect(await service().refundPayment(req)).toMatchObject({ error: { code: 'PAYMENT_PROVIDER_UNAVAILABLE' } });
    let answer: () => void = () => {};
    const slow = slowCreate(new Promise<void>((resolve) => (answer = resolve)));
    const pending = service(server.app.db, slow.client).refundPayment(req);
    await expect.poll(slow.called).toBe(true);
    // The janitor picked the row before the repeat touched it: Stripe lists nothing yet, so not_created.
    await ageRefunds(orderId);
    expect(await settleCreatingRefunds({ db: server.app.db, stripe, logger: silent, actor: 'janitor:test' })).toEqual({ recorded: 0, failed: 1 });
    expect(await refundRows(orderId)).toEqual([expect.objectContaining({ status: 'failed', failure_reason: 'not_created' })]);
    answer();
    const result = await pending;
    const [atStripe, ...more] = await stripeRefunds(paymentIntentId);
    expect(more).toEqual([]);
    expect(result).toMatchObject({ outcome: 'done', error: null, refund: { status: 'succeeded', stripe_refund_id: atStripe!.id } });
    expect(await refundRows(orderId)).toEqual([expect.objectContaining({ status: 'succeeded', stripe_refund_id: atStripe!.id, failure_reason: null })]);
    expect(await orderStatus(orderId)).toBe('refunded');
    expect(await refundableAmount(server.app.db, orderId)).toEqual({ amount: 0, currency: 'usd' });
    await settle();
    expect(await refundRows(orderId)).toHaveLength(1);
    expect(await refundCompleted(orderId)).toHaveLength(1);
  });

  it('the webhook links by metadata.refund_id a row the janitor marked not_created while Stripe was making it', async () => {
    const { orderId, paymentIntentId } = await paidOrder();
    sandbox.failNext('api_error', 'api_error');
    const req = request(orderId, { amount: 5000 });
    expect(await service().refundPayment(req)).toMatchObject({ error: { code: 'PAYMENT_PROVIDER_UNAVAILABLE' } });
    let answer: () => void = () => {};
    const slow = slowCreate(new Promise<void>((resolve) => (answer = resolve)));
    const faults = faultyDb(server.app.db);
    faults.failNext(/refund_record/);
    const pending = service(faults.db, slow.client).refundPayment(req);
    await expect.poll(slow.called).toBe(true);
    await ageRefunds(orderId);
    expect(await settleCreatingRefunds({ db: server.app.db, stripe, logger: silent, actor: 'janitor:test' })).toEqual({ recorded: 0, failed: 1 });
    answer();
    await expect(pending).rejects.toThrow(/injected database failure/);
    expect(await refundRows(orderId)).toEqual([expect.objectContaining({ status: 'failed', failure_reason: 'not_created' })]);
    await settle();
    const [atStripe] = await stripeRefunds(paymentIntentId);
    expect(await refundRows(orderId)).toEqual([expect.objectContaining({ status: 'succeeded', stripe_refund_id: atStripe!.id })]);
    expect(await orderStatus(orderId)).toBe('partially_refunded');
  });

  it('a repeat touches the row before asking Stripe, so the janitor leaves a refund being completed alone', async () => {
    const { orderId } = await paidOrder();
    sandbox.failNext('api_error', 'api_error');
    const req = request(orderId, { amount: 3000 });
    expect(await service().refundPayment(req)).toMatchObject({ error: { code: 'PAYMENT_PROVIDER_UNAVAILABLE' } });
    await ageRefunds(orderId);
    let answer: () => void = () => {};
    const slow = slowCreate(new Promise<void>((resolve) => (answer = resolve)));
    const pending = service(server.app.db, slow.client).refundPayment(req);
    await expect.poll(slow.called).toBe(true);
    expect(await settleCreatingRefunds({ db: server.app.db, stripe, logger: silent, actor: 'janitor:test' })).toEqual({ recorded: 0, failed: 0 });
    answer();
    expect(await pending).toMatchObject({ outcome: 'done', refund: { status: 'succeeded', amount: 3000 } });
  });

  it('a repeat looks in Stripe\'s list of the PaymentIntent\'s refunds before sending again (Stripe forgets a key after 24 hours)', async () => {
    const { orderId, paymentIntentId } = await paidOrder();
    sandbox.webhookFaults.dropNext = 1_000_000;
    const faults = faultyDb(server.app.db);
    faults.failNext(/refund_record/);
    const req = request(orderId, { amount: 2000 });
    await expect(service(faults.db).refundPayment(req)).rejects.toThrow(/injected database failure/);
    const posts = refundPosts;
    const [atStripe] = await stripeRefunds(paymentIntentId);
    expect(await service().refundPayment(req)).toMatchObject({ outcome: 'done', isRepeat: true, refund: { status: 'succeeded', stripe_refund_id: atStripe!.id } });
    expect(refundPosts).toBe(posts);
    expect(await stripeRefunds(paymentIntentId)).toHaveLength(1);
  });

  it('the refund step runs even when an earlier step of the pass fails: the pass fails, the refund is settled', async () => {
    const { orderId } = await paidOrder();
    sandbox.failNext('api_error', 'api_error');
    expect(await service().refundPayment(request(orderId, { amount: 1000 }))).toMatchObject({ error: { code: 'PAYMENT_PROVIDER_UNAVAILABLE' } });
    await ageRefunds(orderId);
    const faults = faultyDb(server.app.db);
    faults.failNext(/from reconciliation_cursors/);
    expect(await runReconciliation({ ...server.app.reconciliation, db: faults.db }, { trigger: 'manual', actor: ADMIN })).toMatchObject({ outcome: 'failed' });
    expect(faults.failures).toHaveLength(1);
    expect(await refundRows(orderId)).toEqual([expect.objectContaining({ status: 'failed', failure_reason: 'not_created' })]);
  });
});

describe('asynchronous failure', () => {
  it('a refund of the refund-failure card succeeds, then fails: the amount is given back, the order paid again, Make told of the success once', async () => {
    const { orderId } = await paidOrder('pm_card_refundFail');
    const result = await service().refundPayment(request(orderId, { amount: 3000 }));
    expect(result).toMatchObject({ outcome: 'done', refund: { status: 'succeeded' } });
    expect(await orderStatus(orderId)).toBe('partially_refunded');
    await settle();
    await sandbox.advanceClock(10);
    await settle();
    expect(await refundRows(orderId)).toEqual([expect.objectContaining({ status: 'failed', failure_reason: 'expired_or_canceled_card', amount: 3000 })]);
    expect(await orderStatus(orderId)).toBe('paid');
    const { rows } = await server.app.db.query<{ amount_refunded: number }>('select amount_refunded::int as amount_refunded from payments where order_id = $1', [orderId]);
    expect(rows).toEqual([{ amount_refunded: 0 }]);
    expect(await refundCompleted(orderId)).toHaveLength(1);
    // The whole amount is refundable again.
    expect(await service().refundPayment(request(orderId, { amount: 9901 }))).toMatchObject({ refundable: { amount: 9900 } });
  });
});
