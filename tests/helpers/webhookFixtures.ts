// Stripe webhook events for one order of ours, as Stripe sends them at API 2026-10-28.endive, kept in
// tests/webhooks/fixtures/<event type>.json and checked against Stripe's OpenAPI description by
// tests/webhooks/fixtures.test.ts.
//
// The story: an order for the Business Plan Builder (9900 usd) is paid through Checkout Session
// cs_test_fixture0001 and its PaymentIntent pi_fixture0001, for Stripe customer cus_fixture0001.
// The first card is declined (insufficient funds, charge ch_fixture0000), the second needs 3-D Secure
// and then succeeds (charge ch_fixture0001). A week later the charge is refunded in full
// (re_fixture0001); the refund succeeds, then fails because the card was closed, and the customer
// disputes the charge (dp_fixture0001): evidence submitted, dispute lost. Alongside, the customer
// takes a monthly subscription (sub_fixture0001, 9900/month) with a 7-day trial and no payment
// method: it pauses at the trial's end, our resume's invoice (in_fixture0001) is declined then paid,
// the subscription resumes, is set to cancel at period end, and ends. While collection is paused with
// mark_uncollectible, a switch of track invoiced at once makes a proration invoice (in_fixture0002,
// 4900) that Stripe marks uncollectible as it is finalized; it is later voided from the dashboard.
// Other endings of the same session, at the time they would happen: paid by US bank account instead
// (payment_intent.processing, checkout.session.async_payment_succeeded / _failed), or abandoned
// (checkout.session.expired, then payment_intent.canceled). `created` increases in FIXTURE_TYPES' order.
//
// Placeholders: "{{ORDER_ID}}" and "{{CUSTOMER_ID}}" (our ids, in metadata, client_reference_id, the
// Checkout return URLs and our idempotency keys); loadFixture fills them in.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type Stripe from 'stripe';

/** Every fixture's event type, in the order of the story (and of `created`). */
export const FIXTURE_TYPES = [
  'payment_intent.payment_failed',
  'payment_intent.requires_action',
  'payment_intent.processing',
  'payment_intent.succeeded',
  'checkout.session.completed',
  'customer.subscription.created',
  'checkout.session.expired',
  'payment_intent.canceled',
  'checkout.session.async_payment_succeeded',
  'checkout.session.async_payment_failed',
  'charge.refunded',
  'refund.updated',
  'customer.subscription.paused',
  'invoice.payment_failed',
  'invoice.paid',
  'customer.subscription.resumed',
  'refund.failed',
  'invoice.marked_uncollectible',
  'invoice.voided',
  'charge.dispute.created',
  'charge.dispute.updated',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'charge.dispute.closed',
] as const;

export type FixtureType = (typeof FIXTURE_TYPES)[number];

/** The SDK's type for an event of this type (data.object typed as its resource). */
export type FixtureEvent<T extends FixtureType> = Extract<Stripe.Event, { type: T }>;

export const FIXTURES_DIR = new URL('../webhooks/fixtures/', import.meta.url);

export const PLACEHOLDERS = { orderId: '{{ORDER_ID}}', customerId: '{{CUSTOMER_ID}}' } as const;

/** The Stripe ids the fixtures share. */
export const FIXTURE_IDS = {
  paymentIntent: 'pi_fixture0001',
  charge: 'ch_fixture0001',
  declinedCharge: 'ch_fixture0000',
  checkoutSession: 'cs_test_fixture0001',
  refund: 're_fixture0001',
  dispute: 'dp_fixture0001',
  customer: 'cus_fixture0001',
  subscription: 'sub_fixture0001',
  invoice: 'in_fixture0001',
  /** The proration invoice marked uncollectible, then voided. */
  prorationInvoice: 'in_fixture0002',
} as const;

/** Objects merge key by key; anything else (arrays included) replaces. */
export type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

export interface LoadFixtureOptions<T extends FixtureType> {
  /** Our order id, for "{{ORDER_ID}}". */
  orderId: string;
  /** Our customer id, for "{{CUSTOMER_ID}}". */
  customerId: string;
  /**
   * Deep-merged into the event after the placeholders are filled, e.g.
   * `{ data: { object: { amount: 4900 } } }`. A key given as `undefined` is removed.
   */
  overrides?: DeepPartial<FixtureEvent<T>>;
  /** Give the event a new, unique id (another delivery of "the same" change is a new event). */
  freshId?: boolean;
}

const raw = new Map<FixtureType, string>();

/** The fixture file's text, placeholders and all. */
export function rawFixture(type: FixtureType): string {
  let text = raw.get(type);
  if (text === undefined) {
    text = readFileSync(new URL(`${type}.json`, FIXTURES_DIR), 'utf8');
    raw.set(type, text);
  }
  return text;
}

/** A fresh id in Stripe's form: `evt_` and 24 characters. */
export const newEventId = (): string => `evt_${randomBytes(12).toString('hex')}`;

/** The event of this type with our ids in place of the placeholders: a new copy on every call. */
export function loadFixture<T extends FixtureType>(type: T, options: LoadFixtureOptions<T>): FixtureEvent<T> {
  const { orderId, customerId, overrides, freshId = false } = options;
  for (const [name, value] of Object.entries({ orderId, customerId })) {
    if (typeof value !== 'string' || value === '') throw new Error(`loadFixture(${type}): ${name} must be a non-empty string`);
  }
  const fill = (value: unknown): unknown => {
    if (typeof value === 'string') return value.replaceAll(PLACEHOLDERS.orderId, orderId).replaceAll(PLACEHOLDERS.customerId, customerId);
    if (Array.isArray(value)) return value.map(fill);
    if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v)]));
    return value;
  };
  let event = fill(JSON.parse(rawFixture(type))) as Record<string, unknown>;
  if (overrides) event = merge(event, overrides as Record<string, unknown>);
  if (freshId) event.id = newEventId();
  return event as unknown as FixtureEvent<T>;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

function merge(target: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) delete out[key];
    else if (isPlainObject(value) && isPlainObject(out[key])) out[key] = merge(out[key], value);
    else out[key] = structuredClone(value);
  }
  return out;
}
