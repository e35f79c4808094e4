// Every console screen in headless Chromium against the real server in sandbox mode, with seeded data
// (payments made through the storefront's API, one of them disputed, their webhook events and Make
// deliveries): axe-core finds no serious or critical violation at 1,440 px nor at 390 px, and each
// screen's screenshot at both widths lands in tests/e2e/screenshots/a11y-<screen>-<width>.png. Then
// a refund and a sync on the Orders screen are done with the keyboard alone (Tab, Enter, Escape).
//
// `npm run test:e2e` builds the console first: the server serves dist/console.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import axe from 'axe-core';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SqlParam } from '../../server/platform/db/db';
import { CONFIRM_PAYMENT, CREATE_PAYMENT_INTENT } from '../helpers/checkout';
import { startTestServer, type TestServer } from '../helpers/server';

const SCREENSHOTS = new URL('./screenshots/', import.meta.url).pathname;
const TIMEOUT = 10_000;
const poll = { timeout: TIMEOUT, interval: 50 };
const WIDTHS = [
  { width: 1440, height: 900 },
  { width: 390, height: 844 },
];

let server: TestServer;
let browser: Browser;
let page: Page;
let paid: { orderId: string; paymentIntentId: string; email: string };
let synced: { orderId: string; paymentIntentId: string; email: string };
let disputed: { orderId: string; paymentIntentId: string; email: string };
let disputeId = '';
let requestId: string;

const visible = (locator: Locator) => locator.waitFor({ state: 'visible', timeout: TIMEOUT });

async function rows<T extends Record<string, unknown>>(sql: string, params: readonly SqlParam[]): Promise<T[]> {
  return (await server.app.db.query<T>(sql, params)).rows;
}

/** A guest pays for a track through the storefront's API with the given test card. */
async function paidOrder(paymentMethod: string): Promise<{ orderId: string; paymentIntentId: string; email: string }> {
  const email = `a11y-${randomUUID().slice(0, 8)}@example.com`;
  const auth = { headers: { 'x-api-key': server.app.devCredentials!.storefrontApiKey } };
  const input = { idempotencyKey: `a11y-e2e-${randomUUID()}`, track: 'business_plan_builder', email, name: 'Avery Keyboard' };
  const created = await server.graphql(CREATE_PAYMENT_INTENT, { variables: { input }, ...auth });
  expect(created.body.errors).toBeUndefined();
  const { paymentIntentId } = created.body.data.createPaymentIntent;
  await server.app.stripe.paymentIntents.confirm(paymentIntentId, { payment_method: paymentMethod, return_url: 'https://shop.test/return' });
  const confirmed = await server.graphql(CONFIRM_PAYMENT, { variables: { input: { paymentIntentId } }, ...auth });
  expect(confirmed.body.data.confirmPayment.order.status).toBe('PAID');
  return { orderId: confirmed.body.data.confirmPayment.order.id, paymentIntentId, email };
}

const CREATE_REQUEST = `mutation ($input: CreatePaymentRequestInput!) {
  createPaymentRequest(input: $input) { paymentRequest { id } error { code message } }
}`;

/** A payment request of two members made over the storefront's API, nobody paid yet. */
async function paymentRequest(): Promise<string> {
  const auth = { headers: { 'x-api-key': server.app.devCredentials!.storefrontApiKey } };
  const members = ['a', 'b'].map((m) => ({ email: `a11y-member-${m}-${randomUUID().slice(0, 6)}@example.com`, name: `Member ${m.toUpperCase()}`, amount: 4950 }));
  const input = { idempotencyKey: `a11y-request-${randomUUID()}`, title: 'Team workshop', track: 'business_plan_builder', currency: 'usd', members, expiresAt: new Date(Date.now() + 7 * 86_400_000).toISOString() };
  const created = await server.graphql(CREATE_REQUEST, { variables: { input }, ...auth });
  expect(created.body.errors).toBeUndefined();
  expect(created.body.data.createPaymentRequest.error).toBeNull();
  return created.body.data.createPaymentRequest.paymentRequest.id;
}

/** What a screen is and how to tell it has its data (not a loading state). */
interface Screen {
  name: string;
  path: () => string;
  heading: string | RegExp;
  /** Shown once the screen has loaded what it shows. */
  ready: () => Locator;
}

