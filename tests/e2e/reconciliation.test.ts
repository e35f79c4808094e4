// Reconciliation (issue 17) in headless Chromium against the real server in sandbox mode: every
// webhook is dropped by the sandbox's fault injection, so what settles anything here is the janitor
// or a staff member's press. The set-up makes, at the sandbox, two PaymentIntents with our metadata
// and no record of ours (open orphans) and a provisional order whose webhook was lost; then an admin
// runs a pass from the Overview and follows it to its result, cancels one orphan at Stripe from the
// Orphaned payments screen (reading first what Cancel will do), and syncs another provisional order
// from its detail; support sees neither the Run button nor a finding's actions.
// Screenshots at 1280 and 390 px wide land in tests/e2e/screenshots/reconciliation-*.png.
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

/** The provisional order the pass confirms (older than RECONCILE_PROVISIONAL_AFTER_SECONDS by the sandbox clock). */
let staleOrder: { orderId: string; paymentIntentId: string };
/** The orphan the admin cancels, and the one left open for support to look at. */
let canceledOrphan: string;
let openOrphan: string;

const sandbox = () => server.app.stripeSandbox!;
// Texts are matched exactly: Playwright's string getByText ignores case, which would let a capital
// in the middle of a sentence through.
const visible = (locator: Locator) => locator.waitFor({ state: 'visible', timeout: TIMEOUT });
const nav = (label: string) => page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: label, exact: true });
const panel = () => page.locator('section.panel', { has: page.getByRole('heading', { name: 'Reconciliation', level: 2 }) });

/** The page as it is, at the desktop width and at a phone's, full length. */
async function shot(name: string) {
  await page.screenshot({ path: `${SCREENSHOTS}reconciliation-${name}-1280.png`, fullPage: true });
  await page.setViewportSize(NARROW);
  await page.screenshot({ path: `${SCREENSHOTS}reconciliation-${name}-390.png`, fullPage: true });
  await page.setViewportSize(WIDE);
}

async function one<T extends Record<string, unknown>>(sql: string, params: readonly SqlParam[]): Promise<T | undefined> {
  return (await server.app.db.query<T>(sql, params)).rows[0];
}

/** A PaymentIntent made straight at Stripe with our metadata, which we never recorded (a crash, another tool). */
async function orphanAtStripe(): Promise<string> {
  const intent = await server.app.stripe.paymentIntents.create({
    amount: 9900,
    currency: 'usd',
    receipt_email: `orphan-${randomUUID()}@example.com`,
    metadata: { order_id: randomUUID(), customer_id: randomUUID(), track: 'business_plan_builder', attempt: '1' },
  });
  return intent.id;
}

/** A guest pays through the storefront's API; the webhook is dropped, so the order stays provisional. */
async function provisionalOrder(email: string): Promise<{ orderId: string; paymentIntentId: string }> {
  const auth = { headers: { 'x-api-key': server.app.devCredentials!.storefrontApiKey } };
  const input = { idempotencyKey: `reconciliation-e2e-${randomUUID()}`, track: 'business_plan_builder', email };
  const created = await server.graphql(CREATE_PAYMENT_INTENT, { variables: { input }, ...auth });
  expect(created.body.errors).toBeUndefined();
  const { paymentIntentId } = created.body.data.createPaymentIntent;
  await server.app.stripe.paymentIntents.confirm(paymentIntentId, { payment_method: 'pm_card_visa', return_url: RETURN_URL });
  const confirmed = await server.graphql(CONFIRM_PAYMENT, { variables: { input: { paymentIntentId } }, ...auth });
  expect(confirmed.body.data.confirmPayment.order).toMatchObject({ status: 'PAID', syncState: 'PROVISIONAL' });
  return { orderId: confirmed.body.data.confirmPayment.order.id, paymentIntentId };
}

