// The whole hosted-checkout flow as a shopper sees it after `npm start`, in headless Chromium: the
// sandbox's demo storefront, Stripe Checkout's hosted page (the sandbox's), and the details page that
// calls confirmPayment and shows the order at once, provisional, before any webhook.
import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server';

const SCREENSHOTS = new URL('./screenshots/', import.meta.url).pathname;

let server: TestServer;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  server = await startTestServer();
  server.app.stripeSandbox!.core.events.stopAutoDelivery();
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

it('buys a track through hosted Checkout, survives a declined card, and shows the paid order at once', async () => {
  await page.goto(`${server.url}/sandbox/storefront`);
  await page.screenshot({ path: `${SCREENSHOTS}storefront-shop.png`, fullPage: true });
  const track = page.locator('form', { hasText: 'Website Audit & Feedback' });
  await track.locator('input[name=email]').fill('shopper@example.com');
  await track.getByRole('button', { name: 'Buy with Stripe Checkout' }).click();
  await page.waitForURL(/\/checkout\/cs_test_/);
  await expect(page.getByText('$79.00').first().isVisible()).resolves.toBe(true);

  await page.fill('input[name=card_number]', '4000 0000 0000 0002');
  await page.locator('button[type=submit]').first().click();
  await expect(page.getByText(/declined/i).first().isVisible()).resolves.toBe(true);
  await page.screenshot({ path: `${SCREENSHOTS}storefront-declined.png`, fullPage: true });

  await page.fill('input[name=card_number]', '4242 4242 4242 4242');
  await page.locator('button[type=submit]').first().click();
  await page.waitForURL(/\/sandbox\/storefront\/checkout\/details\?session_id=cs_test_/);
  await expect(page.getByRole('heading', { name: 'Thank you: your order is paid' }).isVisible()).resolves.toBe(true);
  await expect(page.getByText('provisional (until Stripe’s webhook confirms it)').isVisible()).resolves.toBe(true);
  await page.screenshot({ path: `${SCREENSHOTS}storefront-paid.png`, fullPage: true });

  const orderId = new URL(page.url()).searchParams.get('order_id');
  const { rows } = await server.app.db.query('select status, sync_state from orders where id = $1', [orderId]);
  expect(rows).toEqual([{ status: 'paid', sync_state: 'provisional' }]);
});
