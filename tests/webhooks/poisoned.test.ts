// A poisoned webhook fails alone. Deliveries share a group commit (server/webhooks/eventStore.ts): one
// statement per batch. An event the database refuses is refused at the endpoint before it joins a
// batch, and should one still reach the database, or a batch fail for any other reason, the batch is
// written again one event at a time, so that no valid delivery in it is answered with an error.
import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../server/platform/db/db';
import { EventStore, UnstorableEventError } from '../../server/webhooks/eventStore';
import type { VerifiedEvent } from '../../server/webhooks/verify';
import { faultyDb, InjectedDbError } from '../../server/platform/db/faultyDb';
import { startTestServer, type TestServer } from '../helpers/server';

const SECRET = 'whsec_poisonedTestSecret0001';

let server: TestServer;
beforeAll(async () => {
  // HTTP only: these tests look at what is stored, before any applier.
  server = await startTestServer({ STRIPE_WEBHOOK_SECRET: SECRET, JOBS_ENABLED: 'false' });
  server.app.stripeSandbox!.core.events.stopAutoDelivery();
});
afterAll(() => server?.stop());

const eventId = () => `evt_${randomBytes(12).toString('hex')}`;

function event(overrides: Record<string, unknown> = {}) {
  return {
    id: eventId(),
    object: 'event',
    api_version: '2026-10-28.endive',
    created: Math.floor(Date.now() / 1000),
    data: { object: { id: `pi_${randomBytes(12).toString('hex')}`, object: 'payment_intent', amount: 9900, currency: 'usd', status: 'succeeded', metadata: {} } },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: 'payment_intent.succeeded',
    ...overrides,
  };
}

const withNote = (note: string) => event({ data: { object: { id: `pi_${randomBytes(12).toString('hex')}`, object: 'payment_intent', metadata: { note } } } });

