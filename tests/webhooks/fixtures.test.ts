// The webhook fixtures (tests/webhooks/fixtures/*.json): one event per type the webhook applier
// handles, shaped as Stripe sends them, conforming to Stripe's OpenAPI description (through
// tests/helpers/stripeSchema.ts, with its excused fields only), telling one order's story, with our
// ids as placeholders that loadFixture fills in.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { stripeSchemaErrors, stripeShapeProblems } from '../helpers/stripeSchema';
import { FIXTURE_IDS, FIXTURE_TYPES, FIXTURES_DIR, loadFixture, PLACEHOLDERS } from '../helpers/webhookFixtures';

type Json = Record<string, any>;

const files = readdirSync(FIXTURES_DIR).filter((f) => !f.startsWith('.'));
const text = (type: string) => readFileSync(new URL(`${type}.json`, FIXTURES_DIR), 'utf8');
const fixture = (type: string) => JSON.parse(text(type)) as Json;
const object = (type: string) => fixture(type).data.object as Json;

/** The schema each event type's data.object must match. */
function resourceOf(type: string): string {
  if (type.startsWith('payment_intent.')) return 'payment_intent';
  if (type.startsWith('checkout.session.')) return 'checkout.session';
  if (type.startsWith('charge.dispute.')) return 'dispute';
  if (type.startsWith('charge.')) return 'charge';
  if (type.startsWith('refund.')) return 'refund';
  if (type.startsWith('customer.subscription.')) return 'subscription';
  if (type.startsWith('invoice.')) return 'invoice';
  throw new Error(`no resource for ${type}`);
}

/** The object with previous_attributes put back: hashes merge key by key, anything else replaces. */
function withPrevious(object: Json, previous: Json): Json {
  const out: Json = { ...object };
  for (const [key, value] of Object.entries(previous)) {
    const isHash = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
    out[key] = isHash(value) && isHash(out[key]) ? withPrevious(out[key], value) : value;
  }
  return out;
}

const OUR_METADATA = { order_id: PLACEHOLDERS.orderId, customer_id: PLACEHOLDERS.customerId, track: 'business_plan_builder', attempt: '1' };

describe('the fixture files', () => {
  it('are one file per event type we handle, named by type, and nothing else', () => {
    expect(files.every((f) => f.endsWith('.json'))).toBe(true);
    // FIXTURE_TYPES is issue 5's list of handled event types, with invoice.marked_uncollectible and
    // invoice.voided (24, each once).
    expect(new Set(FIXTURE_TYPES).size).toBe(24);
    expect(files.map((f) => f.slice(0, -'.json'.length)).sort()).toEqual([...FIXTURE_TYPES].sort());
    for (const type of FIXTURE_TYPES) expect(fixture(type).type, type).toBe(type);
  });

  it('are pretty-printed with two spaces, as Stripe sends them', () => {
    for (const type of FIXTURE_TYPES) expect(text(type), type).toBe(`${JSON.stringify(fixture(type), null, 2)}\n`);
  });

  it('have unique event ids, and `created` increasing in the order of the story', () => {
    const events = FIXTURE_TYPES.map(fixture);
    const ids = events.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^evt_[A-Za-z0-9]+$/);
    const created = events.map((e) => e.created as number);
    for (let i = 1; i < created.length; i++) expect(created[i]!, `${FIXTURE_TYPES[i]} after ${FIXTURE_TYPES[i - 1]}`).toBeGreaterThan(created[i - 1]!);
    // Each object exists before the event about it.
    for (const event of events) expect(event.data.object.created, event.type).toBeLessThanOrEqual(event.created);
  });
});

