// payMemberShare (issue 20, option C) against the real server in sandbox mode: its Stripe client talks to
// the sandbox over HTTP, and webhooks are the sandbox's own events, delivered to the server's endpoint.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PaymentRequests } from '../../server/paymentRequests/service';
import { type CheckoutServer, newKey, startCheckoutServer } from '../helpers/checkout';
import { type FaultyDb, faultyDb } from '../../server/platform/db/faultyDb';
import {
  attemptsOf,
  confirmAs,
  newRequest,
  intentsOf,
  memberRow,
  newPayKey,
  payCounts,
  paymentRequestsOf,
  requestRow,
  settle,
} from './payHelpers';

let server: CheckoutServer;
let service: PaymentRequests;
let faults: FaultyDb;
beforeAll(async () => {
  server = await startCheckoutServer({ JOBS_ENABLED: 'false' }, { wrapDb: (db) => (faults = faultyDb(db)).db });
  service = paymentRequestsOf(server);
});
afterAll(() => server?.stop());

const sandbox = () => server.app.stripeSandbox!;

async function pay(token: string, key = newPayKey()) {
  const result = await service.payShare(token, key);
  if (result.outcome !== 'pay') throw new Error(`expected a PaymentIntent, got ${JSON.stringify(result)}`);
  return result;
}

describe('a member pays their share', () => {
  it('makes one PaymentIntent for the share with the member key and metadata; paid through its webhook, the share is paid', async () => {
    const request = await newRequest(server, { amounts: [1500, 2500] });
    const [member] = request.members;
    const first = await pay(member!.token);
    expect(first).toMatchObject({ isRepeat: false, share: { member_id: member!.id, amount_pence: 1500, currency: 'gbp', status: 'pending' } });
    expect(first.clientSecret).toMatch(/^pi_.+_secret_/);

    const [attempt] = await attemptsOf(server, member!.orderId);
    expect(attempt).toMatchObject({ attempt: 1, status: 'open', stripe_object_id: first.paymentIntentId, stripe_idempotency_key: `member_share:${member!.id}:1` });
    const intent = await server.app.stripe.paymentIntents.retrieve(first.paymentIntentId);
    expect(intent).toMatchObject({ amount: 1500, currency: 'gbp', status: 'requires_payment_method' });
    expect(intent.metadata).toMatchObject({ order_id: member!.orderId, attempt: '1', payment_request_id: request.id, payment_request_member_id: member!.id });
    expect(await memberRow(server, member!.id)).toMatchObject({ payment_attempt_count: 1, stripe_payment_intent_id: first.paymentIntentId, status: 'pending' });

    expect(await confirmAs(server, first.paymentIntentId, 'pm_card_visa')).toBe('succeeded');
    await settle(server);
    expect(await memberRow(server, member!.id)).toMatchObject({ status: 'paid', order_status: 'paid', paid_at: expect.any(Date) });
    expect(await requestRow(server, request.id)).toMatchObject({ status: 'partially_paid' });

    const again = await service.payShare(member!.token, newPayKey());
    expect(again).toMatchObject({ outcome: 'refused', error: { code: 'SHARE_ALREADY_PAID' } });
  });

  it('option C: declined, then paid again on the same PaymentIntent — one object, the attempt count stays 1', async () => {
    const request = await newRequest(server, { amounts: [1000, 1000] });
    const [member] = request.members;
    const first = await pay(member!.token);
    expect(await confirmAs(server, first.paymentIntentId, 'pm_card_chargeDeclined')).toBe('declined');
    await settle(server);
    expect(await memberRow(server, member!.id)).toMatchObject({ status: 'failed', order_status: 'failed' });

    const second = await pay(member!.token);
    expect(second).toMatchObject({ isRepeat: false, paymentIntentId: first.paymentIntentId, clientSecret: first.clientSecret });
    expect(await confirmAs(server, second.paymentIntentId, 'pm_card_visa')).toBe('succeeded');
    await settle(server);
    expect(await memberRow(server, member!.id)).toMatchObject({ status: 'paid', payment_attempt_count: 1 });
    expect((await intentsOf(server, member!.id)).map((pi) => pi.id)).toEqual([first.paymentIntentId]);
    expect(await attemptsOf(server, member!.orderId)).toHaveLength(1);
  });

  it('requires_action (3-D Secure) keeps the member pending and hands out the same PaymentIntent', async () => {
    const request = await newRequest(server, { amounts: [700] });
    const [member] = request.members;
    const first = await pay(member!.token);
    expect(await confirmAs(server, first.paymentIntentId, 'pm_card_threeDSecure2Required')).toBe('requires_action');
    await settle(server);
    expect(await memberRow(server, member!.id)).toMatchObject({ status: 'pending', order_status: 'requires_action' });
    expect(await pay(member!.token)).toMatchObject({ paymentIntentId: first.paymentIntentId });
    expect(await memberRow(server, member!.id)).toMatchObject({ payment_attempt_count: 1 });
  });

  it('processing (bank debit) is SHARE_PROCESSING until it settles; then the share and the request are paid', async () => {
    const request = await newRequest(server, { amounts: [1200] });
    const [member] = request.members;
    const first = await pay(member!.token);
    expect(await confirmAs(server, first.paymentIntentId, 'pm_usBankAccount_success')).toBe('processing');
    await settle(server);
    expect(await memberRow(server, member!.id)).toMatchObject({ status: 'processing' });
    expect(await requestRow(server, request.id)).toMatchObject({ status: 'partially_paid' });
    const before = await payCounts(server);
    expect(await service.payShare(member!.token, newPayKey())).toMatchObject({ outcome: 'refused', error: { code: 'SHARE_PROCESSING' } });
    expect(await payCounts(server)).toEqual(before);

    await sandbox().advanceClock(60);
    await settle(server);
    expect(await memberRow(server, member!.id)).toMatchObject({ status: 'paid' });
    expect(await requestRow(server, request.id)).toMatchObject({ status: 'paid', completed_at: expect.any(Date) });
  });

  it('a PaymentIntent canceled at Stripe (payment_intent.canceled) is replaced: attempt 2, key member_share:<member>:2', async () => {
    const request = await newRequest(server, { amounts: [900] });
    const [member] = request.members;
    const first = await pay(member!.token);
    await server.app.stripe.paymentIntents.cancel(first.paymentIntentId);
    await settle(server);
    const [canceled] = await attemptsOf(server, member!.orderId);
    expect(canceled).toMatchObject({ status: 'canceled' });
    expect(await memberRow(server, member!.id)).toMatchObject({ status: 'pending' });

    const second = await pay(member!.token);
    expect(second.paymentIntentId).not.toBe(first.paymentIntentId);
    expect((await attemptsOf(server, member!.orderId)).map((a) => [a.attempt, a.status, a.stripe_idempotency_key])).toEqual([
      [1, 'canceled', `member_share:${member!.id}:1`],
      [2, 'open', `member_share:${member!.id}:2`],
    ]);
    expect(await memberRow(server, member!.id)).toMatchObject({ payment_attempt_count: 2, stripe_payment_intent_id: second.paymentIntentId });
  });

  it('a PaymentIntent paid before its webhook came is applied and the share refused as paid', async () => {
    const request = await newRequest(server, { amounts: [800] });
    const [member] = request.members;
    // Every delivery is lost: what the server learns, it learns from Stripe when the member presses again.
    sandbox().webhookFaults.dropNext = 1_000_000;
    try {
      const first = await pay(member!.token);
      expect(await confirmAs(server, first.paymentIntentId, 'pm_card_visa')).toBe('succeeded');
      expect(await service.payShare(member!.token, newPayKey())).toMatchObject({ outcome: 'refused', error: { code: 'SHARE_ALREADY_PAID' } });
      expect(await memberRow(server, member!.id)).toMatchObject({ status: 'paid', order_status: 'paid' });
    } finally {
      await sandbox().flushWebhooks();
      sandbox().webhookFaults.dropNext = 0;
    }
  });
});

