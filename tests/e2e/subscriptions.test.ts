// A subscription's track switched from the console (issue 19) in headless Chromium against the real
// server in sandbox mode. A guest subscribes through the storefront's API (createSubscriptionCheckout,
// paid on the sandbox's hosted page); an admin finds the subscription on the Subscriptions screen by
// the customer's email, opens it (its paid first invoice is listed), presses Switch track…, reads
// Stripe's preview (the proration lines, the amount due now when charged at once), confirms, and sees
// the new track once the webhooks are applied. What the browser showed is checked against the sandbox:
// the subscription is on the new monthly price, and what was charged is the amount the preview showed.
// Screenshots at 1280 and 390 px wide land in tests/e2e/screenshots/subscriptions-*.png.
//
// `npm run test:e2e` builds the console first: the server serves dist/console.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SqlParam } from '../../server/platform/db/db';
import { startTestServer, type TestServer } from '../helpers/server';

const SCREENSHOTS = new URL('./screenshots/', import.meta.url).pathname;
/** How long the UI, the database or Stripe may take to reach a state before the test fails. */
const TIMEOUT = 10_000;
const poll = { timeout: TIMEOUT, interval: 50 };
const WIDE = { width: 1280, height: 900 };
const NARROW = { width: 390, height: 844 };
const FROM = 'website_audit_feedback';
const TO = 'business_plan_builder';

const CREATE_SUBSCRIPTION_CHECKOUT = `mutation ($input: SubscriptionCheckoutInput!) {
  createSubscriptionCheckout(input: $input) { order { id } checkoutSessionId url error { code message } }
}`;

let server: TestServer;
let browser: Browser;
let page: Page;
let subscribed: { subscriptionId: string; email: string };
const trackName: Record<string, string> = {};
const monthlyPrice: Record<string, string> = {};

const visible = (locator: Locator) => locator.waitFor({ state: 'visible', timeout: TIMEOUT });
const nav = (label: string) => page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: label, exact: true });
const detail = () => page.getByRole('complementary', { name: 'Subscription' });
/** The value of a detail field (a dl row) by its label. */
const field = (scope: Locator, label: string) => scope.locator('dl.fields > div', { has: page.locator('dt', { hasText: new RegExp(`^${label}$`) }) }).locator('dd');

/** The page as it is, at the desktop width and at a phone's, full length. */
async function shot(name: string) {
  await page.screenshot({ path: `${SCREENSHOTS}subscriptions-${name}-1280.png`, fullPage: true });
  await page.setViewportSize(NARROW);
  await page.screenshot({ path: `${SCREENSHOTS}subscriptions-${name}-390.png`, fullPage: true });
  await page.setViewportSize(WIDE);
}

async function rows<T extends Record<string, unknown>>(sql: string, params: readonly SqlParam[] = []): Promise<T[]> {
  return (await server.app.db.query<T>(sql, params)).rows;
}

/** Every event the sandbox has to send is delivered to the server's endpoint and applied. */
async function webhooksApplied() {
  await server.app.stripeSandbox!.flushWebhooks();
  await server.app.webhookApplier.drain();
  await vi.waitFor(async () => expect(await rows("select id, type from stripe_events where status not in ('applied', 'ignored')")).toEqual([]), poll);
}

