// The built console and GraphQL explorer in headless Chromium with every request to another host
// refused (as `npm start` offline would see it): the explorer loads from this server alone, runs a
// query, and neither page breaks its Content-Security-Policy; the console's favicon is served. The
// sandbox's server-rendered pages keep their styles under their own policy.
//
// `npm run test:e2e` builds the console first: the server serves dist/console.
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server';

let server: TestServer;
let browser: Browser;
let context: BrowserContext;
const offsite: string[] = [];
const violations: string[] = [];

beforeAll(async () => {
  server = await startTestServer({ JOBS_ENABLED: 'false' });
  server.app.stripeSandbox!.core.events.stopAutoDelivery();
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const origin = new URL(server.url).origin;
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith('data:')) return route.continue();
    offsite.push(url);
    return route.abort('internetdisconnected');
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** A page that records every CSP violation it reports (securitypolicyviolation events and console errors). */
async function open(url: string): Promise<Page> {
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) violations.push(`${url}: ${message.text()}`);
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => console.error(`Content Security Policy violation: ${event.violatedDirective} ${event.blockedURI}`));
  });
  await page.goto(url);
  return page;
}

it('serves GraphiQL on /graphql from this server alone, and it runs a query under the CSP', async () => {
  const page = await open(`${server.url}/graphql`);
  await page.locator('.graphiql-container').waitFor({ state: 'visible', timeout: 15_000 });
  // GraphiQL mounts its editors asynchronously (CodeMirror is loaded after the first render): a click
  // on Execute before the query editor holds the default query runs nothing. Wait for the editor.
  await expect
    .poll(async () => page.locator('.graphiql-query-editor').innerText().catch(() => ''), { timeout: 15_000, interval: 100 })
    .toContain('pricing');
  // GraphiQL's own introspection query goes to /graphql too; this waits for the typed query's answer.
  const answered = page.waitForResponse((response) => response.url().endsWith('/graphql') && (response.request().postData() ?? '').includes('pricing'));
  await page.getByRole('button', { name: /execute query/i }).first().click();
  const answer = await answered;
  expect(answer.status()).toBe(200);
  expect((await answer.json()).data.viewer).toEqual({ role: 'ANONYMOUS' });
  // The answer pane shows the price list.
  await expect
    .poll(async () => page.locator('.graphiql-response').innerText(), { timeout: 15_000, interval: 100 })
    .toContain('Business Plan Builder');
  expect(offsite).toEqual([]);
  expect(violations).toEqual([]);
  await page.close();
});

it('runs the console under its strict CSP with its favicon', async () => {
  const page = await open(`${server.url}/`);
  await page.getByRole('button', { name: /sign in as support/i }).waitFor({ state: 'visible', timeout: 15_000 });
  const icon = await page.evaluate(async () => {
    const href = document.querySelector<HTMLLinkElement>('link[rel=icon]')!.href;
    const response = await fetch(href);
    return { status: response.status, type: response.headers.get('content-type') };
  });
  expect(icon).toMatchObject({ status: 200, type: expect.stringMatching(/image\/svg\+xml/) });
  await page.getByRole('button', { name: /sign in as support/i }).click();
  await page.getByRole('navigation', { name: 'Console sections' }).waitFor({ state: 'visible', timeout: 15_000 });
  expect(offsite).toEqual([]);
  expect(violations).toEqual([]);
  await page.close();
});

it("keeps the sandbox storefront's inline styles under its no-script policy", async () => {
  const page = await open(`${server.url}/sandbox/storefront`);
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(background).toBe('rgb(246, 249, 252)');
  expect(violations).toEqual([]);
  await page.close();
});