const findingId = async (subject: string) => (await one<{ id: string }>('select id from reconciliation_findings where subject = $1', [subject]))?.id;

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  // The janitor's schedule is off (testConfig): the only pass is the one the admin starts.
  server = await startTestServer();
  // Every delivery is lost, and stays listable at Stripe for the pass's backfill.
  sandbox().webhookFaults.dropNext = 1_000_000;

  staleOrder = await provisionalOrder(`stale-${randomUUID()}@example.com`);
  canceledOrphan = await orphanAtStripe();
  openOrphan = await orphanAtStripe();
  // The provisional order is now older than RECONCILE_PROVISIONAL_AFTER_SECONDS (120) on the janitor's clock.
  await sandbox().advanceClock(121);
  expect(await one('select sync_state from orders where id = $1', [staleOrder.orderId])).toEqual({ sync_state: 'provisional' });

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  page = await (await browser.newContext({ viewport: WIDE })).newPage();
  page.setDefaultTimeout(TIMEOUT);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('reconciliation in the console, in Chromium', () => {
  it('runs a pass from the Overview as admin and shows its counters and its result', async () => {
    await page.goto(`${server.url}/`);
    await page.getByRole('button', { name: 'Sign in as admin' }).click();
    await visible(page.getByRole('heading', { name: 'Overview', level: 1 }));
    await visible(panel().getByText('No pass has finished yet.', { exact: true }));
    await visible(panel().getByText(/^none: this server does not schedule the janitor/));
    await shot('overview-before');

    await panel().getByRole('button', { name: 'Run reconciliation now' }).click();
    const dialog = page.getByRole('dialog', { name: 'Run a reconciliation pass now?' });
    await visible(dialog);
    await dialog.getByRole('button', { name: 'Run now' }).click();

    // The run is followed until it ends; then the status shows it as the last run (said once, there),
    // with what it did, and the two orphans as open findings.
    await visible(panel().getByRole('link', { name: '2 open findings' }));
    await expect.poll(() => panel().locator('.run-progress').count(), poll).toBe(0);
    const lastRun = panel().getByText(/^Succeeded in /);
    await visible(lastRun);
    const result = (await lastRun.textContent())!;
    expect(result).toContain('by staff (Run reconciliation now)');
    expect(result).toContain('1 synced with Stripe');
    expect(result).toContain('2 orphans found');
    expect(result).toContain('0 cancelled at Stripe');
    expect(result).toContain('0 failed');
    await visible(panel().getByRole('link', { name: 'At Stripe, no record here: 2' }));
    expect(await panel().getByRole('button', { name: 'Run reconciliation now' }).isEnabled()).toBe(true);
    await shot('overview-run');

    // What the browser showed is what the database holds.
    const run = await one<{ status: string; trigger: string; actor: string }>('select status, trigger, actor from reconciliation_runs order by started_at desc limit 1', []);
    expect(run).toMatchObject({ status: 'succeeded', trigger: 'manual' });
    expect(await one('select sync_state from orders where id = $1', [staleOrder.orderId])).toEqual({ sync_state: 'confirmed' });
  });

  it('opens an orphan on Orphaned payments, says what Cancel will do at Stripe, cancels it there and shows it resolved', async () => {
    await nav('Orphaned payments').click();
    await visible(page.getByRole('heading', { name: 'Orphaned payments', level: 1 }));
    const id = (await findingId(canceledOrphan))!;
    const other = (await findingId(openOrphan))!;
    const rows = page.locator('section.list table tbody tr');
    // Open findings by default: both orphans, each with its Stripe link.
    await expect.poll(() => rows.count(), poll).toBe(2);
    const row = rows.filter({ has: page.getByRole('link', { name: `Finding ${id}` }) });
    expect(await row.getByRole('link', { name: `${canceledOrphan} in Stripe's dashboard` }).getAttribute('href')).toBe(`https://dashboard.stripe.com/test/payments/${canceledOrphan}`);
    expect(await row.textContent()).toContain('$99.00');
    expect(await rows.filter({ has: page.getByRole('link', { name: `Finding ${other}` }) }).count()).toBe(1);
    await shot('orphans');

    await row.getByRole('link', { name: `Finding ${id}` }).click();
    const detail = page.getByRole('complementary', { name: 'Finding' });
    const words = `Cancels PaymentIntent ${canceledOrphan} at Stripe: the customer can no longer pay it.`;
    // Said beside the button before it is pressed, and again in the confirmation.
    await visible(detail.getByText(words, { exact: true }));
    await shot('orphan-open');
    await detail.getByRole('button', { name: 'Cancel at Stripe' }).click();
    const dialog = page.getByRole('dialog', { name: 'Cancel this payment at Stripe?' });
    await visible(dialog);
    expect(await dialog.getByText(words, { exact: true }).isVisible()).toBe(true);
    await shot('orphan-cancel-confirm');
    await dialog.getByRole('button', { name: 'Cancel at Stripe' }).click();

    await visible(detail.getByText('Cancelled at Stripe: the finding is resolved.', { exact: true }));
    const status = detail.locator('dl.fields > div', { hasText: /^Status/ }).locator('.badge');
    await expect.poll(() => status.textContent(), poll).toBe('resolved');
    await shot('orphan-canceled');

    // At the sandbox the PaymentIntent is canceled, and the finding is resolved by the admin.
    expect((await server.app.stripe.paymentIntents.retrieve(canceledOrphan)).status).toBe('canceled');
    expect((await server.app.stripe.paymentIntents.retrieve(openOrphan)).status).toBe('requires_payment_method');
    expect(await one('select status from reconciliation_findings where id = $1', [id])).toEqual({ status: 'resolved' });
  });

  it('syncs a provisional order with Stripe from its detail and says what changed', async () => {
    // Made after the pass, so nothing but the press settles it.
    const email = `sync-${randomUUID()}@example.com`;
    const fresh = await provisionalOrder(email);
    await nav('Orders').click();
    const search = page.getByRole('searchbox', { name: 'Search' });
    await search.fill(email);
    await search.press('Enter');
    await page.getByRole('link', { name: `Order ${fresh.orderId}` }).click();
    const detail = page.getByRole('complementary', { name: 'Order' });
    const syncState = detail.locator('dl.fields > div', { hasText: /^Sync state/ }).locator('.badge');
    await expect.poll(() => syncState.textContent(), poll).toBe('provisional');

    await detail.getByRole('button', { name: 'Sync with Stripe' }).click();
    const dialog = page.getByRole('dialog', { name: 'Sync this order with Stripe?' });
    await visible(dialog);
    await dialog.getByRole('button', { name: 'Sync', exact: true }).click();
    await visible(detail.getByText('Stripe had news: the order is now paid.', { exact: true }));
    await expect.poll(() => syncState.textContent(), poll).toBe('confirmed');
    await shot('order-synced');
    // Recorded as synced now; a staff press is not one of the janitor's backed-off checks (sync_attempts).
    await vi.waitFor(
      async () => expect(await one('select sync_state, sync_attempts, last_sync_at is not null as synced from orders where id = $1', [fresh.orderId])).toEqual({ sync_state: 'confirmed', sync_attempts: 0, synced: true }),
      poll,
    );

    // A second press: Stripe has nothing new.
    await detail.getByRole('button', { name: 'Sync with Stripe' }).click();
    await page.getByRole('dialog', { name: 'Sync this order with Stripe?' }).getByRole('button', { name: 'Sync', exact: true }).click();
    await visible(detail.getByText('Already in line with Stripe.', { exact: true }));
  });

  it('signed in as support, shows no Run button and no actions on an open finding', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in as support' }).click();
    await visible(page.getByLabel('Role: support'));
    await nav('Overview').click();
    await visible(page.getByRole('heading', { name: 'Overview', level: 1 }));
    await visible(panel().getByText(/^Succeeded in /));
    await visible(panel().getByRole('link', { name: '1 open finding' }));
    expect(await page.getByRole('button', { name: 'Run reconciliation now' }).count()).toBe(0);
    await shot('support-overview');

    await nav('Orphaned payments').click();
    const id = (await findingId(openOrphan))!;
    await page.getByRole('link', { name: `Finding ${id}` }).click();
    const detail = page.getByRole('complementary', { name: 'Finding' });
    await visible(detail.getByText('Only an admin can adopt, cancel or dismiss a finding.', { exact: true }));
    for (const label of ['Adopt', 'Cancel at Stripe', 'Dismiss']) expect(await detail.getByRole('button', { name: label }).count()).toBe(0);
    await shot('support-orphan');
  });
});
