// Review 20, findings 1 and 2: money still moving when a request closes. A share's bank debit processing
// at expiry holds the expiry back until it settles; a request expired under a debit that then succeeds
// with every other share paid completes after all (once); a debit processing at cancel that fails
// reopens its PaymentIntent, which the next pass cancels at Stripe (the member cannot pay a canceled
// request with the page they still hold); a share paid on a closed request is logged for a refund.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Viewer } from '../../server/auth/viewer';
import { alertFigures, evaluateAlerts } from '../../server/ops/alerts';
import type { PaymentRequests } from '../../server/paymentRequests/service';
import { runReconciliation } from '../../server/reconcile/janitor';
import { type CheckoutServer, startCheckoutServer } from '../helpers/checkout';
import { attemptsOf, confirmAs, memberRow, newPayKey, newRequest, paymentRequestsOf, requestRow, settle } from './payHelpers';

let server: CheckoutServer;
let service: PaymentRequests;
beforeAll(async () => {
  server = await startCheckoutServer({ RECONCILE_INTERVAL: 'off', JOBS_ENABLED: 'false' });
  service = paymentRequestsOf(server);
  // Routes for the kinds a completed request enqueues (make_enqueue records a delivery per route).
  await server.app.db.query(
    `insert into make_routes (kind, url) select k, 'https://hook.make.test/' || k from unnest(array['add_project', 'payment_request_completed']) k on conflict do nothing`,
  );
});
afterAll(() => server?.stop());

const sandbox = () => server.app.stripeSandbox!;
const stripeNow = () => new Date(sandbox().core.clock.now() * 1000);
const pass = () => runReconciliation(server.app.reconciliation, { trigger: 'manual', actor: 'test' });
const ADMIN: Viewer = { role: 'ADMIN', id: '00000000-0000-4000-8000-000000000001', name: 'admin@staff.test', kind: 'user' };

async function payShare(token: string): Promise<string> {
  const result = await service.payShare(token, newPayKey());
  if (result.outcome !== 'pay') throw new Error(`expected a PaymentIntent, got ${JSON.stringify(result)}`);
  return result.paymentIntentId;
}

async function deliveries(requestId: string) {
  const { rows } = await server.app.db.query<{ kind: string; n: number }>(
    'select kind, count(*)::int as n from make_deliveries where subject_id = $1 group by kind order by kind',
    [requestId],
  );
  return rows;
}

async function logsOf(orderId: string, eventType: string) {
  const { rows } = await server.app.db.query<{ metadata: Record<string, unknown> }>('select metadata from payment_logs where order_id = $1 and event_type = $2', [orderId, eventType]);
  return rows;
}

/** Past expires_at by Stripe's clock without moving it (a move would settle the bank debits). */
const pastExpiry = (requestId: string) =>
  server.app.db.query('update payment_requests set expires_at = $2 where id = $1', [requestId, new Date(stripeNow().getTime() - 1000).toISOString()]);

describe('finding 1: a share processing at expiry', () => {
  it('holds the expiry back while the only unpaid share is processing; it succeeds and the request completes once', async () => {
    const request = await newRequest(server, { amounts: [1000, 1000], track: 'business_plan_builder', expiresAt: new Date(stripeNow().getTime() + 60_000) });
    const [a, b] = request.members;
    expect(await confirmAs(server, await payShare(a!.token), 'pm_card_visa')).toBe('succeeded');
    expect(await confirmAs(server, await payShare(b!.token), 'pm_usBankAccount_success')).toBe('processing');
    await settle(server);
    await pastExpiry(request.id);

    expect((await pass()).outcome).toBe('succeeded');
    expect(await requestRow(server, request.id)).toMatchObject({ status: 'partially_paid' });
    expect(await memberRow(server, b!.id)).toMatchObject({ status: 'processing' });

    await sandbox().advanceClock(60);
    await settle(server);
    expect(await requestRow(server, request.id)).toMatchObject({ status: 'paid' });
    expect(await deliveries(request.id)).toEqual([{ kind: 'add_project', n: 1 }, { kind: 'payment_request_completed', n: 1 }]);
  });

  it('a request already expired under a processing debit is paid when that debit succeeds and every other share is paid', async () => {
    const request = await newRequest(server, { amounts: [1200, 1300], track: 'business_plan_builder' });
    const [a, b] = request.members;
    expect(await confirmAs(server, await payShare(a!.token), 'pm_card_visa')).toBe('succeeded');
    expect(await confirmAs(server, await payShare(b!.token), 'pm_usBankAccount_success')).toBe('processing');
    await settle(server);
    // Expired as the earlier expiry did (before in_flight): the request closed over a processing share.
    await server.app.db.query("update payment_requests set status = 'expired' where id = $1", [request.id]);

    await sandbox().advanceClock(60);
    await settle(server);
    expect(await memberRow(server, b!.id)).toMatchObject({ status: 'paid' });
    expect(await requestRow(server, request.id)).toMatchObject({ status: 'paid', completed_at: expect.any(Date) });
    expect(await deliveries(request.id)).toEqual([{ kind: 'add_project', n: 1 }, { kind: 'payment_request_completed', n: 1 }]);
    expect(await logsOf(b!.orderId, 'payment_request.share_paid_on_closed_request')).toEqual([]);
  });
});

