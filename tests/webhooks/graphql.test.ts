// The staff API over stored Stripe events, over real HTTP against the real server: who may read and
// replay, the list's filters and keyset pagination (ties on `created` included), the applier's status
// figures, and bad input refused with a typed error that changes nothing.
//
// The server runs without its jobs (JOBS_ENABLED=false): events are stored and nothing applies them in
// the background, so each test sets the state it needs with SQL and an admin replay is what applies.
import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../server/auth/apiKeys';
import { signStaffToken } from '../../server/auth/staffTokens';
import { type CheckoutServer, JWT_SECRET, newKey, startCheckoutServer } from '../helpers/checkout';
import type { GraphQLResponse } from '../helpers/server';
import { loadFixture } from '../helpers/webhookFixtures';

const WEBHOOK_SECRET = 'whsec_graphqlEventsTestSecret0001';

type Auth = { token?: string; headers?: Record<string, string> };
type Caller = 'anonymous' | 'customer' | 'storefront' | 'make' | 'support' | 'admin';
type Status = 'received' | 'applied' | 'ignored' | 'failed';

let server: CheckoutServer;
const as = {} as Record<Caller, Auth>;
const ADMIN_ID = randomUUID();
const SUPPORT_ID = randomUUID();

beforeAll(async () => {
  server = await startCheckoutServer({ STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, JOBS_ENABLED: 'false' });
  // Only what the tests send reaches the webhook endpoint.
  server.app.stripeSandbox!.core.events.stopAutoDelivery();
  const staff = (userId: string, staffRole: 'support' | 'admin') =>
    signStaffToken(JWT_SECRET, { userId, email: `${staffRole}@staff.test`, staffRole, audience: 'authenticated', expiresIn: '1h' });
  const { key: makeKey } = await createApiKey(server.app.db, 'test make scenario', 'make');
  Object.assign(as, {
    anonymous: {},
    customer: { token: await server.customerToken() },
    storefront: server.asStorefront,
    make: { headers: { 'x-api-key': makeKey } },
    support: { token: await staff(SUPPORT_ID, 'support') },
    admin: { token: await staff(ADMIN_ID, 'admin') },
  });
});
afterAll(() => server?.stop());

const EVENT_FIELDS = `id type objectType objectId created livemode apiVersion status ignoredReason attempts nextAttemptAt lastError outcome receivedAt appliedAt failedAt payload`;
const LIST = `query ($filter: WebhookEventFilter, $first: Int, $after: String) {
  webhookEvents(filter: $filter, first: $first, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } }
}`;
const EVENT = `query ($id: ID!) { webhookEvent(id: $id) { ${EVENT_FIELDS} } }`;
const STATUS = `{ webhookStatus { received applied ignored failed oldestUnappliedAgeSeconds failedLastHour retrying } }`;
const REPLAY = `mutation ($input: ReplayWebhookEventInput!) { replayWebhookEvent(input: $input) { event { ${EVENT_FIELDS} } error { code message } isRepeat } }`;

interface ListArgs {
  filter?: Record<string, unknown>;
  first?: number | null;
  after?: string | null;
}
const list = (args: ListArgs = {}, auth: Auth = as.support) => server.graphql(LIST, { variables: { ...args }, ...auth });
const getEvent = (id: string, auth: Auth = as.support) => server.graphql(EVENT, { variables: { id }, ...auth });
const replay = (id: string, auth: Auth = as.admin, idempotencyKey = newKey()) => server.graphql(REPLAY, { variables: { input: { id, idempotencyKey } }, ...auth });

function page(response: GraphQLResponse): { ids: string[]; hasNextPage: boolean; endCursor: string | null } {
  expect(response.body.errors).toBeUndefined();
  const { nodes, pageInfo } = response.body.data.webhookEvents;
  return { ids: nodes.map((node: { id: string }) => node.id), ...pageInfo };
}

/** Every page of the list, `first` at a time, following endCursor. */
async function walk(filter: Record<string, unknown> | undefined, first: number) {
  const pages: string[][] = [];
  let after: string | null = null;
  for (;;) {
    const current = page(await list({ filter, first, after }));
    pages.push(current.ids);
    if (!current.hasNextPage) {
      expect(current.ids.length).toBeLessThanOrEqual(first);
      break;
    }
    expect(current.ids).toHaveLength(first);
    expect(pages.length).toBeLessThan(500);
    after = current.endCursor;
  }
  return pages;
}

