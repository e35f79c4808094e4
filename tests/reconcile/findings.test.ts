// A staff member settling a finding (issue 17's resolveOrphanedPayment, through the Reconciliation
// service): each action against the sandbox's real objects, each refusal leaving the finding as it was,
// and two staff pressing at once. Webhooks are dropped: what is learnt comes from the janitor or the action.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { actionsFor } from '../../server/reconcile/actions';
import { runReconciliation } from '../../server/reconcile/janitor';
import type { FindingRow } from '../../server/reconcile/reconcile.sql';
import { type CheckoutServer, newKey, startCheckoutServer } from '../helpers/checkout';

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
const ADMIN = 'staff:11111111-2222-4333-8444-555555555555';
const pass = () => runReconciliation(server.app.reconciliation, { trigger: 'manual', actor: 'test' });
const resolve = (findingId: string, action: 'adopt' | 'cancel' | 'dismiss', note: string | null = null, actor = ADMIN) =>
  server.app.reconciler.resolveFinding({ findingId, action, note, actor });

/** An open PaymentIntent with our metadata and no record here, found by a pass: an open STRIPE_WITHOUT_RECORD finding. */
async function openOrphan() {
  const orderId = randomUUID();
  const intent = await server.app.stripe.paymentIntents.create({
    amount: 9900,
    currency: 'usd',
    receipt_email: `orphan-${randomUUID()}@example.com`,
    metadata: { order_id: orderId, customer_id: randomUUID(), track: 'business_plan_builder', attempt: '1' },
  });
  await pass();
  const finding = await findingOf(intent.id);
  expect(finding).toMatchObject({ kind: 'STRIPE_WITHOUT_RECORD', status: 'open' });
  return { intent, orderId, finding: finding! };
}

async function findingOf(subject: string): Promise<FindingRow | undefined> {
  const { rows } = await server.app.db.query<{ f: FindingRow }>('select to_jsonb(f) as f from reconciliation_findings f where subject = $1 order by first_seen_at desc', [subject]);
  return rows[0]?.f;
}

async function resolvedLogs(findingId: string) {
  const { rows } = await server.app.db.query<{ status: string; metadata: Record<string, unknown> }>(
    `select status, metadata from payment_logs where event_type = 'reconcile.finding_resolved' and metadata->>'finding_id' = $1`,
    [findingId],
  );
  return rows;
}

describe('adopt', () => {
  it('records a payment made at Stripe after the finding on an order made from its metadata, and resolves the finding by the admin', async () => {
    const { intent, orderId, finding } = await openOrphan();
    await server.app.stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_visa', return_url: RETURN_URL });

    const result = await resolve(finding.id, 'adopt', 'customer paid by phone');
    expect(result).toMatchObject({ error: null, orderId, finding: { status: 'resolved', resolved_by: ADMIN, resolution: 'adopted by staff: paid at Stripe: customer paid by phone', order_id: orderId } });
    expect(result.finding!.resolved_at).toEqual(expect.any(String));
    const { rows } = await server.app.db.query('select status, sync_state from orders where id = $1', [orderId]);
    expect(rows).toEqual([{ status: 'paid', sync_state: 'confirmed' }]);
    // The log row is the order's customer's to read (payment_logs_own_rows): "staff", and no note.
    const logs = await resolvedLogs(finding.id);
    expect(logs).toEqual([{ status: 'adopt', metadata: expect.objectContaining({ action: 'adopt', actor: 'staff' }) }]);
    expect(logs[0]!.metadata).not.toHaveProperty('note');
    expect(JSON.stringify(logs)).not.toContain(ADMIN.slice('staff:'.length));
    const { rows: customerRows } = await server.app.db.query(`select 1 from payment_logs where order_id = $1 and (metadata::text like '%' || $2 || '%' or metadata::text like '%customer paid by phone%')`, [orderId, ADMIN.slice('staff:'.length)]);
    expect(customerRows).toEqual([]);
  });

  it('refuses an object still open at Stripe with ORPHAN_WRONG_STATE, saying it will be adopted once paid, and leaves the finding open', async () => {
    const { finding } = await openOrphan();
    const result = await resolve(finding.id, 'adopt');
    expect(result).toMatchObject({ error: { code: 'ORPHAN_WRONG_STATE', message: expect.stringContaining('adopted automatically') }, finding: { status: 'open', resolved_by: null } });
    expect(await resolvedLogs(finding.id)).toEqual([]);
  });

  it('refuses a finding without a Stripe object with ORPHAN_WRONG_STATE', async () => {
    const { rows } = await server.app.db.query<{ id: string }>(
      `insert into reconciliation_findings (kind, subject) values ('ATTEMPT_WITHOUT_OBJECT', $1) returning id`,
      [randomUUID()],
    );
    const result = await resolve(rows[0]!.id, 'adopt');
    expect(result).toMatchObject({ error: { code: 'ORPHAN_WRONG_STATE' }, finding: { status: 'open' } });
  });
});

