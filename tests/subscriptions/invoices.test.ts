// What the webhooks keep of a subscription's invoices (issue 19), against the real server in sandbox
// mode: a renewal whose card declines (the sandbox's clock rolls the period) leaves the subscription
// past_due with its open invoice beside the paid first one, each event applied once however often it
// is delivered. In a file of its
// own: the sandbox's clock is a month ahead afterwards.
import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { findSubscription, invoicesOfSubscription } from '../../server/subscriptions/read.sql';
import type { StripeSandbox } from '../../stripe-sandbox/sandbox';
import { type CheckoutServer, startCheckoutServer } from '../helpers/checkout';

let server: CheckoutServer;
let sandbox: StripeSandbox;
let stripe: Stripe;
const customerId = randomUUID();

beforeAll(async () => {
  server = await startCheckoutServer({ JOBS_ENABLED: 'false' });
  sandbox = server.app.stripeSandbox!;
  stripe = server.app.stripe;
  await server.app.db.query(`insert into customers (id, user_id, email) values ($1, $2, 'renewals@example.com')`, [customerId, randomUUID()]);
});
afterAll(() => server?.stop());

async function settle(): Promise<void> {
  await sandbox.flushWebhooks();
  await server.app.webhookApplier.drain();
  const { rows } = await server.app.db.query("select id, type, last_error from stripe_events where status <> 'applied' and status <> 'ignored'");
  expect(rows).toEqual([]);
}

it('keeps a declined renewal as an open invoice beside the paid first one, and the subscription past_due', async () => {
  const { rows } = await server.app.db.query<{ stripe_price_id: string }>("select stripe_price_id from prices where id = 'social_media_email_campaign_usd_monthly'");
  const customer = await stripe.customers.create({ email: 'renewals@example.com' });
  const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: rows[0]!.stripe_price_id }], default_payment_method: 'pm_card_visa', metadata: { customer_id: customerId } });
  await settle();
  const first = sub.latest_invoice as string;
  const start = sub.items.data[0]!.current_period_start;
  const end = sub.items.data[0]!.current_period_end;

  await stripe.subscriptions.update(sub.id, { default_payment_method: 'pm_card_chargeDeclined' });
  await settle();
  sandbox.webhookFaults.duplicateNext = 100;
  try {
    await sandbox.advanceClock(end - start);
    await settle();
    // Some deliveries were sent twice.
    expect(sandbox.webhookFaults.duplicateNext).toBeLessThan(100);
  } finally {
    sandbox.webhookFaults.duplicateNext = 0;
  }

  const kept = (await findSubscription(server.app.db, sub.id))!;
  expect(kept).toMatchObject({ status: 'past_due', track: 'social_media_email_campaign' });
  expect(Date.parse(kept.current_period_start!) / 1000).toBe(end);
  const invoices = await invoicesOfSubscription(server.app.db, sub.id);
  expect(invoices.map((i) => ({ id: i.id === first ? 'first' : 'renewal', status: i.status, due: i.amount_due, paid: i.amount_paid }))).toEqual([
    { id: 'renewal', status: 'open', due: 4900, paid: 0 },
    { id: 'first', status: 'paid', due: 4900, paid: 4900 },
  ]);
  expect(invoices[0]!.hosted_invoice_url).toMatch(/^https?:\/\//);
  expect(Date.parse(invoices[0]!.period_end!) / 1000).toBe(end);

  // Every renewal event was delivered twice (Stripe retries): each invoice state was logged once.
  const { rows: logs } = await server.app.db.query<{ event_type: string; n: number }>(
    "select event_type, count(*)::int as n from payment_logs where customer_id = $1 and event_type like 'invoice.%' group by event_type order by event_type",
    [customerId],
  );
  expect(logs).toEqual([
    { event_type: 'invoice.paid', n: 1 },
    { event_type: 'invoice.payment_failed', n: 1 },
  ]);
  const { rows: duplicates } = await server.app.db.query<{ n: number }>("select count(*)::int as n from stripe_events where type = 'invoice.payment_failed'");
  expect(duplicates[0]!.n).toBe(1);
});
