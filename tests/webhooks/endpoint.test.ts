// POST /webhooks/stripe through real HTTP: verified deliveries are stored once by event id and
// acknowledged; every bad delivery is a 400 with a short reason, stores nothing and is counted; a
// database failure is the only 5xx, so Stripe retries.
import { createHmac, randomBytes } from 'node:crypto';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultyDb, faultyDb } from '../../server/platform/db/faultyDb';
import { startTestServer, type TestServer } from '../helpers/server';
import { translateEvent } from '../../server/webhooks/translate';

const SECRETS = ['whsec_endpointTestOldSecret0001', 'whsec_endpointTestNewSecret0002'];

let server: TestServer;
let faults: FaultyDb;
beforeAll(async () => {
  // An HTTP-only process (no jobs): these tests look at what the endpoint stores, before any applier.
  server = await startTestServer({ STRIPE_WEBHOOK_SECRET: SECRETS.join(','), HTTP_BODY_LIMIT_BYTES: '8192', JOBS_ENABLED: 'false' }, { wrapDb: (db) => (faults = faultyDb(db)).db });
  // Only what the tests send reaches the endpoint.
  server.app.stripeSandbox!.core.events.stopAutoDelivery();
});
afterAll(() => server?.stop());

const eventId = () => `evt_${randomBytes(12).toString('hex')}`;

/** A payment_intent.succeeded event, pretty-printed as Stripe sends it. */
function eventBody(overrides: Record<string, unknown> = {}): string {
  const created = Math.floor(Date.now() / 1000);
  const event = {
    id: eventId(),
    object: 'event',
    api_version: '2026-10-28.endive',
    created,
    data: { object: { id: `pi_${randomBytes(12).toString('hex')}`, object: 'payment_intent', amount: 9900, currency: 'usd', status: 'succeeded', metadata: {} } },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: 'payment_intent.succeeded',
    ...overrides,
  };
  return JSON.stringify(event, null, 2);
}

const sign = (payload: string, secret = SECRETS[0]!, timestamp?: number) => Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });

async function deliver(payload: string, signature: string | null = sign(payload)) {
  const response = await fetch(`${server.url}/webhooks/stripe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature === null ? {} : { 'stripe-signature': signature }) },
    body: payload,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function storedFacts(id: string) {
  const { rows } = await server.app.db.query<{ facts: unknown }>('select facts from stripe_events where id = $1', [id]);
  return rows[0]!.facts;
}

async function storedEvents(id?: string) {
  const { rows } = await server.app.db.query<Record<string, any>>(
    `select id, type, object_type, object_id, extract(epoch from created)::bigint as created, livemode, api_version, payload, status, ignored_reason
       from stripe_events ${id ? 'where id = $1' : ''}`,
    id ? [id] : [],
  );
  return rows;
}

const eventCount = async () => (await storedEvents()).length;

describe('a verified delivery', () => {
  it('is stored with its id, type, object, created time, mode, API version and payload, then acknowledged', async () => {
    const payload = eventBody();
    const event = JSON.parse(payload);
    expect(await deliver(payload)).toEqual({ status: 200, body: { received: true } });
    expect(await storedEvents(event.id)).toEqual([
      {
        id: event.id,
        type: 'payment_intent.succeeded',
        object_type: 'payment_intent',
        object_id: event.data.object.id,
        created: event.created,
        livemode: false,
        api_version: '2026-10-28.endive',
        payload: event,
        status: 'received',
        ignored_reason: null,
      },
    ]);
  });

  it('stores a repeat of a known event id nothing new, and still acknowledges it', async () => {
    const payload = eventBody();
    await deliver(payload);
    const before = await eventCount();
    const duplicates = server.app.webhookCounters.duplicates;
    expect(await deliver(payload)).toEqual({ status: 200, body: { received: true, duplicate: true } });
    expect(await eventCount()).toBe(before);
    expect(server.app.webhookCounters.duplicates).toBe(duplicates + 1);
  });

  it('accepts every configured secret, so a secret can be rotated without downtime', async () => {
    const payload = eventBody();
    expect((await deliver(payload, sign(payload, SECRETS[1]))).status).toBe(200);
    expect(await storedEvents(JSON.parse(payload).id)).toHaveLength(1);
  });

  it('stores with a handled event the facts the applier applies, translated from the payload it verified', async () => {
    const payload = eventBody();
    const event = JSON.parse(payload);
    await deliver(payload);
    const facts = await storedFacts(event.id);
    expect(facts).toEqual(translateEvent(event, { expectLive: false }));
    expect(facts).toMatchObject({ event_id: event.id, effect: 'payment', object: { id: event.data.object.id, state: 'succeeded', terminal: true } });
  });

  it('stores no facts with an ignored event, nor with one it cannot read (the applier records why)', async () => {
    const live = eventBody({ livemode: true });
    const unreadable = eventBody({ data: { object: { id: 'pi_unreadable', object: 'payment_intent', amount: 'ninety-nine', currency: 'usd', status: 'succeeded', metadata: {} } } });
    for (const payload of [live, unreadable]) expect((await deliver(payload)).status).toBe(200);
    expect(await storedFacts(JSON.parse(live).id)).toBeNull();
    expect(await storedFacts(JSON.parse(unreadable).id)).toBeNull();
    expect(await storedEvents(JSON.parse(unreadable).id)).toMatchObject([{ status: 'received' }]);
  });

  it('stores an event of the other mode (live here, in test mode) flagged, never to be applied', async () => {
    const payload = eventBody({ livemode: true });
    expect((await deliver(payload)).status).toBe(200);
    expect(await storedEvents(JSON.parse(payload).id)).toMatchObject([{ livemode: true, status: 'ignored', ignored_reason: 'live-mode event, but this server runs in test mode' }]);
  });

  it('stores each of many concurrent deliveries once, repeats included, sharing commits', async () => {
    const payloads = Array.from({ length: 40 }, () => eventBody());
    const before = await eventCount();
    const responses = await Promise.all([...payloads, ...payloads.slice(0, 10)].map((payload) => deliver(payload)));
    expect(responses.every((response) => response.status === 200)).toBe(true);
    expect(responses.filter((response) => response.body.duplicate === true)).toHaveLength(10);
    expect(await eventCount()).toBe(before + 40);
  });

  it('accepts the sandbox’s own deliveries, signed with the secret of the endpoint it registered', async () => {
    const sandbox = server.app.stripeSandbox!;
    await server.app.stripe.paymentIntents.create({ amount: 4900, currency: 'usd' });
    await sandbox.flushWebhooks();
    const delivered = sandbox.core.events.log.filter((attempt) => attempt.url.endsWith('/webhooks/stripe'));
    expect(delivered.length).toBeGreaterThan(0);
    expect(delivered.every((attempt) => attempt.status === 200)).toBe(true);
    const { rows } = await server.app.db.query("select type from stripe_events where type = 'payment_intent.created'");
    expect(rows.length).toBeGreaterThan(0);
  });
});

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** An event body with `value` at `data.object.metadata.note`, and every other field as Stripe sends it. */
const withNote = (value: string) => () => eventBody({ data: { object: { id: `pi_${randomBytes(12).toString('hex')}`, object: 'payment_intent', amount: 9900, currency: 'usd', status: 'succeeded', metadata: { note: value } } } });
/** A raw body: `literal` written where the placeholder string was, e.g. a number JSON.stringify cannot write. */
const withLiteral = (literal: string) => () => eventBody({ extra: '@@literal@@' }).replace('"@@literal@@"', literal);
const nested = (depth: number) => {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i += 1) value = { n: value };
  return value;
};

/** A customer.subscription.updated event whose item is on `priceId`. */
const subscriptionUpdated = (priceId: string) =>
  eventBody({
    type: 'customer.subscription.updated',
    data: { object: { id: `sub_${randomBytes(8).toString('hex')}`, object: 'subscription', status: 'active', customer: 'cus_x', metadata: {}, items: { object: 'list', data: [{ id: 'si_x', price: { id: priceId }, current_period_start: nowSeconds(), current_period_end: nowSeconds() + 2_592_000 }] } } },
  });
/** An invoice.paid event of a subscription, its one line on `price`. */
const invoicePaid = ({ price = 'price_x', url = 'https://invoice.stripe.com/i/x' }: { price?: string; url?: string }) =>
  eventBody({
    type: 'invoice.paid',
    data: {
      object: {
        id: `in_${randomBytes(8).toString('hex')}`, object: 'invoice', status: 'paid', amount_due: 900, amount_paid: 900, currency: 'usd', customer: 'cus_x', hosted_invoice_url: url,
        parent: { type: 'subscription_details', subscription_details: { subscription: 'sub_x', metadata: {} } },
        lines: { object: 'list', data: [{ amount: 900, parent: { type: 'subscription_item_details', subscription_item_details: { proration: false } }, pricing: { price_details: { price } } }] },
      },
    },
  });
/** A charge.dispute.created event with `reason`. */
const disputeCreated = (reason: string) => () =>
  eventBody({ type: 'charge.dispute.created', data: { object: { id: `dp_${randomBytes(8).toString('hex')}`, object: 'dispute', amount: 9900, currency: 'usd', status: 'needs_response', reason, charge: 'ch_x', payment_intent: 'pi_x', metadata: {} } } });

/**
 * Correctly signed events PostgreSQL cannot store (tried on PGlite and PostgreSQL): jsonb refuses
 * \u0000 (22P05) and unpaired surrogates (22P02), to_timestamp a `created` past the year 294276
 * (22008), numeric an exponent past 131071 (22003), and the stack a deep nesting (54001).
 */
const POISONED: Array<[string, () => string, RegExp]> = [
  ['a NUL character in a metadata value', withNote('before\u0000after'), /data\.object\.metadata\.note holds a NUL character/],
  ['a NUL character in a key', () => eventBody({ data: { object: { id: 'pi_nulkey', object: 'payment_intent', metadata: { 'no\u0000te': 'x' } } } }), /holds a NUL character/],
  ['a lone high surrogate', withNote('\ud800'), /data\.object\.metadata\.note holds a lone surrogate/],
  ['a lone low surrogate', withNote('x\udc00y'), /holds a lone surrogate/],
  ['created 1e20', () => eventBody({ created: 1e20 }), /created must be a Unix time/],
  ['a negative created', () => eventBody({ created: -1 }), /created must be a Unix time/],
  ['created past what timestamptz holds', () => eventBody({ created: 9_300_000_000_000 }), /created must be a Unix time/],
  ['a payload nested 300 levels deep', () => JSON.stringify({ ...JSON.parse(eventBody()), extra: nested(300) }), /nests deeper than 256 levels/],
  // Stored as the event is, but longer than the column the applier writes it to: it would fail every apply.
  ['a subscription price id of 300 characters', () => subscriptionUpdated(`price_${'x'.repeat(294)}`), /subscription's price id is 300 characters long, more than the 255/],
  ['an invoice price id of 300 characters', () => invoicePaid({ price: `price_${'x'.repeat(294)}` }), /invoice's price id is 300 characters long, more than the 255/],
  ['an invoice url of 3,000 characters', () => invoicePaid({ url: `https://invoice.stripe.com/i/${'x'.repeat(2971)}` }), /hosted_invoice_url is 3000 characters long, more than the 2048/],
  ['a dispute reason of 101 characters', disputeCreated('r'.repeat(101)), /dispute reason is 101 characters long, more than the 100/],
  // An order made from it is keyed 'made_from_webhook:<id>' in a column of 255.
  ['a PaymentIntent id of 240 characters', () => eventBody({ data: { object: { id: `pi_${'x'.repeat(237)}`, object: 'payment_intent', amount: 9900, currency: 'usd', status: 'succeeded', metadata: {} } } }), /payment_intent id is 240 characters long, more than the 237/],
  // Not known to verify.ts: the database refuses it, and the store's retry per event isolates it.
  ['a number past what jsonb holds (1e200000)', withLiteral('1e200000'), /cannot store \(SQLSTATE 22003\)/],
];

describe('signature timestamps', () => {
  it.each([
    ['a minute old', -60],
    ['a minute ahead (clock skew within the tolerance)', 60],
  ])('accepts one %s', async (_name, offset) => {
    const payload = eventBody();
    expect(await deliver(payload, sign(payload, SECRETS[0], nowSeconds() + offset))).toEqual({ status: 200, body: { received: true } });
    expect(await storedEvents(JSON.parse(payload).id)).toHaveLength(1);
  });
});

type BadDelivery = readonly [name: string, reason: string, make: () => readonly [payload: string, signature: string | null], message: RegExp];

describe('a bad delivery', () => {
  it.each<BadDelivery>([
    ['no Stripe-Signature header', 'missing_signature', () => [eventBody(), null] as const, /Missing Stripe-Signature header/],
    ['a header that is not Stripe’s scheme', 'malformed_signature', () => [eventBody(), 'nonsense'] as const, /header is malformed/],
    ['a signature by an unknown secret', 'bad_signature', () => { const p = eventBody(); return [p, sign(p, 'whsec_someoneElsesSecret00')] as const; }, /No signature matches/],
    ['a signature over another body', 'bad_signature', () => [eventBody(), sign(eventBody())] as const, /No signature matches/],
    ['a timestamp older than the tolerance', 'stale_timestamp', () => { const p = eventBody(); return [p, sign(p, SECRETS[0], Math.floor(Date.now() / 1000) - 301)] as const; }, /outside the tolerance/],
    ['a signed body that is not JSON', 'malformed_body', () => ['not json', sign('not json')] as const, /not JSON/],
    ['a signed JSON body that is not an event', 'malformed_body', () => { const p = JSON.stringify({ id: 'evt_x', object: 'charge' }); return [p, sign(p)] as const; }, /not a Stripe event/],
    ['an event with a malformed id', 'malformed_body', () => { const p = eventBody({ id: 'evt_../../etc' }); return [p, sign(p)] as const; }, /not a Stripe event/],
    ['a body over the size limit', 'body_too_large', () => { const p = eventBody({ padding: 'x'.repeat(9000) }); return [p, sign(p)] as const; }, /larger than 8192 bytes/],
    // The SDK reads `t=NaN` as NaN, signs over `NaN.<body>` and lets NaN through its age check.
    ['a signature whose timestamp is not a number', 'malformed_signature', () => { const p = eventBody(); return [p, `t=NaN,v1=${createHmac('sha256', SECRETS[0]!).update(`NaN.${p}`).digest('hex')}`] as const; }, /header is malformed/],
    ['a signature timestamp an hour in the future', 'future_timestamp', () => { const p = eventBody(); return [p, sign(p, SECRETS[0], nowSeconds() + 3600)] as const; }, /in the future/],
    ...POISONED.map(([name, payload, message]) => [name, 'unstorable_event', () => { const p = payload(); return [p, sign(p)] as const; }, message] as const),
  ])('refuses %s with a 400 naming the reason, stores nothing and counts it', async (_name, reason, make, message) => {
    const [payload, signature] = make();
    const before = await eventCount();
    const counted = server.app.webhookCounters.rejected[reason as keyof typeof server.app.webhookCounters.rejected];
    const response = await deliver(payload, signature);
    expect(response).toMatchObject({ status: 400, body: { error: reason, message: expect.stringMatching(message) } });
    expect(await eventCount()).toBe(before);
    expect(server.app.webhookCounters.rejected[reason as keyof typeof server.app.webhookCounters.rejected]).toBe(counted + 1);
  });
});

describe('a database failure', () => {
  it('answers 500 so that Stripe retries, and the retry is stored', async () => {
    const payload = eventBody();
    faults.failNext(/stripe_events_store/);
    const failed = await deliver(payload);
    expect(failed.status).toBe(500);
    expect(await storedEvents(JSON.parse(payload).id)).toEqual([]);
    expect((await deliver(payload)).body).toEqual({ received: true });
    expect(await storedEvents(JSON.parse(payload).id)).toHaveLength(1);
  });
});