describe('cancel', () => {
  it("cancels an open PaymentIntent at Stripe with the attempt's derived key and resolves the finding", async () => {
    const { intent, finding } = await openOrphan();
    const result = await resolve(finding.id, 'cancel', 'test order from the agency');
    expect(result).toMatchObject({ error: null, finding: { status: 'resolved', stripe_status: 'canceled', resolution: 'cancelled at Stripe by staff: test order from the agency' } });
    expect((await server.app.stripe.paymentIntents.retrieve(intent.id)).status).toBe('canceled');
    expect(await resolvedLogs(finding.id)).toHaveLength(1);
  });

  it('refuses a paid one with ORPHAN_ALREADY_PAID and leaves it paid at Stripe and the finding open', async () => {
    const { intent, finding } = await openOrphan();
    await server.app.stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_visa', return_url: RETURN_URL });
    const result = await resolve(finding.id, 'cancel');
    expect(result).toMatchObject({ error: { code: 'ORPHAN_ALREADY_PAID' }, finding: { status: 'open' } });
    expect((await server.app.stripe.paymentIntents.retrieve(intent.id)).status).toBe('succeeded');
  });

  it('only resolves one already cancelled at Stripe', async () => {
    const { intent, finding } = await openOrphan();
    await server.app.stripe.paymentIntents.cancel(intent.id);
    const result = await resolve(finding.id, 'cancel');
    expect(result).toMatchObject({ error: null, finding: { status: 'resolved', resolution: 'already canceled at Stripe' } });
  });
});

describe('dismiss', () => {
  it('closes the finding with the note and does nothing at Stripe', async () => {
    const { intent, finding } = await openOrphan();
    const result = await resolve(finding.id, 'dismiss', 'known test object');
    expect(result).toMatchObject({ error: null, finding: { status: 'resolved', resolution: 'dismissed by staff: known test object', resolved_by: ADMIN, details: expect.objectContaining({ note: 'known test object', action: 'dismiss' }) } });
    expect((await server.app.stripe.paymentIntents.retrieve(intent.id)).status).toBe('requires_payment_method');
  });
});

describe('refusals', () => {
  it('answers ORPHAN_NOT_FOUND for an id that names no finding (or is no UUID)', async () => {
    expect(await resolve(randomUUID(), 'dismiss', 'x')).toEqual({ finding: null, orderId: null, changed: false, error: expect.objectContaining({ code: 'ORPHAN_NOT_FOUND' }) });
    expect(await resolve('not-a-uuid', 'dismiss', 'x')).toMatchObject({ finding: null, error: { code: 'ORPHAN_NOT_FOUND' } });
  });

  it('answers ORPHAN_WRONG_STATE for a finding already resolved, and changes nothing', async () => {
    const { finding } = await openOrphan();
    await resolve(finding.id, 'dismiss', 'first');
    const again = await resolve(finding.id, 'cancel', 'second', 'staff:someone-else');
    expect(again).toMatchObject({ error: { code: 'ORPHAN_WRONG_STATE', message: expect.stringContaining('already resolved') }, finding: { resolution: 'dismissed by staff: first', resolved_by: ADMIN } });
    expect(await resolvedLogs(finding.id)).toHaveLength(1);
  });

  it('answers PAYMENT_PROVIDER_UNAVAILABLE when Stripe cannot be reached, leaving the finding open and free to try again', async () => {
    const { intent, finding } = await openOrphan();
    // One call and its one SDK retry (STRIPE_MAX_NETWORK_RETRIES=1 in these servers).
    server.app.stripeSandbox!.failNext('api_error', 'api_error');
    const failed = await resolve(finding.id, 'cancel');
    expect(failed).toMatchObject({ error: { code: 'PAYMENT_PROVIDER_UNAVAILABLE' }, finding: { status: 'open', claim_token: null } });
    expect((await server.app.stripe.paymentIntents.retrieve(intent.id)).status).toBe('requires_payment_method');

    expect(await resolve(finding.id, 'cancel')).toMatchObject({ error: null, finding: { status: 'resolved' } });
  });

  it('lets one of two staff resolving one finding at once act; the other gets ORPHAN_WRONG_STATE', async () => {
    const { intent, finding } = await openOrphan();
    const results = await Promise.all([resolve(finding.id, 'cancel', 'a', 'staff:a'), resolve(finding.id, 'dismiss', 'b', 'staff:b')]);
    expect(results.map((r) => r.error?.code ?? 'ok').sort()).toEqual(['ORPHAN_WRONG_STATE', 'ok']);
    const winner = results.find((r) => !r.error)!;
    expect(await findingOf(intent.id)).toMatchObject({ status: 'resolved', resolved_by: winner.finding!.resolved_by });
    expect(await resolvedLogs(finding.id)).toHaveLength(1);
  });
});

