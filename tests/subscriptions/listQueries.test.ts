// A page of subscriptions with their invoices, and a page of disputes with their orders, costs the same
// number of database queries however many rows it holds (issue 19 review, finding 4): the per-row
// fields (TrackSubscription.latestInvoice and .invoices, Dispute.order) read through the request's
// DataLoaders. Queries are counted by a decorator over the server's real database; subscriptions are
// made at the sandbox and kept by their real webhooks.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signStaffToken } from '../../server/auth/staffTokens';
import type { Db } from '../../server/platform/db/db';
import { type CheckoutServer, JWT_SECRET, startCheckoutServer } from '../helpers/checkout';

const ROWS = 6;

let server: CheckoutServer;
let admin: { token: string };
let counting = false;
let queries = 0;

/** The server's database, counting the statements run while `counting`. */
function countingDb(db: Db): Db {
  return new Proxy(db, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property !== 'query' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
      return (...args: unknown[]) => {
        if (counting) queries += 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

beforeAll(async () => {
  server = await startCheckoutServer({ JOBS_ENABLED: 'false', RECONCILE_INTERVAL: 'off' }, { wrapDb: countingDb });
  admin = { token: await signStaffToken(JWT_SECRET, { userId: randomUUID(), email: 'admin@staff.test', staffRole: 'admin', audience: 'authenticated', expiresIn: '1h' }) };
  const { db, stripe } = server.app;

  // ROWS paid subscriptions, each with its first invoice, kept by their webhooks.
  const customerId = randomUUID();
  await db.query(`insert into customers (id, email) values ($1, 'lists@example.com')`, [customerId]);
  const { rows } = await db.query<{ stripe_price_id: string }>("select stripe_price_id from prices where id = 'website_audit_feedback_usd_monthly'");
  for (let i = 0; i < ROWS; i++) {
    const customer = await stripe.customers.create({ email: `${randomUUID()}@example.com` });
    await stripe.subscriptions.create({ customer: customer.id, items: [{ price: rows[0]!.stripe_price_id }], default_payment_method: 'pm_card_visa', metadata: { customer_id: customerId } });
  }
  await server.app.stripeSandbox!.flushWebhooks();
  await server.app.webhookApplier.drain();

  // ROWS disputes, each on an order of its own.
  for (let i = 0; i < ROWS; i++) {
    const orderId = randomUUID();
    const paymentId = randomUUID();
    await db.query(
      `insert into orders (id, customer_id, product_id, price_id, amount, currency, status, sync_state, payment_intent_id)
       values ($1, $2, 'business_plan_builder', 'business_plan_builder_usd', 9900, 'usd', 'disputed', 'confirmed', $3)`,
      [orderId, customerId, `pi_lists${i}`],
    );
    await db.query(
      `insert into payments (id, order_id, stripe_payment_intent_id, stripe_charge_id, amount, amount_refunded, currency, status)
       values ($1, $2, $3, $4, 9900, 0, 'usd', 'succeeded')`,
      [paymentId, orderId, `pi_lists${i}`, `ch_lists${i}`],
    );
    await db.query(
      `insert into disputes (id, order_id, payment_id, amount, currency, status, reason, is_charge_refundable)
       values ($1, $2, $3, 9900, 'usd', 'needs_response', 'fraudulent', false)`,
      [`du_lists${i}`, orderId, paymentId],
    );
  }
});
afterAll(() => server?.stop());

/** The statements one GraphQL request runs. */
async function queriesFor(query: string): Promise<{ count: number; data: Record<string, { nodes: unknown[] }> }> {
  queries = 0;
  counting = true;
  try {
    const response = await server.graphql(query, admin);
    expect(response.body.errors).toBeUndefined();
    return { count: queries, data: response.body.data };
  } finally {
    counting = false;
  }
}

const SUBSCRIPTIONS = (first: number) => `{ subscriptions(first: ${first}) { nodes { id latestInvoice { id status amountPaid { amount } } invoices { id status } } } }`;
const DISPUTES = (first: number) => `{ disputes(first: ${first}) { nodes { id order { id status amount { amount } } } } }`;

describe('a page of rows with per-row fields', () => {
  it('reads a page of subscriptions with their latest invoice and invoices in as many queries for one row as for all', async () => {
    const one = await queriesFor(SUBSCRIPTIONS(1));
    const all = await queriesFor(SUBSCRIPTIONS(ROWS));
    expect(one.data.subscriptions!.nodes).toHaveLength(1);
    expect(all.data.subscriptions!.nodes).toHaveLength(ROWS);
    for (const node of all.data.subscriptions!.nodes as Array<{ latestInvoice: { id: string; status: string }; invoices: Array<{ id: string }> }>) {
      expect(node.latestInvoice).toMatchObject({ id: expect.stringMatching(/^in_/), status: 'PAID' });
      expect(node.invoices.map((invoice) => invoice.id)).toEqual([node.latestInvoice.id]);
    }
    expect(all.count).toBe(one.count);
  });

  it('reads a page of disputes with their orders in as many queries for one row as for all', async () => {
    const one = await queriesFor(DISPUTES(1));
    const all = await queriesFor(DISPUTES(ROWS));
    expect(all.data.disputes!.nodes).toHaveLength(ROWS);
    for (const node of all.data.disputes!.nodes as Array<{ order: { id: string; status: string } }>) expect(node.order).toMatchObject({ status: 'DISPUTED' });
    expect(all.count).toBe(one.count);
  });
});
