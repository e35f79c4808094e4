// Refunds and disputes (issue 18) in headless Chromium against the real server in sandbox mode. Two
// guests pay through the storefront's API: one with Visa, one with the sandbox's dispute card
// (pm_card_createDispute: Stripe opens a dispute right after the payment). An admin refunds part of
// the first from its order's detail (the amount typed as "29,70", the confirmation read first), is
// stopped from refunding more than the rest as it is typed, and is told in words that the disputed
// payment cannot be refunded; the Disputes screen and the Overview show the dispute; support sees the
// refunds without the button. What the browser showed is checked against the database and the sandbox.
// Screenshots at 1280 and 390 px wide land in tests/e2e/screenshots/refund-*.png.
//
// `npm run test:e2e` builds the console first: the server serves dist/console.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SqlParam } from '../../server/platform/db/db';
import { CONFIRM_PAYMENT, CREATE_PAYMENT_INTENT } from '../helpers/checkout';
import { startTestServer, type TestServer } from '../helpers/server';

const SCREENSHOTS = new URL('./screenshots/', import.meta.url).pathname;
/** How long the UI, the database or Stripe may take to reach a state before the test fails. */
const TIMEOUT = 10_000;
const poll = { timeout: TIMEOUT, interval: 50 };
const WIDE = { width: 1280, height: 900 };
const NARROW = { width: 390, height: 844 };
const RETURN_URL = 'https://shop.test/checkout/return';

let server: TestServer;
let browser: Browser;
let page: Page;
let paid: { orderId: string; paymentIntentId: string; email: string };
let disputed: { orderId: string; paymentIntentId: string; email: string };

const visible = (locator: Locator) => locator.waitFor({ state: 'visible', timeout: TIMEOUT });
const nav = (label: string) => page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: label, exact: true });
const detail = () => page.getByRole('complementary', { name: 'Order' });

/** The page as it is, at the desktop width and at a phone's, full length. */
async function shot(name: string) {
  await page.screenshot({ path: `${SCREENSHOTS}refund-${name}-1280.png`, fullPage: true });
  await page.setViewportSize(NARROW);
  await page.screenshot({ path: `${SCREENSHOTS}refund-${name}-390.png`, fullPage: true });
  await page.setViewportSize(WIDE);
}

async function rows<T extends Record<string, unknown>>(sql: string, params: readonly SqlParam[]): Promise<T[]> {
  return (await server.app.db.query<T>(sql, params)).rows;
}

/** A guest pays 99 USD through the storefront's API with the given test card. */
async function paidOrder(paymentMethod: string): Promise<{ orderId: string; paymentIntentId: string; email: string }> {
  const email = `refund-${randomUUID().slice(0, 8)}@example.com`;
  const auth = { headers: { 'x-api-key': server.app.devCredentials!.storefrontApiKey } };
  const input = { idempotencyKey: `refund-e2e-${randomUUID()}`, track: 'business_plan_builder', email };
  const created = await server.graphql(CREATE_PAYMENT_INTENT, { variables: { input }, ...auth });
  expect(created.body.errors).toBeUndefined();
  const { paymentIntentId } = created.body.data.createPaymentIntent;
  await server.app.stripe.paymentIntents.confirm(paymentIntentId, { payment_method: paymentMethod, return_url: RETURN_URL });
  const confirmed = await server.graphql(CONFIRM_PAYMENT, { variables: { input: { paymentIntentId } }, ...auth });
  expect(confirmed.body.data.confirmPayment.order.status).toBe('PAID');
  return { orderId: confirmed.body.data.confirmPayment.order.id, paymentIntentId, email };
}

async function openOrder(email: string, orderId: string) {
  await nav('Orders').click();
  const search = page.getByRole('searchbox', { name: 'Search' });
  await search.fill(email);
  await search.press('Enter');
  await page.getByRole('link', { name: `Order ${orderId}` }).click();
  await visible(detail().getByRole('heading', { name: 'Refunds' }));
}

