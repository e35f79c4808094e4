// A request's life against the real server in sandbox mode: shares paid through PaymentIntents at the
// sandbox, their webhooks applied by the server's applier, moving the members and the request (the
// share orders' trigger); the Make deliveries that follow; cancel and remind with their roles.
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRefunds } from '../../server/refunds/refundPayment';
import type { PaymentRequestRow, PaymentRequests } from '../../server/paymentRequests/service';
import type { Viewer } from '../../server/auth/viewer';
import { type CheckoutServer, newKey, startCheckoutServer } from '../helpers/checkout';
import { schemaErrors } from '../make/makeHelpers';
import {
  admin, customer, deliveries, storefront, input, membersById, openShareIntent, payShare, requestStatus, service, settle, silent, support, tokenOf,
} from './helpers';

let server: CheckoutServer;
let requests: PaymentRequests;

beforeAll(async () => {
  server = await startCheckoutServer({ JOBS_ENABLED: 'false' });
  requests = service(server);
});
afterAll(() => server?.stop());

async function made(creator: Viewer, members = 2, track: string | null = 'business_plan_builder') {
  const base = input({ track, description: track ? null : 'A workshop' });
  const all = Array.from({ length: members }, (_, i) => ({ email: `m${i}-${newKey()}@members.test`, name: `Member ${i}`, amount: 1000 * (i + 1) }));
  const result = await requests.create(creator, { ...base, members: all });
  if (result.outcome !== 'created' || result.isRepeat) throw new Error('not created');
  return { request: result.request, links: result.payLinks, members: await membersById(server.app.db, result.request.id) };
}

describe('the request follows its share orders', () => {
  it('one share paid: partially paid; the last: paid, completed once and add_project once; share orders enqueue nothing', async () => {
    const { request, members } = await made(customer());
    await payShare(server, members[0]!);
    expect((await membersById(server.app.db, request.id)).map((m) => m.status)).toEqual(['paid', 'pending']);
    expect(await requestStatus(server.app.db, request.id)).toMatchObject({ status: 'partially_paid', completed_at: null });
    expect(await deliveries(server.app.db, request.id)).toEqual([]);

    await payShare(server, members[1]!);
    expect((await membersById(server.app.db, request.id)).map((m) => m.status)).toEqual(['paid', 'paid']);
    expect((await requestStatus(server.app.db, request.id)).status).toBe('paid');
    expect((await requestStatus(server.app.db, request.id)).completed_at).not.toBeNull();
    const sent = await deliveries(server.app.db, request.id);
    expect(sent.map((d) => [d.kind, d.dedupe_key]).sort()).toEqual([['add_project', `payment_request:${request.id}`], ['payment_request_completed', request.id]]);
    for (const delivery of sent) expect(schemaErrors(delivery.payload)).toEqual([]);
    const completed = sent.find((d) => d.kind === 'payment_request_completed')!.payload.data;
    expect(completed.payment_request).toMatchObject({ id: request.id, status: 'paid', total: 3000, currency: 'gbp', track: { id: 'business_plan_builder' } });
    expect(completed.members.map((m: { status: string; amount: number }) => [m.status, m.amount])).toEqual([['paid', 1000], ['paid', 2000]]);
    // No per-order add_project or payment_failed for the share orders.
    const { rows } = await server.app.db.query<{ n: number }>(
      'select count(*)::int as n from make_deliveries d join orders o on o.id = d.order_id where o.payment_request_id = $1', [request.id]);
    expect(rows[0]!.n).toBe(0);
    const found = await requests.find(customer(), request.id);
    expect(found).toBeNull();
    const row = (await requests.find(admin(), request.id)) as PaymentRequestRow;
    expect(row).toMatchObject({ status: 'paid', amount_paid: 3000, members_paid: 2, members_count: 2 });

    // A share refunded (through the order's refund and its guard): the member refunded, the request stays paid.
    const refund = await createRefunds({ db: server.app.db, stripe: server.app.stripe, logger: silent }).refundPayment({
      orderId: members[0]!.order_id, amount: null, reason: 'requested_by_customer', note: null, actor: 'staff:x', scope: 'staff:x', idempotencyKey: newKey(),
    });
    expect(refund.outcome).toBe('done');
    await settle(server);
    expect((await membersById(server.app.db, request.id)).map((m) => m.status)).toEqual(['refunded', 'paid']);
    expect((await requestStatus(server.app.db, request.id)).status).toBe('paid');
    expect(((await requests.members(request.id))[0]!).amount_refunded).toBe(1000);
    expect((await deliveries(server.app.db, request.id)).filter((d) => d.kind !== 'refund_completed')).toHaveLength(2);
  });

  it('a request with a description completes without add_project; a declined share is failed and enqueues no payment_failed', async () => {
    const { request, members } = await made(customer(), 1, null);
    const intent = await payShare(server, members[0]!, 'pm_card_chargeDeclined');
    expect((await membersById(server.app.db, request.id)).map((m) => m.status)).toEqual(['failed']);
    expect((await requestStatus(server.app.db, request.id)).status).toBe('open');
    // Paid again on the same PaymentIntent (option C).
    await server.app.stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_visa', return_url: 'https://shop.test/return' });
    await settle(server);
    expect((await requestStatus(server.app.db, request.id)).status).toBe('paid');
    expect((await deliveries(server.app.db, request.id)).map((d) => d.kind)).toEqual(['payment_request_completed']);
    const { rows } = await server.app.db.query<{ n: number }>(
      "select count(*)::int as n from make_deliveries where order_id = $1", [members[0]!.order_id]);
    expect(rows[0]!.n).toBe(0);
  });
});

