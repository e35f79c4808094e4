// The demo storefront's subscriptions (sandbox mode), over real HTTP against the real server: a
// customer signs in with the demo sign-in, subscribes on the sandbox's hosted Checkout, and on "My
// subscriptions" switches track after a preview, pauses, resumes and cancels at period end, each
// through the same domain functions as GraphQL. Another customer cannot see or act on it; bad input,
// a missing or forged cookie and a wrong CSRF token change nothing. Jobs are off: settle() delivers
// the sandbox's events and applies them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signStaffToken } from '../../server/auth/staffTokens';
import { customerUserId } from '../../server/sandboxMode/customerSession';
import type { StripeSandbox } from '../../stripe-sandbox/sandbox';
import { startTestServer, type TestServer } from '../helpers/server';

const STOREFRONT = '/sandbox/storefront';
const ACCOUNT = `${STOREFRONT}/account`;
const OWNER_EMAIL = 'Sub.Scriber@Example.com';

let server: TestServer;
let sandbox: StripeSandbox;
beforeAll(async () => {
  server = await startTestServer({ JOBS_ENABLED: 'false' });
  sandbox = server.app.stripeSandbox!;
});
afterAll(() => server?.stop());

async function settle(): Promise<void> {
  await sandbox.flushWebhooks();
  await server.app.webhookApplier.drain();
}

const get = (path: string, cookie?: string) => fetch(`${server.url}${path}`, { headers: cookie ? { cookie } : {}, redirect: 'manual' });

function post(path: string, fields: Record<string, string> | string, cookie?: string, contentType = 'application/x-www-form-urlencoded') {
  const body = typeof fields === 'string' ? fields : new URLSearchParams(fields).toString();
  return fetch(`${server.url}${path}`, { method: 'POST', body, headers: { 'content-type': contentType, ...(cookie ? { cookie } : {}) }, redirect: 'manual' });
}

/** Signs in with the demo sign-in, as a browser on the storefront's page sends it; the cookie as a browser would send it back. */
async function signIn(email: string): Promise<string> {
  const response = await fetch(`${server.url}${ACCOUNT}/sign-in`, {
    method: 'POST',
    body: new URLSearchParams({ email }),
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
    redirect: 'manual',
  });
  expect(response.status).toBe(303);
  const setCookie = response.headers.get('set-cookie')!;
  expect(setCookie).toMatch(/HttpOnly/);
  expect(setCookie).toMatch(/SameSite=Strict/);
  expect(setCookie).toMatch(new RegExp(`Path=${STOREFRONT}`));
  return setCookie.split(';')[0]!;
}

const unescape = (value: string) => value.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The hidden and visible inputs of the first form posting to `action` (within `scope`, when given). */
function formFields(html: string, action: string, scope?: string): Record<string, string> {
  const within = scope ? html.slice(html.indexOf(scope)) : html;
  const start = within.indexOf(`action="${action}"`);
  expect(start, `a form posting to ${action}`).toBeGreaterThanOrEqual(0);
  const form = within.slice(start, within.indexOf('</form>', start));
  const fields: Record<string, string> = {};
  for (const match of form.matchAll(/<input type="(?:hidden|email)" name="([^"]+)"(?: required)? value="([^"]*)"/g)) fields[match[1]!] = unescape(match[2]!);
  return fields;
}

async function state(subscriptionId: string) {
  const { rows } = await server.app.db.query(
    `select s.status, s.stripe_price_id, s.cancel_at_period_end, s.pause_behavior,
            (select count(*)::int from subscription_actions a where a.subscription_id = s.id) as actions,
            (select count(*)::int from idempotency_keys) as keys,
            (select count(*)::int from orders) as orders
       from subscriptions s where s.id = $1`,
    [subscriptionId],
  );
  return rows[0];
}

