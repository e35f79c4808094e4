import Stripe from 'stripe';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { completeThreeDSecure } from '../../stripe-sandbox/resources/paymentIntents.machine';
import { paymentMethodForCardNumber } from '../../stripe-sandbox/resources/paymentMethods';
import { SANDBOX_PUBLIC_URL, startSandboxHarness, stripeError } from '../helpers/stripeSandbox';

// One msw server per file: msw patches the process's fetch once.
const h = startSandboxHarness();
afterAll(() => h.close());
beforeEach(() => h.reset());

/** Types of the events the receiver got (after delivering everything due). */
async function eventTypes(): Promise<string[]> {
  await h.sandbox.flushWebhooks();
  return h.received.map((e) => e.type);
}

const objectId = (e: Stripe.Event) => (e.data.object as { id: string }).id;

async function cardError(promise: Promise<unknown>): Promise<Stripe.errors.StripeCardError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
    return error as Stripe.errors.StripeCardError;
  }
  throw new Error('expected a card error');
}

describe('PaymentIntents: successful payments with test cards', () => {
  it('creates, confirms with pm_card_visa, and emits created → charge.succeeded → succeeded', async () => {
    const created = await h.stripe.paymentIntents.create({ amount: 2000, currency: 'usd', description: 'Order 1', metadata: { order: '1' } });
    expect(created.id).toMatch(/^pi_/);
    expect(created.object).toBe('payment_intent');
    expect(created.status).toBe('requires_payment_method');
    expect(created.client_secret).toMatch(new RegExp(`^${created.id}_secret_\\w+$`));
    expect(created.livemode).toBe(false);
    expect(created.capture_method).toBe('automatic_async');
    expect(created.automatic_payment_methods).toEqual({ enabled: true, allow_redirects: 'always' });
    expect(created.latest_charge).toBeNull();

    const confirmed = await h.stripe.paymentIntents.confirm(created.id, { payment_method: 'pm_card_visa', return_url: 'https://shop.example/return' });
    expect(confirmed.status).toBe('succeeded');
    expect(confirmed.amount_received).toBe(2000);
    expect(confirmed.payment_method).toMatch(/^pm_/);
    expect(confirmed.payment_method).not.toBe('pm_card_visa');
    expect(confirmed.last_payment_error).toBeNull();

    const charge = await h.stripe.charges.retrieve(confirmed.latest_charge as string);
    expect(charge).toMatchObject({
      object: 'charge',
      status: 'succeeded',
      paid: true,
      captured: true,
      amount: 2000,
      amount_captured: 2000,
      amount_refunded: 0,
      refunded: false,
      disputed: false,
      payment_intent: created.id,
      payment_method: confirmed.payment_method,
      metadata: { order: '1' },
      description: 'Order 1',
      outcome: { network_status: 'approved_by_network', type: 'authorized', seller_message: 'Payment complete.' },
    });
    expect(charge.id).toMatch(/^ch_/);
    expect(charge.balance_transaction).toMatch(/^txn_/);
    expect(charge.payment_method_details?.type).toBe('card');
    expect(charge.payment_method_details?.card).toMatchObject({ brand: 'visa', last4: '4242' });

    const pm = await h.stripe.paymentMethods.retrieve(confirmed.payment_method as string);
    expect(pm.card).toMatchObject({ brand: 'visa', last4: '4242' });

    expect(await eventTypes()).toEqual(['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded']);
    expect(h.received.map(objectId)).toEqual([created.id, charge.id, created.id]);
    expect(h.received[2]!.request?.id).toMatch(/^req_/);
    expect((h.received[2]!.data.object as Stripe.PaymentIntent).status).toBe('succeeded');
  });

  it('creates and confirms in one call, and expands latest_charge', async () => {
    const pi = await h.stripe.paymentIntents.create({ amount: 1234, currency: 'eur', payment_method: 'pm_card_mastercard', confirm: true, return_url: 'https://shop.example/return', expand: ['latest_charge'] });
    expect(pi.status).toBe('succeeded');
    const charge = pi.latest_charge as Stripe.Charge;
    expect(charge.object).toBe('charge');
    expect(charge.currency).toBe('eur');
    expect(charge.payment_method_details?.card?.brand).toBe('mastercard');
    expect(await eventTypes()).toEqual(['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded']);
  });

  it('takes a payment method at creation (requires_confirmation) and confirms without repeating it', async () => {
    const pi = await h.stripe.paymentIntents.create({ amount: 500, currency: 'usd', payment_method: 'pm_card_visa' });
    expect(pi.status).toBe('requires_confirmation');
    const confirmed = await h.stripe.paymentIntents.confirm(pi.id, { return_url: 'https://shop.example/return' });
    expect(confirmed.status).toBe('succeeded');
    expect(confirmed.payment_method).toBe(pi.payment_method);
  });

  it('maps the documented test card numbers for the hosted page', () => {
    expect(paymentMethodForCardNumber('4242 4242 4242 4242')).toBe('pm_card_visa');
    expect(paymentMethodForCardNumber('4000000000000002')).toBe('pm_card_chargeDeclined');
    expect(paymentMethodForCardNumber('4000000000009995')).toBe('pm_card_chargeDeclinedInsufficientFunds');
    expect(paymentMethodForCardNumber('4000000000000069')).toBe('pm_card_chargeDeclinedExpiredCard');
    expect(paymentMethodForCardNumber('4000002760003184')).toBe('pm_card_authenticationRequired');
    expect(paymentMethodForCardNumber('4000000000003220')).toBe('pm_card_threeDSecure2Required');
    expect(paymentMethodForCardNumber('4000000000000259')).toBe('pm_card_createDispute');
    expect(paymentMethodForCardNumber('1234567812345678')).toBeNull();
  });
});