describe('presses', () => {
  it('a double press with one key makes one PaymentIntent; the second is the repeat of the first', async () => {
    const request = await newRequest(server, { amounts: [600] });
    const [member] = request.members;
    const key = newPayKey();
    const [a, b] = await Promise.all([service.payShare(member!.token, key), service.payShare(member!.token, key)]);
    const third = await service.payShare(member!.token, key);
    expect(a.outcome === 'pay' && b.outcome === 'pay' && third.outcome === 'pay').toBe(true);
    const ids = [a, b, third].map((r) => (r.outcome === 'pay' ? r.paymentIntentId : null));
    expect(new Set(ids).size).toBe(1);
    expect(third).toMatchObject({ isRepeat: true });
    expect(await intentsOf(server, member!.id)).toHaveLength(1);
    expect(await memberRow(server, member!.id)).toMatchObject({ payment_attempt_count: 1 });
  });

  it('two presses with different keys at once still make one PaymentIntent', async () => {
    const request = await newRequest(server, { amounts: [600] });
    const [member] = request.members;
    const results = await Promise.all([1, 2, 3, 4].map(() => service.payShare(member!.token, newPayKey())));
    const ids = new Set(results.map((r) => (r.outcome === 'pay' ? r.paymentIntentId : r.outcome)));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(/^pi_/);
    expect(await intentsOf(server, member!.id)).toHaveLength(1);
    expect(await attemptsOf(server, member!.orderId)).toHaveLength(1);
  });
});