describe('demo storefront: subscribe and manage', () => {
  let owner: string;
  let subscriptionId: string;

  it('subscribes a signed-in customer on hosted Checkout: the subscription is theirs and the success page shows it', async () => {
    owner = await signIn(OWNER_EMAIL);
    const shop = await (await get(STOREFRONT, owner)).text();
    expect(shop).toContain('Subscribe monthly');
    expect(shop).toContain('$99.00 / month');
    expect(shop).toContain('As sub.scriber@example.com');
    const fields = formFields(shop, `${STOREFRONT}/subscribe`, 'Business Plan Builder');
    expect(fields).toMatchObject({ track: 'business_plan_builder', idempotency_key: expect.any(String) });
    expect(fields.email).toBeUndefined();

    // A double click: the same key twice starts one Checkout.
    const [first, second] = await Promise.all([post(`${STOREFRONT}/subscribe`, fields, owner), post(`${STOREFRONT}/subscribe`, fields, owner)]);
    expect(first.status).toBe(303);
    expect(second.headers.get('location')).toBe(first.headers.get('location'));
    const checkoutUrl = first.headers.get('location')!;
    expect(checkoutUrl).toMatch(/\/checkout\/cs_test_/);

    const paid = await fetch(checkoutUrl, { method: 'POST', body: new URLSearchParams({ card_number: '4242424242424242', email: 'payer@example.com', name: 'Payer' }), redirect: 'manual' });
    expect(paid.status).toBe(303);
    await settle();

    const { rows } = await server.app.db.query<{ id: string; user_id: string; email: string }>(
      `select s.id, c.user_id, c.email from subscriptions s join customers c on c.id = s.customer_id where c.user_id = $1`,
      [customerUserId(OWNER_EMAIL)],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.email).toBe('sub.scriber@example.com');
    subscriptionId = rows[0]!.id;

    const success = await get(new URL(paid.headers.get('location')!).pathname + new URL(paid.headers.get('location')!).search);
    const html = await success.text();
    expect(success.status).toBe(200);
    expect(html).toContain('Thank you: your order is paid');
    expect(html).toContain('Your subscription');
    expect(html).toContain(subscriptionId);
    expect(html).toContain('$99.00 / month');
  });

  it('lists it on My subscriptions with its status, period end and invoices', async () => {
    const response = await get(ACCOUNT, owner);
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(html).toContain('no password');
    expect(html).toContain(`data-subscription="${subscriptionId}"`);
    expect(html).toContain('Business Plan Builder');
    expect(html).toMatch(/<th class="nowrap">Status<\/th><td class="id">active<\/td>/);
    expect(html).toMatch(/<th class="nowrap">Period ends<\/th><td class="id">\d{4}-\d\d-\d\d<\/td>/);
    expect(html).toMatch(/<td>paid<\/td><td class="nowrap">\$99\.00<\/td><td class="nowrap"><a href="http[^"]+">Invoice<\/a>/);
  });

  it('switches track after a preview of the prorations, once for a double click', async () => {
    const account = await (await get(ACCOUNT, owner)).text();
    expect(account).toContain('Preview switch');
    const preview = await get(`${ACCOUNT}/switch?subscription_id=${subscriptionId}&track=website_audit_feedback`, owner);
    const html = await preview.text();
    expect(preview.status).toBe(200);
    expect(html).toContain('Switch to Website Audit &amp; Feedback');
    expect(html).toMatch(/Amount due now: \$\d+\.\d\d/);
    expect(html).toMatch(/Proration total<\/th><td class="nowrap">-\$20\.00<\/td>/);
    expect(html).toContain('The credit of $20.00 goes towards your next invoices.');
    const confirm = formFields(html, `${ACCOUNT}/switch`);
    expect(confirm).toMatchObject({ subscription_id: subscriptionId, track: 'website_audit_feedback', proration_date: expect.stringMatching(/^\d+$/) });

    // The second press lands on the page whether it finds the first still at Stripe or done.
    const [a, b] = await Promise.all([post(`${ACCOUNT}/switch`, confirm, owner), post(`${ACCOUNT}/switch`, confirm, owner)]);
    expect([a.status, b.status]).toEqual([303, 303]);
    expect([a.headers.get('location'), b.headers.get('location')]).toContain(`${ACCOUNT}?done=switch`);
    for (const response of [a, b]) expect([`${ACCOUNT}?done=switch`, `${ACCOUNT}?done=pending`]).toContain(response.headers.get('location'));
    // And a third, after both: the key's kept answer.
    const again = await post(`${ACCOUNT}/switch`, confirm, owner);
    expect(again.headers.get('location')).toBe(`${ACCOUNT}?done=switch`);
    await settle();
    const { rows } = await server.app.db.query(`select action, status, params->>'proration_date' as proration_date from subscription_actions where subscription_id = $1`, [subscriptionId]);
    expect(rows).toEqual([{ action: 'switch', status: 'done', proration_date: confirm.proration_date }]);
    const after = await (await get(`${ACCOUNT}?done=switch`, owner)).text();
    expect(after).toContain('Your subscription is switched.');
    expect(after).toContain('Website Audit &amp; Feedback');
  });

  it('pauses, resumes and cancels at period end', async () => {
    const act = async (path: string, button: string) => {
      const html = await (await get(ACCOUNT, owner)).text();
      expect(html).toContain(`>${button}</button>`);
      const response = await post(`${ACCOUNT}/${path}`, formFields(html, `${ACCOUNT}/${path}`, `data-subscription="${subscriptionId}"`), owner);
      expect(response.status).toBe(303);
      expect(response.headers.get('location')).toBe(`${ACCOUNT}?done=${path}`);
      await settle();
    };
    await act('pause', 'Pause');
    expect(await state(subscriptionId)).toMatchObject({ pause_behavior: 'void', cancel_at_period_end: false });
    expect(await (await get(ACCOUNT, owner)).text()).toContain('Collection paused until you resume');
    await act('resume', 'Resume');
    expect(await state(subscriptionId)).toMatchObject({ pause_behavior: null });
    await act('cancel', 'Cancel at period end');
    expect(await state(subscriptionId)).toMatchObject({ status: 'active', cancel_at_period_end: true });
    const html = await (await get(ACCOUNT, owner)).text();
    expect(html).toContain('Ends at period end');
    expect(html).not.toContain('>Cancel at period end</button>');
  });

  it('shows another customer nothing of it and lets them do nothing to it', async () => {
    const other = await signIn('someone.else@example.com');
    const theirs = await (await get(ACCOUNT, other)).text();
    expect(theirs).toContain('You have no subscriptions yet');
    expect(theirs).not.toContain(subscriptionId);
    const before = await state(subscriptionId);

    const preview = await get(`${ACCOUNT}/switch?subscription_id=${subscriptionId}&track=business_plan_builder`, other);
    expect(preview.status).toBe(404);
    expect(await preview.text()).toContain('No such subscription.');
    // Their own CSRF token and a fresh key: the domain answers not found.
    const csrf = formFields(theirs, `${ACCOUNT}/sign-out`).csrf!;
    for (const path of ['pause', 'resume', 'cancel']) {
      const response = await post(`${ACCOUNT}/${path}`, { subscription_id: subscriptionId, idempotency_key: crypto.randomUUID(), csrf }, other);
      expect(response.status).toBe(404);
      expect(await response.text()).toContain('No such subscription.');
    }
    expect(await state(subscriptionId)).toEqual(before);
  });

  it('answers bad input with a 400 page, and a missing or forged cookie or CSRF token with a refusal, changing nothing', async () => {
    const html = await (await get(ACCOUNT, owner)).text();
    const csrf = formFields(html, `${ACCOUNT}/sign-out`).csrf!;
    const good = { subscription_id: subscriptionId, idempotency_key: crypto.randomUUID(), csrf };
    const before = await state(subscriptionId);

    const bad: Array<[string, Record<string, string> | string, string?]> = [
      ['bad id', { ...good, subscription_id: 'not-a-subscription' }],
      ['NUL', { ...good, subscription_id: `${subscriptionId}\u0000` }],
      ['NUL in the key', { ...good, idempotency_key: 'key\u0000' }],
      // A lone surrogate cannot be UTF-8: its raw bytes arrive as they would from a broken client.
      ['lone surrogate', `subscription_id=${subscriptionId}&idempotency_key=k%ED%A0%80&csrf=${csrf}`],
      ['oversized field', { ...good, idempotency_key: 'k'.repeat(300) }],
      ['oversized body', { ...good, padding: 'x'.repeat(20_000) }],
      ['missing field', { csrf, idempotency_key: good.idempotency_key }],
      ['repeated field', `subscription_id=${subscriptionId}&subscription_id=sub_other&idempotency_key=k1&csrf=${csrf}`],
      ['not a form', JSON.stringify(good), 'application/json'],
    ];
    for (const [label, fields, type] of bad) {
      const response = await post(`${ACCOUNT}/pause`, fields, owner, type);
      expect(response.status, label).toBe(400);
      expect(await response.text(), label).toContain('Nothing was changed.');
    }
    const badPreview = await get(`${ACCOUNT}/switch?subscription_id=${subscriptionId}&track=%00`, owner);
    expect(badPreview.status).toBe(400);
    const badSwitch = await post(`${ACCOUNT}/switch`, { ...good, track: 'website_audit_feedback', proration_date: '12abc' }, owner);
    expect(badSwitch.status).toBe(400);
    const badSignIn = await fetch(`${server.url}${ACCOUNT}/sign-in`, {
      method: 'POST',
      body: new URLSearchParams({ email: 'not an email\u0000' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: server.url },
      redirect: 'manual',
    });
    expect(badSignIn.status).toBe(400);
    expect(badSignIn.headers.get('set-cookie')).toBeNull();
    // Another site's form (a sibling subdomain is another site too), or one that says nothing of where it
    // came from, or names another host: no one is signed in. The Origin or the Referer of this host is.
    const host = new URL(server.url).host;
    const signInFrom = (headers: Record<string, string>) =>
      fetch(`${server.url}${ACCOUNT}/sign-in`, {
        method: 'POST',
        body: new URLSearchParams({ email: 'victim@example.com' }),
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        redirect: 'manual',
      });
    const refusedHeaders: Record<string, string>[] = [
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site', origin: server.url },
      {},
      { origin: 'null' },
      { origin: 'http://evil.example' },
      { referer: `http://evil.example/${host}/` },
    ];
    for (const headers of refusedHeaders) {
      const refused = await signInFrom(headers);
      expect(refused.status, JSON.stringify(headers)).toBe(403);
      expect(refused.headers.get('set-cookie')).toBeNull();
    }
    const acceptedHeaders: Record<string, string>[] = [{ origin: server.url }, { referer: `${server.url}${ACCOUNT}` }, { 'sec-fetch-site': 'none' }];
    for (const headers of acceptedHeaders) {
      expect((await signInFrom(headers)).status, JSON.stringify(headers)).toBe(303);
    }

    // No cookie, a token signed with another secret, an expired session's leftovers: not signed in.
    const forged = `storefront_customer=${await signStaffToken('not-the-servers-secret-0123456789abcdef', { userId: customerUserId(OWNER_EMAIL), email: 'sub.scriber@example.com', audience: 'authenticated', expiresIn: '1h' })}`;
    for (const cookie of [undefined, forged, 'storefront_customer=garbage']) {
      const response = await post(`${ACCOUNT}/pause`, good, cookie);
      expect(response.status).toBe(401);
    }
    // The cookie without the CSRF token, with a made-up one, or with another session's.
    const otherCsrf = formFields(await (await get(ACCOUNT, await signIn('third@example.com'))).text(), `${ACCOUNT}/sign-out`).csrf!;
    for (const token of [undefined, 'A'.repeat(43), otherCsrf]) {
      const { csrf: _omit, ...rest } = good;
      const response = await post(`${ACCOUNT}/pause`, token === undefined ? rest : { ...rest, csrf: token }, owner);
      expect(response.status).toBe(403);
    }
    await settle();
    expect(await state(subscriptionId)).toEqual(before);
  });

  it('escapes what it shows: an email with markup is text on the page', async () => {
    const cookie = await signIn("o'brien@example.com");
    const html = await (await get(ACCOUNT, cookie)).text();
    expect(html).toContain('<strong>o&#39;brien@example.com</strong>');
    expect(html).not.toContain("o'brien");
  });
});
