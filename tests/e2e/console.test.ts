// The staff console in headless Chromium against the real server in sandbox mode (fresh PGlite
// database, the Stripe sandbox delivering its webhooks, the built-in Make sink): sign in with the
// sandbox's dev sign-in, find a payment made through the sandbox and open it, retry a Make delivery
// the sink refused, replay a webhook event as admin, and see the support role without that button.
// Data is set up through the API the storefront uses; everything staff do happens in the browser.
// Screenshots of each screen land in tests/e2e/screenshots/console-*.png.
//
// `npm run test:e2e` builds the console first: the server serves dist/console.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { REPLAY_WEBHOOK_EVENT } from '../../console/src/features/webhookEvents/mutations';
import type { SqlParam } from '../../server/platform/db/db';
import { CONFIRM_PAYMENT, CREATE_PAYMENT_INTENT } from '../helpers/checkout';
import { startTestServer, type TestServer } from '../helpers/server';

const SCREENSHOTS = new URL('./screenshots/', import.meta.url).pathname;
/** How long the UI, the database or the sink may take to reach a state before the test fails. */
const TIMEOUT = 10_000;
const poll = { timeout: TIMEOUT, interval: 50 };

let server: TestServer;
let browser: Browser;
let page: Page;

interface Purchase {
  email: string;
  orderId: string;
  paymentIntentId: string;
  /** Its add_project Make delivery. */
  deliveryId: string;
  /** Its payment_intent.succeeded event, as our endpoint stored it. */
  eventId: string;
}
/** The purchase staff look for; its Make delivery is refused by the sink. */
let buyer: Purchase;
/** Another customer's purchase, so that every search and filter has something to leave out. */
let other: Purchase;

const shot = (name: string) => page.screenshot({ path: `${SCREENSHOTS}console-${name}.png`, fullPage: true });
const visible = (locator: Locator) => locator.waitFor({ state: 'visible', timeout: TIMEOUT });
const nav = (label: string) => page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: label, exact: true });
/** The tables show dotted names with zero-width spaces after the dots (breakAtDots), so they wrap. */
const dotted = (name: string) => name.replaceAll('.', '.\u200b');
const tableRows = () => page.locator('section.list table tbody tr');
/** The distinct texts of one column of the list, sorted. */
const column = async (n: number) => [...new Set(await tableRows().locator(`td:nth-child(${n})`).allTextContents())].sort();
/** The distinct full ids of a column of ids, sorted: each is shown shortened (ShortId), the full id its title. */
const idColumn = async (n: number) => [...new Set(await tableRows().locator(`td:nth-child(${n}) .short-id-text`).evaluateAll((ids) => ids.map((id) => id.getAttribute('title'))))].sort();

async function one<T extends Record<string, unknown>>(sql: string, params: readonly SqlParam[]): Promise<T | undefined> {
  return (await server.app.db.query<T>(sql, params)).rows[0];
}

async function sinkReceived(): Promise<Array<[string | null, number]>> {
  const response = await fetch(`${server.url}/sandbox/make/deliveries`);
  const { deliveries } = (await response.json()) as { deliveries: Array<{ deliveryId: string | null; answeredStatus: number }> };
  return deliveries.map((d) => [d.deliveryId, d.answeredStatus]);
}

/**
 * A guest buys a track with Stripe Elements through the sandbox, as the storefront does it
 * (createPaymentIntent, the card confirmed at Stripe, confirmPayment), then waits until Stripe's
 * payment_intent.succeeded has reached our endpoint and been applied, and the outbox has tried the
 * add_project delivery once, to the status wanted.
 */
