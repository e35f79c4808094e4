import type Stripe from 'stripe';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { SANDBOX_PUBLIC_URL, startSandboxHarness, stripeError } from '../helpers/stripeSandbox';

// One msw server per file: msw patches the process's fetch once.
const h = startSandboxHarness();
afterAll(() => h.close());
beforeEach(() => h.reset());

const SHOP = 'https://shop.example';

function sessionParams(extra: Partial<Stripe.Checkout.SessionCreateParams> = {}): Stripe.Checkout.SessionCreateParams {
  return {
    mode: 'payment',
    line_items: [
      { price_data: { currency: 'usd', unit_amount: 1500, product_data: { name: 'Tee' } }, quantity: 2 },
      { price_data: { currency: 'usd', unit_amount: 900, product_data: { name: 'Mug' } }, quantity: 1 },
    ],
    success_url: `${SHOP}/thanks?session_id={CHECKOUT_SESSION_ID}`,
    cancel_url: `${SHOP}/cart`,
    ...extra,
  };
}

/** Submits the hosted page's form as a browser would, without following the redirect. */
async function submitPage(session: Stripe.Checkout.Session, form: Record<string, string>): Promise<Response> {
  expect(session.url).toBe(`${SANDBOX_PUBLIC_URL}/checkout/${session.id}`);
  return fetch(session.url!, { method: 'POST', body: new URLSearchParams(form), redirect: 'manual' });
}

describe('checkout sessions: create', () => {
  it('creates an open, unpaid payment-mode session with price_data line items', async () => {
    const before = h.sandbox.core.clock.now();
    const session = await h.stripe.checkout.sessions.create(
      sessionParams({ metadata: { order: 'o_1' }, client_reference_id: 'cart_42', customer_email: 'ada@example.com' }),
    );
    const after = h.sandbox.core.clock.now();
    expect(session.id).toMatch(/^cs_test_[A-Za-z0-9]+$/);
    expect(session).toMatchObject({
      object: 'checkout.session',
      mode: 'payment',
      status: 'open',
      payment_status: 'unpaid',
      amount_subtotal: 3900,
      amount_total: 3900,
      currency: 'usd',
      metadata: { order: 'o_1' },
      client_reference_id: 'cart_42',
      customer: null,
      customer_email: 'ada@example.com',
      payment_intent: null,
      subscription: null,
      livemode: false,
      success_url: `${SHOP}/thanks?session_id={CHECKOUT_SESSION_ID}`,
      cancel_url: `${SHOP}/cart`,
      url: `${SANDBOX_PUBLIC_URL}/checkout/${session.id}`,
      payment_method_types: ['card'],
    });
    expect(session.line_items).toBeUndefined();
    expect(session.expires_at - session.created).toBe(24 * 3600);
    expect(session.created).toBeGreaterThanOrEqual(before);
    expect(session.created).toBeLessThanOrEqual(after);
    // Stripe emits no event for a new session.
    const events = await h.stripe.events.list();
    expect(events.data.filter((e) => e.type.startsWith('checkout.'))).toEqual([]);
  });

  it('creates a session from an existing price id and customer, and expands line items', async () => {
    const product = await h.stripe.products.create({ name: 'Poster' });
    const price = await h.stripe.prices.create({ product: product.id, currency: 'eur', unit_amount: 1250 });
    const customer = await h.stripe.customers.create({ email: 'grace@example.com' });
    const session = await h.stripe.checkout.sessions.create({
      mode: 'payment',
      customer: customer.id,
      line_items: [{ price: price.id, quantity: 3 }],
      success_url: `${SHOP}/ok`,
      expand: ['line_items'],
    });
    expect(session).toMatchObject({ customer: customer.id, currency: 'eur', amount_total: 3750 });
    expect(session.line_items?.data).toHaveLength(1);
    expect(session.line_items!.data[0]).toMatchObject({ object: 'item', description: 'Poster', quantity: 3, amount_total: 3750, currency: 'eur', price: { id: price.id } });
  });

  it('refuses bad parameters the way Stripe does', async () => {
    const now = Math.floor(Date.now() / 1000);
    expect(await stripeError(h.stripe.checkout.sessions.create(sessionParams({ payment_method_types: ['card'] } as never)))).toMatchObject({
      type: 'StripeInvalidRequestError',
      statusCode: 400,
      code: 'parameter_unknown',
      param: 'payment_method_types',
    });
    expect(await stripeError(h.stripe.checkout.sessions.create(sessionParams({ expires_at: now + 10 * 60 })))).toMatchObject({ statusCode: 400, param: 'expires_at' });
    expect(await stripeError(h.stripe.checkout.sessions.create(sessionParams({ expires_at: now + 25 * 3600 })))).toMatchObject({ statusCode: 400, param: 'expires_at' });
    expect(await stripeError(h.stripe.checkout.sessions.create(sessionParams({ mode: 'setup' })))).toMatchObject({
      type: 'StripeInvalidRequestError',
      param: 'mode',
      message: expect.stringContaining('mode=setup'),
    });
    expect(await stripeError(h.stripe.checkout.sessions.create(sessionParams({ line_items: [] })))).toMatchObject({ code: 'parameter_missing', param: 'line_items' });
    expect(await stripeError(h.stripe.checkout.sessions.create(sessionParams({ line_items: [{ price: 'price_nope', quantity: 1 }] })))).toMatchObject({
      statusCode: 404,
      code: 'resource_missing',
      param: 'line_items[0][price]',
    });
    expect(
      await stripeError(h.stripe.checkout.sessions.create(sessionParams({ line_items: [{ price_data: { currency: 'usd', unit_amount: 500, product_data: { name: 'Plan' }, recurring: { interval: 'month' } }, quantity: 1 }] }))),
    ).toMatchObject({ param: 'line_items[0][price]', message: expect.stringContaining('recurring price') });
    expect(await stripeError(h.stripe.checkout.sessions.create(sessionParams({ customer: 'cus_missing' })))).toMatchObject({ statusCode: 404, param: 'customer' });
    expect(await stripeError(h.stripe.checkout.sessions.create(sessionParams({ success_url: 'not a url' })))).toMatchObject({ param: 'success_url' });
    // The limits themselves are accepted.
    const at30m = await h.stripe.checkout.sessions.create(sessionParams({ expires_at: now + 31 * 60 }));
    expect(at30m.expires_at).toBe(now + 31 * 60);
  });
});