describe('actionsFor', () => {
  const open = { kind: 'STRIPE_WITHOUT_RECORD' as const, status: 'open' as const, stripe_object_id: 'pi_1' };
  it('offers adopt for a paid object, cancel for an open one, dismiss always, and nothing once resolved', () => {
    expect(actionsFor({ ...open, stripe_status: 'succeeded' })).toEqual(['adopt', 'dismiss']);
    expect(actionsFor({ ...open, stripe_status: 'processing' })).toEqual(['adopt', 'dismiss']);
    expect(actionsFor({ ...open, stripe_status: 'requires_payment_method' })).toEqual(['cancel', 'dismiss']);
    expect(actionsFor({ ...open, stripe_status: 'open' })).toEqual(['cancel', 'dismiss']);
    expect(actionsFor({ ...open, stripe_status: 'canceled' })).toEqual(['dismiss']);
    expect(actionsFor({ ...open, stripe_object_id: null, stripe_status: null })).toEqual(['dismiss']);
    expect(actionsFor({ ...open, kind: 'PROVISIONAL_TOO_LONG', stripe_status: 'succeeded' })).toEqual(['dismiss']);
    expect(actionsFor({ ...open, kind: 'PROVISIONAL_TOO_LONG', stripe_status: 'requires_payment_method' })).toEqual(['dismiss']);
    // order_apply_payment refuses a mismatched amount: ADOPT could never succeed there.
    expect(actionsFor({ ...open, kind: 'AMOUNT_MISMATCH', stripe_status: 'succeeded' })).toEqual(['dismiss']);
    expect(actionsFor({ ...open, status: 'resolved', stripe_status: 'succeeded' })).toEqual([]);
  });
});

describe('staff actions that must not act', () => {
  /** An order whose storefront checkout made a PaymentIntent the customer has not paid yet. */
  async function liveOrder() {
    const created = (await server.createPaymentIntent({ idempotencyKey: newKey(), track: 'business_plan_builder', email: `live-${randomUUID()}@example.com` })).body.data.createPaymentIntent;
    return { orderId: created.order.id as string, paymentIntentId: created.paymentIntentId as string };
  }

  it("refuses CANCEL on a PROVISIONAL_TOO_LONG finding with ORPHAN_WRONG_STATE: the order's current PaymentIntent stays payable", async () => {
    const { orderId, paymentIntentId } = await liveOrder();
    const { rows } = await server.app.db.query<{ id: string }>(
      `insert into reconciliation_findings (kind, subject, order_id, stripe_object_id, stripe_status) values ('PROVISIONAL_TOO_LONG', $1::text, $1::uuid, $2, 'requires_payment_method') returning id`,
      [orderId, paymentIntentId],
    );
    const result = await resolve(rows[0]!.id, 'cancel');
    expect(result).toMatchObject({ changed: false, error: { code: 'ORPHAN_WRONG_STATE', message: expect.stringContaining('does not apply to a PROVISIONAL_TOO_LONG finding') }, finding: { status: 'open', claim_token: null } });
    expect((await server.app.stripe.paymentIntents.retrieve(paymentIntentId)).status).toBe('requires_payment_method');
  });

  it("closes an orphan recorded meanwhile as the order's own attempt without touching Stripe, when an admin presses Cancel", async () => {
    const { orderId } = await liveOrder();
    // Found by a pass while its attempt was still `creating`; step 2 has since recorded it as attempt 2.
    const intent = await server.app.stripe.paymentIntents.create({ amount: 9900, currency: 'usd', metadata: { order_id: orderId, attempt: '2' } });
    await pass();
    const finding = (await findingOf(intent.id))!;
    expect(finding).toMatchObject({ kind: 'STRIPE_WITHOUT_RECORD', status: 'open' });
    // The order has moved on to attempt 2 (one live attempt per order).
    await server.app.db.query(`update payment_attempts set status = 'canceled' where order_id = $1`, [orderId]);
    await server.app.db.query(
      `insert into payment_attempts (order_id, attempt, kind, status, stripe_object_id, stripe_idempotency_key) values ($1, 2, 'payment_intent', 'open', $2, $3)`,
      [orderId, intent.id, `test-${randomUUID()}`],
    );
    const result = await resolve(finding.id, 'cancel');
    expect(result).toMatchObject({ changed: false, error: { code: 'ORPHAN_WRONG_STATE', message: expect.stringContaining('recorded meanwhile') }, finding: { status: 'resolved', resolution: expect.stringMatching(/^recorded meanwhile/) } });
    expect((await server.app.stripe.paymentIntents.retrieve(intent.id)).status).toBe('requires_payment_method');
  });

  it('adopting a second payment of an order already paid answers DUPLICATE_PAYMENT (refund it), closes the finding with that, and counts as a change', async () => {
    const { orderId, paymentIntentId } = await liveOrder();
    await server.app.stripe.paymentIntents.confirm(paymentIntentId, { payment_method: 'pm_card_visa', return_url: RETURN_URL });
    await server.app.reconciler.syncOrder({ orderId, actor: ADMIN });
    const { rows } = await server.app.db.query<{ amount: number; currency: string }>('select amount, currency from orders where id = $1', [orderId]);
    const second = await server.app.stripe.paymentIntents.create({ amount: Number(rows[0]!.amount), currency: rows[0]!.currency, metadata: { order_id: orderId, attempt: '7' } });
    await pass();
    const finding = (await findingOf(second.id))!;
    await server.app.stripe.paymentIntents.confirm(second.id, { payment_method: 'pm_card_visa', return_url: RETURN_URL });

    const result = await resolve(finding.id, 'adopt');
    expect(result).toMatchObject({
      changed: true,
      orderId,
      error: { code: 'DUPLICATE_PAYMENT', message: expect.stringContaining('second payment of an order already paid') },
      finding: { status: 'resolved', resolution: `recorded on order ${orderId} as a second payment of an order already paid: refund it` },
    });
    const { rows: payments } = await server.app.db.query(`select finding from payments where stripe_payment_intent_id = $1`, [second.id]);
    expect(payments).toEqual([{ finding: 'duplicate' }]);
  });
});