async function purchase(email: string, name: string, makeStatus: 'delivered' | 'dead'): Promise<Purchase> {
  const auth = { headers: { 'x-api-key': server.app.devCredentials!.storefrontApiKey } };
  const input = { idempotencyKey: `console-e2e-${randomUUID()}`, track: 'website_audit_feedback', email, name, metadata: [{ key: 'campaign', value: 'console-e2e' }] };
  const created = await server.graphql(CREATE_PAYMENT_INTENT, { variables: { input }, ...auth });
  expect(created.body.errors).toBeUndefined();
  const { order, paymentIntentId } = created.body.data.createPaymentIntent;
  // Stripe's events wait until the storefront has confirmed, so the order is paid the same way every
  // run: provisionally by confirmPayment, then confirmed by the webhook.
  const events = server.app.stripeSandbox!.core.events;
  events.stopAutoDelivery();
  await server.app.stripe.paymentIntents.confirm(paymentIntentId, { payment_method: 'pm_card_visa', return_url: 'https://shop.test/return' });
  const confirmed = await server.graphql(CONFIRM_PAYMENT, { variables: { input: { paymentIntentId } }, ...auth });
  expect(confirmed.body.data.confirmPayment.order).toMatchObject({ status: 'PAID', syncState: 'PROVISIONAL' });
  events.startAutoDelivery();

  await vi.waitFor(async () => expect(await one('select status, attempts from make_deliveries where order_id = $1', [order.id])).toEqual({ status: makeStatus, attempts: 1 }), poll);
  const succeeded = `select id, status from stripe_events where object_id = $1 and type = 'payment_intent.succeeded'`;
  await vi.waitFor(async () => expect((await one(succeeded, [paymentIntentId]))?.status).toBe('applied'), poll);
  return {
    email,
    orderId: order.id,
    paymentIntentId,
    deliveryId: (await one<{ id: string }>('select id from make_deliveries where order_id = $1', [order.id]))!.id,
    eventId: (await one<{ id: string }>(succeeded, [paymentIntentId]))!.id,
  };
}

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  server = await startTestServer();
  expect(server.app.makeSink, 'sandbox mode without Make URLs delivers to the built-in sink').toBeDefined();

  const tag = randomUUID().slice(0, 8);
  other = await purchase(`console-e2e-other-${tag}@example.com`, 'Ada Other', 'delivered');
  // The sink refuses the next delivery with a permanent error (400): the outbox parks it dead at
  // once, so no backoff timer can deliver it before staff press "Retry now".
  const behaviour = await fetch(`${server.url}/sandbox/make/behaviour`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ failNext: 1, status: 400, delayMs: 0 }),
  });
  expect(behaviour.status).toBe(200);
  buyer = await purchase(`console-e2e-buyer-${tag}@example.com`, 'Grace Buyer', 'dead');
  expect(await sinkReceived()).toEqual([
    [other.deliveryId, 200],
    [buyer.deliveryId, 400],
  ]);

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  // A missing button fails the test in seconds, not after Playwright's default 30.
  page.setDefaultTimeout(TIMEOUT);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('the staff console in Chromium', () => {
  it('sends a visitor to sign-in, signs in as admin, and shows the overview', async () => {
    await page.goto(`${server.url}/`);
    await page.waitForURL((url) => url.pathname === '/sign-in' && url.searchParams.get('next') === '/');
    await visible(page.getByRole('heading', { name: 'Sandbox sign-in' }));
    await shot('sign-in');

    await page.getByRole('button', { name: 'Sign in as admin' }).click();
    await visible(page.getByRole('heading', { name: 'Overview', level: 1 }));
    expect(new URL(page.url()).pathname).toBe('/');
    await visible(page.getByLabel('Role: admin'));
    // The dead delivery shows on the overview, linked to the list of dead deliveries.
    const makeDead = page.getByRole('link', { name: /^Make dead/ });
    await visible(makeDead);
    expect(await makeDead.locator('.tile-value').textContent()).toBe('1');
    expect(await makeDead.getAttribute('href')).toBe('/make-deliveries?status=DEAD');
    // The chart (loaded lazily) counts both payments in its rolling 24 hours.
    await visible(page.getByText('Payments per hour, last 24 hours (UTC): 2 in all.'));
    await visible(page.locator('.recharts-surface').first());
    await shot('overview');
  });

  it('finds the payment on Payment logs by order id, email and pi_, and opens a row with its metadata', async () => {
    await nav('Payment logs').click();
    await visible(page.getByRole('heading', { name: 'Payment logs', level: 1 }));
    const search = page.getByRole('searchbox', { name: 'Search' });
    const customers = () => column(5);
    await expect.poll(customers, poll).toEqual([buyer.email, other.email].sort());

    for (const term of [buyer.orderId, buyer.email, buyer.paymentIntentId]) {
      await search.fill(term);
      await search.press('Enter');
      // Only the buyer's rows are left: the other customer's have gone.
      await expect.poll(customers, poll).toEqual([buyer.email]);
      if (term === buyer.email) await shot('payment-logs');
      await page.getByRole('button', { name: 'Clear filters' }).click();
      await expect.poll(customers, poll).toEqual([buyer.email, other.email].sort());
    }

    // Open the row that records the payment: the storefront's confirmPayment marked the order paid.
    await search.fill(buyer.paymentIntentId);
    await search.press('Enter');
    await expect.poll(customers, poll).toEqual([buyer.email]);
    const paidRow = tableRows().filter({ has: page.getByRole('cell', { name: dotted('payment.paid'), exact: true }) });
    await paidRow.getByRole('link').first().click();
    const detail = page.getByRole('complementary', { name: 'Payment log row' });
    const metadata = detail.getByLabel('Metadata');
    await visible(metadata);
    expect(new URL(page.url()).searchParams.get('q')).toBe(buyer.paymentIntentId);
    expect(JSON.parse((await metadata.textContent())!)).toMatchObject({ source: 'storefront', sync_state: 'provisional', payment_intent_id: buyer.paymentIntentId });
    expect(await detail.getByRole('link', { name: buyer.orderId }).isVisible()).toBe(true);
    await shot('payment-logs-open');
  });

  it('opens the order from its payment log row, with its Stripe links, and finds it on Orders by email', async () => {
    await page.getByRole('complementary', { name: 'Payment log row' }).getByRole('link', { name: buyer.orderId }).click();
    await page.waitForURL((url) => url.pathname === '/orders' && url.searchParams.get('open') === buyer.orderId);
    const detail = page.getByRole('complementary', { name: 'Order' });
    const fields = detail.locator('dl.fields').first();
    await visible(fields);
    const text = (await fields.textContent())!;
    for (const expected of [buyer.orderId, '$79.00', 'Website Audit & Feedback', buyer.email, 'Grace Buyer']) expect(text).toContain(expected);
    expect(await fields.locator('div', { hasText: /^Status/ }).locator('.badge').textContent()).toBe('paid');
    expect(await fields.locator('div', { hasText: /^Sync state/ }).locator('.badge').textContent()).toBe('confirmed');
    const piLink = detail.getByRole('link', { name: `${buyer.paymentIntentId} in Stripe's dashboard` });
    expect(await piLink.getAttribute('href')).toBe(`https://dashboard.stripe.com/test/payments/${buyer.paymentIntentId}`);

    // The Orders list (unfiltered here) shows both customers; searching by email keeps the buyer's.
    const customers = () => column(6);
    await expect.poll(customers, poll).toEqual([buyer.email, other.email].sort());
    const search = page.getByRole('searchbox', { name: 'Search' });
    await search.fill(buyer.email);
    await search.press('Enter');
    await expect.poll(customers, poll).toEqual([buyer.email]);
    await page.getByRole('link', { name: `Order ${buyer.orderId}` }).click();
    await visible(page.getByRole('complementary', { name: 'Order' }).getByText(buyer.orderId, { exact: true }));
    await shot('orders-open');
  });

  it('retries the dead Make delivery with "Retry now" and sees it delivered', async () => {
    await nav('Make deliveries').click();
    await visible(page.getByRole('heading', { name: 'Make deliveries', level: 1 }));
    const deliveries = () => tableRows().locator('td:first-child a').evaluateAll((links) => links.map((a) => a.querySelector('.visually-hidden')?.textContent).sort());
    await expect.poll(deliveries, poll).toEqual([`Delivery ${buyer.deliveryId}`, `Delivery ${other.deliveryId}`].sort());
    await page.getByLabel('Status').selectOption('DEAD');
    await expect.poll(deliveries, poll).toEqual([`Delivery ${buyer.deliveryId}`]);
    expect(await tableRows().first().textContent()).toContain('HTTP 400: Make answered 400: not retried');
    await page.getByRole('link', { name: `Delivery ${buyer.deliveryId}` }).click();
    const detail = page.getByRole('complementary', { name: 'Make delivery' });
    const status = detail.locator('dl.fields > div', { hasText: /^Status/ }).locator('.badge');
    await visible(status);
    expect(await status.textContent()).toBe('dead');
    await shot('make-deliveries-dead');

    await detail.getByRole('button', { name: 'Retry now' }).click();
    const dialog = page.getByRole('dialog', { name: 'Retry this delivery now?' });
    await visible(dialog);
    await dialog.getByRole('button', { name: 'Retry now' }).click();
    await visible(detail.getByText(/^Sent for retry: the delivery is now /));
    await shot('make-deliveries-retry-sent');

    // The outbox, woken by the retry, posts it again with the same delivery id, and the sink takes it.
    await expect.poll(sinkReceived, poll).toEqual([
      [other.deliveryId, 200],
      [buyer.deliveryId, 400],
      [buyer.deliveryId, 200],
    ]);
    await vi.waitFor(async () => expect(await one('select status from make_deliveries where id = $1', [buyer.deliveryId])).toEqual({ status: 'delivered' }), poll);

    // The open panel follows the outbox by itself: delivered, with both attempts, and the message says so.
    await expect.poll(() => status.textContent(), poll).toBe('delivered');
    await visible(detail.getByText('Sent for retry: the delivery is now delivered.'));
    await expect.poll(() => detail.locator('table.compact tbody tr').count(), poll).toBe(2);
    const attempts = await detail.locator('table.compact tbody tr').allTextContents();
    expect(attempts).toHaveLength(2);
    expect(attempts[0]).toContain('HTTP 400');
    expect(attempts[1]).toContain('HTTP 200');
    await shot('make-deliveries-retried');
  });

  it('replays a stored webhook event as admin', async () => {
    await nav('Webhook events').click();
    await visible(page.getByRole('heading', { name: 'Webhook events', level: 1 }));
    // Both payments' events (their charges' too) are listed; filtering by the PaymentIntent keeps its own.
    const objects = () => idColumn(3);
    await expect.poll(objects, poll).toEqual(expect.arrayContaining([buyer.paymentIntentId, other.paymentIntentId]));
    await page.getByLabel('Object id').fill(buyer.paymentIntentId);
    await page.getByLabel('Object id').press('Enter');
    await expect.poll(objects, poll).toEqual([buyer.paymentIntentId]);
    await shot('webhook-events');
    await page.getByRole('link', { name: buyer.eventId, exact: true }).click();

    const detail = page.getByRole('complementary', { name: `Event ${buyer.eventId}` });
    await visible(detail.getByLabel('Raw payload'));
    await shot('webhook-event-open');

    await detail.getByRole('button', { name: 'Replay event' }).click();
    const dialog = page.getByRole('dialog', { name: 'Replay this event?' });
    await visible(dialog);
    await dialog.getByRole('button', { name: 'Replay', exact: true }).click();
    await visible(detail.getByText('Replayed: the event is now applied.'));
    await shot('webhook-event-replayed');

    // Replayed through the applier, and no second effect: the order is paid once, with one Make delivery.
    expect(await one('select status from stripe_events where id = $1', [buyer.eventId])).toEqual({ status: 'applied' });
    expect(await one(`select count(*)::int as n from audit_log where action = 'webhook_event.replay' and target_id = $1`, [buyer.eventId])).toEqual({ n: 1 });
    expect(await one('select status, sync_state from orders where id = $1', [buyer.orderId])).toEqual({ status: 'paid', sync_state: 'confirmed' });
    expect((await server.app.db.query('select id from make_deliveries where order_id = $1', [buyer.orderId])).rows).toHaveLength(1);
  });

  it('signed in as support, shows no Replay event button, and the server refuses the replay', async () => {
    const eventPage = `/webhook-events?objectId=${encodeURIComponent(buyer.paymentIntentId)}&open=${encodeURIComponent(buyer.eventId)}`;
    await page.getByRole('button', { name: 'Sign out' }).click();
    await visible(page.getByRole('button', { name: 'Sign in as support' }));
    expect(new URL(page.url()).searchParams.get('next')).toBe(eventPage);
    await page.getByRole('button', { name: 'Sign in as support' }).click();

    // Back on the page they were on, as support.
    await page.waitForURL((url) => `${url.pathname}${url.search}` === eventPage);
    await visible(page.getByLabel('Role: support'));
    const detail = page.getByRole('complementary', { name: `Event ${buyer.eventId}` });
    await visible(detail.getByLabel('Raw payload'));
    expect(await detail.getByRole('button', { name: 'Replay event' }).count()).toBe(0);
    await shot('support-webhook-event');

    // The token the browser holds is refused the mutation the console sends.
    const token = await page.evaluate(() => (JSON.parse(sessionStorage.getItem('payments-ops.session') ?? '{}') as { token?: string }).token);
    expect(token).toBeTruthy();
    const input = { id: buyer.eventId, idempotencyKey: randomUUID() };
    const refused = await server.graphql(REPLAY_WEBHOOK_EVENT, { token, variables: { input } });
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    // Make's buttons are for support too: the delivered delivery offers Replay.
    await nav('Make deliveries').click();
    await page.getByRole('link', { name: `Delivery ${buyer.deliveryId}` }).click();
    await visible(page.getByRole('complementary', { name: 'Make delivery' }).getByRole('button', { name: 'Replay', exact: true }));
    await shot('support-make-delivery');
  });
});