describe('cancel', () => {
  it('with one share paid: the paid share stays paid, the others and their PaymentIntents are canceled', async () => {
    const creator = customer();
    const { request, members } = await made(creator, 3);
    await payShare(server, members[0]!);
    const open = await openShareIntent(server, members[1]!);
    const key = newKey();

    // Support may not cancel; another customer is told there is no such request.
    await expect(requests.cancel(support(), request.id, newKey())).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await requests.cancel(customer(), request.id, newKey())).toMatchObject({ outcome: 'refused', error: { code: 'PAYMENT_REQUEST_NOT_FOUND' } });
    expect((await requestStatus(server.app.db, request.id)).status).toBe('partially_paid');

    const result = await requests.cancel(creator, request.id, key);
    expect(result).toMatchObject({ outcome: 'done', isRepeat: false, request: { status: 'canceled' } });
    expect((await membersById(server.app.db, request.id)).map((m) => m.status)).toEqual(['paid', 'canceled', 'canceled']);
    expect((await server.app.stripe.paymentIntents.retrieve(open.id)).status).toBe('canceled');
    const { rows } = await server.app.db.query<{ status: string }>('select o.status from payment_request_members m join orders o on o.id = m.order_id where m.payment_request_id = $1 order by m.position', [request.id]);
    expect(rows.map((r) => r.status)).toEqual(['paid', 'canceled', 'canceled']);
    await settle(server);
    expect((await membersById(server.app.db, request.id)).map((m) => m.status)).toEqual(['paid', 'canceled', 'canceled']);

    expect(await requests.cancel(creator, request.id, key)).toMatchObject({ outcome: 'done', isRepeat: true });
    expect(await requests.cancel(creator, request.id, newKey())).toMatchObject({ outcome: 'refused', error: { code: 'REQUEST_NOT_CANCELABLE' } });
    const { rows: audit } = await server.app.db.query('select action, actor_type from audit_log where target_id = $1 order by id', [request.id]);
    expect(audit).toEqual([{ action: 'payment_request.create', actor_type: 'customer' }, { action: 'payment_request.cancel', actor_type: 'customer' }]);
  });

  it('Stripe unreachable: PAYMENT_PROVIDER_UNAVAILABLE and nothing closed; the same key again finishes it', async () => {
    const creator = admin();
    const { request, members } = await made(creator, 2);
    const open = await openShareIntent(server, members[0]!);
    const down = Object.create(server.app.stripe) as Stripe;
    Object.defineProperty(down, 'paymentIntents', {
      value: {
        cancel: () => Promise.reject(new Stripe.errors.StripeConnectionError({ message: 'connection refused', type: 'api_connection_error' } as never)),
        retrieve: () => Promise.reject(new Stripe.errors.StripeConnectionError({ message: 'connection refused', type: 'api_connection_error' } as never)),
      },
    });
    const key = newKey();
    const refused = await service(server, down).cancel(creator, request.id, key);
    expect(refused).toMatchObject({ outcome: 'refused', error: { code: 'PAYMENT_PROVIDER_UNAVAILABLE' }, request: { status: 'open' } });
    expect((await membersById(server.app.db, request.id)).map((m) => m.status)).toEqual(['pending', 'pending']);
    expect((await server.app.stripe.paymentIntents.retrieve(open.id)).status).not.toBe('canceled');

    expect(await requests.cancel(creator, request.id, key)).toMatchObject({ outcome: 'done', isRepeat: false, request: { status: 'canceled' } });
    expect((await server.app.stripe.paymentIntents.retrieve(open.id)).status).toBe('canceled');
  });

  it('a share whose PaymentIntent is still being created holds the cancel back until that attempt is settled', async () => {
    const creator = customer();
    const { request, members } = await made(creator, 2);
    // payMemberShare between its claim and its record: the attempt has no object of ours yet.
    const { rows } = await server.app.db.query<{ id: string }>(
      "insert into payment_attempts (order_id, attempt, kind, stripe_idempotency_key) values ($1, 1, 'payment_intent', $2) returning id",
      [members[0]!.order_id, `member_share:${members[0]!.id}:1`],
    );
    const key = newKey();
    const held = await requests.cancel(creator, request.id, key);
    expect(held).toMatchObject({ outcome: 'refused', error: { code: 'PAYMENT_PROVIDER_UNAVAILABLE' }, request: { status: 'open' } });
    expect((await membersById(server.app.db, request.id)).map((m) => m.status)).toEqual(['pending', 'pending']);
    // Settled (the janitor found nothing made under it): the same key now cancels.
    await server.app.db.query("update payment_attempts set status = 'abandoned' where id = $1", [rows[0]!.id]);
    expect(await requests.cancel(creator, request.id, key)).toMatchObject({ outcome: 'done', isRepeat: false, request: { status: 'canceled' } });
  });

  it('a PaymentIntent paid just before the cancel is recorded paid and its share stays paid', async () => {
    const creator = customer();
    const { request, members } = await made(creator, 2);
    const intent = await openShareIntent(server, members[0]!);
    // Paid at Stripe, its webhook not yet delivered: cancel finds it open in our records.
    server.app.stripeSandbox!.webhookFaults.dropNext = 0;
    await server.app.stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_visa', return_url: 'https://shop.test/return' });
    const result = await requests.cancel(creator, request.id, newKey());
    expect(result).toMatchObject({ outcome: 'done', request: { status: 'canceled' } });
    expect((await membersById(server.app.db, request.id)).map((m) => m.status)).toEqual(['paid', 'canceled']);
    await settle(server);
    expect((await membersById(server.app.db, request.id)).map((m) => m.status)).toEqual(['paid', 'canceled']);
  });
});