// ---- stored events, as the endpoint stores them (stripe_events_store), with the applier's state set by SQL

interface Seed {
  id: string;
  type: string;
  objectId: string | null;
  /** Unix seconds, as Stripe's `created`. */
  created: number;
  status: Status;
}

const objectTypeOf = (objectId: string | null) =>
  objectId === null ? null : ({ pi: 'payment_intent', ch: 'charge', cus: 'customer' } as Record<string, string>)[objectId.split('_')[0]!]!;

function stored(seed: Seed) {
  const objectType = objectTypeOf(seed.objectId);
  return {
    id: seed.id,
    type: seed.type,
    object_type: objectType,
    object_id: seed.objectId,
    created: seed.created,
    livemode: false,
    api_version: '2026-10-28.endive',
    payload: {
      id: seed.id,
      object: 'event',
      api_version: '2026-10-28.endive',
      created: seed.created,
      data: { object: seed.objectId ? { id: seed.objectId, object: objectType } : {} },
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type: seed.type,
    },
    status: seed.status,
    ignored_reason: seed.status === 'ignored' ? 'unhandled event type' : null,
  };
}

/** Replaces every stored event with these, in the state the applier leaves each status in. */
async function storeOnly(seeds: Seed[]) {
  const db = server.app.db;
  await db.query('delete from stripe_events');
  if (seeds.length > 0) await db.query('select stripe_events_store($1::jsonb)', [JSON.stringify(seeds.map(stored))]);
  await db.query(`update stripe_events set attempts = 1, applied_at = received_at where status = 'applied'`);
  await db.query(`update stripe_events set attempts = 10, last_error = 'order not found', failed_at = now() - interval '5 minutes' where status = 'failed'`);
}

const addSeeds = (seeds: Seed[]) => server.app.db.query('select stripe_events_store($1::jsonb)', [JSON.stringify(seeds.map(stored))]);

/** Newest first: created desc, then id desc. Ids here are one length and [0-9a-z] after a shared prefix, so any collation orders them as JS does. */
const newestFirst = (seeds: Seed[]) => [...seeds].sort((a, b) => b.created - a.created || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)).map((seed) => seed.id);

const BASE = 1_795_000_000;
const TYPES = ['payment_intent.succeeded', 'charge.refunded', 'customer.created'];
const OBJECTS = ['pi_gqlobject0001', 'pi_gqlobject0002', 'ch_gqlobject0001', null];
const STATUSES: Status[] = ['received', 'applied', 'ignored', 'failed'];
// 30 events; `created` in runs of 4 that share a second (ties); ids a permutation of 0..29 that does not follow `created`.
const SEEDS: Seed[] = Array.from({ length: 30 }, (_, i) => ({
  id: `evt_gql${String((i * 7) % 30).padStart(4, '0')}`,
  type: TYPES[i % 3]!,
  objectId: OBJECTS[Math.floor(i / 2) % 4]!,
  created: BASE + Math.floor(i / 4),
  status: STATUSES[i % 4]!,
}));
const matching = (where: (seed: Seed) => boolean) => newestFirst(SEEDS.filter(where));

/** What a refused request must not change: the events and their state, and the audit log. */
async function snapshot() {
  const { rows: events } = await server.app.db.query(
    'select id, status, attempts, last_error, next_attempt_at, applied_at, failed_at, ignored_reason from stripe_events order by id',
  );
  const { rows: audit } = await server.app.db.query('select count(*)::int as n from audit_log');
  return { events, audit };
}

function expectRefusal(response: GraphQLResponse, code: string, extra: Record<string, unknown> = {}, message?: RegExp) {
  expect(response.body.errors).toHaveLength(1);
  const [error] = response.body.errors!;
  expect(error!.extensions).toEqual({ code, ...extra });
  if (message) expect(error!.message).toMatch(message);
}

// ---- access

