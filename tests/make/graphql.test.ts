// The staff API over Make deliveries, over real HTTP against the real server: who may read, retry and
// replay; the list's filters and keyset pagination; one delivery with its attempts; the status
// figures; retry and replay sending the same delivery id again, audited and idempotent by key; bad
// input refused with a typed error that changes nothing.
//
// The server runs without its jobs (JOBS_ENABLED=false): each test drains the outbox when it wants
// deliveries sent, so every state is the test's doing.
import { randomUUID } from 'node:crypto';
import { HttpResponse } from 'msw';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApiKey } from '../../server/auth/apiKeys';
import { signStaffToken } from '../../server/auth/staffTokens';
import { type CheckoutServer, JWT_SECRET, newKey, startCheckoutServer } from '../helpers/checkout';
import { newStory } from '../helpers/webhookStory';
import { deliveries, type MakeHook, makeEnv, startMakeHook } from './makeHelpers';

type Auth = { token?: string; headers?: Record<string, string> };
type Caller = 'anonymous' | 'customer' | 'storefront' | 'make' | 'support' | 'admin';

let server: CheckoutServer;
let hook: MakeHook;
const as = {} as Record<Caller, Auth>;

beforeAll(async () => {
  hook = startMakeHook();
  server = await startCheckoutServer({ JOBS_ENABLED: 'false', ...makeEnv(['add_project', 'refund_completed']) });
  const staff = (staffRole: 'support' | 'admin') =>
    signStaffToken(JWT_SECRET, { userId: randomUUID(), email: `${staffRole}@staff.test`, staffRole, audience: 'authenticated', expiresIn: '1h' });
  const { key: makeKey } = await createApiKey(server.app.db, 'test make scenario', 'make');
  Object.assign(as, {
    anonymous: {},
    customer: { token: await server.customerToken() },
    storefront: server.asStorefront,
    make: { headers: { 'x-api-key': makeKey } },
    support: { token: await staff('support') },
    admin: { token: await staff('admin') },
  });
});
afterAll(async () => {
  await server?.stop();
  hook?.close();
});
beforeEach(() => hook.reset());

const DELIVERY_FIELDS = `id kind status orderId subjectId attempts nextAttemptAt replays lastStatusCode lastError lastResponse
  createdAt updatedAt deliveredAt deadAt payload attemptLog { attempt startedAt finishedAt statusCode latencyMs outcome error response }`;
const LIST = `query ($filter: MakeDeliveryFilter, $first: Int, $after: String) {
  makeDeliveries(filter: $filter, first: $first, after: $after) { nodes { id kind status } pageInfo { hasNextPage endCursor } }
}`;
const DELIVERY = `query ($id: ID!) { makeDelivery(id: $id) { ${DELIVERY_FIELDS} } }`;
const STATUS = `{ makeStatus { pending delivering delivered dead failing oldestPendingAgeSeconds } }`;
const action = (name: string) => `mutation ($input: MakeDeliveryActionInput!) {
  ${name}(input: $input) { delivery { ${DELIVERY_FIELDS} } error { code message } isRepeat }
}`;
const RETRY = action('retryMakeDelivery');
const REPLAY = action('replayMakeDelivery');

const list = (variables: Record<string, unknown> = {}, auth: Auth = as.support) => server.graphql(LIST, { variables, ...auth });
const getDelivery = (id: string, auth: Auth = as.support) => server.graphql(DELIVERY, { variables: { id }, ...auth });
const retry = (id: string, auth: Auth = as.support, idempotencyKey = newKey()) => server.graphql(RETRY, { variables: { input: { id, idempotencyKey } }, ...auth });
const replay = (id: string, auth: Auth = as.support, idempotencyKey = newKey()) => server.graphql(REPLAY, { variables: { input: { id, idempotencyKey } }, ...auth });

