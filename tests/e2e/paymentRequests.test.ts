// A payment request followed and closed from the console (issue 20) in headless Chromium against the
// real server in sandbox mode. A storefront makes a request split among three members through the API;
// one member pays their share as the pay page does (payMemberShare, then the PaymentIntent confirmed
// with pm_card_visa through the official SDK against the sandbox) and another opens a PaymentIntent
// without paying. An admin opens the request on the Payment requests screen, sees one of three paid,
// presses Send reminders (two unpaid members get a Make delivery each), then Cancel request, and sees
// the request canceled with the paid share still paid; then refunds that share with the Orders screen's
// Refund… on its order. What the browser showed is checked against the database and the sandbox: the open
// PaymentIntent is canceled at Stripe, the paid one is not, and its refund is Stripe's.
// Screenshots at 1280 and 390 px wide land in tests/e2e/screenshots/payment-requests-*.png.
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
const TITLE = `Team licence ${randomUUID().slice(0, 6)}`;

const CREATE = `mutation ($input: CreatePaymentRequestInput!) {
  createPaymentRequest(input: $input) { paymentRequest { id members { id email } } payLinks { memberId email payUrl } error { code message } }
}`;
const PAY = `mutation ($input: PayMemberShareInput!) {
  payMemberShare(input: $input) { paymentIntentId clientSecret error { code message } }
}`;

let server: TestServer;
let browser: Browser;
let page: Page;
let requestId: string;
/** The members in the order they were given: the first pays, the second opens a PaymentIntent only. */
const emails = ['ada', 'grace', 'linus'].map((name) => `${name}-${randomUUID().slice(0, 8)}@example.com`);
const paymentIntents: string[] = [];

const visible = (locator: Locator) => locator.waitFor({ state: 'visible', timeout: TIMEOUT });
const nav = (label: string) => page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: label, exact: true });
const detail = () => page.getByRole('complementary', { name: 'Payment request' });
const member = (email: string) => detail().getByRole('listitem', { name: `Member ${email}` });
/** The value of a detail field (a dl row) by its label. */
const field = (scope: Locator, label: string) => scope.locator('dl.fields > div', { has: page.locator('dt', { hasText: new RegExp(`^${label}$`) }) }).locator('dd');

