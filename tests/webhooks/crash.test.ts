// Nothing acknowledged is lost (DESIGN.md, invariants; decision 6): the webhook endpoint answers 200
// only once the event is committed, so a process killed right after its acknowledgements, before it
// applied anything, leaves every event stored, and the next process to start applies them all, once.
//
// The server runs as `npm start` runs it (server/main.ts), in child processes of the test: the first
// serves HTTP only (JOBS_ENABLED=false, so it stores and never applies) and is killed with SIGKILL,
// which runs no shutdown hook; the second has its jobs on, as after a restart. Both use one database:
// a PGlite directory on disk, or a throwaway database on the PostgreSQL server (TEST_ENGINE=postgres).
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { signStaffToken } from '../../server/auth/staffTokens';
import type { Db } from '../../server/platform/db/db';
import { TEST_ENGINE } from '../helpers/db';
import { createProcessDatabase, killServerProcesses, type ProcessDatabase, type ServerProcess, startServerProcess } from '../helpers/serverProcess';
import { deliver, newStory, type Story, storyState, WEBHOOK_TEST_SECRET } from '../helpers/webhookStory';

const JWT_SECRET = 'crash-tests-jwt-secret-0123456789abcdef';
const STORIES = 6;
const ORDER = `query ($id: ID!) { order(id: $id) { id status syncState } }`;

let database: ProcessDatabase | undefined;

afterAll(async () => {
  await killServerProcesses();
  await database?.destroy();
});

async function withDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const db = await database!.open();
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

async function orderOverGraphql(server: ServerProcess, token: string, orderId: string): Promise<{ status: string; syncState: string | null }> {
  const response = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: ORDER, variables: { id: orderId } }),
  });
  const body = (await response.json()) as { data?: { order: { status: string; syncState: string | null } | null }; errors?: unknown };
  if (!body.data?.order) throw new Error(`order(${orderId}) answered ${response.status} ${JSON.stringify(body)}`);
  return { status: body.data.order.status, syncState: body.data.order.syncState };
}

/** Polls until `check` returns true; fails with what it last saw (and the server's output) after the timeout. */
async function waitUntil(what: string, check: () => Promise<{ done: boolean; seen: unknown }>, server: ServerProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen: unknown;
  for (;;) {
    const result = await check();
    if (result.done) return;
    seen = result.seen;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}; last seen ${JSON.stringify(seen)}\n${server.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function eventRows(db: Db, ids: string[]) {
  const { rows } = await db.query<{ id: string; status: string; attempts: number; last_error: string | null }>(
    'select id, status, attempts, last_error from stripe_events where id = any($1::text[]) order by id',
    [ids],
  );
  return rows;
}

async function paymentLogCount(db: Db, story: Story, eventType: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>('select count(*)::int as n from payment_logs where order_id = $1 and event_type = $2', [story.orderId, eventType]);
  return rows[0]!.n;
}

describe('a crash after acknowledging and before applying', () => {
  it('loses nothing: every event a killed process acknowledged is applied once by the next process', { timeout: 300_000 }, async () => {
    // Arrange: orders waiting for their payment, made the way the storefront makes them.
    database = await createProcessDatabase();
    const stories = await withDb(async (db) => {
      const made: Story[] = [];
      for (let i = 0; i < STORIES; i++) made.push(await newStory(db));
      return made;
    });
    // Two events per order, both saying it is paid: the session completed and its PaymentIntent succeeded.
    const events = stories.flatMap((story) => [story.event('checkout.session.completed'), story.event('payment_intent.succeeded')]);
    const eventIds = events.map((event) => event.id).sort();
    const env = { ...database.env, STRIPE_WEBHOOK_SECRET: WEBHOOK_TEST_SECRET, SUPABASE_JWT_SECRET: JWT_SECRET };
    const token = await signStaffToken(JWT_SECRET, { userId: randomUUID(), email: 'support@crash.test', staffRole: 'support', audience: 'authenticated', expiresIn: '1h' });

    // Act: a process that only stores acknowledges every event, then dies at once.
    const first = await startServerProcess({ ...env, JOBS_ENABLED: 'false' }, { cwd: database.workDir });
    const half = events.length / 2;
    const acknowledgements = [];
    for (const event of events.slice(0, half)) acknowledgements.push(await deliver(first.url, event));
    // While it lives, an acknowledged event is stored, not applied: the order still waits.
    const whileAlive = await orderOverGraphql(first, token, stories[0]!.orderId);
    // The rest at once, so that several share a commit, and the kill follows the last answer.
    acknowledgements.push(...(await Promise.all(events.slice(half).map((event) => deliver(first.url, event)))));
    const killed = await first.kill('SIGKILL');

    expect(whileAlive).toEqual({ status: 'PENDING', syncState: null });
    expect(acknowledgements).toEqual(events.map(() => ({ status: 200, body: { received: true } })));
    expect(killed).toEqual({ code: null, signal: 'SIGKILL' });

    // Assert: everything acknowledged survived the kill, and the killed process applied none of it.
    await withDb(async (db) => {
      expect(await eventRows(db, eventIds)).toEqual(eventIds.map((id) => ({ id, status: 'received', attempts: 0, last_error: null })));
      for (const story of stories) {
        expect(await storyState(db, story)).toMatchObject({ order: { status: 'pending', sync_state: null }, payments: [] });
      }
    });

    // Act: the next process starts with its jobs on and applies what the first left. Its applier claims
    // all these events (fewer than a batch) in one transaction, so once every order shows paid, every
    // event has been through it; SIGTERM then lets it finish cleanly before the rows are read.
    const second = await startServerProcess(env, { cwd: database.workDir });
    expect(await (await fetch(`${second.url}/readyz`)).json()).toEqual({ status: 'ready', database: TEST_ENGINE });
    await waitUntil(
      'every order is paid and confirmed',
      async () => {
        const seen = await Promise.all(stories.map((story) => orderOverGraphql(second, token, story.orderId)));
        return { done: seen.every((order) => order.status === 'PAID' && order.syncState === 'CONFIRMED'), seen };
      },
      second,
    );
    const stopped = await second.kill('SIGTERM');
    expect(stopped, second.output()).toEqual({ code: 0, signal: null });

    // Assert: every acknowledged event applied once, every order paid once.
    await withDb(async (db) => {
      expect(await eventRows(db, eventIds)).toEqual(eventIds.map((id) => ({ id, status: 'applied', attempts: 1, last_error: null })));
      for (const story of stories) {
        const state = await storyState(db, story);
        expect(state).toMatchObject({
          order: { status: 'paid', sync_state: 'confirmed', payment_intent_id: story.id('pi_fixture0001') },
          attempts: [{ attempt: 1, status: 'succeeded' }],
          payments: [{ pi: story.id('pi_fixture0001'), charge: story.id('ch_fixture0001'), status: 'succeeded', amount_refunded: 0 }],
        });
        expect(await paymentLogCount(db, story, 'payment.paid')).toBe(1);
      }
    });
  });
});