describe.each(FIXTURE_TYPES)('%s', (type) => {
  it('is an event envelope matching the spec’s event schema', () => {
    const event = fixture(type);
    expect(stripeShapeProblems(event, 'event')).toEqual([]);
    expect(Object.keys(event)).toEqual(['id', 'object', 'api_version', 'created', 'data', 'livemode', 'pending_webhooks', 'request', 'type']);
    expect(event).toMatchObject({ object: 'event', api_version: '2026-10-28.endive', livemode: false, pending_webhooks: 1, type });
    expect(Object.keys(event.request)).toEqual(['id', 'idempotency_key']);
    // previous_attributes: only on *.updated events; the old values of what changed, so the object
    // with them put back is the object as it was, which must match the schema too.
    if (type.endsWith('.updated')) {
      expect(Object.keys(event.data)).toEqual(['object', 'previous_attributes']);
      const previous = event.data.previous_attributes as Json;
      expect(Object.keys(previous).length).toBeGreaterThan(0);
      const before = withPrevious(event.data.object, previous);
      expect(before).not.toEqual(event.data.object);
      expect(stripeSchemaErrors(resourceOf(type), before)).toEqual([]);
    } else {
      expect(Object.keys(event.data)).toEqual(['object']);
    }
  }, 30_000);

  it(`carries a full ${resourceOf(type)} matching its schema`, () => {
    const inner = object(type);
    expect(inner.object).toBe(resourceOf(type));
    if (resourceOf(type) !== 'refund') expect(inner.livemode).toBe(false); // a refund has no livemode
    expect(stripeShapeProblems(inner)).toEqual([]);
    // Resources embedded whole are checked the same way.
    for (const item of inner.items?.data ?? []) expect(stripeShapeProblems(item, 'subscription_item')).toEqual([]);
    for (const line of inner.lines?.data ?? []) expect(stripeShapeProblems(line, 'line_item')).toEqual([]);
    for (const refund of inner.refunds?.data ?? []) expect(stripeShapeProblems(refund, 'refund')).toEqual([]);
  }, 30_000);
});