const SCREENS: Screen[] = [
  { name: 'overview', path: () => '/', heading: 'Overview', ready: () => page.locator('.recharts-surface').first() },
  { name: 'payment-logs', path: () => '/payment-logs', heading: 'Payment logs', ready: () => page.locator('section.list table') },
  { name: 'orders', path: () => '/orders', heading: 'Orders', ready: () => page.locator('section.list table') },
  { name: 'orders-open', path: () => `/orders?open=${paid.orderId}`, heading: 'Orders', ready: () => page.getByRole('complementary', { name: 'Order' }).getByRole('heading', { name: 'Refunds' }) },
  { name: 'order-page', path: () => `/orders/${disputed.orderId}`, heading: /Order/, ready: () => page.getByText(disputed.email).first() },
  { name: 'customer-page', path: () => `/customers/${encodeURIComponent(paid.email)}`, heading: /./, ready: () => page.getByText(paid.email).first() },
  { name: 'webhook-events', path: () => '/webhook-events', heading: 'Webhook events', ready: () => page.locator('section.list table') },
  { name: 'make-deliveries', path: () => '/make-deliveries', heading: 'Make deliveries', ready: () => page.locator('section.list table') },
  { name: 'orphaned-payments', path: () => '/orphaned-payments', heading: 'Orphaned payments', ready: () => page.locator('section.list .state, section.list table').first() },
  { name: 'disputes', path: () => '/disputes', heading: 'Disputes', ready: () => page.locator('section.list table') },
  { name: 'disputes-open', path: () => `/disputes?open=${disputeId}`, heading: 'Disputes', ready: () => page.getByRole('complementary', { name: 'Dispute' }).getByText(disputed.email).first() },
  { name: 'subscriptions', path: () => '/subscriptions', heading: 'Subscriptions', ready: () => page.locator('section.list .state, section.list table').first() },
  { name: 'payment-requests', path: () => '/payment-requests', heading: 'Payment requests', ready: () => page.locator('section.list table') },
  { name: 'payment-request-open', path: () => `/payment-requests?open=${requestId}`, heading: 'Payment requests', ready: () => page.getByRole('complementary', { name: 'Payment request' }).getByText('Team workshop').first() },
];

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/** axe-core's WCAG 2.x A and AA rules on the page as it is; the serious and critical violations. */
async function seriousViolations(): Promise<Violation[]> {
  // Evaluated rather than added as a script tag: the console's CSP (script-src 'self') refuses inline scripts.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axe.source);
  return page.evaluate(async () => {
    const result = await (window as unknown as { axe: typeof axe }).axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, impact: v.impact ?? null, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) }));
  });
}

/** Whether the element the locator finds has the keyboard focus. */
const focused = (locator: Locator) => locator.evaluate((element) => element === document.activeElement);