describe('a storefront key as the creator', () => {
  it('cancels and reminds what it made, audited as the key; another key is told not found', async () => {
    const key = storefront();
    const { request } = await made(key, 2);
    expect(await requests.remind(storefront(), request.id, newKey())).toMatchObject({ outcome: 'refused', error: { code: 'PAYMENT_REQUEST_NOT_FOUND' } });
    expect(await requests.remind(key, request.id, newKey())).toMatchObject({ outcome: 'done', reminded: 2 });
    expect(await requests.cancel(key, request.id, newKey())).toMatchObject({ outcome: 'done', request: { status: 'canceled' } });
    const { rows } = await server.app.db.query('select action, actor_type, actor_id from audit_log where target_id = $1 order by id', [request.id]);
    expect(rows).toEqual(['payment_request.create', 'payment_request.remind', 'payment_request.cancel'].map((action) => ({ action, actor_type: 'api_key', actor_id: `api_key:${key.id}` })));
  });
});

describe('remind', () => {
  it('gives each unpaid member a new link (the old one stops working) and one delivery; a repeat sends nothing more', async () => {
    const creator = customer();
    const { request, members, links } = await made(creator, 3);
    await payShare(server, members[0]!);
    const key = newKey();
    expect(await requests.remind(customer(), request.id, newKey())).toMatchObject({ outcome: 'refused', error: { code: 'PAYMENT_REQUEST_NOT_FOUND' } });

    const result = await requests.remind(creator, request.id, key);
    expect(result).toMatchObject({ outcome: 'done', isRepeat: false, reminded: 2 });
    expect(await requests.shareByToken(tokenOf(links[0]!.payUrl))).toMatchObject({ status: 'paid' });
    expect(await requests.shareByToken(tokenOf(links[1]!.payUrl))).toBeNull();
    expect(await requests.shareByToken(tokenOf(links[2]!.payUrl))).toBeNull();
    const sent = (await deliveries(server.app.db, request.id)).filter((d) => d.kind === 'payment_request_reminder');
    expect(sent.map((d) => d.payload.data.member.id).sort()).toEqual([members[1]!.id, members[2]!.id].sort());
    for (const delivery of sent) {
      expect(schemaErrors(delivery.payload)).toEqual([]);
      const view = await requests.shareByToken(tokenOf(delivery.payload.data.pay_url));
      expect(view).toMatchObject({ member_id: delivery.payload.data.member.id, status: 'pending' });
      expect(delivery.payload.data.payment_request).toMatchObject({ id: request.id, status: 'partially_paid' });
    }

    expect(await requests.remind(creator, request.id, key)).toMatchObject({ outcome: 'done', isRepeat: true, reminded: 2 });
    expect((await deliveries(server.app.db, request.id)).filter((d) => d.kind === 'payment_request_reminder')).toHaveLength(2);
    // Staff may remind too; a closed request is refused and changes nothing.
    expect(await requests.remind(support(), request.id, newKey())).toMatchObject({ outcome: 'done', reminded: 2 });
    expect(await requests.cancel(creator, request.id, newKey())).toMatchObject({ outcome: 'done' });
    const before = await deliveries(server.app.db, request.id);
    expect(await requests.remind(creator, request.id, newKey())).toMatchObject({ outcome: 'refused', error: { code: 'REQUEST_NOT_PAYABLE' } });
    expect(await deliveries(server.app.db, request.id)).toEqual(before);
  });
});