describe('who may use the webhook events API', () => {
  const EVENT_ID = 'evt_gqlaccess0001';
  beforeAll(() => storeOnly([{ id: EVENT_ID, type: 'payment_intent.succeeded', objectId: 'pi_gqlaccess0001', created: BASE, status: 'failed' }]));

  const QUERIES = {
    webhookEvents: ['{ webhookEvents { nodes { id } pageInfo { hasNextPage } } }', { webhookEvents: { nodes: [{ id: EVENT_ID }], pageInfo: { hasNextPage: false } } }],
    webhookEvent: [`{ webhookEvent(id: "${EVENT_ID}") { id status } }`, { webhookEvent: { id: EVENT_ID, status: 'FAILED' } }],
    webhookStatus: ['{ webhookStatus { failed } }', { webhookStatus: { failed: 1 } }],
  } as const;
  const FIELDS = Object.keys(QUERIES) as Array<keyof typeof QUERIES>;

  it.each(FIELDS.flatMap((field) => (['support', 'admin'] as const).map((caller) => [field, caller] as const)))('lets staff read %s (%s)', async (field, caller) => {
    const [query, expected] = QUERIES[field];
    const response = await server.graphql(query, as[caller]);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ data: expected });
  });

  it.each(FIELDS.flatMap((field) => (['customer', 'storefront', 'make'] as const).map((caller) => [field, caller] as const)))('refuses %s to a %s with FORBIDDEN', async (field, caller) => {
    const response = await server.graphql(QUERIES[field][0], as[caller]);
    expect(response.body.data?.[field] ?? null).toBeNull();
    expectRefusal(response, 'FORBIDDEN', {}, /may not do this; allowed: support, admin/);
  });

  it.each(FIELDS)('refuses %s to an anonymous caller with UNAUTHENTICATED', async (field) => {
    const response = await server.graphql(QUERIES[field][0], as.anonymous);
    expect(response.body.data?.[field] ?? null).toBeNull();
    expectRefusal(response, 'UNAUTHENTICATED');
  });

  it.each(['anonymous', 'customer', 'storefront', 'make', 'support'] as const)('refuses replayWebhookEvent to %s, and the event and audit log are unchanged', async (caller) => {
    const before = await snapshot();
    const response = await replay(EVENT_ID, as[caller]);
    expect(response.body.data).toBeNull();
    if (caller === 'anonymous') expectRefusal(response, 'UNAUTHENTICATED');
    else expectRefusal(response, 'FORBIDDEN', {}, new RegExp(`Your role \\(${caller}\\) may not do this; allowed: admin`));
    expect(await snapshot()).toEqual(before);
  });
});

// ---- one event