/** Presses Tab (no more than `max` times) until the locator's element has the focus: how a keyboard user gets there. */
async function tabTo(locator: Locator, max = 80): Promise<void> {
  await locator.waitFor({ state: 'attached', timeout: TIMEOUT });
  for (let i = 0; i < max; i++) {
    if (await focused(locator)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${String(locator)} in ${max} presses`);
}

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  server = await startTestServer();
  paid = await paidOrder('pm_card_visa');
  synced = await paidOrder('pm_card_visa');
  disputed = await paidOrder('pm_card_createDispute');
  requestId = await paymentRequest();
  await vi.waitFor(async () => expect(await rows('select id from disputes where order_id = $1', [disputed.orderId])).toHaveLength(1), poll);
  disputeId = String((await rows('select id from disputes where order_id = $1', [disputed.orderId]))[0]!.id);
  await vi.waitFor(async () => expect(await rows(`select id from make_deliveries where order_id = $1 and status = 'delivered'`, [synced.orderId])).toHaveLength(1), poll);

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  page = await (await browser.newContext({ viewport: WIDTHS[0] })).newPage();
  page.setDefaultTimeout(TIMEOUT);
  await page.goto(`${server.url}/`);
  await page.getByRole('button', { name: 'Sign in as admin' }).click();
  await visible(page.getByRole('heading', { name: 'Overview', level: 1 }));
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('the console is accessible, in Chromium', () => {
  for (const screen of SCREENS) {
    it(`${screen.name}: no serious or critical axe violation at 1,440 and 390 px (screenshots of both)`, async () => {
      for (const size of WIDTHS) {
        await page.setViewportSize(size);
        await page.goto(`${server.url}${screen.path()}`);
        await visible(page.getByRole('heading', { name: screen.heading, level: 1 }).first());
        await visible(screen.ready());
        // The top bar keeps the user and Sign out at every width.
        await visible(page.getByRole('button', { name: 'Sign out' }));
        expect(await seriousViolations(), `${screen.name} at ${size.width} px`).toEqual([]);
        await page.screenshot({ path: `${SCREENSHOTS}a11y-${screen.name}-${size.width}.png`, fullPage: true });
      }
      await page.setViewportSize(WIDTHS[0]!);
    });
  }

  it('at 390 px the navigation is a menu behind the top bar’s button, opened with Enter and closed with Escape', async () => {
    await page.setViewportSize(WIDTHS[1]!);
    await page.goto(`${server.url}/orders`);
    await visible(page.getByRole('heading', { name: 'Orders', level: 1 }));
    const nav = page.getByRole('navigation', { name: 'Console sections' });
    const menu = page.getByRole('button', { name: 'Menu' });
    expect(await nav.isVisible()).toBe(false);
    await tabTo(menu);
    await page.keyboard.press('Enter');
    await visible(nav.getByRole('link', { name: 'Disputes' }));
    expect(await menu.getAttribute('aria-expanded')).toBe('true');
    await page.screenshot({ path: `${SCREENSHOTS}a11y-menu-open-390.png`, fullPage: true });
    expect(await seriousViolations()).toEqual([]);
    await page.keyboard.press('Escape');
    await nav.waitFor({ state: 'hidden', timeout: TIMEOUT });
    expect(await focused(menu)).toBe(true);
    // Choosing a screen closes the menu.
    await page.keyboard.press('Enter');
    await tabTo(nav.getByRole('link', { name: 'Disputes' }));
    await page.keyboard.press('Enter');
    await visible(page.getByRole('heading', { name: 'Disputes', level: 1 }));
    expect(await nav.isVisible()).toBe(false);
    await page.setViewportSize(WIDTHS[0]!);
  });

  it('refunds an order with the keyboard alone: Tab to the row, Enter, Refund…, Escape cancels, then Enter refunds', async () => {
    await page.goto(`${server.url}/orders?q=${encodeURIComponent(paid.email)}`);
    await visible(page.getByRole('heading', { name: 'Orders', level: 1 }));
    await tabTo(page.getByRole('link', { name: `Order ${paid.orderId}` }));
    await page.keyboard.press('Enter');
    const detail = page.getByRole('complementary', { name: 'Order' });
    await visible(detail.getByRole('heading', { name: 'Refunds' }));

    const refund = detail.getByRole('button', { name: 'Refund…' });
    await tabTo(refund);
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Refund this order?' });
    await visible(dialog);
    // Escape cancels and gives the focus back to the button.
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden', timeout: TIMEOUT });
    expect(await focused(refund)).toBe(true);

    await page.keyboard.press('Enter');
    await visible(dialog);
    // The amount starts at the whole refundable amount: Tab to the dialog's refund button and press Enter.
    await tabTo(dialog.getByRole('button', { name: /^Refund \$/ }), 20);
    await page.keyboard.press('Enter');
    await visible(detail.getByText(/^Refunded \$/));
    await vi.waitFor(async () => expect(await rows(`select status from refunds where order_id = $1`, [paid.orderId])).toEqual([{ status: 'succeeded' }]), poll);
  });

  it('syncs an order with Stripe with the keyboard alone', async () => {
    await page.goto(`${server.url}/orders?q=${encodeURIComponent(synced.email)}`);
    await visible(page.getByRole('heading', { name: 'Orders', level: 1 }));
    await tabTo(page.getByRole('link', { name: `Order ${synced.orderId}` }));
    await page.keyboard.press('Enter');
    const detail = page.getByRole('complementary', { name: 'Order' });
    const sync = detail.getByRole('button', { name: 'Sync with Stripe' });
    await tabTo(sync);
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Sync this order with Stripe?' });
    await visible(dialog);
    // The focus starts on the dialog's confirm button.
    expect(await focused(dialog.getByRole('button', { name: 'Sync', exact: true }))).toBe(true);
    await page.keyboard.press('Enter');
    await visible(detail.getByText(/^(Already in line with Stripe|Stripe had news)/));
    // Done as the signed-in admin, and audited.
    await vi.waitFor(async () => expect(await rows(`select actor_type from audit_log where target_id = $1 and action like '%sync%'`, [synced.orderId])).toEqual([{ actor_type: 'staff' }]), poll);
  });
});