describe('PaymentIntents: declines', () => {
  const cases = [
    { pm: 'pm_card_chargeDeclined', code: 'card_declined', decline: 'generic_decline', message: 'Your card was declined.' },
    { pm: 'pm_card_chargeDeclinedInsufficientFunds', code: 'card_declined', decline: 'insufficient_funds', message: 'Your card has insufficient funds.' },
    { pm: 'pm_card_chargeDeclinedExpiredCard', code: 'expired_card', decline: 'expired_card', message: 'Your card has expired.' },
  ];
  for (const c of cases) {
    it(`${c.pm}: 402 card_error (${c.decline}), back to requires_payment_method, then a retry with visa succeeds`, async () => {
      const pi = await h.stripe.paymentIntents.create({ amount: 3000, currency: 'usd' });
      const error = await cardError(h.stripe.paymentIntents.confirm(pi.id, { payment_method: c.pm, return_url: 'https://shop.example/return' }));
      expect(error.statusCode).toBe(402);
      expect(error.type).toBe('StripeCardError');
      expect(error.code).toBe(c.code);
      expect(error.decline_code).toBe(c.decline);
      expect(error.message).toBe(c.message);
      expect(error.payment_intent?.id).toBe(pi.id);
      expect(error.payment_intent?.status).toBe('requires_payment_method');
      expect(error.raw).toMatchObject({ type: 'card_error', charge: expect.stringMatching(/^ch_/) });

      const after = await h.stripe.paymentIntents.retrieve(pi.id);
      expect(after.status).toBe('requires_payment_method');
      expect(after.payment_method).toBeNull();
      expect(after.last_payment_error).toMatchObject({ type: 'card_error', code: c.code, decline_code: c.decline, message: c.message });
      const failed = await h.stripe.charges.retrieve(after.latest_charge as string);
      expect(failed).toMatchObject({ status: 'failed', paid: false, captured: false, failure_code: c.code, failure_message: c.message, balance_transaction: null });
      expect(failed.outcome).toMatchObject({ type: 'issuer_declined', network_status: 'declined_by_network', reason: c.decline });
      expect(await eventTypes()).toEqual(['payment_intent.created', 'charge.failed', 'payment_intent.payment_failed']);

      const retried = await h.stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa', return_url: 'https://shop.example/return' });
      expect(retried.status).toBe('succeeded');
      expect(retried.last_payment_error).toBeNull();
      expect(retried.latest_charge).not.toBe(failed.id);
      expect(await eventTypes()).toEqual(['payment_intent.created', 'charge.failed', 'payment_intent.payment_failed', 'charge.succeeded', 'payment_intent.succeeded']);
      const list = await h.stripe.charges.list({ payment_intent: pi.id });
      expect(list.data.map((ch) => ch.status)).toEqual(['succeeded', 'failed']);
    });
  }

  it('declines create-and-confirm in one call with the 402 too', async () => {
    const error = await cardError(h.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_chargeDeclined', confirm: true, return_url: 'https://shop.example/return' }));
    expect(error.decline_code).toBe('generic_decline');
    const list = await h.stripe.paymentIntents.list();
    expect(list.data).toHaveLength(1);
    expect(list.data[0]!.status).toBe('requires_payment_method');
  });
});

describe('PaymentIntents: return_url', () => {
  it('refuses an on-session confirmation without return_url while redirects are allowed (the default), creating nothing', async () => {
    const refused = await stripeError(h.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true }));
    expect(refused).toMatchObject({ statusCode: 400, param: 'return_url', message: expect.stringContaining('A `return_url` must be specified') });
    expect((await h.stripe.paymentIntents.list()).data).toEqual([]);

    const pi = await h.stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    expect(await stripeError(h.stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' }))).toMatchObject({ statusCode: 400, param: 'return_url' });
    expect((await h.stripe.paymentIntents.retrieve(pi.id)).status).toBe('requires_payment_method');
  });

  it('needs no return_url when redirects are disallowed or the payment is off-session', async () => {
    const noRedirects = await h.stripe.paymentIntents.create({
      amount: 1000,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
    });
    expect(noRedirects.status).toBe('succeeded');
    const customer = await h.stripe.customers.create({ email: 'off@example.com' });
    const offSession = await h.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', customer: customer.id, payment_method: 'pm_card_visa', confirm: true, off_session: true });
    expect(offSession.status).toBe('succeeded');
  });
});

describe('PaymentIntents: 3-D Secure', () => {
  it('requires_action with a redirect, then succeeds once the customer authenticates', async () => {
    const pi = await h.stripe.paymentIntents.create({ amount: 4200, currency: 'usd' });
    const pending = await h.stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_threeDSecure2Required', return_url: 'https://shop.example/return' });
    expect(pending.status).toBe('requires_action');
    expect(pending.next_action).toEqual({
      type: 'redirect_to_url',
      redirect_to_url: { url: `${SANDBOX_PUBLIC_URL}/3ds/${pi.id}`, return_url: 'https://shop.example/return' },
    });
    expect(pending.latest_charge).toBeNull();
    expect(await eventTypes()).toEqual(['payment_intent.created', 'payment_intent.requires_action']);

    completeThreeDSecure(h.sandbox.core, pi.id, 'succeed');
    const done = await h.stripe.paymentIntents.retrieve(pi.id, { expand: ['latest_charge'] });
    expect(done.status).toBe('succeeded');
    expect(done.next_action).toBeNull();
    expect((done.latest_charge as Stripe.Charge).payment_method_details?.card?.three_d_secure).toMatchObject({ result: 'authenticated' });
    expect(await eventTypes()).toEqual(['payment_intent.created', 'payment_intent.requires_action', 'charge.succeeded', 'payment_intent.succeeded']);
  });

  it('returns to requires_payment_method when authentication fails', async () => {
    const pi = await h.stripe.paymentIntents.create({ amount: 4200, currency: 'usd', payment_method: 'pm_card_authenticationRequired', confirm: true, return_url: 'https://shop.example/return' });
    expect(pi.status).toBe('requires_action');
    completeThreeDSecure(h.sandbox.core, pi.id, 'fail');
    const failed = await h.stripe.paymentIntents.retrieve(pi.id);
    expect(failed.status).toBe('requires_payment_method');
    expect(failed.last_payment_error).toMatchObject({ type: 'invalid_request_error', code: 'payment_intent_authentication_failure' });
    expect(await eventTypes()).toEqual(['payment_intent.created', 'payment_intent.requires_action', 'payment_intent.payment_failed']);
  });

  it('serves the challenge page, which redirects to the return_url with redirect_status', async () => {
    const pi = await h.stripe.paymentIntents.create({ amount: 4200, currency: 'usd', payment_method: 'pm_card_threeDSecure2Required', confirm: true, return_url: 'https://shop.example/return?x=1' });
    const url = new URL(pi.next_action!.redirect_to_url!.url!);
    // Through the sandbox's public URL, as a browser would reach it.
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Complete authentication');
    const post = await fetch(url, { method: 'POST', body: 'outcome=succeed', headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' });
    expect(post.status).toBe(303);
    const location = new URL(post.headers.get('location')!);
    expect(location.origin + location.pathname).toBe('https://shop.example/return');
    expect(Object.fromEntries(location.searchParams)).toEqual({ x: '1', payment_intent: pi.id, payment_intent_client_secret: pi.client_secret, redirect_status: 'succeeded' });
    expect((await h.stripe.paymentIntents.retrieve(pi.id)).status).toBe('succeeded');
  });

  it('declines with authentication_required when confirmed off-session', async () => {
    const customer = await h.stripe.customers.create({ email: 'off@example.com' });
    const error = await cardError(
      h.stripe.paymentIntents.create({ amount: 900, currency: 'usd', customer: customer.id, payment_method: 'pm_card_authenticationRequired', confirm: true, off_session: true }),
    );
    expect(error.code).toBe('authentication_required');
    expect(error.payment_intent?.status).toBe('requires_payment_method');
  });
});

describe('PaymentIntents: processing (US bank account)', () => {
  it('pm_usBankAccount_success is processing, then succeeds when sandbox time advances', async () => {
    const pi = await h.stripe.paymentIntents.create({ amount: 10_000, currency: 'usd', payment_method: 'pm_usBankAccount_success', confirm: true, return_url: 'https://shop.example/return' });
    expect(pi.status).toBe('processing');
    expect(pi.payment_method_types).toContain('us_bank_account');
    const pending = await h.stripe.charges.retrieve(pi.latest_charge as string);
    expect(pending.status).toBe('pending');
    expect(pending.payment_method_details?.type).toBe('us_bank_account');
    expect(await eventTypes()).toEqual(['payment_intent.created', 'charge.pending', 'payment_intent.processing']);

    await h.sandbox.advanceClock(3600);
    const settled = await h.stripe.paymentIntents.retrieve(pi.id);
    expect(settled.status).toBe('succeeded');
    expect(settled.amount_received).toBe(10_000);
    expect((await h.stripe.charges.retrieve(pi.latest_charge as string)).status).toBe('succeeded');
    expect(await eventTypes()).toEqual(['payment_intent.created', 'charge.pending', 'payment_intent.processing', 'charge.succeeded', 'payment_intent.succeeded']);
    expect(h.received[4]!.request).toEqual({ id: null, idempotency_key: null });
  });
});

describe('PaymentIntents: cancel and manual capture', () => {
  it('cancels with a reason, and refuses to cancel a canceled or succeeded intent', async () => {
    const pi = await h.stripe.paymentIntents.create({ amount: 700, currency: 'usd' });
    const canceled = await h.stripe.paymentIntents.cancel(pi.id, { cancellation_reason: 'requested_by_customer' });
    expect(canceled.status).toBe('canceled');
    expect(canceled.cancellation_reason).toBe('requested_by_customer');
    expect(canceled.canceled_at).toBeGreaterThan(0);
    await expect(h.stripe.paymentIntents.cancel(pi.id)).rejects.toMatchObject({ type: 'StripeInvalidRequestError', statusCode: 400, code: 'payment_intent_unexpected_state' });
    await expect(h.stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa', return_url: 'https://shop.example/return' })).rejects.toMatchObject({ statusCode: 400, code: 'payment_intent_unexpected_state' });

    const paid = await h.stripe.paymentIntents.create({ amount: 700, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, return_url: 'https://shop.example/return' });
    await expect(h.stripe.paymentIntents.cancel(paid.id)).rejects.toMatchObject({ statusCode: 400, code: 'payment_intent_unexpected_state' });
    expect(await eventTypes()).toEqual(['payment_intent.created', 'payment_intent.canceled', 'payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded']);
  });

  it('authorizes with capture_method=manual, then captures part of it', async () => {
    const pi = await h.stripe.paymentIntents.create({ amount: 2000, currency: 'usd', capture_method: 'manual', payment_method: 'pm_card_visa', confirm: true, return_url: 'https://shop.example/return' });
    expect(pi.status).toBe('requires_capture');
    expect(pi.amount_capturable).toBe(2000);
    expect(pi.amount_received).toBe(0);
    const authorized = await h.stripe.charges.retrieve(pi.latest_charge as string);
    expect(authorized).toMatchObject({ status: 'succeeded', paid: true, captured: false, amount_captured: 0, balance_transaction: null });

    await expect(h.stripe.paymentIntents.capture(pi.id, { amount_to_capture: 2500 })).rejects.toMatchObject({ statusCode: 400, param: 'amount_to_capture' });
    const captured = await h.stripe.paymentIntents.capture(pi.id, { amount_to_capture: 1500 });
    expect(captured).toMatchObject({ status: 'succeeded', amount_received: 1500, amount_capturable: 0 });
    const charge = await h.stripe.charges.retrieve(pi.latest_charge as string);
    expect(charge).toMatchObject({ captured: true, amount_captured: 1500, amount_refunded: 500, refunded: false });
    expect(charge.balance_transaction).toMatch(/^txn_/);
    await expect(h.stripe.paymentIntents.capture(pi.id)).rejects.toMatchObject({ statusCode: 400, code: 'payment_intent_unexpected_state' });
    expect(await eventTypes()).toEqual(['payment_intent.created', 'charge.succeeded', 'payment_intent.amount_capturable_updated', 'charge.captured', 'payment_intent.succeeded']);
  });

  it('canceling an authorization releases (refunds) the uncaptured charge', async () => {
    const pi = await h.stripe.paymentIntents.create({ amount: 800, currency: 'usd', capture_method: 'manual', payment_method: 'pm_card_visa', confirm: true, return_url: 'https://shop.example/return' });
    const canceled = await h.stripe.paymentIntents.cancel(pi.id);
    expect(canceled).toMatchObject({ status: 'canceled', amount_capturable: 0, cancellation_reason: null });
    const charge = await h.stripe.charges.retrieve(pi.latest_charge as string);
    expect(charge).toMatchObject({ refunded: true, amount_refunded: 800 });
    expect(await eventTypes()).toEqual(['payment_intent.created', 'charge.succeeded', 'payment_intent.amount_capturable_updated', 'refund.created', 'charge.refunded', 'payment_intent.canceled']);
  });

  it('cancels an authorization that was not captured within 7 days (cancellation_reason automatic)', async () => {
    const pi = await h.stripe.paymentIntents.create({ amount: 800, currency: 'usd', capture_method: 'manual', payment_method: 'pm_card_visa', confirm: true, return_url: 'https://shop.example/return' });
    await h.sandbox.advanceClock(7 * 24 * 3600);
    const expired = await h.stripe.paymentIntents.retrieve(pi.id);
    expect(expired).toMatchObject({ status: 'canceled', cancellation_reason: 'automatic' });
    expect((await eventTypes()).slice(-2)).toEqual(['charge.expired', 'payment_intent.canceled']);
  });
});

describe('PaymentIntents: update, retrieve, parameters', () => {
  it('updates amount, metadata and payment method before confirmation', async () => {
    const pi = await h.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', metadata: { a: '1', b: '2' } });
    const updated = await h.stripe.paymentIntents.update(pi.id, { amount: 1500, metadata: { a: '', c: '3' }, payment_method: 'pm_card_visa', description: 'Changed' });
    expect(updated).toMatchObject({ amount: 1500, metadata: { b: '2', c: '3' }, status: 'requires_confirmation', description: 'Changed' });
    const confirmed = await h.stripe.paymentIntents.confirm(pi.id, { return_url: 'https://shop.example/return' });
    expect(confirmed).toMatchObject({ status: 'succeeded', amount_received: 1500 });
    await expect(h.stripe.paymentIntents.update(pi.id, { amount: 99 })).rejects.toMatchObject({ statusCode: 400, code: 'payment_intent_unexpected_state' });
    const meta = await h.stripe.paymentIntents.update(pi.id, { metadata: { shipped: 'yes' } });
    expect(meta.metadata).toEqual({ b: '2', c: '3', shipped: 'yes' });
  });

  it('retrieves with the client_secret, and refuses a wrong one', async () => {
    const pi = await h.stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    expect((await h.stripe.paymentIntents.retrieve(pi.id, { client_secret: pi.client_secret! })).id).toBe(pi.id);
    await expect(h.stripe.paymentIntents.retrieve(pi.id, { client_secret: `${pi.id}_secret_wrong` })).rejects.toMatchObject({ statusCode: 400, param: 'client_secret' });
    await expect(h.stripe.paymentIntents.retrieve('pi_missing')).rejects.toMatchObject({ statusCode: 404, code: 'resource_missing', message: "No such payment_intent: 'pi_missing'" });
  });

  it('refuses payment_method_types (removed in this API version), missing amount, tiny amounts and unknown payment methods', async () => {
    await expect(h.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method_types: ['card'] } as never)).rejects.toMatchObject({
      type: 'StripeInvalidRequestError',
      statusCode: 400,
      code: 'parameter_unknown',
      param: 'payment_method_types',
    });
    await expect(h.stripe.paymentIntents.create({ currency: 'usd' } as never)).rejects.toMatchObject({ statusCode: 400, code: 'parameter_missing', param: 'amount' });
    await expect(h.stripe.paymentIntents.create({ amount: 10, currency: 'usd' })).rejects.toMatchObject({ statusCode: 400, code: 'amount_too_small', param: 'amount' });
    await expect(h.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_nope' })).rejects.toMatchObject({ statusCode: 404, code: 'resource_missing', param: 'payment_method' });
    await expect(h.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', return_url: 'https://x.example' })).rejects.toMatchObject({ statusCode: 400, param: 'return_url' });
    expect((await h.stripe.paymentIntents.list()).data).toHaveLength(0);
  });
});

describe('PaymentIntents and Charges: lists', () => {
  it('paginates newest first with limit, starting_after and ending_before, and filters by created and customer', async () => {
    const customer = await h.stripe.customers.create({ email: 'list@example.com' });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const pi = await h.stripe.paymentIntents.create({ amount: 1000 + i, currency: 'usd', ...(i % 2 === 0 ? { customer: customer.id } : {}) });
      ids.push(pi.id);
      await h.sandbox.advanceClock(100);
    }
    const newest = [...ids].reverse();
    const page1 = await h.stripe.paymentIntents.list({ limit: 2 });
    expect(page1.data.map((p) => p.id)).toEqual(newest.slice(0, 2));
    expect(page1.has_more).toBe(true);
    expect(page1.url).toBe('/v1/payment_intents');
    const page2 = await h.stripe.paymentIntents.list({ limit: 2, starting_after: page1.data[1]!.id });
    expect(page2.data.map((p) => p.id)).toEqual(newest.slice(2, 4));
    const back = await h.stripe.paymentIntents.list({ limit: 2, ending_before: page2.data[0]!.id });
    expect(back.data.map((p) => p.id)).toEqual(newest.slice(0, 2));
    const all: string[] = [];
    for await (const pi of h.stripe.paymentIntents.list({ limit: 2 })) all.push(pi.id);
    expect(all).toEqual(newest);

    const third = await h.stripe.paymentIntents.retrieve(ids[2]!);
    const since = await h.stripe.paymentIntents.list({ created: { gte: third.created } });
    expect(since.data.map((p) => p.id)).toEqual(newest.slice(0, 3));
    const before = await h.stripe.paymentIntents.list({ created: { lt: third.created } });
    expect(before.data.map((p) => p.id)).toEqual(newest.slice(3));
    const exact = await h.stripe.paymentIntents.list({ created: third.created });
    expect(exact.data.map((p) => p.id)).toEqual([third.id]);
    const mine = await h.stripe.paymentIntents.list({ customer: customer.id });
    expect(mine.data.map((p) => p.id)).toEqual([ids[4], ids[2], ids[0]]);
  });

  it('lists charges by customer and payment_intent, and updates charge metadata (charge.updated)', async () => {
    const customer = await h.stripe.customers.create({ email: 'charges@example.com' });
    const a = await h.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', customer: customer.id, payment_method: 'pm_card_visa', confirm: true, return_url: 'https://shop.example/return' });
    const b = await h.stripe.paymentIntents.create({ amount: 2000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, return_url: 'https://shop.example/return' });
    expect((await h.stripe.charges.list()).data.map((c) => c.payment_intent)).toEqual([b.id, a.id]);
    expect((await h.stripe.charges.list({ customer: customer.id })).data.map((c) => c.id)).toEqual([a.latest_charge]);
    expect((await h.stripe.charges.list({ payment_intent: b.id })).data.map((c) => c.id)).toEqual([b.latest_charge]);
    const updated = await h.stripe.charges.update(b.latest_charge as string, { metadata: { note: 'vip' } });
    expect(updated.metadata).toEqual({ note: 'vip' });
    await h.sandbox.flushWebhooks();
    const event = h.received.at(-1)!;
    expect(event.type).toBe('charge.updated');
    expect(event.data.previous_attributes).toEqual({ metadata: {} });
  });
});

describe('Disputes', () => {
  it('pm_card_createDispute succeeds, then the charge is disputed (charge.dispute.created); closing loses it', async () => {
    const pi = await h.stripe.paymentIntents.create({ amount: 5000, currency: 'usd', payment_method: 'pm_card_createDispute', confirm: true, return_url: 'https://shop.example/return' });
    expect(pi.status).toBe('succeeded');
    const charge = await h.stripe.charges.retrieve(pi.latest_charge as string);
    expect(charge.disputed).toBe(true);
    expect(await eventTypes()).toEqual(['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded', 'charge.dispute.created']);
    const dispute = h.received[3]!.data.object as Stripe.Dispute;
    expect(dispute.id).toMatch(/^dp_/);

    const retrieved = await h.stripe.disputes.retrieve(dispute.id);
    expect(retrieved).toMatchObject({
      object: 'dispute',
      status: 'needs_response',
      reason: 'fraudulent',
      amount: 5000,
      currency: 'usd',
      charge: charge.id,
      payment_intent: pi.id,
      is_charge_refundable: false,
      balance_transactions: [],
      evidence: { customer_name: null, uncategorized_text: null },
      evidence_details: { has_evidence: false, past_due: false, submission_count: 0 },
    });
    expect((await h.stripe.disputes.list({ charge: charge.id })).data.map((d) => d.id)).toEqual([dispute.id]);
    expect((await h.stripe.disputes.list({ payment_intent: 'pi_other' })).data).toEqual([]);

    await expect(h.stripe.refunds.create({ charge: charge.id })).rejects.toMatchObject({ statusCode: 400, code: 'charge_disputed' });

    const closed = await h.stripe.disputes.close(dispute.id);
    expect(closed.status).toBe('lost');
    await h.sandbox.flushWebhooks();
    expect(h.received.at(-1)!.type).toBe('charge.dispute.closed');
    await expect(h.stripe.disputes.close(dispute.id)).rejects.toMatchObject({ statusCode: 400 });
  });
});
