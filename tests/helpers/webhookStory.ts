// One order of ours and the fixture events of its story (tests/helpers/webhookFixtures.ts), with every
// Stripe id made unique to the story, so many stories share one database without meeting. Events are
// delivered signed over real HTTP (deliver) or stored straight through the SQL the endpoint uses
// (store), and applied by the server's own applier.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { beginCheckout, recordAttempt } from '../../server/checkout/checkout.sql';
import type { Db } from '../../server/platform/db/db';
import { WEBHOOK_PATH } from '../../server/api/http/webhookRoute';
import { type EventFacts, translateEvent } from '../../server/webhooks/translate';
import type { StripeSandbox } from '../../stripe-sandbox/sandbox';
import { FIXTURE_TYPES, type FixtureEvent, type FixtureType, type LoadFixtureOptions, loadFixture } from './webhookFixtures';

export const WEBHOOK_TEST_SECRET = 'whsec_webhookApplyTestSecret0001';

export interface Story {
  orderId: string;
  customerId: string;
  /** The story's suffix on every fixture id: `pi_fixture0001` is `pi_fixture0001_<suffix>`. */
  suffix: string;
  /** A fixture id as this story has it. */
  id: (fixtureId: string) => string;
  /** The fixture event of this type, with this story's ids. */
  event: <T extends FixtureType>(type: T, options?: Pick<LoadFixtureOptions<T>, 'overrides' | 'freshId'>) => FixtureEvent<T>;
}

export type StoryPayment = 'checkout_session' | 'payment_intent';

const FIXTURE_ID = /\b((?:[a-z]+_)(?:test_)?fixture\d{4})\b/g;

/**
 * A pending order for the Business Plan Builder (9900 usd), made the way the storefront makes one,
 * whose payment attempt holds the story's Checkout Session (or, for 'payment_intent', its
 * PaymentIntent). With `order: false` no order exists: the events' metadata names one we never made.
 */
export async function newStory(db: Db, options: { payment?: StoryPayment; order?: boolean } = {}): Promise<Story> {
  const payment = options.payment ?? 'checkout_session';
  const suffix = randomBytes(5).toString('hex');
  const id = (fixtureId: string) => `${fixtureId}_${suffix}`;
  let orderId: string = randomUUID();
  let customerId: string = randomUUID();
  if (options.order !== false) {
    const key = `story-${suffix}`;
    const begun = await beginCheckout(db, {
      scope: 'test:webhooks',
      key,
      operation: payment === 'payment_intent' ? 'createPaymentIntent' : 'createCheckoutSession',
      request_hash: createHash('sha256').update(key).digest('hex'),
      kind: payment,
      track: 'business_plan_builder',
      order_id: null,
      user_id: null,
      email: `story-${suffix}@customers.test`,
      email_from_sign_in: false,
      name: null,
      metadata: {},
      actor: 'test',
    });
    if (begun.outcome !== 'attempt') throw new Error(`could not begin the story's checkout: ${JSON.stringify(begun)}`);
    await recordAttempt(db, {
      attempt_id: begun.attempt.id,
      object_id: id(payment === 'payment_intent' ? 'pi_fixture0001' : 'cs_test_fixture0001'),
      scope: 'test:webhooks',
      key,
      actor: 'test',
    });
    orderId = begun.order.id;
    customerId = begun.order.customer_id;
  }
  return {
    orderId,
    customerId,
    suffix,
    id,
    event(type, eventOptions = {}) {
      const event = loadFixture(type, { orderId, customerId, ...eventOptions });
      return JSON.parse(JSON.stringify(event).replace(FIXTURE_ID, (match) => id(match))) as typeof event;
    },
  };
}

/** The fixtures' other endings of the session (abandoned, or paid by bank debit that failed). */
export const OTHER_ENDINGS: readonly FixtureType[] = ['checkout.session.expired', 'payment_intent.canceled', 'checkout.session.async_payment_failed'];

/**
 * Puts the story's objects into the sandbox as Stripe holds them at the story's end (the card payment,
 * refunded, refund failed, dispute lost, subscription ended), for the applier to retrieve.
 */
export function seedSandbox(sandbox: StripeSandbox, story: Story): void {
  for (const type of FIXTURE_TYPES) {
    if (OTHER_ENDINGS.includes(type)) continue;
    const object = story.event(type).data.object as { id: string; object: string };
    sandbox.core.store.collection(object.object).insert(structuredClone(object));
  }
}

