// Payment requests on the demo storefront as people see them (issue 20), in headless Chromium: a
// visitor splits a payment between two members on "Split a payment" and is shown their pay links once;
// one member opens their link, is declined once, pays on the same PaymentIntent and sees the share
// paid at once (provisional until Stripe's webhook); the other pays through 3-D Secure, and once the
// webhooks are in the request is paid. Screenshots at 1280 and 390 px.
import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server';

const SCREENSHOTS = new URL('./screenshots/', import.meta.url).pathname;
const TIMEOUT = 10_000;

let server: TestServer;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  server = await startTestServer();
  // Stripe's events wait for settle(): the result page shows the share as the return page left it.
  server.app.stripeSandbox!.core.events.stopAutoDelivery();
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  page.setDefaultTimeout(TIMEOUT);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

async function settle(): Promise<void> {
  await server.app.stripeSandbox!.flushWebhooks();
  await server.app.webhookApplier.drain();
}

/** The page at 1280 px, then at 390 px (a phone), back at 1280. */
async function shots(name: string): Promise<void> {
  await page.screenshot({ path: `${SCREENSHOTS}storefront-split-${name}-1280.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${SCREENSHOTS}storefront-split-${name}-390.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
}

const visible = (text: string | RegExp) => expect(page.getByText(text).first().isVisible()).resolves.toBe(true);

it('splits a payment between two members, one pays after a decline, the other through 3-D Secure, and the request is paid', async () => {
  await page.goto(`${server.url}/sandbox/storefront`);
  await page.getByRole('link', { name: 'Split a payment among friends' }).click();
  await page.waitForURL(/\/sandbox\/storefront\/split$/);
  await page.getByLabel('Title').fill('Team licence');
  await page.getByLabel('Track').selectOption({ label: 'Business Plan Builder' });
  const member = (n: number) => page.locator('fieldset.member', { hasText: `Member ${n}` });
  await member(1).getByLabel('Email').fill('ada@example.com');
  await member(1).getByLabel('Name').fill('Ada Lovelace');
  await member(1).getByLabel('Share').fill('29.70');
  // A row more, without JavaScript: the form comes back with four rows and what was typed.
  await page.getByRole('button', { name: 'Add a member row' }).click();
  await expect(page.locator('fieldset.member').count()).resolves.toBe(4);
  await expect(member(1).getByLabel('Share').inputValue()).resolves.toBe('29.70');
  await member(2).getByLabel('Email').fill('grace@example.com');
  await member(2).getByLabel('Share').fill('69,30');
  // A bad share first: said in words, the form kept, nothing made.
  await member(3).getByLabel('Email').fill('linus@example.com');
  await member(3).getByLabel('Share').fill('1.234');
  await page.getByRole('button', { name: 'Create request' }).click();
  await visible('Member 3: Write the amount as digits with up to 2 decimals');
  await expect(member(2).getByLabel('Email').inputValue()).resolves.toBe('grace@example.com');
  await shots('form-error');
  expect((await server.app.db.query('select count(*)::int as n from payment_requests')).rows).toEqual([{ n: 0 }]);

  await member(3).getByLabel('Email').fill('');
  await member(3).getByLabel('Share').fill('');
  await page.getByRole('button', { name: 'Create request' }).click();
  await expect(page.getByRole('heading', { name: 'Payment request created' }).isVisible()).resolves.toBe(true);
  await visible('Copy the pay links now: they are shown this once.');
  await visible('£99.00');
  await shots('created');
  const links = await page.locator('ul.links a').evaluateAll((anchors) => anchors.map((a) => (a as HTMLAnchorElement).href));
  expect(links).toHaveLength(2);

  // Ada's link, found by her row (the table lists members in the request's order, not the form's).
  const adaLink = (await page.locator('ul.links li', { hasText: 'Ada Lovelace' }).locator('a').getAttribute('href'))!;
  const graceLink = links.find((link) => link !== adaLink)!;
  await page.goto(adaLink);
  await page.waitForURL(/\/sandbox\/storefront\/pay\?token=/);
  await expect(page.getByRole('heading', { name: 'Team licence' }).isVisible()).resolves.toBe(true);
  await visible('Ada Lovelace, you are asked to pay your share.');
  await shots('pay');
  await page.getByRole('button', { name: 'Pay £29.70' }).click();
  await expect(page.getByRole('heading', { name: 'Pay your share' }).isVisible()).resolves.toBe(true);
  const paymentIntent = await page.locator('input[name=payment_intent]').inputValue();

  await page.getByLabel('Card number').fill('4000 0000 0000 0002');
  await page.getByRole('button', { name: 'Pay £29.70' }).click();
  await visible('Your card was declined. Try another card. Nothing was charged.');
  await shots('declined');
  // The same PaymentIntent takes the next card.
  await expect(page.locator('input[name=payment_intent]').inputValue()).resolves.toBe(paymentIntent);
  await page.getByLabel('Card number').fill('4242 4242 4242 4242');
  await page.getByRole('button', { name: 'Pay £29.70' }).click();
  await page.waitForURL(/\/sandbox\/storefront\/pay\/result\?payment_intent=pi_/);
  await expect(page.getByRole('heading', { name: 'Thank you: your share is paid' }).isVisible()).resolves.toBe(true);
  await visible('provisional (until Stripe’s webhook confirms it)');
  await shots('paid');

  const { rows } = await server.app.db.query(
    'select m.status, m.payment_attempt_count, r.status as request_status from payment_request_members m join payment_requests r on r.id = m.payment_request_id where m.stripe_payment_intent_id = $1',
    [paymentIntent],
  );
  expect(rows).toEqual([{ status: 'paid', payment_attempt_count: 1, request_status: 'partially_paid' }]);

  // Grace pays through the sandbox's 3-D Secure page, which comes back to the result page.
  await page.goto(graceLink);
  await page.getByRole('button', { name: 'Pay £69.30' }).click();
  await page.getByLabel('Card number').fill('4000 0027 6000 3184');
  await page.getByRole('button', { name: 'Pay £69.30' }).click();
  await page.waitForURL(/\/3ds\//);
  await page.getByRole('button', { name: 'Complete authentication' }).click();
  await page.waitForURL(/\/sandbox\/storefront\/pay\/result\?payment_intent=pi_/);
  await expect(page.getByRole('heading', { name: 'Thank you: your share is paid' }).isVisible()).resolves.toBe(true);

  // Once Stripe's webhooks are in, the request is paid, and Ada's link says her share is.
  await settle();
  const request = await server.app.db.query("select status, completed_at is not null as completed from payment_requests where title = 'Team licence'");
  expect(request.rows).toEqual([{ status: 'paid', completed: true }]);
  await page.goto(adaLink);
  await visible('Your share of £29.70 is paid. Thank you.');
  await shots('link-paid');
});
