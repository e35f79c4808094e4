// The demo storefront's payment requests (sandbox mode), over real HTTP against the real server: a
// visitor splits a payment on "Split a payment" (the STOREFRONT viewer makes it) and is shown each
// member's pay link once; each link opens the member's pay page, which hands out the member's
// PaymentIntent (payShare) and confirms a test card against it with its client secret, a decline
// leaving the same PaymentIntent to pay again. Bad input is shown in words with the form kept and
// writes nothing; a wrong or replaced token is a 404; a missing cookie, a forged CSRF token or a
// cross-site post change nothing. Jobs and the sandbox's own delivery are off: settle() delivers its events and
// applies them.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signStaffToken } from '../../server/auth/staffTokens';
import type { StripeSandbox } from '../../stripe-sandbox/sandbox';
import { type CheckoutServer, JWT_SECRET, startCheckoutServer } from '../helpers/checkout';

const STOREFRONT = '/sandbox/storefront';
const SPLIT = `${STOREFRONT}/split`;
const PAY = `${STOREFRONT}/pay`;

let server: CheckoutServer;
let sandbox: StripeSandbox;
let admin: string;
beforeAll(async () => {
  server = await startCheckoutServer({ JOBS_ENABLED: 'false' });
  sandbox = server.app.stripeSandbox!;
  // Stripe's events wait for settle(): the result page then shows the share as confirmPayment left it.
  sandbox.core.events.stopAutoDelivery();
  admin = await signStaffToken(JWT_SECRET, { userId: randomUUID(), email: 'admin@staff.test', staffRole: 'admin', audience: 'authenticated', expiresIn: '1h' });
});
afterAll(() => server?.stop());

async function settle(): Promise<void> {
  await sandbox.flushWebhooks();
  await server.app.webhookApplier.drain();
}

/** A browser's cookie jar of one cookie: what the pages set, sent back. */
class Visitor {
  cookie = '';
  async get(path: string): Promise<Response> {
    const response = await fetch(`${server.url}${path}`, { headers: this.cookie ? { cookie: this.cookie } : {}, redirect: 'manual' });
    this.keep(response);
    return response;
  }
  async post(path: string, fields: Record<string, string> | string, headers: Record<string, string> = {}): Promise<Response> {
    const body = typeof fields === 'string' ? fields : new URLSearchParams(fields).toString();
    const response = await fetch(`${server.url}${path}`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(this.cookie ? { cookie: this.cookie } : {}), ...headers },
      redirect: 'manual',
    });
    this.keep(response);
    return response;
  }
  private keep(response: Response) {
    const set = response.headers.get('set-cookie');
    if (set) this.cookie = set.split(';')[0]!;
  }
}