async function deliver(payload: string) {
  const response = await fetch(`${server.url}/webhooks/stripe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET }) },
    body: payload,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function storedIds(ids: string[]): Promise<string[]> {
  const { rows } = await server.testDb.db.query<{ id: string }>('select id from stripe_events where id = any($1::text[]) order by id', [ids]);
  return rows.map((row) => row.id);
}

describe('the endpoint, with poisoned events among valid ones', () => {
  it('stores and acknowledges 200 valid events delivered concurrently with poisoned ones, and refuses only the poisoned', async () => {
    const valid = Array.from({ length: 200 }, () => JSON.stringify(event(), null, 2));
    const poisoned = [
      JSON.stringify(withNote('a\u0000b')),
      JSON.stringify(withNote('\ud800')),
      JSON.stringify(event({ created: 1e20 })),
      JSON.stringify(event({ created: -5 })),
      // Refused by the database, not by verify.ts: isolated by the store's retry per event.
      JSON.stringify(event({ extra: '@@' })).replace('"@@"', '-1e200000'),
    ];
    // Interleaved, so that poisoned deliveries arrive among the valid ones.
    const all = valid.flatMap((payload, i) => (i % 40 === 0 && poisoned[i / 40] ? [poisoned[i / 40]!, payload] : [payload]));

    const responses = await Promise.all(all.map((payload) => deliver(payload)));

    const byPayload = new Map(all.map((payload, i) => [payload, responses[i]!]));
    for (const payload of valid) expect(byPayload.get(payload)).toEqual({ status: 200, body: { received: true } });
    for (const payload of poisoned) expect(byPayload.get(payload)).toMatchObject({ status: 400, body: { error: 'unstorable_event' } });
    const validIds = valid.map((payload) => JSON.parse(payload).id as string);
    expect(await storedIds(validIds)).toEqual([...validIds].sort());
    expect(await storedIds(poisoned.map((payload) => JSON.parse(payload).id as string))).toEqual([]);
  });
});

/** A verified event as verifyDelivery() returns it, built without its checks: what reaches the store. */
function verified(body: Record<string, unknown>, raw = JSON.stringify(body)): VerifiedEvent {
  const object = (body.data as { object: { id: string; object: string } }).object;
  return {
    id: body.id as string,
    type: body.type as string,
    objectType: object.object,
    objectId: object.id,
    created: body.created as number,
    livemode: false,
    apiVersion: null,
    raw,
    payload: body as never,
  };
}

/** The real database, with the number of events in each batch statement recorded. */
function recording(db: Db) {
  const batches: number[] = [];
  const wrapped: Db = {
    ...db,
    engine: db.engine,
    query: async (sql, params) => {
      if (/stripe_events_store/.test(sql)) batches.push((JSON.parse(params![0] as string) as unknown[]).length);
      return db.query(sql, params);
    },
    exec: (sql) => db.exec(sql),
    transaction: (fn) => db.transaction(fn),
    close: () => db.close(),
  };
  return { db: wrapped, batches };
}

const settle = <T>(promises: Array<Promise<T>>) => Promise.allSettled(promises);

describe('the event store', () => {
  it('isolates events the database refuses in a shared batch: the valid ones are stored, each refused one fails alone', async () => {
    const { db, batches } = recording(server.testDb.db);
    let wakes = 0;
    const store = new EventStore(db, () => (wakes += 1));
    const valid = Array.from({ length: 200 }, () => verified(event()));
    // Shapes verify.ts refuses; here they reach the database, as they did before it did.
    const big = event();
    const poisoned = [
      { event: verified(withNote('x\u0000y')), sqlState: '22P05' },
      { event: verified(event({ created: 9_300_000_000_000 })), sqlState: '22008' },
      { event: verified(big, JSON.stringify(big).replace(/}$/, ',"big":1e200000}')), sqlState: '22003' },
    ];
    const events = [...valid.slice(0, 50), poisoned[0]!.event, ...valid.slice(50, 120), poisoned[1]!.event, ...valid.slice(120), poisoned[2]!.event];

    // Queued in one turn of the event loop: they are written as one batch.
    const outcomes = await settle(events.map((e) => store.store(e, null)));

    expect(batches[0]).toBe(events.length);
    // Then once each, in a statement of its own.
    expect(batches.slice(1)).toEqual(events.map(() => 1));
    const outcomeOf = (e: VerifiedEvent) => outcomes[events.indexOf(e)]!;
    for (const e of valid) expect(outcomeOf(e)).toEqual({ status: 'fulfilled', value: { isNew: true } });
    for (const { event: e, sqlState } of poisoned) {
      const outcome = outcomeOf(e);
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(UnstorableEventError);
      expect((outcome as PromiseRejectedResult).reason).toMatchObject({ sqlState });
    }
    expect(await storedIds(valid.map((e) => e.id))).toEqual(valid.map((e) => e.id).sort());
    expect(await storedIds(poisoned.map((p) => p.event.id))).toEqual([]);
    expect(wakes).toBe(1);
  });

  it('retries a batch that failed for a reason other than a poisoned event one event at a time, storing every one', async () => {
    const faults = faultyDb(server.testDb.db);
    const { db, batches } = recording(faults.db);
    const store = new EventStore(db);
    const events = Array.from({ length: 30 }, () => verified(event()));
    // A repeat inside the batch: the first is new, the second known.
    const repeat = events[3]!;
    faults.failNext(/stripe_events_store/);

    const outcomes = await settle([...events, repeat].map((e) => store.store(e, null)));

    expect(faults.failures).toHaveLength(1);
    expect(outcomes.slice(0, -1).every((o) => o.status === 'fulfilled' && o.value.isNew)).toBe(true);
    expect(outcomes.at(-1)).toEqual({ status: 'fulfilled', value: { isNew: false } });
    expect(batches.length).toBe(1 + events.length + 1);
    expect(await storedIds(events.map((e) => e.id))).toEqual(events.map((e) => e.id).sort());
  });

  it('stops retrying when an event fails alone for a reason not its own (the database is down): the rest fail too, for Stripe to retry', async () => {
    const faults = faultyDb(server.testDb.db);
    const store = new EventStore(faults.db);
    const events = Array.from({ length: 20 }, () => verified(event()));
    faults.failNext(/stripe_events_store/, { times: 2 });

    const outcomes = await settle(events.map((e) => store.store(e, null)));

    // The batch, then its first event alone; not the other nineteen, each after its own wait.
    expect(faults.failures).toHaveLength(2);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(InjectedDbError);
    }
    expect(await storedIds(events.map((e) => e.id))).toEqual([]);

    // Once the database answers again, Stripe's retries are stored.
    const retried = await settle(events.map((e) => store.store(e, null)));
    expect(retried.every((o) => o.status === 'fulfilled' && o.value.isNew)).toBe(true);
  });
});