describe('checkout sessions: retrieve, list, line items, expire', () => {
  it('retrieves with and without line items, and pages the line-items endpoint', async () => {
    const session = await h.stripe.checkout.sessions.create(sessionParams());
    const plain = await h.stripe.checkout.sessions.retrieve(session.id);
    expect(plain).toEqual(session);
    const expanded = await h.stripe.checkout.sessions.retrieve(session.id, { expand: ['line_items'] });
    expect(expanded.line_items?.data.map((li) => [li.description, li.quantity, li.amount_total])).toEqual([
      ['Tee', 2, 3000],
      ['Mug', 1, 900],
    ]);
    const page1 = await h.stripe.checkout.sessions.listLineItems(session.id, { limit: 1 });
    expect(page1.has_more).toBe(true);
    const page2 = await h.stripe.checkout.sessions.listLineItems(session.id, { limit: 1, starting_after: page1.data[0]!.id });
    expect(page2.data.map((li) => li.description)).toEqual(['Mug']);
    expect(page2.has_more).toBe(false);
    expect(await stripeError(h.stripe.checkout.sessions.retrieve('cs_test_missing'))).toMatchObject({ statusCode: 404, code: 'resource_missing' });
  });

  it('lists newest first with status, customer and pagination filters', async () => {
    const customer = await h.stripe.customers.create({ email: 'c@example.com' });
    const a = await h.stripe.checkout.sessions.create(sessionParams());
    const b = await h.stripe.checkout.sessions.create(sessionParams({ customer: customer.id }));
    const c = await h.stripe.checkout.sessions.create(sessionParams());
    await h.stripe.checkout.sessions.expire(c.id);
    const all = await h.stripe.checkout.sessions.list();
    expect(all.data.map((s) => s.id)).toEqual([c.id, b.id, a.id]);
    expect((await h.stripe.checkout.sessions.list({ status: 'open' })).data.map((s) => s.id)).toEqual([b.id, a.id]);
    expect((await h.stripe.checkout.sessions.list({ status: 'expired' })).data.map((s) => s.id)).toEqual([c.id]);
    expect((await h.stripe.checkout.sessions.list({ customer: customer.id })).data.map((s) => s.id)).toEqual([b.id]);
    const first = await h.stripe.checkout.sessions.list({ limit: 2 });
    expect(first.has_more).toBe(true);
    const rest = await h.stripe.checkout.sessions.list({ limit: 2, starting_after: first.data[1]!.id });
    expect(rest.data.map((s) => s.id)).toEqual([a.id]);
    expect((await h.stripe.checkout.sessions.list({ created: { gte: a.created } })).data).toHaveLength(3);
    // autoPagination through the SDK
    const ids: string[] = [];
    for await (const s of h.stripe.checkout.sessions.list({ limit: 1 })) ids.push(s.id);
    expect(ids).toEqual([c.id, b.id, a.id]);
  });

  it('expires an open session once, with checkout.session.expired', async () => {
    const session = await h.stripe.checkout.sessions.create(sessionParams());
    const expired = await h.stripe.checkout.sessions.expire(session.id);
    expect(expired).toMatchObject({ id: session.id, status: 'expired', url: null, payment_status: 'unpaid' });
    expect(await stripeError(h.stripe.checkout.sessions.expire(session.id))).toMatchObject({ type: 'StripeInvalidRequestError', statusCode: 400 });
    await h.sandbox.flushWebhooks();
    const checkoutEvents = h.received.filter((e) => e.type.startsWith('checkout.'));
    expect(checkoutEvents.map((e) => [e.type, (e.data.object as { id: string }).id])).toEqual([['checkout.session.expired', session.id]]);
    expect(checkoutEvents[0]!.request).toMatchObject({ id: expect.stringMatching(/^req_/) });
    const page = await fetch(`${SANDBOX_PUBLIC_URL}/checkout/${session.id}`);
    expect(page.status).toBe(410);
  });

  it('expires open sessions when the sandbox clock passes expires_at', async () => {
    h.sandbox.core.clock.freeze(); // exact boundaries below: real seconds must not slip in
    const now = h.sandbox.core.clock.now();
    const soon = await h.stripe.checkout.sessions.create(sessionParams({ expires_at: now + 3600 }));
    const later = await h.stripe.checkout.sessions.create(sessionParams());
    await h.sandbox.advanceClock(3599);
    expect((await h.stripe.checkout.sessions.retrieve(soon.id)).status).toBe('open');
    await h.sandbox.advanceClock(2);
    expect((await h.stripe.checkout.sessions.retrieve(soon.id)).status).toBe('expired');
    expect((await h.stripe.checkout.sessions.retrieve(later.id)).status).toBe('open');
    const checkoutEvents = h.received.filter((e) => e.type.startsWith('checkout.'));
    expect(checkoutEvents.map((e) => [e.type, (e.data.object as { id: string }).id])).toEqual([['checkout.session.expired', soon.id]]);
    expect(checkoutEvents[0]!.request).toEqual({ id: null, idempotency_key: null });
    await h.sandbox.advanceClock(24 * 3600);
    expect((await h.stripe.checkout.sessions.retrieve(later.id)).status).toBe('expired');
  });
});