describe('finding 2: a closed request’s share paid or payable again', () => {
  it('a debit processing at cancel that fails reopens its PaymentIntent; the next pass cancels it and the member cannot pay', async () => {
    const request = await newRequest(server, { amounts: [1000, 2000] });
    const [a] = request.members;
    const intentId = await payShare(a!.token);
    expect(await confirmAs(server, intentId, 'pm_usBankAccount_insufficientFunds')).toBe('processing');
    await settle(server);
    expect(await service.cancel(ADMIN, request.id, newPayKey())).toMatchObject({ outcome: 'done', request: { status: 'canceled' } });
    await sandbox().advanceClock(60);
    await settle(server);
    // The failed debit reopened the attempt: payable with the client secret the member's page holds.
    expect(await memberRow(server, a!.id)).toMatchObject({ status: 'failed', order_status: 'failed' });
    expect((await server.app.stripe.paymentIntents.retrieve(intentId)).status).toBe('requires_payment_method');

    const run = await pass();
    expect(run.outcome).toBe('succeeded');
    expect(run.run.counters.canceled).toBeGreaterThanOrEqual(1);
    expect((await server.app.stripe.paymentIntents.retrieve(intentId)).status).toBe('canceled');
    const [attempt] = await attemptsOf(server, a!.orderId);
    expect(attempt).toMatchObject({ status: 'canceled', stripe_object_id: intentId });
    expect(await memberRow(server, a!.id)).toMatchObject({ status: 'canceled', order_status: 'canceled' });
    expect(await logsOf(a!.orderId, 'payment_request.share_canceled')).toMatchObject([{ metadata: { reason: 'request_canceled', payment_request_id: request.id } }]);
    await expect(server.app.stripe.paymentIntents.confirm(intentId, { payment_method: 'pm_card_visa' })).rejects.toMatchObject({ statusCode: 400 });
    expect(await requestRow(server, request.id)).toMatchObject({ status: 'canceled' });
    // Nothing more the next time.
    await pass();
    expect(await attemptsOf(server, a!.orderId)).toHaveLength(1);
  });

  it('a debit processing at cancel that succeeds is logged as paid on a closed request, for a refund', async () => {
    const request = await newRequest(server, { amounts: [1000, 2000] });
    const [a] = request.members;
    expect(await confirmAs(server, await payShare(a!.token), 'pm_usBankAccount_success')).toBe('processing');
    await settle(server);
    expect(await service.cancel(ADMIN, request.id, newPayKey())).toMatchObject({ outcome: 'done' });
    await sandbox().advanceClock(60);
    await settle(server);
    expect(await memberRow(server, a!.id)).toMatchObject({ status: 'paid' });
    expect(await requestRow(server, request.id)).toMatchObject({ status: 'canceled' });
    expect(await logsOf(a!.orderId, 'payment_request.share_paid_on_closed_request')).toMatchObject([
      { metadata: { payment_request_id: request.id, payment_request_member_id: a!.id, request_status: 'canceled', amount: 1000, currency: 'gbp' } },
    ]);
    expect(await deliveries(request.id)).toEqual([]);
    // The ops alert holds while the share's order holds the money.
    const figures = await alertFigures(server.app.db);
    expect(figures.sharesPaidOnClosedRequests).toBeGreaterThanOrEqual(1);
    expect(evaluateAlerts(figures).find((alert) => alert.code === 'SHARE_PAID_ON_CLOSED_REQUEST')).toMatchObject({ holding: true });
  });
});
