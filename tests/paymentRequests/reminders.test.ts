// Review 20, findings 4 and 5: reminders. With no Make route for payment_request_reminder a reminder is
// refused before any member's link changes (it would send nothing and break every link); the live pay
// links a reminder carries are not shown to staff in a delivery's payload, and are dropped from the
// stored payload once the delivery is done.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeResolvers } from '../../server/api/graphql/resolvers/make';
import { findMakeDelivery } from '../../server/make/deliveries.sql';
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

describe('finding 5: the pay links a reminder carries', () => {
  it('are redacted in the payload staff read, and dropped from the stored payload once delivered or dead', async () => {
    const { request } = await made();
    expect(await requests.remind(admin(), request.id, newKey())).toMatchObject({ outcome: 'done', reminded: 2 });
    const sent = (await deliveries(server.app.db, request.id)).filter((d) => d.kind === 'payment_request_reminder');
    expect(sent).toHaveLength(2);
    const { rows } = await server.app.db.query<{ id: string }>("select id from make_deliveries where subject_id = $1 and kind = 'payment_request_reminder' order by id", [request.id]);
    const payloadField = (makeResolvers.MakeDelivery as unknown as { payload: (row: unknown) => string }).payload;

    for (const [row, status] of [[rows[0]!, 'delivered'], [rows[1]!, 'dead']] as const) {
      const pending = (await findMakeDelivery(server.app.db, row.id))!;
      // Stored for Make while it is still to be sent: a working link.
      expect(await requests.shareByToken(tokenOf((pending.payload as { data: { pay_url: string } }).data.pay_url))).toMatchObject({ status: 'pending' });
      const shown = JSON.parse(payloadField(pending));
      expect(shown.data.pay_url).toBe('[redacted]');
      expect(JSON.stringify(shown)).not.toContain('token=');
      expect(shown.data.member).toMatchObject({ status: 'pending' });

      await server.app.db.query("update make_deliveries set status = $2, delivered_at = case when $2 = 'delivered' then now() end, dead_at = case when $2 = 'dead' then now() end where id = $1", [row.id, status]);
      const done = (await findMakeDelivery(server.app.db, row.id))!;
      expect((done.payload as { data: { pay_url: unknown } }).data.pay_url).toBeNull();
      expect(JSON.parse(payloadField(done)).data.pay_url).toBeNull();
    }
    // Other kinds keep their payloads as they are.
    const other = { kind: 'add_project', payload: { data: { pay_url: 'kept' } } };
    expect(JSON.parse(payloadField(other))).toEqual(other.payload);
  });
});