describe('one order’s story', () => {
  it('PaymentIntent: our order, 9900 usd, a status for each event', () => {
    const expected: Record<string, Json> = {
      'payment_intent.payment_failed': { status: 'requires_payment_method', amount_received: 0, latest_charge: FIXTURE_IDS.declinedCharge, next_action: null },
      'payment_intent.requires_action': { status: 'requires_action', last_payment_error: null, next_action: { type: 'redirect_to_url' } },
      'payment_intent.processing': { status: 'processing', amount_received: 0, last_payment_error: null },
      'payment_intent.succeeded': { status: 'succeeded', amount_received: 9900, latest_charge: FIXTURE_IDS.charge, last_payment_error: null },
      'payment_intent.canceled': { status: 'canceled', cancellation_reason: 'automatic', amount_received: 0 },
    };
    for (const [type, fields] of Object.entries(expected)) {
      const pi = object(type);
      expect(pi, type).toMatchObject({ id: FIXTURE_IDS.paymentIntent, amount: 9900, currency: 'usd', customer: FIXTURE_IDS.customer, metadata: OUR_METADATA, ...fields });
      expect(Object.keys(pi.metadata)).toEqual(['order_id', 'customer_id', 'track', 'attempt']);
    }
    expect(object('payment_intent.canceled').canceled_at).toBe(fixture('payment_intent.canceled').created);
    const error = object('payment_intent.payment_failed').last_payment_error;
    expect(error).toMatchObject({ type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds', charge: FIXTURE_IDS.declinedCharge });
    expect(stripeShapeProblems(error, 'api_errors')).toEqual([]);
  });

  it('Checkout Session: our order, paying through the PaymentIntent, a status for each event', () => {
    const expected: Record<string, Json> = {
      'checkout.session.completed': { status: 'complete', payment_status: 'paid' },
      'checkout.session.async_payment_succeeded': { status: 'complete', payment_status: 'paid' },
      'checkout.session.async_payment_failed': { status: 'complete', payment_status: 'unpaid' },
      'checkout.session.expired': { status: 'expired', payment_status: 'unpaid' },
    };
    for (const [type, fields] of Object.entries(expected)) {
      expect(object(type), type).toMatchObject({
        id: FIXTURE_IDS.checkoutSession,
        mode: 'payment',
        payment_intent: FIXTURE_IDS.paymentIntent,
        client_reference_id: PLACEHOLDERS.orderId,
        amount_total: 9900,
        currency: 'usd',
        customer: FIXTURE_IDS.customer,
        metadata: OUR_METADATA,
        url: null,
        ...fields,
      });
    }
  });

  it('Charge, refund and dispute: the order’s charge refunded in full, the refund failing, the charge disputed', () => {
    expect(object('charge.refunded')).toMatchObject({
      id: FIXTURE_IDS.charge,
      payment_intent: FIXTURE_IDS.paymentIntent,
      amount: 9900,
      amount_captured: 9900,
      amount_refunded: 9900,
      refunded: true,
      status: 'succeeded',
      metadata: OUR_METADATA,
      refunds: { data: [{ id: FIXTURE_IDS.refund, status: 'pending' }] },
    });
    const refund = { id: FIXTURE_IDS.refund, amount: 9900, currency: 'usd', charge: FIXTURE_IDS.charge, payment_intent: FIXTURE_IDS.paymentIntent, metadata: OUR_METADATA };
    expect(object('refund.updated')).toMatchObject({ ...refund, status: 'succeeded' });
    expect(fixture('refund.updated').data.previous_attributes).toMatchObject({ status: 'pending' });
    expect(object('refund.failed')).toMatchObject({ ...refund, status: 'failed', failure_reason: 'expired_or_canceled_card' });
    const dispute = { id: FIXTURE_IDS.dispute, amount: 9900, currency: 'usd', charge: FIXTURE_IDS.charge, payment_intent: FIXTURE_IDS.paymentIntent };
    expect(object('charge.dispute.created')).toMatchObject({ ...dispute, status: 'needs_response', evidence_details: { has_evidence: false } });
    expect(object('charge.dispute.updated')).toMatchObject({ ...dispute, status: 'under_review', evidence_details: { has_evidence: true } });
    expect(fixture('charge.dispute.updated').data.previous_attributes).toMatchObject({ status: 'needs_response' });
    expect(['won', 'lost']).toContain(object('charge.dispute.closed').status);
  });

  it('Subscription and invoice: the customer’s, with our ids in metadata', () => {
    const expected: Record<string, Json> = {
      'customer.subscription.created': { status: 'trialing' },
      'customer.subscription.paused': { status: 'paused' },
      'customer.subscription.resumed': { status: 'active', latest_invoice: FIXTURE_IDS.invoice },
      'customer.subscription.updated': { status: 'active', cancel_at_period_end: true },
      'customer.subscription.deleted': { status: 'canceled' },
    };
    for (const [type, fields] of Object.entries(expected)) {
      expect(object(type), type).toMatchObject({ id: FIXTURE_IDS.subscription, customer: FIXTURE_IDS.customer, currency: 'usd', metadata: OUR_METADATA, ...fields });
      // At this API version the billing period is on each item, not on the subscription.
      const item = object(type).items.data[0];
      expect(item).toMatchObject({ price: { unit_amount: 9900, currency: 'usd' }, subscription: FIXTURE_IDS.subscription });
      expect(item.current_period_end).toBeGreaterThan(item.current_period_start);
      expect(object(type)).not.toHaveProperty('current_period_start');
    }
    expect(fixture('customer.subscription.updated').data.previous_attributes).toMatchObject({ cancel_at_period_end: false });
    const invoice = {
      id: FIXTURE_IDS.invoice,
      customer: FIXTURE_IDS.customer,
      amount_due: 9900,
      currency: 'usd',
      metadata: OUR_METADATA,
      parent: { type: 'subscription_details', subscription_details: { subscription: FIXTURE_IDS.subscription, metadata: OUR_METADATA } },
    };
    expect(object('invoice.payment_failed')).toMatchObject({ ...invoice, status: 'open', amount_paid: 0, attempted: true });
    expect(object('invoice.paid')).toMatchObject({ ...invoice, status: 'paid', amount_paid: 9900, amount_remaining: 0 });
    expect(object('invoice.paid')).not.toHaveProperty('subscription');
    // The proration invoice: marked uncollectible as it was finalized, then voided; nothing ever paid.
    const proration = { ...invoice, id: FIXTURE_IDS.prorationInvoice, amount_due: 4900, amount_paid: 0, billing_reason: 'subscription_update', attempted: false };
    expect(object('invoice.marked_uncollectible')).toMatchObject({ ...proration, status: 'uncollectible', amount_remaining: 4900 });
    expect(object('invoice.marked_uncollectible').status_transitions).toMatchObject({ marked_uncollectible_at: fixture('invoice.marked_uncollectible').created, voided_at: null });
    expect(object('invoice.voided')).toMatchObject({ ...proration, status: 'void', amount_remaining: 0 });
    expect(object('invoice.voided').status_transitions).toMatchObject({ voided_at: fixture('invoice.voided').created });
  });

  it('placeholders appear where stated and nowhere else', () => {
    // Our ids reach Stripe in metadata, client_reference_id, the Checkout return URLs and our own idempotency keys.
    const allowed = [/\.metadata\.(order_id|customer_id)$/, /^data\.object\.client_reference_id$/, /^data\.object\.(success_url|cancel_url)$/, /^request\.idempotency_key$/];
    const found = (value: unknown, path: string, out: Array<[string, string]>): Array<[string, string]> => {
      if (typeof value === 'string') for (const p of value.match(/\{\{[^}]*\}\}/g) ?? []) out.push([path, p]);
      else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) found(v, path ? `${path}.${k}` : k, out);
      return out;
    };
    for (const type of FIXTURE_TYPES) {
      for (const [path, placeholder] of found(fixture(type), '', [])) {
        expect([PLACEHOLDERS.orderId, PLACEHOLDERS.customerId], `${type} ${path}`).toContain(placeholder);
        expect(allowed.some((re) => re.test(path)), `${type} ${path}`).toBe(true);
      }
      const metadata = object(type).metadata;
      // Stripe copies no metadata onto a dispute; every other object carries ours.
      if (resourceOf(type) === 'dispute') expect(metadata, type).toEqual({});
      else expect(metadata, type).toEqual(OUR_METADATA);
    }
  });
});

