// When applying fails: an event that cannot be applied is retried with backoff and marked failed
// after the configured attempts, without holding up the others in its batch; a database failure
// mid-batch undoes the whole batch and loses nothing; Stripe being down while the applier must ask
// it is a retry, not a verdict; and a staff replay applies a stored event again through the same
// path, a no-op where it had been applied.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type Stripe from 'stripe';
import type { Db } from '../../server/platform/db/db';
import { type FaultyDb, faultyDb } from '../../server/platform/db/faultyDb';
import { FIXTURE_IDS } from '../helpers/webhookFixtures';
import { startTestServer, type TestServer } from '../helpers/server';
import { eventRow, newStory, seedSandbox, storeEvents, storeEventsUntranslated, storyState, WEBHOOK_TEST_SECRET } from '../helpers/webhookStory';

const MAX_ATTEMPTS = 3;
let server: TestServer;
let db: Db;
let faults: FaultyDb;

beforeAll(async () => {
  // No jobs: only the drains below apply, so each attempt is the test's.
  server = await startTestServer(
    { STRIPE_WEBHOOK_SECRET: WEBHOOK_TEST_SECRET, JOBS_ENABLED: 'false', WEBHOOK_MAX_ATTEMPTS: String(MAX_ATTEMPTS), STRIPE_MAX_NETWORK_RETRIES: '0' },
    { wrapDb: (real) => (faults = faultyDb(real)).db },
  );
  server.app.stripeSandbox!.core.events.stopAutoDelivery();
  db = server.app.db;
});
afterAll(() => server?.stop());
beforeEach(async () => {
  // Each test starts with nothing due from another.
  await db.query(`update stripe_events set status = 'ignored', ignored_reason = 'earlier test' where status = 'received'`);
});

const store = (...events: Stripe.Event[]) => storeEvents(db, ...events);

/** Makes the event's retry due now (the backoff has passed). */
const dueNow = (id: string) => db.query('update stripe_events set next_attempt_at = now() where id = $1', [id]);
const applier = () => server.app.webhookApplier;
/** A staff replay with a fresh idempotency key, as one press of the console's button. */
const replay = (eventId: string) => applier().replay({ eventId, actor: 'staff:test-admin', scope: 'user:test-admin', key: randomUUID() });