const unescape = (value: string) => value.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The inputs (name → value) of the first form posting to `action`, as a browser would send them, with no submit button. */
function formFields(html: string, action: string): Record<string, string> {
  const start = html.indexOf(`action="${action}"`);
  expect(start, `a form posting to ${action}`).toBeGreaterThanOrEqual(0);
  const form = html.slice(start, html.indexOf('</form>', start));
  const fields: Record<string, string> = {};
  for (const match of form.matchAll(/<input [^>]*?name="([^"]+)"[^>]*?value="([^"]*)"/g)) fields[match[1]!] = unescape(match[2]!);
  for (const match of form.matchAll(/<textarea name="([^"]+)"[^>]*>([^<]*)<\/textarea>/g)) fields[match[1]!] = unescape(match[2]!);
  for (const match of form.matchAll(/<select name="([^"]+)">(.*?)<\/select>/gs)) fields[match[1]!] = /<option value="([^"]*)" selected>/.exec(match[2]!)?.[1] ?? '';
  return fields;
}

async function counts() {
  const { rows } = await server.app.db.query<Record<string, number>>(
    `select (select count(*) from payment_requests)::int as requests, (select count(*) from payment_request_members)::int as members,
            (select count(*) from orders)::int as orders, (select count(*) from customers)::int as customers,
            (select count(*) from payment_attempts)::int as attempts, (select count(*) from idempotency_keys)::int as keys,
            (select count(*) from make_deliveries)::int as deliveries, (select count(*) from payment_logs)::int as logs`,
  );
  return rows[0]!;
}

/** A split form filled in: the page's hidden fields, then these. */
async function splitForm(visitor: Visitor, fill: Record<string, string>): Promise<Record<string, string>> {
  const response = await visitor.get(SPLIT);
  expect(response.status).toBe(200);
  return { ...formFields(await response.text(), SPLIT), ...fill };
}

const twoMembers = (tag: string) => ({
  title: 'Team licence',
  track: 'business_plan_builder',
  description: '',
  currency: 'gbp',
  email_0: `ada-${tag}@example.com`,
  name_0: 'Ada',
  amount_0: '29.70',
  email_1: `grace-${tag}@example.com`,
  name_1: '',
  amount_1: '10',
});

/** The pay links of the created page, in the order of its rows. */
const payLinks = (html: string) => [...html.matchAll(/<a href="([^"]+token=[^"]+)">/g)].map((m) => unescape(m[1]!));

describe('Split a payment', () => {
  it('renders the form with a key, a CSRF token bound to an HttpOnly SameSite=Strict cookie, three member rows and gbp', async () => {
    const visitor = new Visitor();
    const response = await visitor.get(SPLIT);
    expect(response.status).toBe(200);
    const setCookie = response.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^storefront_form=[A-Za-z0-9_-]{43};/);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).toMatch(new RegExp(`Path=${STOREFRONT}`));
    const fields = formFields(await response.text(), SPLIT);
    expect(fields).toMatchObject({ rows: '3', currency: 'gbp', csrf: visitor.cookie.split('=')[1], idempotency_key: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(Object.keys(fields).filter((name) => name.startsWith('email_'))).toEqual(['email_0', 'email_1', 'email_2']);
    // The shop links to it.
    expect(await (await visitor.get(STOREFRONT)).text()).toContain(`href="${SPLIT}"`);
  });

  it('adds a member row without JavaScript: the form comes back with one more row and what was typed, and nothing is written', async () => {
    const visitor = new Visitor();
    const before = await counts();
    const fields = await splitForm(visitor, { title: 'Workshop', email_0: 'kept@example.com', amount_0: '12.50' });
    const response = await visitor.post(SPLIT, { ...fields, add_row: '1' });
    expect(response.status).toBe(200);
    const again = formFields(await response.text(), SPLIT);
    expect(again).toMatchObject({ rows: '4', title: 'Workshop', email_0: 'kept@example.com', amount_0: '12.50', email_3: '', idempotency_key: fields.idempotency_key });
    expect(await counts()).toEqual(before);
  });

  it('creates the request as the storefront and shows each member’s pay link once; the same form sent twice makes one request', async () => {
    const visitor = new Visitor();
    const tag = randomUUID().slice(0, 8);
    const fields = await splitForm(visitor, twoMembers(tag));
    const response = await visitor.post(SPLIT, fields);
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(html).toContain('Payment request created');
    expect(html).toContain('they are shown this once');
    expect(html).toContain('£39.70');
    const links = payLinks(html);
    expect(links).toHaveLength(2);
    for (const link of links) expect(link).toMatch(new RegExp(`^${server.url}/sandbox/storefront/pay\\?token=[A-Za-z0-9_-]{43}$`));

    const { rows } = await server.app.db.query<Record<string, unknown>>(
      `select r.title, r.product_id, r.currency, r.total::int as total, r.created_by, r.status,
              (select json_agg(json_build_object('email', m.email, 'name', m.name, 'amount', m.amount_pence::int) order by m.amount_pence desc)
                 from payment_request_members m where m.payment_request_id = r.id) as members
         from payment_requests r join payment_request_members m on m.payment_request_id = r.id where m.email = $1`,
      [`ada-${tag}@example.com`],
    );
    expect(rows).toEqual([
      {
        title: 'Team licence',
        product_id: 'business_plan_builder',
        currency: 'gbp',
        total: 3970,
        created_by: 'api_key:sandbox-storefront',
        status: 'open',
        members: [
          { email: `ada-${tag}@example.com`, name: 'Ada', amount: 2970 },
          { email: `grace-${tag}@example.com`, name: null, amount: 1000 },
        ],
      },
    ]);

    // A second press of the same form: the same request, no links (only their hashes are kept).
    const before = await counts();
    const repeat = await visitor.post(SPLIT, fields);
    const repeated = await repeat.text();
    expect(repeat.status).toBe(200);
    expect(repeated).toContain('already created by an earlier press');
    expect(payLinks(repeated)).toEqual([]);
    expect(await counts()).toEqual(before);
  });

  it('shows bad input in words with the form kept, and writes nothing', async () => {
    const visitor = new Visitor();
    const tag = randomUUID().slice(0, 8);
    const cases: Array<[string, Record<string, string>, string]> = [
      ['no title', { ...twoMembers(tag), title: '  ' }, 'Give the request a title'],
      ['neither track nor description', { ...twoMembers(tag), track: '' }, 'Choose a track, or describe'],
      ['both track and description', { ...twoMembers(tag), description: 'Pizza' }, 'not both'],
      ['a track not for sale', { ...twoMembers(tag), track: 'no_such_track' }, 'Choose a track from the list'],
      ['a bad currency', { ...twoMembers(tag), currency: 'pounds' }, 'three-letter code'],
      ['three decimals', { ...twoMembers(tag), amount_0: '29.705' }, 'Member 1: Write the amount as digits with up to 2 decimals'],
      ['a negative share', { ...twoMembers(tag), amount_1: '-5' }, 'Member 2: Write the amount'],
      ['a zero share', { ...twoMembers(tag), amount_1: '0.00' }, 'Member 2: a share is more than nothing'],
      ['a missing share', { ...twoMembers(tag), amount_1: '' }, 'Member 2: Enter an amount'],
      ['a bad email', { ...twoMembers(tag), email_1: 'grace' }, 'Member 2: give an email address'],
      ['the same email in another case', { ...twoMembers(tag), email_1: `ADA-${tag}@Example.com` }, 'is already a member'],
      ['no members', { ...twoMembers(tag), email_0: '', name_0: '', amount_0: '', email_1: '', amount_1: '' }, 'Add at least one member'],
      ['a total over Stripe’s largest', { ...twoMembers(tag), amount_0: '999999.99' }, 'add up to more than'],
      ['an impossible expiry', { ...twoMembers(tag), expires: '2027-02-30T10:00' }, 'The expiry is a date and time'],
      // Checked by the service (its SQL, against Stripe's clock): the same words, nothing written.
      ['an expiry in the past', { ...twoMembers(tag), expires: '2020-01-01T10:00' }, 'The expiry must be in the future'],
    ];
    const before = await counts();
    for (const [what, fill, words] of cases) {
      const fields = await splitForm(visitor, fill);
      const response = await visitor.post(SPLIT, fields);
      const html = await response.text();
      expect(response.status, what).toBe(400);
      expect(unescape(html), what).toContain(words);
      expect(html, what).toContain('Nothing was created');
      // The form is kept as typed.
      const kept = formFields(html, SPLIT);
      for (const name of ['title', 'email_0', 'amount_0', 'email_1', 'amount_1', 'expires']) expect(kept[name], `${what}: ${name}`).toBe(fields[name] ?? '');
    }
    expect(await counts()).toEqual(before);
  });

  it('refuses what no person types (NUL, a lone surrogate’s bytes, oversized fields and bodies, a forged row count) with a 400, writing nothing', async () => {
    const visitor = new Visitor();
    const tag = randomUUID().slice(0, 8);
    const before = await counts();
    const fields = await splitForm(visitor, twoMembers(tag));
    const encoded = new URLSearchParams(fields).toString();
    const bodies = [
      new URLSearchParams({ ...fields, title: 'Team\u0000licence' }).toString(),
      `${encoded.replace(/title=[^&]*/, 'title=Team%ED%A0%80')}`,
      new URLSearchParams({ ...fields, name_0: 'x'.repeat(401) }).toString(),
      new URLSearchParams({ ...fields, rows: '51' }).toString(),
      new URLSearchParams({ ...fields, rows: 'two' }).toString(),
      `${encoded}&title=Again`,
      new URLSearchParams({ ...fields, description: 'y'.repeat(200 * 1024) }).toString(),
    ];
    for (const body of bodies) {
      const response = await visitor.post(SPLIT, body);
      expect(response.status, body.slice(0, 80)).toBe(400);
      expect(await response.text()).toContain('Nothing was changed');
    }
    expect(await counts()).toEqual(before);
  });

  it('refuses a missing cookie, a forged or missing CSRF token and a cross-site post, writing nothing', async () => {
    const visitor = new Visitor();
    const fields = await splitForm(visitor, twoMembers(randomUUID().slice(0, 8)));
    const before = await counts();
    const stranger = new Visitor();
    const forged = randomBytes(32).toString('base64url');
    const attempts: Array<[string, Promise<Response>]> = [
      ['no cookie', stranger.post(SPLIT, fields)],
      ['another visitor’s cookie', Object.assign(new Visitor(), { cookie: `storefront_form=${forged}` }).post(SPLIT, fields)],
      ['a forged token', visitor.post(SPLIT, { ...fields, csrf: forged })],
      ['no token', visitor.post(SPLIT, Object.fromEntries(Object.entries(fields).filter(([name]) => name !== 'csrf')))],
      ['cross-site', visitor.post(SPLIT, fields, { 'sec-fetch-site': 'cross-site' })],
      ['a sibling subdomain', visitor.post(SPLIT, fields, { 'sec-fetch-site': 'same-site' })],
    ];
    for (const [what, attempt] of attempts) {
      const response = await attempt;
      expect(response.status, what).toBe(403);
      expect(await response.text(), what).toContain('Nothing was changed');
    }
    expect(await counts()).toEqual(before);
  });
});

describe('the member pay page', () => {
  let links: string[];
  let requestId: string;

  beforeAll(async () => {
    const visitor = new Visitor();
    const fields = await splitForm(visitor, twoMembers(randomUUID().slice(0, 8)));
    const html = await (await visitor.post(SPLIT, fields)).text();
    links = payLinks(html);
    requestId = /<th class="nowrap">Request<\/th><td class="id">([0-9a-f-]{36})<\/td>/.exec(html)![1]!;
  });

  /** Opens a pay link as the member's browser would: the default link is the storefront's pay page itself. */
  async function open(member: Visitor, link: string): Promise<Response> {
    const url = new URL(link);
    expect(url.pathname).toBe(PAY);
    return member.get(url.pathname + url.search);
  }

  it('opens each link on its member’s share, with a Pay button', async () => {
    for (const [index, link] of links.entries()) {
      const response = await open(new Visitor(), link);
      const html = await response.text();
      expect(response.status).toBe(200);
      expect(html).toContain('<h1>Team licence</h1>');
      expect(html).toContain('Business Plan Builder');
      expect(html).toContain(index === 0 ? '£29.70' : '£10.00');
      expect(html).toContain(index === 0 ? 'Ada, you are asked' : 'grace-');
      expect(html).toContain(index === 0 ? 'Pay £29.70' : 'Pay £10.00');
    }
  });

  it('answers a wrong or malformed token with 404 and says the link is not valid', async () => {
    for (const token of [randomBytes(32).toString('base64url'), 'short', '']) {
      const response = await new Visitor().get(`${PAY}?token=${encodeURIComponent(token)}`);
      expect(response.status).toBe(404);
      expect(unescape(await response.text())).toContain('This link is not valid (a newer reminder may have replaced it)');
    }
  });

  it('pays: a double press hands out one PaymentIntent, a declined card leaves it to pay again, and the result shows the share paid, provisional', async () => {
    const member = new Visitor();
    const page = await (await open(member, links[0]!)).text();
    const pay = formFields(page, PAY);
    expect(pay.token).toBe(new URL(links[0]!).searchParams.get('token'));

    const [first, second] = await Promise.all([member.post(PAY, pay), member.post(PAY, pay)]);
    const cardPages = await Promise.all([first, second].filter((r) => r.status === 200).map((r) => r.text()));
    expect(cardPages.length).toBeGreaterThanOrEqual(1);
    const card = formFields(cardPages[0]!, `${PAY}/confirm`);
    expect(card.payment_intent).toMatch(/^pi_/);
    expect(card.client_secret).toMatch(new RegExp(`^${card.payment_intent}_secret_`));
    for (const other of cardPages) expect(formFields(other, `${PAY}/confirm`).payment_intent).toBe(card.payment_intent);
    // A press still at Stripe while the other ran is sent back to the pay page rather than an error.
    for (const response of [first, second]) if (response.status !== 200) expect([response.status, response.headers.get('location')]).toEqual([303, `${PAY}?token=${pay.token}`]);

    const declined = await member.post(`${PAY}/confirm`, { ...card, card_number: '4000 0000 0000 0002' });
    expect(declined.status).toBe(402);
    const declinedHtml = unescape(await declined.text());
    expect(declinedHtml).toContain('Your card was declined');
    expect(formFields(declinedHtml, `${PAY}/confirm`).payment_intent).toBe(card.payment_intent);

    // Pressing Pay again (the link opened anew) hands out the same PaymentIntent (option C).
    const reopened = await (await member.get(`${PAY}?token=${pay.token}`)).text();
    const again = await member.post(PAY, formFields(reopened, PAY));
    expect(formFields(await again.text(), `${PAY}/confirm`).payment_intent).toBe(card.payment_intent);

    const unknownCard = await member.post(`${PAY}/confirm`, { ...card, card_number: '1234 5678 9012 3456' });
    expect(unknownCard.status).toBe(400);

    const paid = await member.post(`${PAY}/confirm`, { ...card, card_number: '4242 4242 4242 4242' });
    expect(paid.status).toBe(303);
    const result = await member.get(paid.headers.get('location')!);
    const resultHtml = unescape(await result.text());
    expect(result.status).toBe(200);
    expect(resultHtml).toContain('Thank you: your share is paid');
    expect(resultHtml).toContain('provisional (until Stripe’s webhook confirms it)');
    expect(resultHtml).toContain('£29.70');

    const { rows } = await server.app.db.query(
      `select m.status, m.payment_attempt_count, m.stripe_payment_intent_id, r.status as request_status,
              (select count(*)::int from payment_attempts a where a.order_id = m.order_id) as attempts
         from payment_request_members m join payment_requests r on r.id = m.payment_request_id where m.token_hash is not null and m.stripe_payment_intent_id = $1`,
      [card.payment_intent!],
    );
    expect(rows).toEqual([{ status: 'paid', payment_attempt_count: 1, stripe_payment_intent_id: card.payment_intent, request_status: 'partially_paid', attempts: 1 }]);

    // The link now says the share is paid, with nothing to press.
    await settle();
    const after = unescape(await (await member.get(`${PAY}?token=${pay.token}`)).text());
    expect(after).toContain('Your share of £29.70 is paid');
    expect(after).not.toContain(`action="${PAY}"`);
    const refused = await member.post(PAY, { ...pay, idempotency_key: randomUUID() });
    expect(refused.status).toBe(409);
    expect(await refused.text()).toContain('already paid');

    // The token and the client secret travel in query strings: the request log keeps the path only.
    expect(server.logs.text).not.toContain(pay.token);
    expect(server.logs.text).not.toContain(card.client_secret);
  });

  it('refuses a result page or a card post with a client secret that is not the PaymentIntent’s', async () => {
    const member = new Visitor();
    const page = await (await open(member, links[1]!)).text();
    const card = formFields(await (await member.post(PAY, formFields(page, PAY))).text(), `${PAY}/confirm`);
    const wrongSecret = `${card.payment_intent}_secret_${'x'.repeat(24)}`;
    const result = await member.get(`${PAY}/result?payment_intent=${card.payment_intent}&payment_intent_client_secret=${wrongSecret}`);
    expect(result.status).toBe(404);
    const confirm = await member.post(`${PAY}/confirm`, { ...card, client_secret: wrongSecret, card_number: '4242424242424242' });
    expect(confirm.status).toBe(404);
    const { rows } = await server.app.db.query('select status from payment_request_members where stripe_payment_intent_id = $1', [card.payment_intent!]);
    expect(rows).toEqual([{ status: 'pending' }]);

    // Declined with the right secret, once Stripe's payment_failed has arrived the link says so and offers Pay again.
    expect((await member.post(`${PAY}/confirm`, { ...card, card_number: '4000000000000002' })).status).toBe(402);
    await settle();
    const failed = unescape(await (await member.get(`${PAY}?token=${formFields(page, PAY).token}`)).text());
    expect(failed).toContain('Your last payment did not go through');
    expect(failed).toContain('Pay £10.00');
  });

  it('says so when Stripe cannot be reached, charging and changing nothing, and when 3-D Secure fails offers the same PaymentIntent again', async () => {
    const member = new Visitor();
    const page = await (await open(member, links[1]!)).text();
    const card = formFields(await (await member.post(PAY, formFields(page, PAY))).text(), `${PAY}/confirm`);
    const status = () => server.app.db.query('select status, payment_attempt_count from payment_request_members where stripe_payment_intent_id = $1', [card.payment_intent!]);
    const before = (await status()).rows;
    // The first call and the SDK's one retry (STRIPE_MAX_NETWORK_RETRIES=1) both fail.
    sandbox.failNext('api_error', 'api_error');
    const down = await member.post(`${PAY}/confirm`, { ...card, card_number: '4242 4242 4242 4242' });
    expect(down.status).toBe(503);
    expect(await down.text()).toContain('Payments are unavailable for a moment. Nothing was charged.');
    expect((await status()).rows).toEqual(before);
    expect((await server.app.stripe.paymentIntents.retrieve(card.payment_intent!)).status).toBe('requires_payment_method');

    // 3-D Secure failed at the sandbox's challenge: the return page says the payment is not complete
    // and offers the same PaymentIntent another card.
    const challenged = await member.post(`${PAY}/confirm`, { ...card, card_number: '4000 0027 6000 3184' });
    expect(challenged.status).toBe(303);
    const challenge = challenged.headers.get('location')!;
    expect(challenge).toMatch(/\/3ds\/pi_/);
    const failed = await fetch(challenge, { method: 'POST', body: new URLSearchParams({ outcome: 'fail' }), redirect: 'manual' });
    expect(failed.status).toBe(303);
    const back = new URL(failed.headers.get('location')!);
    expect(back.pathname).toBe(`${PAY}/result`);
    const result = await member.get(back.pathname + back.search);
    const html = unescape(await result.text());
    expect(html).toContain('Your payment is not complete');
    expect(formFields(html, `${PAY}/confirm`)).toMatchObject({ payment_intent: card.payment_intent, client_secret: card.client_secret });
    expect(html).toContain('Try again: pay £10.00');
  });

  it('refuses a pay press without the page’s CSRF token, changing nothing', async () => {
    const member = new Visitor();
    const pay = formFields(await (await open(member, links[1]!)).text(), PAY);
    const before = await counts();
    expect((await new Visitor().post(PAY, pay)).status).toBe(403);
    expect((await member.post(PAY, { ...pay, csrf: randomBytes(32).toString('base64url') })).status).toBe(403);
    expect((await member.post(PAY, pay, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect(await counts()).toEqual(before);
  });

  it('says a replaced link is not valid after a reminder, and a canceled request cannot be paid', async () => {
    const auth = { headers: { authorization: `Bearer ${admin}` } };
    const remind = await server.graphql(`mutation ($input: PaymentRequestActionInput!) { remindPaymentRequestMembers(input: $input) { reminded error { code } } }`, {
      variables: { input: { id: requestId, idempotencyKey: randomUUID() } },
      ...auth,
    });
    expect(remind.body.data.remindPaymentRequestMembers).toEqual({ reminded: 1, error: null });
    const replaced = await new Visitor().get(`${PAY}?token=${new URL(links[1]!).searchParams.get('token')}`);
    expect(replaced.status).toBe(404);
    expect(unescape(await replaced.text())).toContain('a newer reminder may have replaced it');

    const cancel = await server.graphql(`mutation ($input: PaymentRequestActionInput!) { cancelPaymentRequest(input: $input) { paymentRequest { status } error { code } } }`, {
      variables: { input: { id: requestId, idempotencyKey: randomUUID() } },
      ...auth,
    });
    expect(cancel.body.data.cancelPaymentRequest).toEqual({ paymentRequest: { status: 'CANCELED' }, error: null });
    // The paid member's link still opens: paid, and the request's cancellation does not undo it.
    const paid = unescape(await (await new Visitor().get(`${PAY}?token=${new URL(links[0]!).searchParams.get('token')}`)).text());
    expect(paid).toContain('is paid');
  });

  it('says so when the request was canceled', async () => {
    const visitor = new Visitor();
    const html = await (await visitor.post(SPLIT, await splitForm(visitor, twoMembers(randomUUID().slice(0, 8))))).text();
    const [link] = payLinks(html);
    const id = /<th class="nowrap">Request<\/th><td class="id">([0-9a-f-]{36})<\/td>/.exec(html)![1]!;
    const member = new Visitor();
    const pay = formFields(await (await open(member, link!)).text(), PAY);
    const cancel = await server.graphql(`mutation ($input: PaymentRequestActionInput!) { cancelPaymentRequest(input: $input) { error { code } } }`, {
      variables: { input: { id, idempotencyKey: randomUUID() } },
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(cancel.body.data.cancelPaymentRequest.error).toBeNull();
    const page = await member.get(`${PAY}?token=${pay.token}`);
    expect(page.status).toBe(200);
    const text = await page.text();
    expect(text).toContain('This payment request was canceled: nothing more can be paid.');
    expect(text).not.toContain(`action="${PAY}"`);
    const refused = await member.post(PAY, pay);
    expect(refused.status).toBe(409);
    expect(await refused.text()).toContain('can no longer be paid');
  });
});