/** A guest subscribes to FROM through the storefront's API and pays on the sandbox's hosted page. */
async function subscribe(): Promise<{ subscriptionId: string; email: string }> {
  const email = `subscriber-${randomUUID().slice(0, 8)}@example.com`;
  const auth = { headers: { 'x-api-key': server.app.devCredentials!.storefrontApiKey } };
  const input = { idempotencyKey: `subscription-e2e-${randomUUID()}`, track: FROM, email, name: 'Sub Scriber' };
  const created = await server.graphql(CREATE_SUBSCRIPTION_CHECKOUT, { variables: { input }, ...auth });
  expect(created.body.errors).toBeUndefined();
  const { url, checkoutSessionId, error } = created.body.data.createSubscriptionCheckout;
  expect(error).toBeNull();
  const paid = await fetch(url, { method: 'POST', body: new URLSearchParams({ card_number: '4242424242424242', email, name: 'Sub Scriber' }), redirect: 'manual' });
  expect(paid.status).toBe(303);
  const session = await server.app.stripe.checkout.sessions.retrieve(checkoutSessionId);
  const subscriptionId = String(session.subscription);
  await vi.waitFor(async () => expect(await rows('select status from subscriptions where id = $1', [subscriptionId])).toEqual([{ status: 'active' }]), poll);
  await webhooksApplied();
  return { subscriptionId, email };
}

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  server = await startTestServer();
  for (const row of await rows<{ id: string; name: string; stripe_price_id: string }>(
    "select p.id, p.name, pr.stripe_price_id from products p join prices pr on pr.product_id = p.id where pr.kind = 'recurring'",
  )) {
    trackName[row.id] = row.name;
    monthlyPrice[row.id] = row.stripe_price_id;
  }
  subscribed = await subscribe();

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  page = await (await browser.newContext({ viewport: WIDE })).newPage();
  page.setDefaultTimeout(TIMEOUT);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('a subscription switched in the console, in Chromium', () => {
  it('finds the subscription by its customer, with its paid first invoice', async () => {
    await page.goto(`${server.url}/`);
    await page.getByRole('button', { name: 'Sign in as admin' }).click();
    await visible(page.getByRole('heading', { name: 'Overview', level: 1 }));
    await nav('Subscriptions').click();
    await visible(page.getByRole('heading', { name: 'Subscriptions', level: 1 }));
    const customer = page.getByRole('searchbox', { name: 'Customer' });
    await customer.fill(subscribed.email);
    await customer.press('Enter');
    const link = page.getByRole('link', { name: `Subscription ${subscribed.subscriptionId} of ${subscribed.email}` });
    await visible(link);
    const row = page.getByRole('row').filter({ has: link });
    await visible(row.getByText(trackName[FROM]!, { exact: true }));
    await visible(row.getByText('active', { exact: true }));
    await visible(row.getByText('$79.00 / month', { exact: true }));
    await link.click();
    const invoices = detail().getByRole('list', { name: 'Invoices' });
    await visible(invoices);
    await visible(invoices.getByText('$79.00 due · $79.00 paid'));
    expect(await invoices.getByRole('link', { name: 'hosted invoice ↗' }).first().getAttribute('href')).toMatch(/^https?:\/\//);
    expect(await detail().getByRole('button', { name: 'Cancel now' }).isVisible()).toBe(true);
    await shot('open');
  });

  it('switches the track: the preview’s amount due now is what is charged, and the new track shows after the webhooks', async () => {
    await detail().getByRole('button', { name: 'Switch track…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Switch track' });
    await visible(dialog);
    await dialog.getByLabel('New track').selectOption(TO);
    const lines = dialog.getByRole('table', { name: 'Proration lines' });
    await visible(lines);
    // Two lines: the unused time of the old price (a credit) and the rest of the period at the new one.
    await expect.poll(() => lines.locator('tbody tr').count(), poll).toBe(2);
    await dialog.getByLabel('Proration behaviour').selectOption('ALWAYS_INVOICE');
    const dueNow = (await field(dialog, 'Amount due now').textContent())!;
    expect(dueNow).toMatch(/^\$\d+\.\d\d$/);
    expect(dueNow).not.toBe('$0.00');
    await visible(dialog.getByText(`Switch ${subscribed.email} to ${trackName[TO]} ($99.00 / month)`, { exact: true }));
    await visible(dialog.getByText(`${dueNow} is charged to the customer's card now.`));
    await shot('preview');
    await dialog.getByRole('button', { name: 'Confirm switch' }).click();

    await visible(detail().getByText(`Switched to ${trackName[TO]}.`, { exact: true }));
    await webhooksApplied();
    // After the webhooks, read afresh: the list and the detail say the new track.
    await page.reload();
    await expect.poll(() => field(detail(), 'Track').textContent(), poll).toBe(`${trackName[TO]} (${TO})`);
    await visible(field(detail(), 'Price').getByText('$99.00 / month', { exact: true }));
    const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: `Subscription ${subscribed.subscriptionId} of ${subscribed.email}` }) });
    await visible(row.getByText(trackName[TO]!, { exact: true }));
    // The proration invoice charged at once is listed beside the first one, paid for what the preview
    // said (Stripe's times are whole seconds: two invoices of one second may come in either order).
    const invoices = detail().getByRole('list', { name: 'Invoices' });
    await visible(invoices.getByText(`${dueNow} due · ${dueNow} paid`));
    expect(await invoices.getByRole('listitem').count()).toBe(2);
    await shot('switched');

    const atStripe = await server.app.stripe.subscriptions.retrieve(subscribed.subscriptionId);
    expect(atStripe.items.data.map((item) => item.price.id)).toEqual([monthlyPrice[TO]]);
    const charged = await server.app.stripe.invoices.list({ subscription: subscribed.subscriptionId });
    const cents = Math.round(Number(dueNow.replace(/[^0-9.]/g, '')) * 100);
    expect(charged.data.filter((invoice) => invoice.billing_reason === 'subscription_update').map((invoice) => [invoice.amount_paid, invoice.status])).toEqual([[cents, 'paid']]);
    expect(await rows('select stripe_price_id from subscriptions where id = $1', [subscribed.subscriptionId])).toEqual([{ stripe_price_id: monthlyPrice[TO] }]);
  });
});
