// The order page, the customer page and search anywhere (issue 22) in headless Chromium against the
// real server in sandbox mode. A guest pays through the storefront's API; an admin opens the order
// from the Orders list on its own page, sees its timeline (the payment, Stripe's events), refunds part
// of it from the page's header and sees the refund join the timeline on its own, follows the customer
// link to the customer page (paid, refunded and net), sees a new payment appear on the Orders list by
// itself, and searches the pi_ id from the top bar.
// Screenshots at 1440 and 390 px land in tests/e2e/screenshots/order-page-*.png.
//
// `npm run test:e2e` builds the console first: the server serves dist/console.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIRM_PAYMENT, CREATE_PAYMENT_INTENT } from '../helpers/checkout';
import { startTestServer, type TestServer } from '../helpers/server';

const SCREENSHOTS = new URL('./screenshots/', import.meta.url).pathname;
/** How long the UI, the database or Stripe may take to reach a state before the test fails. */
const TIMEOUT = 15_000;
const poll = { timeout: TIMEOUT, interval: 100 };
const WIDE = { width: 1440, height: 900 };
const NARROW = { width: 390, height: 844 };
const RETURN_URL = 'https://shop.test/checkout/return';

let server: TestServer;
let browser: Browser;
let page: Page;
let paid: { orderId: string; paymentIntentId: string; email: string };

const visible = (locator: Locator) => locator.waitFor({ state: 'visible', timeout: TIMEOUT });
const nav = (label: string) => page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: label, exact: true });
const timeline = () => page.getByRole('list', { name: 'Timeline, newest first' });
const header = () => page.locator('header.order-head');

/** The page as it is, at the desktop width and at a phone's, full length. */
async function shot(name: string) {
  await page.screenshot({ path: `${SCREENSHOTS}order-page-${name}-1440.png`, fullPage: true });
  await page.setViewportSize(NARROW);
  await page.screenshot({ path: `${SCREENSHOTS}order-page-${name}-390.png`, fullPage: true });
  await page.setViewportSize(WIDE);
}

