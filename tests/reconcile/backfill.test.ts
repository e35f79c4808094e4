// Step 4 of the janitor at the size the issue names: 500 events the sandbox dropped (every delivery
// lost to its fault injection) are found in Stripe's Events list by one pass, each stored once through
// the endpoint's store and applied once by the applier: every order paid once, one `payment.paid`
// log and one Make add_project each, and a second pass finds nothing missing.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runReconciliation } from '../../server/reconcile/janitor';
import { type CheckoutServer, newKey, startCheckoutServer } from '../helpers/checkout';

const EVENTS = 500;

let server: CheckoutServer;
beforeAll(async () => {
  server = await startCheckoutServer({ RECONCILE_INTERVAL: 'off' });
});
afterAll(() => server?.stop());

const pass = () => runReconciliation(server.app.reconciliation, { trigger: 'manual', actor: 'test' });

/** Every event id at Stripe created since `since` (the list is paged: the SDK walks every page). */
async function eventsAtStripe(since: number): Promise<string[]> {
  const ids: string[] = [];
  for await (const event of server.app.stripe.events.list({ created: { gte: since }, limit: 100 })) ids.push(event.id);
  return ids;
}

it(`stores ${EVENTS} events the sandbox dropped once each through the endpoint's store, applies each once, and a second pass finds none missing`, { timeout: 300_000 }, async () => {
  const sandbox = server.app.stripeSandbox!;
  // From here on every delivery is dropped: the server learns nothing from Stripe but what a pass finds.
  sandbox.core.events.stopAutoDelivery();
  sandbox.webhookFaults.dropNext = 1_000_000;
  const known = new Set((await server.app.db.query<{ id: string }>('select id from stripe_events')).rows.map((r) => r.id));
  const since = sandbox.core.clock.now() - 60;

  // Customers check out through the storefront and pay at Stripe; none of it reaches us.
  const orderIds: string[] = [];
  let missed: string[] = [];
  while (missed.length < EVENTS) {
    for (let i = 0; i < 10; i++) {
      const created = (await server.createPaymentIntent({ idempotencyKey: newKey(), track: 'business_plan_builder', email: `bulk-${randomUUID()}@example.com` })).body.data.createPaymentIntent;
      await server.app.stripe.paymentIntents.confirm(created.paymentIntentId, { payment_method: 'pm_card_visa', return_url: 'https://shop.test/return' });
      orderIds.push(created.order.id);
    }
    missed = (await eventsAtStripe(since)).filter((id) => !known.has(id));
  }
  const before = await server.app.db.query<{ n: number }>('select count(*)::int as n from stripe_events where id = any($1::text[])', [missed]);
  expect(before.rows[0]!.n).toBe(0);
  const pending = await server.app.db.query<{ n: number }>(`select count(*)::int as n from orders where id = any($1::uuid[]) and status = 'pending'`, [orderIds]);
  expect(pending.rows[0]!.n).toBe(orderIds.length);

  const first = await pass();
  expect(first).toMatchObject({ outcome: 'succeeded', run: { counters: { eventsBackfilled: missed.length } } });
  // Stored once each (the id is the key: a repeat would be the same row), and applied by the applier.
  const stored = await server.app.db.query<{ n: number; distinct_ids: number }>(
    'select count(*)::int as n, count(distinct id)::int as distinct_ids from stripe_events where id = any($1::text[])',
    [missed],
  );
  expect(stored.rows[0]).toEqual({ n: missed.length, distinct_ids: missed.length });
  // Marked as the janitor's, not Stripe's deliveries.
  const sources = await server.app.db.query<{ source: string; n: number }>('select source, count(*)::int as n from stripe_events where id = any($1::text[]) group by source', [missed]);
  expect(sources.rows).toEqual([{ source: 'backfill', n: missed.length }]);
  await expect
    .poll(
      async () => (await server.app.db.query<{ n: number }>(`select count(*)::int as n from stripe_events where id = any($1::text[]) and status = 'received'`, [missed])).rows[0]!.n,
      { timeout: 120_000, interval: 200 },
    )
    .toBe(0);
  // Applied once: one application each, none failed; the rest stored as ignored (types we do not act on).
  const { rows: statuses } = await server.app.db.query<{ status: string; attempts: number; n: number }>(
    'select status, attempts, count(*)::int as n from stripe_events where id = any($1::text[]) group by status, attempts order by status, attempts',
    [missed],
  );
  expect(statuses.filter((s) => s.status === 'failed' || (s.status === 'applied' && s.attempts !== 1))).toEqual([]);
  expect(statuses.find((s) => s.status === 'applied')?.n).toBeGreaterThanOrEqual(orderIds.length);

  // Each order paid once: one payment, one payment.paid log, one add_project for Make.
  const perOrder = async () =>
    (
      await server.app.db.query<{ status: string; sync_state: string; payments: number; paid_logs: number; make: number }>(
        `select o.status, o.sync_state,
                (select count(*)::int from payments p where p.order_id = o.id) as payments,
                (select count(*)::int from payment_logs l where l.order_id = o.id and l.event_type = 'payment.paid') as paid_logs,
                (select count(*)::int from make_deliveries d where d.order_id = o.id and d.kind = 'add_project') as make
           from orders o where o.id = any($1::uuid[])`,
        [orderIds],
      )
    ).rows;
  const afterFirst = await perOrder();
  expect(afterFirst).toHaveLength(orderIds.length);
  expect(afterFirst.filter((o) => !(o.status === 'paid' && o.sync_state === 'confirmed' && o.payments === 1 && o.paid_logs === 1 && o.make === 1))).toEqual([]);

  // Read again (the cursor's overlap and a repeat pass): nothing new stored, nothing applied twice.
  const second = await pass();
  expect(second).toMatchObject({ outcome: 'succeeded', run: { counters: { eventsBackfilled: 0 } } });
  expect(await perOrder()).toEqual(afterFirst);
});
