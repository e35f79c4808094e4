// The sandbox's state file: a sandbox created again on the file another one wrote (a restart of
// `npm start`) holds everything Stripe would still hold, so the objects a database recorded keep
// working: objects, list order, idempotency keys, the clock, webhook endpoints with their secrets,
// deliveries still to attempt, and what resources keep off their objects (line items, 3-D Secure
// return URLs, test card behaviours). Driven through the official SDK, the sandbox under msw.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import Stripe from 'stripe';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DISPUTE_WITHDRAWAL_DELAY_SECONDS } from '../../stripe-sandbox/resources/disputes';
import { REFUND_FAILURE_DELAY_SECONDS } from '../../stripe-sandbox/resources/refunds';
import { createStripeSandbox, type StripeSandbox } from '../../stripe-sandbox/sandbox';
import { stripeError } from '../helpers/stripeSandbox';

const PUBLIC_URL = 'https://sandbox.stripe.test';
const RECEIVER_URL = 'https://receiver.test/webhooks/stripe';
const SHOP = 'https://shop.example';

// The msw handler sends each request to whichever sandbox runs now: the one before or after a restart.
let current: StripeSandbox;
const receiver = { status: 200, secret: '', events: [] as Stripe.Event[] };
const stripe = new Stripe('sk_test_persistence', { httpClient: Stripe.createFetchHttpClient((input, init) => fetch(input, init)), maxNetworkRetries: 0 });
const msw = setupServer(
  http.all('https://api.stripe.com/*', ({ request }) => current.handle(request)),
  http.all(`${PUBLIC_URL}/*`, ({ request }) => current.handle(request)),
  http.post(RECEIVER_URL, async ({ request }) => {
    const payload = await request.text();
    receiver.events.push(stripe.webhooks.constructEvent(payload, request.headers.get('stripe-signature') ?? '', receiver.secret));
    return new HttpResponse(null, { status: receiver.status });
  }),
);
msw.listen({ onUnhandledRequest: 'error' });
afterAll(() => msw.close());

let dir: string;
let file: string;
const logs: string[] = [];
const sandboxes: StripeSandbox[] = [];

function start(): StripeSandbox {
  current = createStripeSandbox({ publicUrl: PUBLIC_URL, stateFile: file, log: (line) => logs.push(line) });
  sandboxes.push(current);
  return current;
}

