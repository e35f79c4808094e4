// Expiry of payment requests (issue 20) through the sandbox clock and a reconciliation pass: the pass
// reads Stripe's time, cancels the unpaid members' open PaymentIntents at the sandbox, records one paid
// before its webhook came as paid, and then the request is expired and its unpaid shares canceled.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PaymentRequests } from '../../server/paymentRequests/service';
import { runReconciliation } from '../../server/reconcile/janitor';
import { type CheckoutServer, startCheckoutServer } from '../helpers/checkout';
import { attemptsOf, confirmAs, newRequest, memberRow, newPayKey, paymentRequestsOf, requestRow, settle } from './payHelpers';

let server: CheckoutServer;
let service: PaymentRequests;
beforeAll(async () => {
  // The job is off: each test starts the passes it means to see.
  server = await startCheckoutServer({ RECONCILE_INTERVAL: 'off', JOBS_ENABLED: 'false' });
  service = paymentRequestsOf(server);
});
afterAll(() => server?.stop());

const sandbox = () => server.app.stripeSandbox!;
const stripeNow = () => new Date(sandbox().core.clock.now() * 1000);
const pass = () => runReconciliation(server.app.reconciliation, { trigger: 'manual', actor: 'test' });

async function payShare(token: string): Promise<string> {
  const result = await service.payShare(token, newPayKey());
  if (result.outcome !== 'pay') throw new Error(`expected a PaymentIntent, got ${JSON.stringify(result)}`);
  return result.paymentIntentId;
}

async function shareLogs(orderId: string) {
  const { rows } = await server.app.db.query<{ event_type: string; metadata: Record<string, unknown> }>(
    "select event_type, metadata from payment_logs where order_id = $1 and event_type = 'payment_request.share_canceled'",
    [orderId],
  );
  return rows;
}

describe('a request past expires_at, at the next pass', () => {
  it('cancels the open PaymentIntents, keeps what was paid (also paid before its webhook), expires the request and cancels the rest', async () => {
    const request = await newRequest(server, { amounts: [1000, 1000, 1000, 1000], expiresAt: new Date(stripeNow().getTime() + 3600_000) });
    const [paid, open, untouched, paidSilently] = request.members;
    expect(await confirmAs(server, await payShare(paid!.token), 'pm_card_visa')).toBe('succeeded');
    const openIntent = await payShare(open!.token);
    await settle(server);
    // Paid at Stripe, but every webhook of it is lost: only Stripe knows.
    sandbox().webhookFaults.dropNext = 1_000_000;
    try {
      expect(await confirmAs(server, await payShare(paidSilently!.token), 'pm_card_visa')).toBe('succeeded');
      await sandbox().flushWebhooks();
    } finally {
      sandbox().webhookFaults.dropNext = 0;
    }

    // Not yet due: a pass changes nothing of it.
    expect((await pass()).outcome).toBe('succeeded');
    expect(await requestRow(server, request.id)).toMatchObject({ status: 'partially_paid' });
    expect((await server.app.stripe.paymentIntents.retrieve(openIntent)).status).toBe('requires_payment_method');

    await sandbox().advanceClock(2 * 3600);
    const run = await pass();
    expect(run.outcome).toBe('succeeded');
    expect(run.run.counters.canceled).toBeGreaterThanOrEqual(1);

    expect(await server.app.stripe.paymentIntents.retrieve(openIntent)).toMatchObject({ status: 'canceled' });
    expect(await attemptsOf(server, open!.orderId)).toMatchObject([{ status: 'canceled' }]);
    expect(await requestRow(server, request.id)).toMatchObject({ status: 'expired', completed_at: null });
    expect(await memberRow(server, paid!.id)).toMatchObject({ status: 'paid', order_status: 'paid' });
    expect(await memberRow(server, paidSilently!.id)).toMatchObject({ status: 'paid', order_status: 'paid' });
    for (const member of [open!, untouched!]) {
      expect(await memberRow(server, member.id)).toMatchObject({ status: 'canceled', order_status: 'canceled' });
      expect(await shareLogs(member.orderId)).toMatchObject([{ metadata: { reason: 'expired', payment_request_id: request.id, payment_request_member_id: member.id } }]);
    }
    expect(await shareLogs(paid!.orderId)).toEqual([]);

    // The canceled PaymentIntent's own webhook changes nothing more; a member's link is refused now.
    await settle(server);
    expect(await memberRow(server, open!.id)).toMatchObject({ status: 'canceled', order_status: 'canceled' });
    expect(await service.payShare(untouched!.token, newPayKey())).toMatchObject({ outcome: 'refused', error: { code: 'REQUEST_NOT_PAYABLE' } });

    // A second pass finds nothing to do.
    expect((await pass()).run.counters.canceled ?? 0).toBe(0);
    expect(await requestRow(server, request.id)).toMatchObject({ status: 'expired' });
  });

  it('leaves a paid request, and one without expires_at, alone; expireDue answers what it did', async () => {
    const done = await newRequest(server, { amounts: [500], expiresAt: new Date(stripeNow().getTime() + 60_000) });
    expect(await confirmAs(server, await payShare(done.members[0]!.token), 'pm_card_visa')).toBe('succeeded');
    await settle(server);
    const forever = await newRequest(server, { amounts: [500] });
    const due = await newRequest(server, { amounts: [300, 200], expiresAt: new Date(stripeNow().getTime() + 60_000) });
    await payShare(due.members[0]!.token);

    await sandbox().advanceClock(120);
    const result = await service.expireDue(stripeNow());
    expect(result.expired).toBeGreaterThanOrEqual(1);
    expect(result.canceledIntents).toBeGreaterThanOrEqual(1);
    expect(await requestRow(server, done.id)).toMatchObject({ status: 'paid' });
    expect(await requestRow(server, forever.id)).toMatchObject({ status: 'open' });
    expect(await requestRow(server, due.id)).toMatchObject({ status: 'expired' });
    expect(await service.expireDue(stripeNow())).toEqual({ expired: 0, canceledIntents: 0 });
  });

  it('waits while a share’s PaymentIntent is being created (Stripe unreachable), and ends it once that attempt is settled', async () => {
    const request = await newRequest(server, { amounts: [400], expiresAt: new Date(stripeNow().getTime() + 60_000) });
    const [member] = request.members;
    sandbox().failNext('api_error', 'api_error');
    expect(await service.payShare(member!.token, newPayKey())).toMatchObject({ outcome: 'refused', error: { code: 'PAYMENT_PROVIDER_UNAVAILABLE' } });
    expect(await attemptsOf(server, member!.orderId)).toMatchObject([{ status: 'creating' }]);

    await sandbox().advanceClock(120);
    await service.expireDue(stripeNow());
    expect(await requestRow(server, request.id)).toMatchObject({ status: 'open' });
    expect(await memberRow(server, member!.id)).toMatchObject({ status: 'pending' });

    // The attempt is retired (as the janitor's unsettled-attempt step does when Stripe made nothing).
    await server.app.db.query("select checkout_mark_attempt($1::jsonb)", [JSON.stringify({ attempt_id: (await attemptsOf(server, member!.orderId))[0]!.id, status: 'abandoned', actor: 'test' })]);
    await service.expireDue(stripeNow());
    expect(await requestRow(server, request.id)).toMatchObject({ status: 'expired' });
    expect(await memberRow(server, member!.id)).toMatchObject({ status: 'canceled' });
  });
});
