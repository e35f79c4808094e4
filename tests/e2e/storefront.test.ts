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
  // The track's card has two forms, buy once and subscribe monthly: this is the one-time one.
  const track = page.locator('section', { hasText: 'Website Audit & Feedback' }).locator('form', { hasText: 'Buy with Stripe Checkout' });
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

it('subscribes signed in, then switches track after the preview, pauses, resumes and cancels at period end', async () => {
  const sandbox = server.app.stripeSandbox!;
  const settle = async () => {
    await sandbox.flushWebhooks();
    await server.app.webhookApplier.drain();
  };
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${server.url}/sandbox/storefront`);
  await page.getByRole('link', { name: /Customer sign-in \(demo\)/ }).click();
  await expect(page.getByText('no password').first().isVisible()).resolves.toBe(true);
  await page.fill('input[name=email]', 'walker@example.com');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/sandbox\/storefront\/account$/);
  await expect(page.getByText('You have no subscriptions yet').isVisible()).resolves.toBe(true);

  await page.goto(`${server.url}/sandbox/storefront`);
  const track = page.locator('section', { hasText: 'Business Plan Builder' });
  await expect(track.getByText('$99.00 / month').isVisible()).resolves.toBe(true);
  await page.screenshot({ path: `${SCREENSHOTS}storefront-subscribe-shop.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${SCREENSHOTS}storefront-subscribe-shop-390.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  await track.getByRole('button', { name: 'Subscribe monthly' }).click();
  await page.waitForURL(/\/checkout\/cs_test_/);
  await page.fill('input[name=card_number]', '4242 4242 4242 4242');
  await page.locator('button[type=submit]').first().click();
  await page.waitForURL(/\/sandbox\/storefront\/checkout\/details\?session_id=cs_test_/);
  await expect(page.getByRole('heading', { name: 'Thank you: your order is paid' }).isVisible()).resolves.toBe(true);
  // Stripe's events make the subscription: delivered now, the page shows it.
  await settle();
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Your subscription' }).isVisible()).resolves.toBe(true);
  await page.screenshot({ path: `${SCREENSHOTS}storefront-subscription-paid.png`, fullPage: true });

  await page.getByRole('link', { name: 'Manage it on My subscriptions' }).click();
  const card = page.locator('section[data-subscription]');
  await expect(card.getByRole('link', { name: 'Invoice' }).first().isVisible()).resolves.toBe(true);
  await page.screenshot({ path: `${SCREENSHOTS}storefront-my-subscriptions.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${SCREENSHOTS}storefront-my-subscriptions-390.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });

  await card.locator('select[name=track]').selectOption('website_audit_feedback');
  await card.getByRole('button', { name: 'Preview switch' }).click();
  await expect(page.getByRole('heading', { name: 'Switch to Website Audit & Feedback' }).isVisible()).resolves.toBe(true);
  await expect(page.getByText(/Amount due now: \$/).isVisible()).resolves.toBe(true);
  await page.screenshot({ path: `${SCREENSHOTS}storefront-switch-preview.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${SCREENSHOTS}storefront-switch-preview-390.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  // A double click acts once: the form's key was made when the preview was rendered.
  await page.getByRole('button', { name: 'Confirm switch' }).dblclick();
  await page.waitForURL(/\/account\?done=(switch|pending)$/);
  await settle();
  await page.goto(`${server.url}/sandbox/storefront/account`);
  await expect(card.getByRole('heading', { name: 'Website Audit & Feedback' }).isVisible()).resolves.toBe(true);

  for (const [button, shows] of [
    ['Pause', 'Collection paused until you resume'],
    ['Resume', 'Your subscription is resumed.'],
    ['Cancel at period end', 'Ends at period end'],
  ] as const) {
    await card.getByRole('button', { name: button, exact: true }).click();
    await page.waitForURL(/\/account\?done=/);
    await expect(page.getByText(shows).first().isVisible()).resolves.toBe(true);
  }
  await settle();
  await page.screenshot({ path: `${SCREENSHOTS}storefront-subscription-managed.png`, fullPage: true });

  const { rows } = await server.app.db.query(
    `select s.cancel_at_period_end, s.pause_behavior, pr.product_id as track,
            (select count(*)::int from subscription_actions a where a.subscription_id = s.id and a.action = 'switch') as switches
       from subscriptions s join customers c on c.id = s.customer_id join prices pr on pr.stripe_price_id = s.stripe_price_id
      where c.email = 'walker@example.com'`,
  );
  expect(rows).toEqual([{ cancel_at_period_end: true, pause_behavior: null, track: 'website_audit_feedback', switches: 1 }]);
});