/** A restart: the running sandbox writes what is pending and a new one starts on its file. */
async function restart(): Promise<StripeSandbox> {
  current.core.events.stopAutoDelivery();
  await current.close();
  return start();
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sandbox-state-'));
  file = join(dir, '.data', 'stripe-sandbox.json');
  logs.length = 0;
  Object.assign(receiver, { status: 200, secret: '', events: [] });
});
afterEach(async () => {
  for (const sandbox of sandboxes.splice(0)) await sandbox.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Every object reachable from two places in the store: a snapshot would restore them as two copies. */
function sharedReferences(value: unknown, seen = new Set<object>(), shared: string[] = [], path = '$'): string[] {
  if (value === null || typeof value !== 'object') return shared;
  if (seen.has(value)) {
    shared.push(path);
    return shared;
  }
  seen.add(value);
  for (const [key, child] of Object.entries(value)) sharedReferences(child, seen, shared, `${path}.${key}`);
  return shared;
}

describe('the Stripe sandbox state file', () => {
  it('keeps every object, in list order, and what resources keep off their objects across a restart', async () => {
    start();
    const customer = await stripe.customers.create({ email: 'ada@example.com' });
    const paid = await stripe.paymentIntents.create({ amount: 4900, currency: 'usd', customer: customer.id, payment_method: 'pm_card_visa', confirm: true, automatic_payment_methods: { enabled: true, allow_redirects: 'never' } });
    const declined = await stripeError(
      stripe.paymentIntents.create({ amount: 7900, currency: 'usd', payment_method: 'pm_card_chargeDeclined', confirm: true, automatic_payment_methods: { enabled: true, allow_redirects: 'never' } }),
    );
    expect(declined.code).toBe('card_declined');
    const declinedIntent = (await stripe.paymentIntents.list({ limit: 1 })).data[0]!;
    const challenged = await stripe.paymentIntents.create({ amount: 9900, currency: 'usd', payment_method: 'pm_card_threeDSecure2Required', confirm: true, return_url: `${SHOP}/return` });
    expect(challenged.status).toBe('requires_action');
    const session = await stripe.checkout.sessions.create({
      mode: 'payment',
      line_items: [{ price_data: { currency: 'usd', unit_amount: 1500, product_data: { name: 'Tee' } }, quantity: 2 }],
      success_url: `${SHOP}/thanks?session_id={CHECKOUT_SESSION_ID}`,
      cancel_url: `${SHOP}/cart`,
    });
    await current.advanceClock(120);
    const before = current.core.store.snapshot();
    // A shared object would come back as two copies, and a change to one would miss the other.
    expect(sharedReferences(before)).toEqual([]);
    const listed = (await stripe.paymentIntents.list({ limit: 10 })).data.map((pi) => pi.id);
    const lineItems = await stripe.checkout.sessions.listLineItems(session.id);

    const after = await restart();
    expect(after.core.store.snapshot()).toEqual(before);
    expect(after.core.clock.offset).toBe(120);
    expect(await stripe.customers.retrieve(customer.id)).toMatchObject({ id: customer.id, email: 'ada@example.com' });
    expect(await stripe.paymentIntents.retrieve(paid.id)).toMatchObject({ status: 'succeeded', latest_charge: paid.latest_charge });
    expect((await stripe.paymentIntents.list({ limit: 10 })).data.map((pi) => pi.id)).toEqual(listed);
    expect(await stripe.checkout.sessions.listLineItems(session.id)).toEqual(lineItems);

    // The hosted page of the session made before the restart still opens and pays.
    const page = await fetch(session.url!);
    expect(page.status).toBe(200);
    const paying = await fetch(session.url!, { method: 'POST', body: new URLSearchParams({ card_number: '4242424242424242', email: 'ada@example.com', name: 'Ada' }), redirect: 'manual' });
    expect(paying.status).toBe(303);
    expect((await stripe.checkout.sessions.retrieve(session.id)).status).toBe('complete');

    // 3-D Secure finishes on the page and returns to the URL given before the restart.
    const authenticated = await fetch(`${PUBLIC_URL}/3ds/${challenged.id}`, { method: 'POST', body: new URLSearchParams({ outcome: 'succeed' }), redirect: 'manual' });
    expect(authenticated.status).toBe(303);
    expect(authenticated.headers.get('location')).toMatch(new RegExp(`^${SHOP}/return\\?payment_intent=${challenged.id}`));
    expect((await stripe.paymentIntents.retrieve(challenged.id)).status).toBe('succeeded');

    // The declining test card made before the restart still declines.
    const again = await stripeError(
      stripe.paymentIntents.create({ amount: 7900, currency: 'usd', payment_method: declinedIntent.last_payment_error!.payment_method!.id, confirm: true, automatic_payment_methods: { enabled: true, allow_redirects: 'never' } }),
    );
    expect(again.code).toBe('card_declined');
  });

  it('a refund of the refund-failure card and a dispute made before a restart still fail and withdraw after it, once', async () => {
    start();
    const card = { currency: 'usd', confirm: true, automatic_payment_methods: { enabled: true, allow_redirects: 'never' as const } };
    const paid = await stripe.paymentIntents.create({ ...card, amount: 3000, payment_method: 'pm_card_refundFail' });
    const refund = await stripe.refunds.create({ payment_intent: paid.id, amount: 1000 });
    const disputed = await stripe.paymentIntents.create({ ...card, amount: 2000, payment_method: 'pm_card_createDispute' });
    const [dispute] = (await stripe.disputes.list({ payment_intent: disputed.id })).data;

    await restart();
    await current.advanceClock(Math.max(REFUND_FAILURE_DELAY_SECONDS, DISPUTE_WITHDRAWAL_DELAY_SECONDS));
    expect(await stripe.refunds.retrieve(refund.id)).toMatchObject({ status: 'failed', failure_reason: 'expired_or_canceled_card' });
    expect(await stripe.charges.retrieve(paid.latest_charge as string)).toMatchObject({ amount_refunded: 0 });
    expect((await stripe.disputes.retrieve(dispute!.id)).balance_transactions.map((t) => t.amount)).toEqual([-2000]);

    await restart();
    await current.advanceClock(3600);
    const types = (await stripe.events.list({ limit: 100 })).data.map((e) => e.type);
    expect(types.filter((t) => t === 'refund.failed' || t === 'charge.dispute.funds_withdrawn').sort()).toEqual(['charge.dispute.funds_withdrawn', 'refund.failed']);
  });

  it('keeps idempotency keys: the same key replays the first response, with other parameters it is refused', async () => {
    start();
    const first = await stripe.customers.create({ email: 'grace@example.com' }, { idempotencyKey: 'customer:grace' });
    await restart();
    const replay = await stripe.customers.create({ email: 'grace@example.com' }, { idempotencyKey: 'customer:grace' });
    expect(replay.id).toBe(first.id);
    // The fetch client hands the SDK a Headers object.
    expect((replay.lastResponse.headers as unknown as Headers).get('idempotent-replayed')).toBe('true');
    expect((await stripeError(stripe.customers.create({ email: 'other@example.com' }, { idempotencyKey: 'customer:grace' }))).type).toBe('StripeIdempotencyError');
    expect((await stripe.customers.list({ limit: 10 })).data).toHaveLength(1);
  });

  it('keeps one owned webhook endpoint with its secret, follows its new URL, and delivers what was still pending', async () => {
    const before = start();
    const endpoint = before.ensureWebhookEndpoint('the-server', 'https://old-port.test/webhooks/stripe');
    receiver.secret = endpoint.secret!;
    before.ensureWebhookEndpoint('the-server', RECEIVER_URL);
    receiver.status = 500; // Stripe will retry: the deliveries stay queued
    before.core.events.startAutoDelivery(5);
    const customer = await stripe.customers.create({ email: 'lin@example.com' });
    await before.flushWebhooks();
    expect(receiver.events.map((e) => e.type)).toEqual(['customer.created']);
    expect(before.core.events.pendingDeliveries()).toBe(1);

    const after = await restart();
    const again = after.ensureWebhookEndpoint('the-server', RECEIVER_URL);
    expect(again).toMatchObject({ id: endpoint.id, secret: endpoint.secret, url: RECEIVER_URL });
    expect((await stripe.webhookEndpoints.list()).data.map((e) => e.id)).toEqual([endpoint.id]);
    expect(after.core.events.pendingDeliveries()).toBe(1);
    // Which deliveries succeeded is kept too (the Events list's delivery_success).
    expect((await stripe.events.list({ delivery_success: false })).data.map((e) => e.type)).toEqual(['customer.created']);

    receiver.status = 200;
    await after.advanceClock(60); // the first retry falls due
    expect(receiver.events.map((e) => [e.type, e.data.object])).toEqual([
      ['customer.created', expect.objectContaining({ id: customer.id })],
      ['customer.created', expect.objectContaining({ id: customer.id })],
    ]);
    expect(after.core.events.pendingDeliveries()).toBe(0);
    expect((await stripe.events.list({ limit: 10 })).data.map((e) => e.type)).toEqual(['customer.created']);
    expect((await stripe.events.list({ delivery_success: true })).data.map((e) => e.type)).toEqual(['customer.created']);
    expect((await stripe.events.list({ delivery_success: false })).data).toEqual([]);
  });

  it('writes one complete file only readable by its owner, with no temporary file left behind', async () => {
    const sandbox = start();
    await Promise.all(Array.from({ length: 20 }, (_, i) => stripe.customers.create({ email: `c${i}@example.com` })));
    await sandbox.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, '.data'))).toEqual(['stripe-sandbox.json']);
    const state = JSON.parse(readFileSync(file, 'utf8'));
    expect(state.objects.customer).toHaveLength(20);
  });

  it('writes nothing without a state file', async () => {
    current = createStripeSandbox({ publicUrl: PUBLIC_URL, log: () => {} });
    await stripe.customers.create({ email: 'memory@example.com' });
    await current.close();
    expect(current.core.onChange).toBeUndefined();
    expect(existsSync(join(dir, '.data'))).toBe(false);
  });

  it('sets an unreadable state file aside and starts empty, saying where the file went', async () => {
    start();
    await stripe.customers.create({ email: 'lost@example.com' });
    await restart();
    writeFileSync(file, '{"version": 1, "objects": ');
    const sandbox = start();
    expect(sandbox.core.store.snapshot()).toEqual({});
    expect((await stripe.customers.list()).data).toEqual([]);
    const aside = readdirSync(join(dir, '.data')).filter((name) => name.startsWith('stripe-sandbox.json.unreadable-'));
    expect(aside).toHaveLength(1);
    expect(logs.join('\n')).toContain(aside[0]);
  });
});