describe('checkout sessions: the hosted page', () => {
  it('renders an accessible payment page with the products, total, test card and cancel link', async () => {
    const session = await h.stripe.checkout.sessions.create(sessionParams());
    const response = await fetch(session.url!);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    const page = await response.text();
    expect(page).toMatch(/<h1[^>]*>Tee, Mug <span class="total">\$39\.00<\/span><\/h1>/);
    expect(page).toContain('<label for="email">Email</label>');
    expect(page).toContain('<label for="card_number">Card number</label>');
    expect(page).toContain('value="4242 4242 4242 4242"');
    expect(page).toContain('Pay $39.00</button>');
    expect(page).toContain(`href="${SHOP}/cart"`);
    expect((await fetch(`${SANDBOX_PUBLIC_URL}/checkout/cs_test_unknown`)).status).toBe(404);
  });

  it('pays with the success card: completes the session, emits events in order, redirects with the id', async () => {
    const session = await h.stripe.checkout.sessions.create(
      sessionParams({ metadata: { order: 'o_9' }, payment_intent_data: { metadata: { order: 'o_9' } } }),
    );
    const response = await submitPage(session, { email: 'buyer@example.com', card_number: '4242 4242 4242 4242', name: 'Ada Lovelace' });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(`${SHOP}/thanks?session_id=${session.id}`);

    const done = await h.stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] });
    expect(done).toMatchObject({ status: 'complete', payment_status: 'paid', url: null, customer_details: { email: 'buyer@example.com', name: 'Ada Lovelace' } });
    const intent = done.payment_intent as Stripe.PaymentIntent;
    expect(intent).toMatchObject({ object: 'payment_intent', status: 'succeeded', amount: 3900, currency: 'usd', metadata: { order: 'o_9' } });
    expect((await h.stripe.checkout.sessions.list({ payment_intent: intent.id })).data.map((s) => s.id)).toEqual([session.id]);

    await h.sandbox.flushWebhooks();
    const types = h.received.map((e) => e.type);
    expect(types.at(-1)).toBe('checkout.session.completed');
    expect(types).toContain('payment_intent.succeeded');
    expect(types.indexOf('payment_intent.succeeded')).toBeLessThan(types.indexOf('checkout.session.completed'));
    const completed = h.received.at(-1)!.data.object as Stripe.Checkout.Session;
    expect(completed).toMatchObject({ id: session.id, status: 'complete', payment_status: 'paid', payment_intent: intent.id, metadata: { order: 'o_9' } });

    // The page of a paid session says so, and paying again is impossible.
    const again = await submitPage(session, { email: 'buyer@example.com', card_number: '4242424242424242' });
    expect(again.status).toBe(200);
    expect(await again.text()).toContain('already paid');
    expect((await h.stripe.paymentIntents.list()).data).toHaveLength(1);
  });

  it('shows the decline message and keeps the session open, then accepts another card', async () => {
    const session = await h.stripe.checkout.sessions.create(sessionParams());
    const declined = await submitPage(session, { email: 'buyer@example.com', card_number: '4000 0000 0000 0002' });
    expect(declined.status).toBe(402);
    const page = await declined.text();
    expect(page).toContain('role="alert"');
    expect(page).toContain('Your card was declined.');
    expect((await h.stripe.checkout.sessions.retrieve(session.id)).status).toBe('open');

    const insufficient = await submitPage(session, { email: 'buyer@example.com', card_number: '4000000000009995' });
    expect(insufficient.status).toBe(402);
    expect(await insufficient.text()).toContain('insufficient funds');

    const paid = await submitPage(session, { email: 'buyer@example.com', card_number: '4242424242424242' });
    expect(paid.status).toBe(303);
    const done = await h.stripe.checkout.sessions.retrieve(session.id);
    expect(done).toMatchObject({ status: 'complete', payment_status: 'paid' });
    // The retries used the session's one PaymentIntent.
    expect((await h.stripe.paymentIntents.list()).data.map((pi) => pi.id)).toEqual([done.payment_intent]);
  });

  it('rejects a non-test card number and a missing email without touching the session', async () => {
    const session = await h.stripe.checkout.sessions.create(sessionParams());
    const bad = await submitPage(session, { email: 'buyer@example.com', card_number: '1234 5678 9012 3456' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('Your card number is invalid');
    const noEmail = await submitPage(session, { email: '', card_number: '4242424242424242' });
    expect(noEmail.status).toBe(400);
    expect((await h.stripe.checkout.sessions.retrieve(session.id)).payment_intent).toBeNull();
  });

  it('creates a customer when customer_creation=always', async () => {
    const session = await h.stripe.checkout.sessions.create(sessionParams({ customer_creation: 'always' }));
    expect((await submitPage(session, { email: 'new@example.com', card_number: '4242424242424242' })).status).toBe(303);
    const done = await h.stripe.checkout.sessions.retrieve(session.id);
    expect(done.customer).toMatch(/^cus_/);
    expect((await h.stripe.customers.retrieve(done.customer as string)) as Stripe.Customer).toMatchObject({ email: 'new@example.com' });
  });

  it('sends a 3-D Secure card through the authentication page, then completes or shows the failure', async () => {
    const session = await h.stripe.checkout.sessions.create(sessionParams());
    const first = await submitPage(session, { email: 'buyer@example.com', card_number: '4000 0027 6000 3184' });
    expect(first.status).toBe(303);
    const authUrl = `${SANDBOX_PUBLIC_URL}/checkout/${session.id}/authenticate`;
    expect(first.headers.get('location')).toBe(authUrl);
    const challenge = await fetch(authUrl);
    expect(challenge.status).toBe(200);
    expect(await challenge.text()).toContain('Complete authentication');

    const failed = await fetch(authUrl, { method: 'POST', body: new URLSearchParams({ outcome: 'fail' }), redirect: 'manual' });
    expect(failed.status).toBe(402);
    expect(await failed.text()).toContain('failed authentication');
    expect((await h.stripe.checkout.sessions.retrieve(session.id)).status).toBe('open');

    expect((await submitPage(session, { email: 'buyer@example.com', card_number: '4000002760003184' })).headers.get('location')).toBe(authUrl);
    const completed = await fetch(authUrl, { method: 'POST', body: new URLSearchParams({ outcome: 'complete' }), redirect: 'manual' });
    expect(completed.status).toBe(303);
    expect(completed.headers.get('location')).toBe(`${SHOP}/thanks?session_id=${session.id}`);
    expect(await h.stripe.checkout.sessions.retrieve(session.id)).toMatchObject({ status: 'complete', payment_status: 'paid' });
    await h.sandbox.flushWebhooks();
    const types = h.received.map((e) => e.type).filter((t) => t.startsWith('payment_intent.') || t.startsWith('checkout.'));
    expect(types.slice(-2)).toEqual(['payment_intent.succeeded', 'checkout.session.completed']);
    expect(types).toContain('payment_intent.requires_action');
  });
});

