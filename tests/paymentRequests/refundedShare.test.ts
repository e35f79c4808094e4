// Review 20, finding 6: a share refunded before its request completed is not paid again; its link
// answers SHARE_REFUNDED in words (it said "already paid"), and staff cancel the request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRefunds } from '../../server/refunds/refundPayment';
import type { PaymentRequests } from '../../server/paymentRequests/service';
import { type CheckoutServer, newKey, startCheckoutServer } from '../helpers/checkout';
import { admin, input, membersById, payShare, requestStatus, service, settle, silent, tokenOf } from './helpers';

let server: CheckoutServer;
let requests: PaymentRequests;
beforeAll(async () => {
  server = await startCheckoutServer({ JOBS_ENABLED: 'false' });
  requests = service(server);
});
afterAll(() => server?.stop());

describe('a share refunded before the request completed', () => {
  it('is SHARE_REFUNDED on its link, writes nothing, and the request is canceled by staff', async () => {
    const base = input({ track: null, description: 'A workshop' });
    const created = await requests.create(admin(), { ...base, members: [1000, 2000].map((amount, i) => ({ email: `m${i}-${newKey()}@members.test`, name: null, amount })) });
    if (created.outcome !== 'created') throw new Error('not created');
    const members = await membersById(server.app.db, created.request.id);
    await payShare(server, members[0]!);
    const refund = await createRefunds({ db: server.app.db, stripe: server.app.stripe, logger: silent }).refundPayment({
      orderId: members[0]!.order_id, amount: null, reason: 'requested_by_customer', note: null, actor: 'staff:x', scope: 'staff:x', idempotencyKey: newKey(),
    });
    expect(refund.outcome).toBe('done');
    await settle(server);
    expect((await membersById(server.app.db, created.request.id)).map((m) => m.status)).toEqual(['refunded', 'pending']);

    const { rows: before } = await server.app.db.query('select count(*)::int as n from payment_attempts where order_id = $1', [members[0]!.order_id]);
    const link = created.payLinks.find((l) => l.memberId === members[0]!.id)!;
    expect(await requests.payShare(tokenOf(link.payUrl), newKey())).toMatchObject({
      outcome: 'refused',
      error: { code: 'SHARE_REFUNDED', message: 'This share was refunded; ask the requester.' },
    });
    const { rows: after } = await server.app.db.query('select count(*)::int as n from payment_attempts where order_id = $1', [members[0]!.order_id]);
    expect(after).toEqual(before);

    expect(await requests.cancel(admin(), created.request.id, newKey())).toMatchObject({ outcome: 'done' });
    expect(await requestStatus(server.app.db, created.request.id)).toMatchObject({ status: 'canceled' });
    expect((await membersById(server.app.db, created.request.id)).map((m) => m.status)).toEqual(['refunded', 'canceled']);
  });
});