describe('the hold while Stripe is asked', () => {
  /** Runs `during` while the cancel call to Stripe is in flight, then lets it finish. */
  async function duringCancel<T>(during: () => Promise<unknown>, run: () => Promise<T>): Promise<T> {
    const intents = server.app.stripe.paymentIntents;
    const cancel = intents.cancel;
    intents.cancel = (async (...args: Parameters<typeof cancel>) => {
      await during();
      return cancel.apply(intents, args);
    }) as typeof cancel;
    try {
      return await run();
    } finally {
      intents.cancel = cancel;
    }
  }

  it("holds the finding for at least 300 s, longer than one Stripe call with the SDK's retries", async () => {
    const { finding } = await openOrphan();
    let heldFor = 0;
    await duringCancel(async () => {
      const { rows } = await server.app.db.query<{ s: number }>('select extract(epoch from claimed_until - now())::float8 as s from reconciliation_findings where id = $1', [finding.id]);
      heldFor = rows[0]!.s;
    }, () => resolve(finding.id, 'cancel'));
    expect(heldFor).toBeGreaterThan(290);
  });

  it('still closes the finding when the hold lapsed while Stripe was asked and nobody else took it', async () => {
    const { finding } = await openOrphan();
    const result = await duringCancel(
      () => server.app.db.query(`update reconciliation_findings set claimed_until = now() - interval '1 second' where id = $1`, [finding.id]),
      () => resolve(finding.id, 'cancel'),
    );
    expect(result).toMatchObject({ changed: true, error: null, finding: { status: 'resolved', resolved_by: ADMIN, resolution: 'cancelled at Stripe by staff' } });
  });

  it('says what was done at Stripe, and counts it as a change, when the janitor resolved the finding meanwhile', async () => {
    const { intent, finding } = await openOrphan();
    const result = await duringCancel(
      () => server.app.db.query(`update reconciliation_findings set status = 'resolved', resolution = 'expired at Stripe', resolved_by = 'janitor:x', resolved_at = now() where id = $1`, [finding.id]),
      () => resolve(finding.id, 'cancel'),
    );
    expect(result).toMatchObject({
      changed: true,
      error: { code: 'ORPHAN_WRONG_STATE', message: 'Done: cancelled at Stripe by staff. The finding was not closed by this action: it was resolved meanwhile by janitor:x (expired at Stripe).' },
      finding: { status: 'resolved', resolved_by: 'janitor:x' },
    });
    expect((await server.app.stripe.paymentIntents.retrieve(intent.id)).status).toBe('canceled');
  });
});