describe('refused, and nothing written', () => {
  it('a wrong token is SHARE_NOT_FOUND', async () => {
    await newRequest(server, { amounts: [500] });
    const before = await payCounts(server);
    expect(await service.payShare(randomBytes(32).toString('base64url'), newPayKey())).toMatchObject({ outcome: 'refused', share: null, error: { code: 'SHARE_NOT_FOUND' } });
    expect(await service.payShare('', newPayKey())).toMatchObject({ outcome: 'refused', error: { code: 'SHARE_NOT_FOUND' } });
    expect(await payCounts(server)).toEqual(before);
  });

  it('a token replaced (by a reminder) opens nothing', async () => {
    const request = await newRequest(server, { amounts: [500] });
    const [member] = request.members;
    await server.app.db.query('update payment_request_members set token_hash = $2 where id = $1', [member!.id, 'a'.repeat(64)]);
    const before = await payCounts(server);
    expect(await service.payShare(member!.token, newPayKey())).toMatchObject({ outcome: 'refused', error: { code: 'SHARE_NOT_FOUND' } });
    expect(await payCounts(server)).toEqual(before);
  });

  it('a canceled, expired or paid request, or one past expires_at by Stripe’s clock, is REQUEST_NOT_PAYABLE', async () => {
    const lapsed = await newRequest(server, { amounts: [500], expiresAt: new Date(sandbox().core.clock.now() * 1000 + 60_000) });
    await sandbox().advanceClock(120); // past its expires_at; no pass runs, so it is still open
    const canceled = await newRequest(server, { amounts: [500] });
    await server.app.db.query("update payment_requests set status = 'canceled', canceled_at = now() where id = $1", [canceled.id]);
    const expired = await newRequest(server, { amounts: [500] });
    await server.app.db.query("update payment_requests set status = 'expired' where id = $1", [expired.id]);
    const before = await payCounts(server);
    for (const request of [lapsed, canceled, expired]) {
      const result = await service.payShare(request.members[0]!.token, newPayKey());
      expect(result).toMatchObject({ outcome: 'refused', isRepeat: false, share: { member_id: request.members[0]!.id }, error: { code: 'REQUEST_NOT_PAYABLE' } });
    }
    expect(await payCounts(server)).toEqual(before);
  });
});

describe('a share’s order outside payMemberShare', () => {
  it('is not found to createPaymentIntent, createCheckoutSession and changeOrderTrack, and nothing is written', async () => {
    const request = await newRequest(server, { amounts: [500, 700] });
    const [first, second] = request.members;
    await pay(second!.token); // one with a live attempt, too
    const before = await payCounts(server);
    const orderIds = [first!.orderId, second!.orderId];
    for (const orderId of orderIds) {
      for (const answer of [
        await server.createPaymentIntent({ idempotencyKey: newKey(), orderId }),
        await server.createCheckoutSession({ idempotencyKey: newKey(), orderId }),
        await server.graphql('mutation ($input: ChangeOrderTrackInput!) { changeOrderTrack(input: $input) { isRepeat } }', {
          variables: { input: { idempotencyKey: newKey(), orderId, track: 'website_audit_feedback' } },
          ...server.asStorefront,
        }),
      ]) {
        expect(answer.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
        expect(JSON.stringify(answer.body)).not.toContain('@members.test');
      }
    }
    expect(await payCounts(server)).toEqual(before);
    expect(await intentsOf(server, first!.id)).toHaveLength(0);
  });
});

describe('failures', () => {
  it('Stripe unreachable is PAYMENT_PROVIDER_UNAVAILABLE; the same key then completes with the same Stripe key', async () => {
    const request = await newRequest(server, { amounts: [1100] });
    const [member] = request.members;
    const key = newPayKey();
    sandbox().failNext('api_error', 'api_error');
    expect(await service.payShare(member!.token, key)).toMatchObject({ outcome: 'refused', error: { code: 'PAYMENT_PROVIDER_UNAVAILABLE' } });
    expect(await attemptsOf(server, member!.orderId)).toMatchObject([{ attempt: 1, status: 'creating' }]);

    const retried = await pay(member!.token, key);
    expect(retried.isRepeat).toBe(false);
    expect(await attemptsOf(server, member!.orderId)).toMatchObject([{ attempt: 1, status: 'open', stripe_object_id: retried.paymentIntentId }]);
    expect(await memberRow(server, member!.id)).toMatchObject({ payment_attempt_count: 1 });
    expect(await intentsOf(server, member!.id)).toHaveLength(1);
    expect(await service.payShare(member!.token, key)).toMatchObject({ outcome: 'pay', isRepeat: true, paymentIntentId: retried.paymentIntentId });
  });

  it('the database failing after Stripe made the PaymentIntent cancels it at Stripe; the next press makes attempt 2', async () => {
    const request = await newRequest(server, { amounts: [1300] });
    const [member] = request.members;
    faults.failNext(/checkout_record_attempt/);
    await expect(service.payShare(member!.token, newPayKey())).rejects.toThrow(/injected database failure/);
    const [attempt] = await attemptsOf(server, member!.orderId);
    expect(attempt).toMatchObject({ attempt: 1, status: 'canceled', stripe_object_id: expect.stringMatching(/^pi_/) });
    expect(attempt!.last_error).toContain('record step failed');
    expect(await server.app.stripe.paymentIntents.retrieve(attempt!.stripe_object_id!)).toMatchObject({ status: 'canceled', cancellation_reason: 'abandoned' });

    const next = await pay(member!.token);
    expect(next.paymentIntentId).not.toBe(attempt!.stripe_object_id);
    expect(await memberRow(server, member!.id)).toMatchObject({ payment_attempt_count: 2, stripe_payment_intent_id: next.paymentIntentId });
  });
});