describe('loadFixture', () => {
  const orderId = '6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b';
  const customerId = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

  it('fills in our ids everywhere and leaves nothing of the placeholders', () => {
    for (const type of FIXTURE_TYPES) {
      const event = loadFixture(type, { orderId, customerId });
      const json = JSON.stringify(event);
      expect(json, type).not.toContain('{{');
      expect(event.id).toBe(fixture(type).id);
    }
    const session = loadFixture('checkout.session.completed', { orderId, customerId }).data.object;
    expect(session.client_reference_id).toBe(orderId);
    expect(session.metadata).toEqual({ order_id: orderId, customer_id: customerId, track: 'business_plan_builder', attempt: '1' });
    expect(session.success_url).toContain(`order_id=${orderId}`);
    const invoice = loadFixture('invoice.paid', { orderId, customerId }).data.object;
    expect(invoice.parent?.subscription_details?.metadata).toMatchObject({ order_id: orderId, customer_id: customerId });
  });

  it('gives a fresh, unique event id when asked', () => {
    const ids = new Set([fixture('payment_intent.succeeded').id]);
    for (let i = 0; i < 20; i++) ids.add(loadFixture('payment_intent.succeeded', { orderId, customerId, freshId: true }).id);
    expect(ids.size).toBe(21);
    for (const id of ids) expect(id).toMatch(/^evt_[A-Za-z0-9]+$/);
  });

  it('deep-merges overrides, and returns a new copy every time', () => {
    const event = loadFixture('payment_intent.succeeded', {
      orderId,
      customerId,
      overrides: { created: 1_800_000_000, data: { object: { amount: 4900, amount_received: 4900, metadata: { attempt: '2' } } } },
    });
    expect(event.created).toBe(1_800_000_000);
    expect(event.data.object).toMatchObject({ id: FIXTURE_IDS.paymentIntent, amount: 4900, amount_received: 4900, status: 'succeeded' });
    expect(event.data.object.metadata).toEqual({ order_id: orderId, customer_id: customerId, track: 'business_plan_builder', attempt: '2' });
    const removed = loadFixture('payment_intent.succeeded', { orderId, customerId, overrides: { data: { object: { description: undefined } } } });
    expect(removed.data.object).not.toHaveProperty('description');
    expect(loadFixture('payment_intent.succeeded', { orderId, customerId }).data.object.amount).toBe(9900);
  });

  it('returns events that still match the spec with real ids in them', () => {
    for (const type of FIXTURE_TYPES) {
      const event = loadFixture(type, { orderId, customerId, freshId: true }) as unknown as Json;
      expect(stripeShapeProblems(event, 'event'), type).toEqual([]);
      expect(stripeShapeProblems(event.data.object), type).toEqual([]);
    }
  }, 30_000);

  it('refuses a missing id', () => {
    expect(() => loadFixture('invoice.paid', { orderId: '', customerId })).toThrow(/orderId/);
  });
});