describe('checkout sessions: subscription mode', () => {
  const monthly = (extra: Partial<Stripe.Checkout.SessionCreateParams> = {}): Stripe.Checkout.SessionCreateParams => ({
    mode: 'subscription',
    line_items: [{ price_data: { currency: 'usd', unit_amount: 1200, product_data: { name: 'Pro plan' }, recurring: { interval: 'month' } }, quantity: 1 }],
    success_url: `${SHOP}/welcome?session_id={CHECKOUT_SESSION_ID}`,
    cancel_url: `${SHOP}/pricing`,
    subscription_data: { metadata: { plan: 'pro' } },
    ...extra,
  });

  it('subscribes through the hosted page: customer, active subscription, paid invoice, completed session', async () => {
    const product = await h.stripe.products.create({ name: 'Team plan' });
    const price = await h.stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 3000, recurring: { interval: 'month' } });
    for (const params of [monthly(), monthly({ line_items: [{ price: price.id, quantity: 2 }] })]) {
      const session = await h.stripe.checkout.sessions.create(params);
      expect(session).toMatchObject({ mode: 'subscription', status: 'open', customer_creation: null, payment_intent: null });
      const page = await (await fetch(session.url!)).text();
      expect(page).toContain('Subscribe $');
      const response = await submitPage(session, { email: 'sub@example.com', card_number: '4242 4242 4242 4242' });
      expect(response.status).toBe(303);
      expect(response.headers.get('location')).toBe(`${SHOP}/welcome?session_id=${session.id}`);
      const done = await h.stripe.checkout.sessions.retrieve(session.id, { expand: ['subscription'] });
      expect(done).toMatchObject({ status: 'complete', payment_status: 'paid', customer: expect.stringMatching(/^cus_/), invoice: expect.stringMatching(/^in_/) });
      const sub = done.subscription as Stripe.Subscription;
      expect(sub).toMatchObject({ status: 'active', customer: done.customer, metadata: { plan: 'pro' } });
      expect(sub.items.data[0]!.price.unit_amount).toBe(done.amount_total! / (sub.items.data[0]!.quantity ?? 1));
      const invoice = await h.stripe.invoices.retrieve(done.invoice as string);
      expect(invoice).toMatchObject({ status: 'paid', amount_paid: done.amount_total });
    }
    await h.sandbox.flushWebhooks();
    const types = h.received.map((e) => e.type);
    expect(types.at(-1)).toBe('checkout.session.completed');
    expect(types.indexOf('customer.subscription.created')).toBeLessThan(types.indexOf('checkout.session.completed'));
    expect(types.indexOf('invoice.paid')).toBeLessThan(types.indexOf('checkout.session.completed'));
  });

  it('shows a decline and creates nothing; refuses one-time prices in subscription mode', async () => {
    const session = await h.stripe.checkout.sessions.create(monthly());
    const declined = await submitPage(session, { email: 'sub@example.com', card_number: '4000000000000002' });
    expect(declined.status).toBe(402);
    expect(await declined.text()).toContain('Your card was declined.');
    expect((await h.stripe.checkout.sessions.retrieve(session.id)).status).toBe('open');
    expect((await h.stripe.customers.list()).data).toEqual([]);
    expect((await h.stripe.subscriptions.list()).data).toEqual([]);
    const mixed = monthly({ line_items: [...monthly().line_items!, { price_data: { currency: 'usd', unit_amount: 500, product_data: { name: 'Setup fee' } }, quantity: 1 }] });
    expect(await stripeError(h.stripe.checkout.sessions.create(mixed))).toMatchObject({ statusCode: 400, param: 'line_items[1][price]' });
    expect(await stripeError(h.stripe.checkout.sessions.create(monthly({ payment_intent_data: { metadata: { a: 'b' } } })))).toMatchObject({ param: 'payment_intent_data' });
  });
});