/** A paid order's add_project delivery, sent once and answered with `status` (200 by default). */
async function sentDelivery(status = 200): Promise<string> {
  const story = await newStory(server.app.db);
  await server.app.db.query(`update orders set status = 'paid' where id = $1`, [story.orderId]);
  // A failure asks for an hour's pause, so the same drain does not come back for it at once.
  if (status !== 200) hook.script.push(() => new HttpResponse('nope', { status, headers: { 'Retry-After': '3600' } }));
  await server.app.makeOutbox.drain();
  const [row] = await deliveries(server.app.db, 'order_id = $1', [story.orderId]);
  return row!.id;
}

/** A paid order's add_project delivery, never sent. */
async function pendingDelivery(): Promise<string> {
  const story = await newStory(server.app.db);
  await server.app.db.query(`update orders set status = 'paid' where id = $1`, [story.orderId]);
  const [row] = await deliveries(server.app.db, 'order_id = $1', [story.orderId]);
  return row!.id;
}

async function auditRows(id: string) {
  const { rows } = await server.app.db.query<{ action: string; actor_id: string; details: Record<string, unknown> }>(
    `select action, actor_id, details from audit_log where target_type = 'make_delivery' and target_id = $1 order by id`,
    [id],
  );
  return rows;
}

describe('who may', () => {
  it.each(['support', 'admin'] as const)('%s: read the list, one delivery and the status', async (caller) => {
    const id = await sentDelivery();
    expect((await list({}, as[caller])).body.errors).toBeUndefined();
    expect((await getDelivery(id, as[caller])).body.data.makeDelivery.id).toBe(id);
    expect((await server.graphql(STATUS, as[caller])).body.errors).toBeUndefined();
  });

  it.each([
    ['anonymous', 'UNAUTHENTICATED'],
    ['customer', 'FORBIDDEN'],
    ['storefront', 'FORBIDDEN'],
    ['make', 'FORBIDDEN'],
  ] as const)('%s: neither read nor retry nor replay (%s), and nothing changes', async (caller, code) => {
    const id = await sentDelivery(404);
    for (const response of [await list({}, as[caller]), await getDelivery(id, as[caller]), await server.graphql(STATUS, as[caller])]) {
      expect(response.body.errors?.[0]?.extensions?.code).toBe(code);
    }
    for (const response of [await retry(id, as[caller]), await replay(id, as[caller])]) {
      expect(response.body.errors?.[0]?.extensions?.code).toBe(code);
      expect(response.body.data).toBeNull();
    }
    await server.app.makeOutbox.drain();
    expect(hook.received).toHaveLength(1);
    expect((await deliveries(server.app.db, 'id = $1', [id]))[0]!.status).toBe('dead');
    expect(await auditRows(id)).toEqual([]);
  });
});