/** Stripe's pretty-printed body and a valid signature for it. */
export function signed(event: object, secret = WEBHOOK_TEST_SECRET): { payload: string; signature: string } {
  const payload = JSON.stringify(event, null, 2);
  return { payload, signature: Stripe.webhooks.generateTestHeaderString({ payload, secret }) };
}

/** POSTs the event to the server's webhook endpoint, signed; returns the status and body. */
export async function deliver(url: string, event: object, secret = WEBHOOK_TEST_SECRET): Promise<{ status: number; body: unknown }> {
  const { payload, signature } = signed(event, secret);
  const response = await fetch(`${url}${WEBHOOK_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body: payload });
  return { status: response.status, body: await response.json() };
}

/** The order, payment, refunds, disputes and subscriptions of a story: what "the final state" means. */
export async function storyState(db: Db, story: Story) {
  const { rows } = await db.query<{ state: Record<string, unknown> }>(
    `select jsonb_build_object(
       'order', (select jsonb_build_object('status', o.status, 'sync_state', o.sync_state, 'payment_intent_id', o.payment_intent_id)
                   from orders o where o.id = $1::uuid),
       'attempts', (select coalesce(jsonb_agg(jsonb_build_object('attempt', a.attempt, 'status', a.status) order by a.attempt), '[]')
                      from payment_attempts a where a.order_id = $1::uuid),
       'payments', (select coalesce(jsonb_agg(jsonb_build_object('pi', p.stripe_payment_intent_id, 'charge', p.stripe_charge_id,
                                     'status', p.status, 'amount_refunded', p.amount_refunded) order by p.stripe_payment_intent_id), '[]')
                      from payments p where p.order_id = $1::uuid),
       'refunds', (select coalesce(jsonb_agg(jsonb_build_object('id', r.id, 'status', r.status, 'amount', r.amount) order by r.id), '[]')
                     from refunds r where r.order_id = $1::uuid),
       'disputes', (select coalesce(jsonb_agg(jsonb_build_object('id', d.id, 'status', d.status) order by d.id), '[]')
                      from disputes d where d.order_id = $1::uuid),
       'subscriptions', (select coalesce(jsonb_agg(jsonb_build_object('id', s.id, 'status', s.status, 'price', s.stripe_price_id,
                                          'cancel_at_period_end', s.cancel_at_period_end, 'canceled', s.canceled_at is not null) order by s.id), '[]')
                           from subscriptions s where s.customer_id = (select customer_id from orders where id = $1::uuid))
     ) as state`,
    [story.orderId],
  );
  return rows[0]!.state;
}

/** Stores events as the endpoint does (the same SQL), without HTTP: for tests that set arrival order. */
export async function storeEvents(db: Db, ...events: Stripe.Event[]): Promise<void> {
  await storeRows(db, events, true);
}

/** As an older server stored them, without facts: the applier translates them from the payload. */
export async function storeEventsUntranslated(db: Db, ...events: Stripe.Event[]): Promise<void> {
  await storeRows(db, events, false);
}

/**
 * The facts the endpoint stores, for a test-mode server. Unhandled and other-mode events are stored
 * received here, with the facts that ignore them, so that the applier is what marks them.
 */
function storedFacts(event: Stripe.Event): EventFacts | undefined {
  const facts = translateEvent(event, { expectLive: false });
  return facts.effect === 'error' ? undefined : facts;
}

async function storeRows(db: Db, events: Stripe.Event[], translated: boolean): Promise<void> {
  const rows = events.map((event) => ({
    id: event.id,
    type: event.type,
    object_type: (event.data.object as { object: string }).object,
    object_id: (event.data.object as { id: string }).id,
    created: event.created,
    livemode: event.livemode,
    api_version: event.api_version,
    status: 'received',
    ignored_reason: null,
    payload: event,
    facts: translated ? storedFacts(event) : undefined,
  }));
  await db.query('select stripe_events_store($1::jsonb)', [JSON.stringify(rows)]);
}

/** The stored event's row as the applier left it. */
export async function eventRow(db: Db, eventId: string) {
  const { rows } = await db.query<{ status: string; outcome: string | null; ignored_reason: string | null; attempts: number; last_error: string | null }>(
    'select status, outcome, ignored_reason, attempts, last_error from stripe_events where id = $1',
    [eventId],
  );
  return rows[0];
}
