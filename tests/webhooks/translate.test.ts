// What each event means for the applier, as a pure function of its payload: the effect, the object's
// state for object order, our ids from the metadata, and an error (never a guess) for a payload that
// cannot be read.
import { describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import { HANDLED_EVENT_TYPES, reasonToIgnore, translateEvent } from '../../server/webhooks/translate';
import { FIXTURE_TYPES, type FixtureType, loadFixture } from '../helpers/webhookFixtures';

const ORDER = '6f1c1a52-3f0e-4b8e-9d43-0d6f3c1e2a10';
const CUSTOMER = '0b7f2a9e-52c4-4f55-8a2e-7f0e6e1f3b21';
const event = (type: FixtureType, overrides?: object) => loadFixture(type, { orderId: ORDER, customerId: CUSTOMER, overrides: overrides as never }) as Stripe.Event;
const facts = (type: FixtureType, overrides?: object) => translateEvent(event(type, overrides), { expectLive: false });

describe('which events are applied', () => {
  it('handles exactly the 24 types the fixtures cover', () => {
    expect([...HANDLED_EVENT_TYPES].sort()).toEqual([...FIXTURE_TYPES].sort());
  });

  it('ignores another type, and the other mode, with a reason', () => {
    expect(reasonToIgnore({ livemode: false, type: 'customer.created' }, false)).toBe('unhandled event type customer.created');
    expect(reasonToIgnore({ livemode: true, type: 'payment_intent.succeeded' }, false)).toBe('live-mode event, but this server runs in test mode');
    expect(reasonToIgnore({ livemode: false, type: 'payment_intent.succeeded' }, true)).toBe('test-mode event, but this server runs in live mode');
    expect(reasonToIgnore({ livemode: false, type: 'payment_intent.succeeded' }, false)).toBeNull();
    expect(facts('payment_intent.succeeded', { livemode: true })).toMatchObject({ effect: 'ignore' });
  });
});

describe('payments', () => {
  it('a succeeded PaymentIntent: paid, terminal, with our order, attempt and track', () => {
    expect(facts('payment_intent.succeeded')).toMatchObject({
      effect: 'payment',
      object: { id: 'pi_fixture0001', type: 'payment_intent', state: 'succeeded', rank: 5, terminal: true },
      payment: { kind: 'payment_intent', order_id: ORDER, attempt: 1, order_status: 'paid', charge_id: 'ch_fixture0001', amount: 9900, currency: 'usd', failure: null },
      owner: { track: 'business_plan_builder', customer_id: CUSTOMER, email: 'jenny.rosen@example.com' },
    });
  });

  it('a declined PaymentIntent: failed (payable again), with the decline code', () => {
    expect(facts('payment_intent.payment_failed')).toMatchObject({
      object: { state: 'requires_payment_method', rank: 0, terminal: false },
      payment: { order_status: 'failed', failure: { code: 'insufficient_funds' } },
    });
  });

  it('a canceled PaymentIntent retires its attempt; 3-D Secure and processing are on the way', () => {
    expect(facts('payment_intent.canceled')).toMatchObject({ object: { terminal: true }, payment: { attempt_status: 'canceled', order_status: 'pending' } });
    expect(facts('payment_intent.requires_action')).toMatchObject({ object: { rank: 2 }, payment: { order_status: 'requires_action' } });
    expect(facts('payment_intent.processing')).toMatchObject({ object: { rank: 3 }, payment: { order_status: 'processing' } });
  });

  it("a session's state is its status with its payment status; a failed delayed payment is its own state", () => {
    expect(facts('checkout.session.completed')).toMatchObject({
      object: { id: 'cs_test_fixture0001', state: 'complete:paid', terminal: true },
      payment: { kind: 'checkout_session', order_status: 'paid', payment_intent_id: 'pi_fixture0001', payment_status: 'succeeded' },
      owner: { email: 'jenny.rosen@example.com' },
    });
    expect(facts('checkout.session.completed', { data: { object: { payment_status: 'unpaid' } } })).toMatchObject({
      object: { state: 'complete:unpaid', rank: 1, terminal: false },
      payment: { order_status: 'processing' },
    });
    expect(facts('checkout.session.async_payment_failed')).toMatchObject({ object: { state: 'complete:failed', terminal: true }, payment: { order_status: 'failed' } });
    expect(facts('checkout.session.expired')).toMatchObject({ object: { state: 'expired' }, payment: { attempt_status: 'expired' } });
  });

  it('metadata that is not ours reads as no ids (an attempt must be a positive integer)', () => {
    const translated = facts('payment_intent.succeeded', { data: { object: { metadata: { order_id: '', attempt: '1.5', track: undefined } } } });
    expect(translated).toMatchObject({ payment: { order_id: null, attempt: null }, owner: { track: null } });
  });
});

describe('refunds, disputes, subscriptions, invoices', () => {
  it('charge.refunded with its refunds list gives each refund; without it, Stripe must be asked', () => {
    expect(facts('charge.refunded')).toMatchObject({
      effect: 'refunds',
      charge: { payment_intent_id: 'pi_fixture0001', charge_id: 'ch_fixture0001', amount: 9900, order_id: ORDER },
      refunds: [{ object: { id: 're_fixture0001', state: 'pending', rank: 0 }, amount: 9900, status: 'pending' }],
    });
    expect(facts('charge.refunded', { data: { object: { refunds: undefined } } })).toMatchObject({ effect: 'retrieve' });
    expect(facts('charge.refunded', { data: { object: { refunds: { has_more: true } } } })).toMatchObject({ effect: 'retrieve' });
  });

  it('a refund whose status Stripe leaves null (its API says nullable) is pending, not an unreadable payload', () => {
    expect(facts('refund.updated', { data: { object: { status: null } } })).toMatchObject({
      effect: 'refunds',
      refunds: [{ object: { state: 'pending', rank: 0, terminal: false }, status: 'pending' }],
    });
  });

  it('a refund that failed is terminal; a dispute names our order only through an expanded PaymentIntent', () => {
    expect(facts('refund.failed')).toMatchObject({ refunds: [{ object: { state: 'failed', terminal: true } }] });
    expect(facts('charge.dispute.created')).toMatchObject({ effect: 'dispute', charge: { order_id: null }, object: { state: 'needs_response', rank: 0 } });
    const expanded = facts('charge.dispute.created', { data: { object: { payment_intent: { id: 'pi_fixture0001', object: 'payment_intent', metadata: { order_id: ORDER } } } } });
    expect(expanded).toMatchObject({ charge: { payment_intent_id: 'pi_fixture0001', order_id: ORDER } });
    expect(facts('charge.dispute.closed')).toMatchObject({ object: { state: 'lost', terminal: true } });
  });

  it("a subscription's state holds everything we keep of it, ranked by its status", () => {
    const updated = facts('customer.subscription.updated');
    expect(updated).toMatchObject({
      effect: 'subscription',
      object: { id: 'sub_fixture0001', rank: 2, terminal: false },
      subscription: { status: 'active', stripe_customer_id: 'cus_fixture0001', customer_id: CUSTOMER, order_id: ORDER, price_id: 'price_fixture0002', cancel_at_period_end: true },
    });
    expect((updated as { object: { state: string } }).object.state).toMatch(/^active\|price_fixture0002\|\d+\|true\|/);
    expect(facts('customer.subscription.deleted')).toMatchObject({ object: { rank: 3, terminal: true } });
  });

  it('an invoice: what was paid, or what is due, and its subscription', () => {
    expect(facts('invoice.paid')).toMatchObject({ effect: 'invoice', object: { state: 'paid', terminal: true }, invoice: { amount: 9900, subscription_id: 'sub_fixture0001', customer_id: CUSTOMER, failure: null } });
    expect(facts('invoice.payment_failed')).toMatchObject({ object: { state: 'open', terminal: false }, invoice: { failure: { attempt_count: expect.any(Number) } } });
  });

  it("an invoice's price is the one its own lines billed: the period's charge, else a proration invoice's positive line", () => {
    expect(facts('invoice.paid')).toMatchObject({ invoice: { price_id: 'price_fixture0002' } });
    // A switch invoiced at once: the old price's unused time credited, the new price's remaining time charged.
    const paid = event('invoice.paid');
    const [line] = (paid.data.object as Stripe.Invoice).lines.data as [Stripe.InvoiceLineItem];
    const lineOf = (price: string, amount: number, proration: boolean): Stripe.InvoiceLineItem => ({
      ...line,
      amount,
      pricing: { ...line.pricing!, price_details: { ...line.pricing!.price_details!, price } },
      parent: { ...line.parent!, subscription_item_details: { ...line.parent!.subscription_item_details!, proration } },
    });
    const withLines = (...lines: Stripe.InvoiceLineItem[]) => {
      const e = structuredClone(paid);
      (e.data.object as Stripe.Invoice).lines.data = lines;
      return translateEvent(e, { expectLive: false });
    };
    expect(withLines(lineOf('price_old', -2600, true), lineOf('price_new', 6200, true))).toMatchObject({ invoice: { price_id: 'price_new' } });
    // A renewal carrying a switch's pending prorations: the period's charge names the price, not a larger proration.
    expect(withLines(lineOf('price_old', -2600, true), lineOf('price_new', 16200, true), lineOf('price_new2', 9900, false))).toMatchObject({ invoice: { price_id: 'price_new2' } });
    // A line that is not the subscription's item's (a one-off invoice item) names nothing; neither does a credit alone.
    expect(withLines({ ...lineOf('price_other', 9900, false), parent: { type: 'invoice_item_details', invoice_item_details: null, subscription_item_details: null } } as never)).toMatchObject({ invoice: { price_id: null } });
    expect(withLines(lineOf('price_old', -2600, true))).toMatchObject({ invoice: { price_id: null } });
    expect(withLines()).toMatchObject({ invoice: { price_id: null } });
  });

  it('an invoice marked uncollectible or voided: its status, what is due and nothing paid; only void is final', () => {
    const invoice = { amount: 4900, amount_due: 4900, amount_paid: 0, subscription_id: 'sub_fixture0001', customer_id: CUSTOMER, failure: null };
    const uncollectible = facts('invoice.marked_uncollectible');
    expect(uncollectible).toMatchObject({ effect: 'invoice', object: { id: 'in_fixture0002', state: 'uncollectible', terminal: false }, invoice: { ...invoice, status: 'uncollectible' } });
    const voided = facts('invoice.voided');
    expect(voided).toMatchObject({ effect: 'invoice', object: { id: 'in_fixture0002', state: 'void', terminal: true }, invoice: { ...invoice, status: 'void' } });
    // Stripe still lets an uncollectible invoice be paid or voided: those rank above it, open below it.
    const rank = (f: ReturnType<typeof facts>) => (f as { object: { rank: number } }).object.rank;
    expect(rank(facts('invoice.paid'))).toBeGreaterThan(rank(uncollectible));
    expect(rank(voided)).toBeGreaterThan(rank(uncollectible));
    expect(rank(uncollectible)).toBeGreaterThan(rank(facts('invoice.payment_failed')));
  });
});

describe('payloads that cannot be read are errors, never guesses', () => {
  it.each([
    ['payment_intent.succeeded', { data: { object: { id: 42 } } }, 'data.object has no id'],
    ['payment_intent.succeeded', { data: { object: { status: 'teleported' } } }, 'unknown payment_intent status "teleported"'],
    ['payment_intent.succeeded', { data: { object: { amount: -1 } } }, 'amount is not an amount'],
    ['payment_intent.succeeded', { data: { object: { currency: 'US Dollars' } } }, 'currency is not an ISO code'],
    ['checkout.session.completed', { data: { object: { amount_total: null } } }, 'amount_total is not an amount'],
    ['refund.updated', { data: { object: { status: 'teleported' } } }, 'unknown refund status "teleported"'],
    ['charge.dispute.created', { data: { object: { amount: 1.5 } } }, 'amount is not an amount'],
    ['customer.subscription.created', { data: { object: { status: 'zombie' } } }, 'unknown subscription status "zombie"'],
    ['invoice.paid', { data: { object: { amount_paid: '9900' } } }, 'amount_paid is not an amount'],
  ] as const)('%s with %j', (type, overrides, message) => {
    expect(facts(type, overrides)).toEqual({ event_id: expect.any(String), type, created: expect.any(Number), retrieved: false, effect: 'error', error: `unreadable ${type} payload: ${message}` });
  });

  it('an event with no data at all', () => {
    const broken = { ...event('payment_intent.succeeded'), data: undefined } as unknown as Stripe.Event;
    expect(translateEvent(broken, { expectLive: false })).toMatchObject({ effect: 'error', error: expect.stringContaining('data.object has no id') });
  });
});