/** The page as it is, at the desktop width and at a phone's, full length. */
async function shot(name: string) {
  await page.screenshot({ path: `${SCREENSHOTS}payment-requests-${name}-1280.png`, fullPage: true });
  await page.setViewportSize(NARROW);
  await page.screenshot({ path: `${SCREENSHOTS}payment-requests-${name}-390.png`, fullPage: true });
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

/** A member starts paying from their pay link: the PaymentIntent payMemberShare hands out. */
async function startPaying(payUrl: string): Promise<string> {
  const token = new URL(payUrl).searchParams.get('token')!;
  const started = await server.graphql(PAY, { variables: { input: { token, idempotencyKey: `pay-e2e-${randomUUID()}` } } });
  expect(started.body.errors).toBeUndefined();
  const { paymentIntentId, error } = started.body.data.payMemberShare;
  expect(error).toBeNull();
  return paymentIntentId as string;
}

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  server = await startTestServer();
  const auth = { headers: { 'x-api-key': server.app.devCredentials!.storefrontApiKey } };
  const input = {
    idempotencyKey: `payment-request-e2e-${randomUUID()}`,
    title: TITLE,
    track: 'business_plan_builder',
    currency: 'usd',
    members: emails.map((email, i) => ({ email, name: i === 1 ? null : `Member ${i + 1}`, amount: 3300 })),
    expiresAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
  };
  const created = await server.graphql(CREATE, { variables: { input }, ...auth });
  expect(created.body.errors).toBeUndefined();
  const payload = created.body.data.createPaymentRequest;
  expect(payload.error).toBeNull();
  requestId = payload.paymentRequest.id;
  const links = payload.payLinks as Array<{ email: string; payUrl: string }>;
  const linkOf = (email: string) => links.find((link) => link.email === email)!.payUrl;

  // The first member pays (Stripe.js' confirm, the SDK here, with the return URL the pay page gives for a
  // redirect); the second opens a PaymentIntent and stops.
  paymentIntents.push(await startPaying(linkOf(emails[0]!)));
  const confirmed = await server.app.stripe.paymentIntents.confirm(paymentIntents[0]!, { payment_method: 'pm_card_visa', return_url: 'https://shop.example/pay/return' });
  expect(confirmed.status).toBe('succeeded');
  paymentIntents.push(await startPaying(linkOf(emails[1]!)));
  await webhooksApplied();
  expect(await rows('select status from payment_requests where id = $1', [requestId])).toEqual([{ status: 'partially_paid' }]);

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  page = await (await browser.newContext({ viewport: WIDE })).newPage();
  page.setDefaultTimeout(TIMEOUT);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('a payment request followed and canceled in the console, in Chromium', () => {
  it('lists the request with one of three members paid, and opens it with its members', async () => {
    await page.goto(`${server.url}/`);
    await page.getByRole('button', { name: 'Sign in as admin' }).click();
    await visible(page.getByRole('heading', { name: 'Overview', level: 1 }));
    await nav('Payment requests').click();
    await visible(page.getByRole('heading', { name: 'Payment requests', level: 1 }));
    const link = page.getByRole('link', { name: `Payment request ${TITLE} (${requestId})` });
    await visible(link);
    const row = page.getByRole('row').filter({ has: link });
    await visible(row.getByText('partially paid', { exact: true }));
    await visible(row.getByRole('progressbar', { name: '$33.00 of $99.00 paid' }));
    await visible(row.getByText('1 of 3 members paid', { exact: true }));
    await shot('list');

    await link.click();
    await visible(detail().getByRole('list', { name: 'Members' }));
    await visible(field(detail(), 'Paid').getByText('1 of 3 members paid', { exact: true }));
    await visible(member(emails[0]!).getByText('paid', { exact: true }));
    await visible(member(emails[1]!).getByText('pending', { exact: true }));
    await visible(member(emails[2]!).getByText('0 attempts', { exact: false }));
    // Each PaymentIntent links to Stripe's dashboard; the sandbox's are test-mode shaped.
    for (const [i, id] of paymentIntents.entries()) {
      expect(await member(emails[i]!).getByRole('link', { name: `${id} in Stripe's dashboard` }).getAttribute('href')).toBe(`https://dashboard.stripe.com/test/payments/${id}`);
    }
    // An admin may refund the paid share (through its order), and only that one.
    await visible(member(emails[0]!).getByRole('button', { name: 'Refund…' }));
    expect(await member(emails[1]!).getByRole('button', { name: 'Refund…' }).count()).toBe(0);
    await shot('open');
  });

  it('sends reminders to the two unpaid members, one Make delivery each', async () => {
    await detail().getByRole('button', { name: 'Send reminders' }).click();
    const dialog = page.getByRole('dialog', { name: 'Send reminders?' });
    await visible(dialog.getByText('Each of the 2 unpaid members gets an email (sent by Make) with a new pay link; their earlier links stop working.'));
    await dialog.getByRole('button', { name: 'Send reminders' }).click();
    await visible(detail().getByText('Reminders queued for 2 members: Make sends each a new pay link.', { exact: true }));
    // One each for the two unpaid members (pending, and pending with a PaymentIntent open), none for the paid one.
    const reminders = await rows<{ email: string }>("select payload->'data'->'member'->>'email' as email from make_deliveries where kind = 'payment_request_reminder' and subject_id = $1 order by 1", [requestId]);
    expect(reminders.map((r) => r.email)).toEqual([emails[1], emails[2]].sort());
    await shot('reminded');
  });

  it('cancels the request: the open PaymentIntent is canceled at Stripe, the paid share stays paid', async () => {
    await detail().getByRole('button', { name: 'Cancel request' }).click();
    const dialog = page.getByRole('dialog', { name: 'Cancel this payment request?' });
    await visible(dialog.getByText(/The 1 paid share stays paid/));
    await shot('cancel-confirm');
    await dialog.getByRole('button', { name: 'Cancel request' }).click();
    await visible(detail().getByText('Request canceled: the unpaid shares can no longer be paid; the 1 paid share stays paid.', { exact: true }));
    await expect.poll(() => field(detail(), 'Status').textContent(), poll).toBe('canceled');
    await visible(member(emails[0]!).getByText('paid', { exact: true }));
    await visible(member(emails[1]!).getByText('canceled', { exact: true }));
    await visible(member(emails[2]!).getByText('canceled', { exact: true }));
    expect(await detail().getByRole('button', { name: 'Cancel request' }).isDisabled()).toBe(true);
    expect(await detail().getByRole('button', { name: 'Send reminders' }).isDisabled()).toBe(true);
    // The list says it too (read again after the action).
    const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: `Payment request ${TITLE} (${requestId})` }) });
    await visible(row.getByText('canceled', { exact: true }));
    await shot('canceled');

    await webhooksApplied();
    expect(await rows('select status from payment_requests where id = $1', [requestId])).toEqual([{ status: 'canceled' }]);
    expect((await server.app.stripe.paymentIntents.retrieve(paymentIntents[0]!)).status).toBe('succeeded');
    expect((await server.app.stripe.paymentIntents.retrieve(paymentIntents[1]!)).status).toBe('canceled');
    expect(await rows('select email, status from payment_request_members where payment_request_id = $1 order by email', [requestId])).toEqual(
      [...emails].sort().map((email) => ({ email, status: email === emails[0] ? 'paid' : 'canceled' })),
    );
  });

  it('refunds the paid share with the Orders screen’s Refund… on its order: the member shows refunded after the webhooks', async () => {
    await member(emails[0]!).getByRole('button', { name: 'Refund…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Refund this order?' });
    await visible(dialog.getByText(`Refund $33.00 of $33.00 to ${emails[0]}`, { exact: true }));
    await shot('refund');
    await dialog.getByRole('button', { name: 'Refund $33.00' }).click();
    await visible(member(emails[0]!).getByText(/^Refunded \$33\.00/));
    await webhooksApplied();
    await page.reload();
    await visible(member(emails[0]!).getByText('refunded', { exact: true }));
    await visible(member(emails[0]!).getByText(/\$33\.00 refunded/));
    await expect.poll(() => field(detail(), 'Refunded').textContent(), poll).toBe('$33.00');
    await shot('refunded');
    const [share] = await rows<{ order_id: string }>('select order_id from payment_request_members where email = $1', [emails[0]!]);
    const refunds = await server.app.stripe.refunds.list({ payment_intent: paymentIntents[0]! });
    expect(refunds.data.map((refund) => [refund.amount, refund.status])).toEqual([[3300, 'succeeded']]);
    expect(await rows('select status from orders where id = $1', [share!.order_id])).toEqual([{ status: 'refunded' }]);
  });
});