describe('webhookEvent', () => {
  const sign = (payload: string) => Stripe.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET });
  async function deliver(event: object) {
    const payload = JSON.stringify(event, null, 2);
    const response = await fetch(`${server.url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': sign(payload) }, body: payload });
    expect(response.status).toBe(200);
  }

  it('shows a delivered event with every field, its payload pretty-printed with 2-space indentation', async () => {
    await storeOnly([]);
    const event = loadFixture('charge.refunded', { orderId: randomUUID(), customerId: randomUUID(), freshId: true });
    await deliver(event);
    const { rows } = await server.app.db.query<{ received_at: Date; next_attempt_at: Date }>('select received_at, next_attempt_at from stripe_events where id = $1', [event.id]);

    const response = await getEvent(event.id);
    expect(response.body.errors).toBeUndefined();
    const shown = response.body.data.webhookEvent;
    expect(shown).toEqual({
      id: event.id,
      type: 'charge.refunded',
      objectType: 'charge',
      objectId: 'ch_fixture0001',
      created: new Date(event.created * 1000).toISOString(),
      livemode: false,
      apiVersion: event.api_version,
      status: 'RECEIVED',
      ignoredReason: null,
      attempts: 0,
      nextAttemptAt: rows[0]!.next_attempt_at.toISOString(),
      lastError: null,
      outcome: null,
      receivedAt: rows[0]!.received_at.toISOString(),
      appliedAt: null,
      failedAt: null,
      payload: expect.any(String),
    });
    expect(JSON.parse(shown.payload)).toEqual(event);
    expect(shown.payload).toBe(JSON.stringify(JSON.parse(shown.payload), null, 2));
    expect(shown.payload).toMatch(/^\{\n {2}"/);
  });

  it('shows a failed event with its attempts, last error and when it failed, and no next attempt', async () => {
    await storeOnly([{ id: 'evt_gqlfailed0001', type: 'payment_intent.succeeded', objectId: 'pi_gqlfailed0001', created: BASE, status: 'failed' }]);
    const { rows } = await server.app.db.query<{ failed_at: Date }>(`select failed_at from stripe_events where id = 'evt_gqlfailed0001'`);
    const shown = (await getEvent('evt_gqlfailed0001')).body.data.webhookEvent;
    expect(shown).toMatchObject({ status: 'FAILED', attempts: 10, lastError: 'order not found', failedAt: rows[0]!.failed_at.toISOString(), nextAttemptAt: null, appliedAt: null });
  });

  it('shows an ignored event with the reason it is stored only', async () => {
    await storeOnly([{ id: 'evt_gqlignored001', type: 'customer.created', objectId: 'cus_gqlignored01', created: BASE, status: 'ignored' }]);
    const shown = (await getEvent('evt_gqlignored001')).body.data.webhookEvent;
    expect(shown).toMatchObject({ status: 'IGNORED', ignoredReason: 'unhandled event type', objectType: 'customer', nextAttemptAt: null });
  });

  it('is null for an event id that is not stored', async () => {
    const response = await getEvent('evt_gqlnosuchevent');
    expect(response.body).toEqual({ data: { webhookEvent: null } });
  });

  it.each([
    ['not an event id', 'pi_123'],
    ['an empty id', ''],
    ['characters Stripe never uses', 'evt_../../etc'],
    ['an id over 254 characters', `evt_${'a'.repeat(251)}`],
  ])('refuses %s with BAD_USER_INPUT', async (_name, id) => {
    const response = await getEvent(id);
    expect(response.body.data).toEqual({ webhookEvent: null });
    expectRefusal(response, 'BAD_USER_INPUT', { reason: 'INVALID_EVENT_ID', field: 'id' }, /id must be a Stripe event id/);
  });
});

// ---- the list

describe('webhookEvents filters', () => {
  beforeAll(() => storeOnly(SEEDS));

  it('lists every event newest first, ties on created broken by id, descending', async () => {
    expect(page(await list({ first: 200 })).ids).toEqual(newestFirst(SEEDS));
  });

  it.each(STATUSES)('filters by status %s alone', async (status) => {
    const result = page(await list({ filter: { status: status.toUpperCase() }, first: 200 }));
    expect(result.ids).toEqual(matching((seed) => seed.status === status));
    expect(result.ids.length).toBeGreaterThan(0);
  });

  it('filters by exact type alone, and a prefix of a type matches nothing', async () => {
    expect(page(await list({ filter: { type: 'charge.refunded' }, first: 200 })).ids).toEqual(matching((seed) => seed.type === 'charge.refunded'));
    expect(page(await list({ filter: { type: 'payment_intent' } })).ids).toEqual([]);
  });

  it('filters by object id alone', async () => {
    expect(page(await list({ filter: { objectId: 'pi_gqlobject0002' }, first: 200 })).ids).toEqual(matching((seed) => seed.objectId === 'pi_gqlobject0002'));
  });

  it.each([
    ['status and type', { status: 'FAILED', type: 'charge.refunded' }, (seed: Seed) => seed.status === 'failed' && seed.type === 'charge.refunded'],
    ['status and object', { status: 'APPLIED', objectId: 'pi_gqlobject0001' }, (seed: Seed) => seed.status === 'applied' && seed.objectId === 'pi_gqlobject0001'],
    ['type and object', { type: 'payment_intent.succeeded', objectId: 'ch_gqlobject0001' }, (seed: Seed) => seed.type === 'payment_intent.succeeded' && seed.objectId === 'ch_gqlobject0001'],
    [
      'status, type and object',
      { status: 'RECEIVED', type: 'payment_intent.succeeded', objectId: 'pi_gqlobject0001' },
      (seed: Seed) => seed.status === 'received' && seed.type === 'payment_intent.succeeded' && seed.objectId === 'pi_gqlobject0001',
    ],
  ])('combines filters: %s', async (_name, filter, where) => {
    const expected = matching(where);
    expect(expected.length).toBeGreaterThan(0);
    expect(page(await list({ filter, first: 200 })).ids).toEqual(expected);
  });

  it('answers an empty page with no next page and no cursor when nothing matches', async () => {
    expect(page(await list({ filter: { status: 'FAILED', objectId: 'pi_gqlnothing' } }))).toEqual({ ids: [], hasNextPage: false, endCursor: null });
  });

  it('treats a null filter field as no filter on it', async () => {
    expect(page(await list({ filter: { status: null, type: null, objectId: null }, first: 200 })).ids).toEqual(newestFirst(SEEDS));
  });
});

describe('webhookEvents pagination', () => {
  beforeAll(() => storeOnly(SEEDS));

  it.each([1, 4, 7, 29, 30, 200])('walks every event %i at a time with no duplicate and no gap, ties on created included', async (first) => {
    const pages = await walk(undefined, first);
    expect(pages.flat()).toEqual(newestFirst(SEEDS));
    expect(pages).toHaveLength(Math.max(1, Math.ceil(SEEDS.length / first)));
  });

  it('walks a filtered list page by page', async () => {
    expect((await walk({ status: 'FAILED' }, 2)).flat()).toEqual(matching((seed) => seed.status === 'failed'));
    expect((await walk({ type: 'payment_intent.succeeded', objectId: 'pi_gqlobject0001' }, 1)).flat()).toEqual(
      matching((seed) => seed.type === 'payment_intent.succeeded' && seed.objectId === 'pi_gqlobject0001'),
    );
  });

  it('shows 50 events when first is not given (or null)', async () => {
    const many: Seed[] = Array.from({ length: 55 }, (_, i) => ({ id: `evt_gqlmany${String(i).padStart(4, '0')}`, type: 'charge.refunded', objectId: null, created: BASE + (i % 9), status: 'applied' }));
    await storeOnly(many);
    const byDefault = page(await list());
    expect(byDefault.ids).toEqual(newestFirst(many).slice(0, 50));
    expect(byDefault.hasNextPage).toBe(true);
    expect(page(await list({ first: null })).ids).toEqual(byDefault.ids);
    expect(page(await list({ after: byDefault.endCursor })).ids).toEqual(newestFirst(many).slice(50));
    await storeOnly(SEEDS);
  });

  it('continues where the page ended when newer events arrive between pages, repeating none', async () => {
    const first = page(await list({ first: 4 }));
    const newer: Seed[] = [
      { id: 'evt_gqlzlate0001', type: 'charge.refunded', objectId: null, created: BASE + 100, status: 'received' },
      // Same second as the last event of the first page and a higher id: it sorts before the cursor.
      { id: 'evt_gqlzlate0002', type: 'charge.refunded', objectId: null, created: SEEDS.find((seed) => seed.id === first.ids.at(-1))!.created, status: 'received' },
    ];
    await addSeeds(newer);
    const rest: string[] = [];
    let after = first.endCursor;
    for (let more = true; more; ) {
      const next = page(await list({ first: 5, after }));
      rest.push(...next.ids);
      ({ hasNextPage: more, endCursor: after } = next);
    }
    expect([...first.ids, ...rest]).toEqual(newestFirst(SEEDS));
    await storeOnly(SEEDS);
  });
});

describe('webhookEvents bad input', () => {
  let realCursor: string;
  beforeAll(async () => {
    await storeOnly(SEEDS);
    realCursor = page(await list({ first: 3 })).endCursor!;
  });

  const b64 = (text: string) => Buffer.from(text).toString('base64url');

  it.each([
    ['0', 0],
    ['a negative number', -5],
    ['201', 201],
    ['a million', 1_000_000],
  ])('refuses first = %s with BAD_USER_INPUT saying the range, changing nothing', async (_name, first) => {
    const before = await snapshot();
    const response = await list({ first });
    expect(response.body.data).toBeNull();
    expectRefusal(response, 'BAD_USER_INPUT', { reason: 'INVALID_FIRST', field: 'first' }, new RegExp(`^first must be between 1 and 200; got ${first}$`));
    expect(await snapshot()).toEqual(before);
  });

  it.each([
    ['text that is not base64url', () => 'not a cursor!'],
    ['an empty string', () => ''],
    ['base64url of something else', () => b64('hello')],
    ['a cursor naming no event id', () => b64('1795000000000000|pi_123')],
    ['a cursor with a time that is not a number', () => b64('soon|evt_gql0001')],
    ['a cursor with a time past year 9999', () => b64('300000000000000000|evt_gql0001')],
    ['a cursor with base64 padding added', () => `${realCursor}==`],
    ['a cursor with characters appended', () => `${realCursor}AAAA`],
  ])('refuses after = %s with BAD_USER_INPUT, changing nothing', async (_name, cursor) => {
    const before = await snapshot();
    const response = await list({ after: cursor() });
    expect(response.body.data).toBeNull();
    expectRefusal(response, 'BAD_USER_INPUT', { reason: 'INVALID_CURSOR', field: 'after' }, /^after is not a cursor from webhookEvents/);
    expect(await snapshot()).toEqual(before);
  });

  it.each([
    ['type', 256],
    ['objectId', 256],
    ['type', 0],
    ['objectId', 0],
  ])('refuses filter.%s of %i characters with BAD_USER_INPUT, changing nothing', async (field, length) => {
    const before = await snapshot();
    const response = await list({ filter: { [field]: 'x'.repeat(length) } });
    expect(response.body.data).toBeNull();
    expectRefusal(response, 'BAD_USER_INPUT', { reason: 'INVALID_FILTER', field: `filter.${field}` }, new RegExp(`^filter\\.${field} must be 1 to 255 characters .*got ${length}$`));
    expect(await snapshot()).toEqual(before);
  });

  it('accepts a type and an object id of exactly 255 characters (and finds nothing)', async () => {
    expect(page(await list({ filter: { type: 'x'.repeat(255), objectId: 'y'.repeat(255) } })).ids).toEqual([]);
  });

  it('refuses a status that is not one of the four with BAD_USER_INPUT', async () => {
    const response = await list({ filter: { status: 'PENDING' } });
    expect(response.body.data).toBeUndefined();
    expect(response.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(response.body.errors?.[0]?.message).toMatch(/WebhookEventStatus/);
  });

  it('refuses first that is not an integer with BAD_USER_INPUT', async () => {
    const response = await list({ first: 2.5 });
    expect(response.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

// ---- status figures

describe('webhookStatus', () => {
  const status = async () => {
    const response = await server.graphql(STATUS, as.support);
    expect(response.body.errors).toBeUndefined();
    return response.body.data.webhookStatus;
  };

  it('is all zeros, and no oldest age, with no events', async () => {
    await storeOnly([]);
    expect(await status()).toEqual({ received: 0, applied: 0, ignored: 0, failed: 0, oldestUnappliedAgeSeconds: null, failedLastHour: 0, retrying: 0 });
  });

  it('counts events by status, the age of the oldest waiting one, failures in the last hour and retries', async () => {
    const seed = (n: number, status: Status): Seed => ({ id: `evt_gqlstatus${String(n).padStart(4, '0')}`, type: 'payment_intent.succeeded', objectId: null, created: BASE + n, status });
    await storeOnly([seed(1, 'received'), seed(2, 'received'), seed(3, 'received'), seed(4, 'applied'), seed(5, 'applied'), seed(6, 'ignored'), seed(7, 'failed'), seed(8, 'failed'), seed(9, 'failed')]);
    const db = server.app.db;
    // Waiting: one stored 15 minutes ago (the oldest, by received_at, although its event is not the
    // oldest by created), one 2 minutes ago after two failed attempts, one just now.
    await db.query(`update stripe_events set received_at = now() - interval '15 minutes' where id = 'evt_gqlstatus0003'`);
    await db.query(`update stripe_events set received_at = now() - interval '2 minutes', attempts = 2, last_error = 'deadlock detected' where id = 'evt_gqlstatus0001'`);
    // Failed 10 and 50 minutes ago, and 2 hours ago.
    await db.query(`update stripe_events set failed_at = now() - interval '10 minutes' where id = 'evt_gqlstatus0007'`);
    await db.query(`update stripe_events set failed_at = now() - interval '50 minutes' where id = 'evt_gqlstatus0008'`);
    await db.query(`update stripe_events set failed_at = now() - interval '2 hours', received_at = now() - interval '3 hours' where id = 'evt_gqlstatus0009'`);

    const figures = await status();
    expect(figures).toEqual({ received: 3, applied: 2, ignored: 1, failed: 3, oldestUnappliedAgeSeconds: expect.any(Number), failedLastHour: 2, retrying: 1 });
    expect(figures.oldestUnappliedAgeSeconds).toBeGreaterThanOrEqual(900);
    expect(figures.oldestUnappliedAgeSeconds).toBeLessThan(960);
  });

  it('reports the wait of the oldest waiting event past the 10-minute lag alert, and none once nothing waits', async () => {
    await storeOnly([{ id: 'evt_gqllag0001', type: 'invoice.paid', objectId: null, created: BASE, status: 'received' }]);
    await server.app.db.query(`update stripe_events set received_at = now() - interval '11 minutes'`);
    expect((await status()).oldestUnappliedAgeSeconds).toBeGreaterThan(600);

    await server.app.db.query(`update stripe_events set status = 'applied', applied_at = now()`);
    expect(await status()).toMatchObject({ received: 0, applied: 1, oldestUnappliedAgeSeconds: null, retrying: 0 });
  });
});

// ---- replay

describe('replayWebhookEvent', () => {
  it.each([
    ['not an event id', 'pi_123'],
    ['an empty id', ''],
    ['an id over 254 characters', `evt_${'a'.repeat(251)}`],
  ])('refuses %s with BAD_USER_INPUT, changing nothing', async (_name, id) => {
    await storeOnly(SEEDS);
    const before = await snapshot();
    const response = await replay(id);
    expect(response.body.data).toBeNull();
    expectRefusal(response, 'BAD_USER_INPUT', { reason: 'INVALID_EVENT_ID', field: 'input.id' }, /^input\.id must be a Stripe event id/);
    expect(await snapshot()).toEqual(before);
  });

  it.each([
    ['an empty key', ''],
    ['a key with a space', 'press 1'],
    ['a key over 255 characters', 'k'.repeat(256)],
    // Not a NUL: that is refused at the GraphQL edge for every string (reason INVALID_TEXT).
    ['a key with a control character', 'press\u00011'],
  ])('refuses %s with BAD_USER_INPUT, changing nothing', async (_name, key) => {
    await storeOnly(SEEDS);
    const before = await snapshot();
    const response = await replay(SEEDS[0]!.id, as.admin, key);
    expect(response.body.data).toBeNull();
    expectRefusal(response, 'BAD_USER_INPUT', { reason: 'INVALID_IDEMPOTENCY_KEY', field: 'input.idempotencyKey' }, /^idempotencyKey must be 1 to 255 printable ASCII/);
    expect(await snapshot()).toEqual(before);
  });

  it('answers an unknown event id with a WEBHOOK_EVENT_NOT_FOUND error in the payload, changing nothing', async () => {
    await storeOnly(SEEDS);
    const before = await snapshot();
    const response = await replay('evt_gqlnosuchevent');
    expect(response.body).toEqual({
      data: { replayWebhookEvent: { event: null, error: { code: 'WEBHOOK_EVENT_NOT_FOUND', message: 'There is no stored webhook event evt_gqlnosuchevent' }, isRepeat: false } },
    });
    expect(await snapshot()).toEqual(before);
  });

  /** A real payment in the sandbox: an order, its PaymentIntent paid with a card, Stripe's events stored by our endpoint (not applied: no jobs). */
  async function paidAtStripe() {
    const created = await server.createPaymentIntent({ idempotencyKey: newKey(), track: 'business_plan_builder', email: `replay-${randomUUID()}@example.com` });
    expect(created.body.errors).toBeUndefined();
    const { paymentIntentId, order } = created.body.data.createPaymentIntent;
    await server.app.stripe.paymentIntents.confirm(paymentIntentId, { payment_method: 'pm_card_visa', return_url: 'https://shop.test/return' });
    await server.app.stripeSandbox!.flushWebhooks();
    const { rows } = await server.app.db.query<{ id: string }>(`select id from stripe_events where type = 'payment_intent.succeeded' and object_id = $1`, [paymentIntentId]);
    expect(rows).toHaveLength(1);
    return { eventId: rows[0]!.id, orderId: order.id as string };
  }

  const orderState = async (orderId: string) =>
    (await server.app.db.query<{ status: string; sync_state: string | null }>('select status, sync_state from orders where id = $1', [orderId])).rows[0];

  it.each([
    ['failed', `update stripe_events set status = 'failed', attempts = 10, last_error = 'connection terminated', failed_at = now() where id = $1`],
    ['received', `update stripe_events set attempts = 3, last_error = 'connection terminated', next_attempt_at = now() + interval '1 hour' where id = $1`],
  ])('applies a %s event at once when an admin replays it, and returns it APPLIED', async (_status, stuck) => {
    await storeOnly([]);
    const { eventId, orderId } = await paidAtStripe();
    await server.app.db.query(stuck, [eventId]);
    expect(await orderState(orderId)).toMatchObject({ status: 'pending' });

    const response = await replay(eventId, as.admin);

    expect(response.body.errors).toBeUndefined();
    expect(response.body.data.replayWebhookEvent).toMatchObject({
      error: null,
      isRepeat: false,
      event: {
        id: eventId,
        type: 'payment_intent.succeeded',
        status: 'APPLIED',
        outcome: 'applied',
        lastError: null,
        failedAt: null,
        nextAttemptAt: null,
        appliedAt: expect.any(String),
      },
    });
    expect(await orderState(orderId)).toEqual({ status: 'paid', sync_state: 'confirmed' });
    const { rows: audit } = await server.app.db.query<{ actor_id: string }>(`select actor_id from audit_log where action = 'webhook_event.replay' and target_id = $1`, [eventId]);
    expect(audit).toEqual([{ actor_id: expect.stringContaining(ADMIN_ID) }]);
  });

  const replayAudit = async (eventId: string) =>
    (await server.app.db.query<{ details: Record<string, unknown> }>(`select details from audit_log where action = 'webhook_event.replay' and target_id = $1`, [eventId])).rows;

  it('replays once for a double press: the same key again answers isRepeat: true and does nothing more', async () => {
    await storeOnly([]);
    const { eventId, orderId } = await paidAtStripe();
    await server.app.db.query(`update stripe_events set status = 'failed', attempts = 10, last_error = 'connection terminated', failed_at = now() where id = $1`, [eventId]);
    const key = newKey();

    const both = await Promise.all([replay(eventId, as.admin, key), replay(eventId, as.admin, key)]);
    const answers = both.map((response) => {
      expect(response.body.errors).toBeUndefined();
      return response.body.data.replayWebhookEvent;
    });
    expect(answers.map((answer) => answer.isRepeat).sort()).toEqual([false, true]);
    expect(answers.every((answer) => answer.error === null && answer.event.id === eventId)).toBe(true);

    // Failed again after the replay: a later press with the same key still does nothing.
    await server.app.db.query(`update stripe_events set status = 'failed', attempts = 10, failed_at = now() where id = $1`, [eventId]);
    const again = await replay(eventId, as.admin, key);
    expect(again.body.data.replayWebhookEvent).toMatchObject({ isRepeat: true, error: null, event: { id: eventId, status: 'FAILED', attempts: 10 } });
    expect(await replayAudit(eventId)).toEqual([{ details: { idempotency_key: key } }]);
    expect(await orderState(orderId)).toEqual({ status: 'paid', sync_state: 'confirmed' });
  });

  it('refuses a key already used for another event with CONFLICT, changing nothing', async () => {
    await storeOnly(SEEDS);
    const key = newKey();
    const first = await replay(SEEDS[0]!.id, as.admin, key);
    expect(first.body.data.replayWebhookEvent).toMatchObject({ error: null, isRepeat: false });
    const before = await snapshot();

    const response = await replay(SEEDS[1]!.id, as.admin, key);

    expect(response.body.data).toBeNull();
    expectRefusal(response, 'CONFLICT', { reason: 'IDEMPOTENCY_KEY_REUSED', idempotencyKey: key }, /already used with different input \(for webhook_event_replay\)/);
    expect(await snapshot()).toEqual(before);
  });
});