/** A guest pays 99 USD through the storefront's API with Visa. */
async function paidOrder(): Promise<{ orderId: string; paymentIntentId: string; email: string }> {
  const email = `order-page-${randomUUID().slice(0, 8)}@example.com`;
  const auth = { headers: { 'x-api-key': server.app.devCredentials!.storefrontApiKey } };
  const input = { idempotencyKey: `order-page-e2e-${randomUUID()}`, track: 'business_plan_builder', email };
  const created = await server.graphql(CREATE_PAYMENT_INTENT, { variables: { input }, ...auth });
  expect(created.body.errors).toBeUndefined();
  const { paymentIntentId } = created.body.data.createPaymentIntent;
  await server.app.stripe.paymentIntents.confirm(paymentIntentId, { payment_method: 'pm_card_visa', return_url: RETURN_URL });
  const confirmed = await server.graphql(CONFIRM_PAYMENT, { variables: { input: { paymentIntentId } }, ...auth });
  expect(confirmed.body.data.confirmPayment.order.status).toBe('PAID');
  return { orderId: confirmed.body.data.confirmPayment.order.id, paymentIntentId, email };
}

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  server = await startTestServer();
  paid = await paidOrder();
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  page = await (await browser.newContext({ viewport: WIDE })).newPage();
  page.setDefaultTimeout(TIMEOUT);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('order page, customer page and search in Chromium', () => {
  it("opens an order from the Orders list on its own page, with the payment and Stripe's events in its timeline", async () => {
    await page.goto(`${server.url}/`);
    await page.getByRole('button', { name: 'Sign in as admin' }).click();
    await visible(page.getByRole('heading', { name: 'Overview', level: 1 }));
    await nav('Orders').click();
    const search = page.getByRole('searchbox', { name: 'Search', exact: true });
    await search.fill(paid.email);
    await search.press('Enter');
    await page.getByRole('link', { name: `Order ${paid.orderId}` }).click();
    await page.getByRole('link', { name: "Open the order's page, with its timeline →" }).click();
    await page.waitForURL(`**/orders/${paid.orderId}`);
    await visible(page.getByRole('heading', { level: 1, name: `Order ${paid.orderId}` }));
    await visible(header().getByText('paid', { exact: true }));
    await visible(header().getByText('$99.00', { exact: true }));
    await visible(timeline().locator('.timeline-kind', { hasText: 'Payment log' }).first());
    // Stripe's notice of the payment, applied (live: the page reads itself again while it waits).
    await visible(timeline().getByText(/^Stripe event payment_intent\.succeeded applied/).first());
    await visible(timeline().locator('.timeline-kind', { hasText: 'Payment attempt' }).first());
    await shot('paid');
  });

  it('refunds part of the order from its header, and the refund and its audit entry join the timeline', async () => {
    await header().getByRole('button', { name: 'Refund…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Refund this order?' });
    await visible(dialog);
    await dialog.getByLabel('Amount (USD)').fill('25.00');
    await dialog.getByRole('button', { name: 'Refund $25.00' }).click();
    await visible(header().getByText(/^Refunded \$25\.00/));
    await visible(timeline().getByText(/^Refund of \$25\.00 (pending|succeeded)/).first());
    const refundEntry = timeline().locator('li', { has: page.getByText(/^Refund of \$25\.00/) }).first();
    await visible(refundEntry.getByText(/^by .+ \(staff\)$/));
    await visible(timeline().locator('.timeline-kind', { hasText: 'Staff action' }).first());
    // The refund's notice from Stripe, applied, on its own (the page is live).
    await visible(timeline().getByText(/^Stripe event charge\.refunded applied|^Stripe event refund\.(created|updated) applied/).first());
    await shot('refunded');
    const atStripe = await server.app.stripe.refunds.list({ payment_intent: paid.paymentIntentId });
    expect(atStripe.data.map((r) => r.amount)).toEqual([2500]);
  });

  it("follows the customer link to the customer's page: paid, refunded and net, and the order", async () => {
    await header().getByRole('link', { name: paid.email }).click();
    await visible(page.getByRole('heading', { level: 1, name: paid.email }));
    const usd = page.getByLabel('Totals in USD');
    await expect.poll(() => usd.locator('div', { hasText: 'Refunded' }).locator('dd').textContent(), poll).toBe('$25.00');
    expect(await usd.locator('div', { hasText: 'Paid' }).locator('dd').textContent()).toBe('$99.00');
    expect(await usd.locator('div', { hasText: 'Net' }).locator('dd').textContent()).toBe('$74.00');
    await visible(page.getByRole('link', { name: `Order ${paid.orderId}` }));
    await shot('customer');
  });

  it('shows a new payment on the Orders list by itself, with the open order still open', async () => {
    await page.goto(`${server.url}/orders?open=${paid.orderId}`);
    await visible(page.getByRole('complementary', { name: 'Order' }).getByRole('heading', { name: 'Refunds' }));
    const next = await paidOrder();
    // No reload: the list reads itself again while visible (at most 5 s).
    await visible(page.getByRole('link', { name: next.email }));
    expect(new URL(page.url()).searchParams.get('open')).toBe(paid.orderId);
    await visible(page.getByRole('complementary', { name: 'Order' }).getByRole('heading', { name: 'Refunds' }));
  });

  it('goes straight to the order from its pi_ id typed in the top bar', async () => {
    await page.goto(`${server.url}/payment-logs`);
    await visible(page.getByRole('heading', { name: 'Payment logs', level: 1 }));
    await page.locator('body').click({ position: { x: 5, y: 300 } });
    await page.keyboard.press('/');
    const box = page.getByRole('searchbox', { name: 'Find by order id, email or Stripe id' });
    await expect.poll(() => box.evaluate((el) => el === document.activeElement), poll).toBe(true);
    await box.fill(paid.paymentIntentId);
    await box.press('Enter');
    await page.waitForURL(`**/orders/${paid.orderId}`);
    await visible(page.getByRole('heading', { level: 1, name: `Order ${paid.orderId}` }));
    await shot('searched');
  });
});
