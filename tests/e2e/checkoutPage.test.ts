// A Checkout Session paid through its hosted page in a real headless browser: the sandbox served
// over HTTP (as `npm start` / `npm run sandbox` serve it), the official SDK pointed at it through
// host/port/protocol, a tiny shop server for success_url and cancel_url, and Chromium driving the page.
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { serveFetchHandler } from '../../stripe-sandbox/http';
import { createStripeSandbox, type StripeSandbox } from '../../stripe-sandbox/sandbox';

const SCREENSHOTS = new URL('./screenshots/', import.meta.url).pathname;

let sandbox: StripeSandbox;
let closeSandbox: () => Promise<void>;
let shop: Server;
let shopUrl: string;
let stripe: Stripe;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  sandbox = createStripeSandbox({ publicUrl: 'http://127.0.0.1', log: () => {} });
  const served = await serveFetchHandler((request) => sandbox.handle(request), { port: 0, host: '127.0.0.1' });
  closeSandbox = served.close;
  // The port is known only now; hosted page URLs must use it.
  sandbox.core.publicUrl = served.url;
  const port = Number(new URL(served.url).port);
  stripe = new Stripe('sk_test_e2e', { host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries: 0 });

  shop = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://shop');
    const title = url.pathname === '/thanks' ? 'Thanks for your order' : url.pathname === '/cart' ? 'Your cart' : 'Shop';
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1><p id="session">${url.searchParams.get('session_id') ?? ''}</p></body></html>`);
  });
  await new Promise<void>((resolve) => shop.listen(0, '127.0.0.1', resolve));
  shopUrl = `http://127.0.0.1:${(shop.address() as AddressInfo).port}`;

  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});

afterAll(async () => {
  await browser?.close();
  await closeSandbox?.();
  shop?.closeAllConnections();
  await new Promise<void>((resolve) => (shop ? shop.close(() => resolve()) : resolve()));
});

beforeEach(async () => {
  sandbox.reset();
  page?.context() && (await page.context().close());
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  page = await context.newPage();
});

function createSession(): Promise<Stripe.Checkout.Session> {
  return stripe.checkout.sessions.create({
    mode: 'payment',
    line_items: [
      { price_data: { currency: 'usd', unit_amount: 2500, product_data: { name: 'Espresso machine descaler' } }, quantity: 2 },
      { price_data: { currency: 'usd', unit_amount: 1200, product_data: { name: 'Milk jug' } }, quantity: 1 },
    ],
    success_url: `${shopUrl}/thanks?session_id={CHECKOUT_SESSION_ID}`,
    cancel_url: `${shopUrl}/cart`,
    metadata: { order: 'e2e-1' },
  });
}

describe('hosted checkout page in Chromium', () => {
  it('pays with the pre-filled test card and lands on success_url with the session id', async () => {
    const session = await createSession();
    expect(session.url).toBe(`${sandbox.core.publicUrl}/checkout/${session.id}`);
    await page.goto(session.url!);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toContain('$62.00');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toContain('Espresso machine descaler, Milk jug');
    expect(await page.getByLabel('Card number').inputValue()).toBe('4242 4242 4242 4242');
    await page.getByLabel('Email').fill('buyer@example.com');
    await page.getByLabel('Name on card').fill('Ada Lovelace');
    await page.screenshot({ path: `${SCREENSHOTS}checkout-page.png`, fullPage: true });

    await Promise.all([page.waitForURL(`${shopUrl}/thanks?**`), page.getByRole('button', { name: /^Pay \$62\.00$/ }).click()]);
    expect(page.url()).toBe(`${shopUrl}/thanks?session_id=${session.id}`);
    expect(await page.locator('#session').textContent()).toBe(session.id);
    await page.screenshot({ path: `${SCREENSHOTS}checkout-success.png` });

    const done = await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] });
    expect(done).toMatchObject({ status: 'complete', payment_status: 'paid', customer_details: { email: 'buyer@example.com', name: 'Ada Lovelace' } });
    expect(done.payment_intent).toMatchObject({ status: 'succeeded', amount: 6200 });
    const events = await stripe.events.list({ type: 'checkout.session.completed' });
    expect(events.data.map((e) => (e.data.object as Stripe.Checkout.Session).id)).toEqual([session.id]);
  });

  it('shows the decline message for a declined card and keeps the session open', async () => {
    const session = await createSession();
    await page.goto(session.url!);
    await page.getByLabel('Email').fill('buyer@example.com');
    await page.getByLabel('Card number').fill('4000 0000 0000 0002');
    await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: /^Pay / }).click()]);
    await expect(page.getByRole('alert').textContent()).resolves.toContain('Your card was declined.');
    expect(page.url()).toBe(session.url);
    // What the person typed is kept, so they only change the card.
    expect(await page.getByLabel('Email').inputValue()).toBe('buyer@example.com');
    await page.screenshot({ path: `${SCREENSHOTS}checkout-declined.png`, fullPage: true });
    expect((await stripe.checkout.sessions.retrieve(session.id)).status).toBe('open');

    await page.getByLabel('Card number').fill('4242 4242 4242 4242');
    await Promise.all([page.waitForURL(`${shopUrl}/thanks?**`), page.getByRole('button', { name: /^Pay / }).click()]);
    expect((await stripe.checkout.sessions.retrieve(session.id)).status).toBe('complete');
  });

  it('completes 3-D Secure on the authentication page', async () => {
    const session = await createSession();
    await page.goto(session.url!);
    await page.getByLabel('Email').fill('buyer@example.com');
    await page.getByLabel('Card number').fill('4000 0027 6000 3184');
    await Promise.all([page.waitForURL(`**/checkout/${session.id}/authenticate`), page.getByRole('button', { name: /^Pay / }).click()]);
    await page.screenshot({ path: `${SCREENSHOTS}checkout-3ds.png` });
    await Promise.all([page.waitForURL(`${shopUrl}/thanks?**`), page.getByRole('button', { name: 'Complete authentication' }).click()]);
    expect((await stripe.checkout.sessions.retrieve(session.id)).payment_status).toBe('paid');
  });

  it('follows the cancel link to cancel_url and leaves the session open', async () => {
    const session = await createSession();
    await page.goto(session.url!);
    await Promise.all([page.waitForURL(`${shopUrl}/cart`), page.getByRole('link', { name: /Cancel/ }).click()]);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Your cart');
    expect((await stripe.checkout.sessions.retrieve(session.id)).status).toBe('open');
  });

  it('shows an expired page once the session is expired', async () => {
    const session = await createSession();
    await stripe.checkout.sessions.expire(session.id);
    const response = await page.goto(`${sandbox.core.publicUrl}/checkout/${session.id}`);
    expect(response?.status()).toBe(410);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toContain('expired');
  });
});