describe('makeDelivery', () => {
  it('shows a delivery with its attempts, first to last', async () => {
    const id = await sentDelivery(503);
    const { rows } = await server.app.db.query(`update make_deliveries set next_attempt_at = now() where id = $1 returning id`, [id]);
    expect(rows).toHaveLength(1);
    await server.app.makeOutbox.drain();

    const delivery = (await getDelivery(id)).body.data.makeDelivery;
    expect(delivery).toMatchObject({ id, kind: 'ADD_PROJECT', status: 'DELIVERED', attempts: 2, nextAttemptAt: null, lastStatusCode: 200, replays: 0 });
    expect(JSON.parse(delivery.payload)).toMatchObject({ type: 'add_project', delivery_id: id });
    expect(delivery.attemptLog.map((a: { attempt: number; statusCode: number; outcome: string }) => [a.attempt, a.statusCode, a.outcome])).toEqual([
      [1, 503, 'RETRY'],
      [2, 200, 'DELIVERED'],
    ]);
  });

  it('is null for an unknown id, and refuses what is not a delivery id', async () => {
    expect((await getDelivery(randomUUID())).body).toEqual({ data: { makeDelivery: null } });
    const bad = await getDelivery('evt_123');
    expect(bad.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_DELIVERY_ID' });
  });
});

describe('makeDeliveries', () => {
  it('lists newest first, filters by status and kind, and pages with a cursor', async () => {
    const ids = [await pendingDelivery(), await pendingDelivery(), await pendingDelivery()];
    const newestFirst = [...ids].reverse();
    const page1 = (await list({ filter: { status: 'PENDING', kind: 'ADD_PROJECT' }, first: 2 })).body.data.makeDeliveries;
    expect(page1.nodes.map((n: { id: string }) => n.id)).toEqual(newestFirst.slice(0, 2));
    expect(page1.pageInfo.hasNextPage).toBe(true);
    const page2 = (await list({ filter: { status: 'PENDING', kind: 'ADD_PROJECT' }, first: 2, after: page1.pageInfo.endCursor })).body.data.makeDeliveries;
    expect(page2.nodes.map((n: { id: string }) => n.id)).toEqual(newestFirst.slice(2));
    expect(page2.pageInfo.hasNextPage).toBe(false);
    expect((await list({ filter: { kind: 'REFUND_COMPLETED' } })).body.data.makeDeliveries.nodes).toEqual([]);
    await server.app.makeOutbox.drain();
  });

  it.each([
    [{ first: 0 }, 'INVALID_FIRST'],
    [{ first: 201 }, 'INVALID_FIRST'],
    [{ after: 'not-a-cursor' }, 'INVALID_CURSOR'],
    [{ after: Buffer.from('123|evt_1').toString('base64url') }, 'INVALID_CURSOR'],
  ])('refuses %j with a typed error', async (variables, reason) => {
    expect((await list(variables)).body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason });
  });

  it('refuses an unknown status or kind', async () => {
    expect((await list({ filter: { status: 'LOST' } })).body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await list({ filter: { kind: 'ORDER_SHIPPED' } })).body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('makeStatus', () => {
  it('counts deliveries by status, the failing ones, and the wait of the oldest', async () => {
    await server.app.makeOutbox.drain();
    const before = (await server.graphql(STATUS, as.support)).body.data.makeStatus;
    await sentDelivery(500); // pending, failing
    await sentDelivery(410); // dead
    await pendingDelivery();
    await server.app.db.query(`update make_deliveries set retry_window_from = now() - interval '90 seconds', next_attempt_at = now() + interval '1 hour' where status = 'pending'`);
    const after = (await server.graphql(STATUS, as.support)).body.data.makeStatus;
    expect(after.pending - before.pending).toBe(2);
    expect(after.failing - before.failing).toBe(1);
    expect(after.dead - before.dead).toBe(1);
    expect(after.oldestPendingAgeSeconds).toBeGreaterThanOrEqual(90);
    await server.app.db.query(`update make_deliveries set status = 'delivered' where status = 'pending'`);
  });
});

describe('retryMakeDelivery', () => {
  it('sends a dead delivery again now, with the same delivery id, audited', async () => {
    const id = await sentDelivery(404);
    const response = await retry(id, as.support);
    expect(response.body.errors).toBeUndefined();
    const retried = response.body.data.retryMakeDelivery;
    expect(retried).toMatchObject({ error: null, isRepeat: false, delivery: { id, status: 'PENDING', deadAt: null } });
    expect(Date.parse(retried.delivery.nextAttemptAt)).toBeLessThanOrEqual(Date.now() + 1000);

    await server.app.makeOutbox.drain();
    expect((await getDelivery(id)).body.data.makeDelivery).toMatchObject({ status: 'DELIVERED', attempts: 2 });
    expect(hook.received.map((r) => r.deliveryId)).toEqual([id, id]);
    expect(await auditRows(id)).toEqual([{ action: 'make_delivery.retry', actor_id: expect.stringMatching(/^staff:/), details: expect.objectContaining({ kind: 'add_project' }) }]);
  });

  it('refuses a delivered one (replay it instead), and an unknown id, with typed errors that change nothing', async () => {
    const id = await sentDelivery();
    const delivered = (await retry(id)).body.data.retryMakeDelivery;
    expect(delivered).toMatchObject({ error: { code: 'MAKE_DELIVERY_WRONG_STATE' }, delivery: { id, status: 'DELIVERED' }, isRepeat: false });
    const unknown = (await retry(randomUUID())).body.data.retryMakeDelivery;
    expect(unknown).toMatchObject({ error: { code: 'MAKE_DELIVERY_NOT_FOUND' }, delivery: null });
    await server.app.makeOutbox.drain();
    expect(hook.received).toHaveLength(1);
    expect(await auditRows(id)).toEqual([]);
  });

  it('refuses a malformed id or idempotency key as bad input', async () => {
    const id = await sentDelivery();
    expect((await retry('12345')).body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_DELIVERY_ID', field: 'input.id' });
    expect((await retry(id, as.support, 'has spaces in it')).body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_IDEMPOTENCY_KEY' });
    expect((await retry(id, as.support, 'x'.repeat(256))).body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
  });
});

describe('replayMakeDelivery', () => {
  it('sends a delivered one again with the same delivery id and body, audited', async () => {
    const id = await sentDelivery();
    const response = await replay(id, as.admin);
    expect(response.body.data.replayMakeDelivery).toMatchObject({ error: null, isRepeat: false, delivery: { id, status: 'PENDING', replays: 1 } });
    await server.app.makeOutbox.drain();

    expect(hook.received.map((r) => r.deliveryId)).toEqual([id, id]);
    expect(hook.received[1]!.rawBody).toBe(hook.received[0]!.rawBody);
    expect(hook.received[1]!.signatureValid).toBe(true);
    expect((await getDelivery(id)).body.data.makeDelivery).toMatchObject({ status: 'DELIVERED', attempts: 2, replays: 1 });
    expect((await auditRows(id)).map((row) => row.action)).toEqual(['make_delivery.replay']);
  });

  it('refuses a pending one (it is going out anyway)', async () => {
    const id = await pendingDelivery();
    expect((await replay(id)).body.data.replayMakeDelivery).toMatchObject({ error: { code: 'MAKE_DELIVERY_WRONG_STATE' }, delivery: { status: 'PENDING', replays: 0 } });
    await server.app.makeOutbox.drain();
  });

  it('acts once per idempotency key: a repeat returns the delivery without sending again', async () => {
    const id = await sentDelivery();
    const key = newKey();
    expect((await replay(id, as.support, key)).body.data.replayMakeDelivery.isRepeat).toBe(false);
    await server.app.makeOutbox.drain();
    const repeat = (await replay(id, as.support, key)).body.data.replayMakeDelivery;
    expect(repeat).toMatchObject({ isRepeat: true, error: null, delivery: { id, status: 'DELIVERED', replays: 1 } });
    await server.app.makeOutbox.drain();
    expect(hook.received).toHaveLength(2);
    expect(await auditRows(id)).toHaveLength(1);
  });

  it('acts once for two concurrent calls with one key', async () => {
    const id = await sentDelivery();
    const key = newKey();
    const answers = await Promise.all([replay(id, as.support, key), replay(id, as.support, key)]);
    expect(answers.map((a) => a.body.data.replayMakeDelivery.isRepeat).sort()).toEqual([false, true]);
    await server.app.makeOutbox.drain();
    expect(hook.received).toHaveLength(2);
    expect(await auditRows(id)).toHaveLength(1);
  });

  it('refuses a key used for another delivery or action as a CONFLICT', async () => {
    const [first, second] = [await sentDelivery(), await sentDelivery()];
    const key = newKey();
    await replay(first, as.support, key);
    const otherDelivery = await replay(second, as.support, key);
    expect(otherDelivery.body.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED' });
    const otherAction = await retry(first, as.support, key);
    expect(otherAction.body.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT' });
    await server.app.makeOutbox.drain();
    expect(await auditRows(second)).toEqual([]);
  });
});