async function signInAs(role: 'admin' | 'support') {
  await page.goto(`${server.url}/`);
  await page.getByRole('button', { name: `Sign in as ${role}` }).click();
  await visible(page.getByRole('heading', { name: 'Overview', level: 1 }));
}

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  server = await startTestServer();
  paid = await paidOrder('pm_card_visa');
  disputed = await paidOrder('pm_card_createDispute');
  // The dispute's webhook is applied: the order has its dispute here.
  await vi.waitFor(async () => expect(await rows('select id from disputes where order_id = $1', [disputed.orderId])).toHaveLength(1), poll);

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  page = await (await browser.newContext({ viewport: WIDE })).newPage();
  page.setDefaultTimeout(TIMEOUT);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('refunds and disputes in the console, in Chromium', () => {
  it('refunds part of an order as admin: the amount typed with a comma, the confirmation in words, one refund at Stripe', async () => {
    await signInAs('admin');
    await openOrder(paid.email, paid.orderId);
    await visible(detail().getByText('No refunds.', { exact: true }));
    await detail().getByRole('button', { name: 'Refund…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Refund this order?' });
    await visible(dialog);
    const amount = dialog.getByLabel('Amount (USD)');
    expect(await amount.inputValue()).toBe('99.00');
    await amount.fill('29,70');
    await dialog.getByLabel('Reason').selectOption('DUPLICATE');
    await dialog.getByLabel('Note (for the audit log, not sent to Stripe)').fill('Charged twice, says the customer');
    await visible(dialog.getByText(`Refund $29.70 of $99.00 to ${paid.email}`, { exact: true }));
    await shot('dialog');
    await dialog.getByRole('button', { name: 'Refund $29.70' }).click();

    await visible(detail().getByText(/^Refunded \$29\.70: /));
    const list = detail().getByRole('list', { name: 'Refunds' });
    await visible(list.getByText('$29.70', { exact: true }));
    await visible(list.getByText(/Duplicate payment/));
    const refundable = detail().locator('dl.fields > div', { hasText: /^Refundable/ }).locator('dd');
    await expect.poll(() => refundable.textContent(), poll).toBe('$69.30');
    await shot('refunded');

    // One refund at Stripe, with our metadata, and one row here.
    const atStripe = await server.app.stripe.refunds.list({ payment_intent: paid.paymentIntentId });
    expect(atStripe.data).toHaveLength(1);
    expect(atStripe.data[0]).toMatchObject({ amount: 2970, reason: 'duplicate', metadata: { order_id: paid.orderId } });
    const here = await rows<{ amount: string | number; status: string }>('select amount, status from refunds where order_id = $1', [paid.orderId]);
    expect(here).toHaveLength(1);
    expect(Number(here[0]!.amount)).toBe(2970);
    expect(['pending', 'succeeded']).toContain(here[0]!.status);
  });

  it('stops an amount past the rest as it is typed, and sends nothing', async () => {
    await detail().getByRole('button', { name: 'Refund…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Refund this order?' });
    expect(await dialog.getByLabel('Amount (USD)').inputValue()).toBe('69.30');
    await dialog.getByLabel('Amount (USD)').fill('69.31');
    await visible(dialog.getByText('At most $69.30 may still be refunded.', { exact: true }));
    expect(await dialog.getByRole('button', { name: 'Refund', exact: true }).isDisabled()).toBe(true);
    await shot('too-much');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect((await server.app.stripe.refunds.list({ payment_intent: paid.paymentIntentId })).data).toHaveLength(1);
  });

  it('says in words that a disputed payment cannot be refunded, offers no Refund…, and changes nothing', async () => {
    await openOrder(disputed.email, disputed.orderId);
    await visible(detail().getByRole('list', { name: 'Disputes' }));
    // The server counts nothing refundable while Stripe would refuse (the dispute is open and not
    // refundable): the button is off and says why.
    await visible(detail().getByText(/^This payment is disputed: Stripe refuses refunds while the dispute is open\./));
    await visible(detail().getByText('Nothing may be refunded: Stripe does not refund a disputed payment (the dispute is open, or lost).', { exact: true }));
    expect(await detail().getByRole('button', { name: 'Refund…' }).isDisabled()).toBe(true);
    await shot('disputed');
    expect((await server.app.stripe.refunds.list({ payment_intent: disputed.paymentIntentId })).data).toHaveLength(0);
    expect(await rows('select id from refunds where order_id = $1', [disputed.orderId])).toHaveLength(0);
  });

  it("lists the dispute on the Disputes screen with its deadline and Stripe's dashboard link, and counts it on the Overview", async () => {
    const [row] = await rows<{ id: string }>('select id from disputes where order_id = $1', [disputed.orderId]);
    await nav('Disputes').click();
    await visible(page.getByRole('heading', { name: 'Disputes', level: 1 }));
    const link = page.getByRole('link', { name: `Dispute ${row!.id} in Stripe's dashboard` });
    await visible(link);
    expect(await link.getAttribute('href')).toBe(`https://dashboard.stripe.com/test/disputes/${row!.id}`);
    const tr = page.locator('tbody tr', { has: link });
    // Due at 23:59:59 UTC a week on: more than 72 hours left, so not highlighted.
    await visible(tr.getByText(/^\d+ days( \d+ h)? left$/));
    expect(await tr.textContent()).toContain('$99.00');
    expect(await tr.textContent()).toContain('Fraudulent');
    await shot('disputes');

    await nav('Overview').click();
    const tile = page.locator('.tile', { hasText: 'Disputes open' });
    await expect.poll(() => tile.locator('.tile-value').textContent(), poll).toBe('1');
    expect(await page.locator('.tile', { hasText: 'Disputes due soon' }).locator('.tile-value').textContent()).toBe('0');
  });

  it('shows support the refunds without the Refund button', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signInAs('support');
    await openOrder(paid.email, paid.orderId);
    await visible(detail().getByRole('list', { name: 'Refunds' }).getByText('$29.70', { exact: true }));
    await visible(detail().getByText('Only an admin can refund.', { exact: true }));
    expect(await detail().getByRole('button', { name: 'Refund…' }).count()).toBe(0);
    await shot('support');
  });
});
