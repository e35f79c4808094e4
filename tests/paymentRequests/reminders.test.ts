// Review 20, findings 4 and 5: reminders. With no Make route for payment_request_reminder a reminder is
// refused before any member's link changes (it would send nothing and break every link); the live pay
// links a reminder carries are not shown to staff in a delivery's payload, and are dropped from the
// stored payload once the delivery is done.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PaymentRequests } from '../../server/paymentRequests/service';
import { type CheckoutServer, newKey, startCheckoutServer } from '../helpers/checkout';
import { admin, deliveries, input, membersById, service, tokenOf } from './helpers';

let server: CheckoutServer;
let requests: PaymentRequests;
beforeAll(async () => {
  server = await startCheckoutServer({ JOBS_ENABLED: 'false' });
  requests = service(server);
});
afterAll(() => server?.stop());

async function made() {
  const base = input({ track: null, description: 'A workshop' });
  const members = [1000, 2000].map((amount, i) => ({ email: `m${i}-${newKey()}@members.test`, name: null, amount }));
  const result = await requests.create(admin(), { ...base, members });
  if (result.outcome !== 'created' || result.isRepeat) throw new Error('not created');
  return { request: result.request, links: result.payLinks };
}

const tokenHashes = async (requestId: string) =>
  (await server.app.db.query<{ token_hash: string }>('select token_hash from payment_request_members where payment_request_id = $1 order by id', [requestId])).rows;

describe('finding 4: remind with no Make route for reminders', () => {
  it('is REMINDERS_NOT_CONFIGURED and changes no link, sends nothing and keeps no key', async () => {
    const { request, links } = await made();
    const { rows: routes } = await server.app.db.query<{ kind: string; url: string }>("delete from make_routes where kind = 'payment_request_reminder' returning kind, url");
    try {
      const before = await tokenHashes(request.id);
      const key = newKey();
      expect(await requests.remind(admin(), request.id, key)).toMatchObject({ outcome: 'refused', error: { code: 'REMINDERS_NOT_CONFIGURED', message: expect.stringContaining('No member’s link was changed') } });
      expect(await tokenHashes(request.id)).toEqual(before);
      expect(await deliveries(server.app.db, request.id)).toEqual([]);
      for (const link of links) expect(await requests.shareByToken(tokenOf(link.payUrl))).toMatchObject({ status: 'pending' });
      // Once the route is there, the same key reminds (the refusal kept nothing).
      for (const route of routes) await server.app.db.query('insert into make_routes (kind, url) values ($1, $2)', [route.kind, route.url]);
      expect(await requests.remind(admin(), request.id, key)).toMatchObject({ outcome: 'done', isRepeat: false, reminded: 2 });
    } finally {
      for (const route of routes) await server.app.db.query('insert into make_routes (kind, url) values ($1, $2) on conflict do nothing', [route.kind, route.url]);
    }
    expect(await membersById(server.app.db, request.id)).toHaveLength(2);
  });
});