async function paidLogs(orderId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from payment_logs where order_id = $1 and event_type = 'payment.paid'`, [orderId]);
  return rows[0]!.n;
}

describe('an event that cannot be applied', () => {
  it('is retried with backoff, then failed after the configured attempts; its batch is applied', async () => {
    const good = await newStory(db);
    const poisoned = await newStory(db);
    const unreadable = poisoned.event('payment_intent.succeeded', { overrides: { data: { object: { amount: 'ninety-nine' as unknown as number } } } });
    const fine = good.event('payment_intent.succeeded');
    await store(unreadable, fine);

    // The backoff is measured from a moment before the attempt, not from when this test gets to read
    // it: on a loaded machine seconds may pass between the two.
    const { rows: beforeRows } = await db.query<{ before: string }>('select clock_timestamp()::text as before');
    await applier().drain();
    expect(await eventRow(db, fine.id)).toMatchObject({ status: 'applied' });
    const first = await eventRow(db, unreadable.id);
    expect(first).toMatchObject({ status: 'received', attempts: 1, last_error: expect.stringContaining('amount is not an amount') });
    const { rows } = await db.query<{ wait: number }>('select extract(epoch from next_attempt_at - $2::timestamptz)::float as wait from stripe_events where id = $1', [
      unreadable.id,
      beforeRows[0]!.before,
    ]);
    expect(rows[0]!.wait).toBeGreaterThan(1); // 2 s and up, with jitter
    // Not due yet: the retry time stays where the backoff put it, however long the drain above took.
    await db.query(`update stripe_events set next_attempt_at = now() + interval '1 hour' where id = $1`, [unreadable.id]);
    await applier().drain();
    expect(await eventRow(db, unreadable.id)).toMatchObject({ attempts: 1 }); // not due yet

    for (let attempt = 2; attempt <= MAX_ATTEMPTS; attempt++) {
      await dueNow(unreadable.id);
      await applier().drain();
    }
    const { rows: failed } = await db.query('select status, attempts, failed_at is not null as has_failed_at from stripe_events where id = $1', [unreadable.id]);
    expect(failed).toEqual([{ status: 'failed', attempts: MAX_ATTEMPTS, has_failed_at: true }]);
    expect((await storyState(db, poisoned)).order).toMatchObject({ status: 'pending' });
    await dueNow(unreadable.id);
    await applier().drain();
    expect(await eventRow(db, unreadable.id)).toMatchObject({ status: 'failed', attempts: MAX_ATTEMPTS }); // failed waits for staff
  });

  it('a database failure mid-batch undoes the batch: nothing applied, nothing counted, applied on the next run', async () => {
    const story = await newStory(db);
    const event = story.event('payment_intent.succeeded');
    await store(event);
    // Both the one-statement path and the event-by-event one it falls back to.
    faults.failNext(/stripe_events_apply/, { times: 2 });
    await expect(applier().drain()).rejects.toThrow(/injected database failure/);
    expect(await eventRow(db, event.id)).toMatchObject({ status: 'received', attempts: 0 });
    expect((await storyState(db, story)).order).toMatchObject({ status: 'pending' });
    await applier().drain();
    expect(await eventRow(db, event.id)).toMatchObject({ status: 'applied', attempts: 1 });
    expect(await paidLogs(story.orderId)).toBe(1);
  });

  it('an event that makes the one-statement path fail is applied on its own: the error is its alone, the rest of its batch applied', async () => {
    const good = await newStory(db);
    const bad = await newStory(db);
    const fine = good.event('payment_intent.succeeded');
    const broken = bad.event('payment_intent.succeeded');
    await store(fine, broken);
    // Facts the SQL refuses (as a database constraint or a bug would): the whole statement raises.
    await db.query(`update stripe_events set facts = facts || '{"effect": "no_such_effect"}' where id = $1`, [broken.id]);
    const failedBefore = faults.failures.length;

    await applier().drain();
    expect(await eventRow(db, fine.id)).toMatchObject({ status: 'applied', attempts: 1 });
    expect(await eventRow(db, broken.id)).toMatchObject({ status: 'received', attempts: 1, last_error: expect.stringContaining('unknown effect no_such_effect') });
    expect(await paidLogs(good.orderId)).toBe(1);
    expect((await storyState(db, bad)).order).toMatchObject({ status: 'pending' });
    expect(faults.failures.length).toBe(failedBefore); // the database itself never failed
  });

  it('events stored without facts (by an older server) are translated from their payload and applied', async () => {
    const story = await newStory(db);
    const event = story.event('payment_intent.succeeded');
    await storeEventsUntranslated(db, event);
    await applier().drain();
    expect(await eventRow(db, event.id)).toMatchObject({ status: 'applied', attempts: 1 });
    expect(await paidLogs(story.orderId)).toBe(1);
  });

  it('Stripe down when the applier must ask it: an error to retry, then applied once Stripe answers', async () => {
    const story = await newStory(db);
    seedSandbox(server.app.stripeSandbox!, story);
    // A dispute with no payment of ours known yet: only Stripe can say whose it is.
    const dispute = story.event('charge.dispute.created');
    await store(dispute);
    server.app.stripeSandbox!.failNext('api_error');
    await applier().drain();
    expect(await eventRow(db, dispute.id)).toMatchObject({ status: 'received', attempts: 1, last_error: expect.stringContaining('could not retrieve the object from Stripe') });
    await dueNow(dispute.id);
    await applier().drain();
    expect(await eventRow(db, dispute.id)).toMatchObject({ status: 'applied', attempts: 2, last_error: null });
    expect((await storyState(db, story)).disputes).toEqual([{ id: story.id(FIXTURE_IDS.dispute), status: 'lost' }]);
  });
});

describe('staff replay', () => {
  it('a failed event, once its cause is fixed, is applied by a replay (with an audit row)', async () => {
    const story = await newStory(db);
    await store(story.event('payment_intent.succeeded'));
    await applier().drain();
    // The refunds table refuses writes for a while (a bad deploy, a lock held too long, …).
    await db.exec(`create function refuse_refunds() returns trigger language plpgsql as $$ begin raise exception 'refunds are refused for this test'; end $$;
                   create trigger refuse_refunds before insert on refunds for each row execute function refuse_refunds();`);
    const refunded = story.event('charge.refunded');
    try {
      await store(refunded);
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        await dueNow(refunded.id);
        await applier().drain();
      }
      expect(await eventRow(db, refunded.id)).toMatchObject({ status: 'failed', last_error: expect.stringContaining('refunds are refused') });
    } finally {
      await db.exec('drop trigger refuse_refunds on refunds; drop function refuse_refunds();');
    }
    expect(await replay(refunded.id)).toEqual({ outcome: 'replayed', status: 'applied' });
    expect(await eventRow(db, refunded.id)).toMatchObject({ status: 'applied', attempts: 1, last_error: null });
    expect((await storyState(db, story)).order).toMatchObject({ status: 'refunded' });
    const { rows } = await db.query('select actor_type, actor_id, action, target_id from audit_log where target_id = $1', [refunded.id]);
    expect(rows).toEqual([{ actor_type: 'staff', actor_id: 'staff:test-admin', action: 'webhook_event.replay', target_id: refunded.id }]);
  });

  it('replaying an applied event changes nothing', async () => {
    const story = await newStory(db);
    const succeeded = story.event('payment_intent.succeeded');
    await store(succeeded);
    await applier().drain();
    const before = await storyState(db, story);
    expect(await replay(succeeded.id)).toEqual({ outcome: 'replayed', status: 'applied' });
    expect(await eventRow(db, succeeded.id)).toMatchObject({ status: 'applied', outcome: 'unchanged' });
    expect(await storyState(db, story)).toEqual(before);
    expect(await paidLogs(story.orderId)).toBe(1);
  });

  it('replaying an event older than what the object has seen since changes nothing', async () => {
    const story = await newStory(db);
    const processing = story.event('payment_intent.processing');
    await store(processing, story.event('payment_intent.succeeded'));
    await applier().drain();
    expect(await replay(processing.id)).toEqual({ outcome: 'replayed', status: 'applied' });
    expect(await eventRow(db, processing.id)).toMatchObject({ outcome: 'stale' });
    expect((await storyState(db, story)).order).toMatchObject({ status: 'paid' });
  });

  it('an event of the other mode stays ignored when replayed', async () => {
    const story = await newStory(db);
    const live = story.event('payment_intent.succeeded', { overrides: { livemode: true } });
    await store(live);
    await applier().drain();
    expect(await replay(live.id)).toEqual({ outcome: 'replayed', status: 'ignored' });
    expect((await storyState(db, story)).order).toMatchObject({ status: 'pending' });
  });

  it('an unknown event id is not found and writes nothing', async () => {
    const audit = await db.query('select count(*)::int as n from audit_log');
    expect(await replay('evt_doesnotexist0000')).toEqual({ outcome: 'not_found' });
    expect((await db.query('select count(*)::int as n from audit_log')).rows).toEqual(audit.rows);
  });
});
