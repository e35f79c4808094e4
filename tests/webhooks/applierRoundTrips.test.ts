// What the applier asks of the database for an event that arrives alone, the common case on a quiet
// server (issue 23: at 500 events/s one at a time, every wake's fixed cost was paid per event). One
// lone event must cost one statement: the claim-and-apply, in its own transaction, with no BEGIN or
// COMMIT around it and no second claim after a batch that was not full.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Db, Queryable } from '../../server/platform/db/db';
import { startTestServer, type TestServer } from '../helpers/server';
import { eventRow, newStory, storeEvents, storyState, WEBHOOK_TEST_SECRET } from '../helpers/webhookStory';

let server: TestServer;
let db: Db;
const seen = { statements: [] as string[], transactions: 0 };

/** Counts the statements and transactions the server's own Db is asked for. */
function counting(real: Db): Db {
  const wrap = (target: Queryable): Queryable => ({
    query: (sql, params) => (seen.statements.push(sql), target.query(sql, params)),
    exec: (sql) => (seen.statements.push(sql), target.exec(sql)),
  });
  return {
    engine: real.engine,
    ...wrap(real),
    transaction: (fn) => ((seen.transactions += 1), real.transaction((tx) => fn(wrap(tx)))),
    ...(real.listen ? { listen: real.listen.bind(real) } : {}),
    close: () => real.close(),
  };
}

beforeAll(async () => {
  // No jobs: only the drains below apply.
  server = await startTestServer({ STRIPE_WEBHOOK_SECRET: WEBHOOK_TEST_SECRET, JOBS_ENABLED: 'false' }, { wrapDb: counting });
  server.app.stripeSandbox!.core.events.stopAutoDelivery();
  db = server.app.db;
});
afterAll(() => server?.stop());
beforeEach(async () => {
  await db.query(`update stripe_events set status = 'ignored', ignored_reason = 'earlier test' where status = 'received'`);
});

describe('the applier, for an event that arrives alone', () => {
  it('applies it in one statement: no transaction around it, no claim after it', async () => {
    const story = await newStory(db);
    const event = story.event('payment_intent.succeeded');
    await storeEvents(db, event);
    seen.statements = [];
    seen.transactions = 0;
    expect(await server.app.webhookApplier.drain()).toBe(1);
    expect(seen).toEqual({ statements: ['select stripe_events_apply_due($1) as r'], transactions: 0 });
    expect(await eventRow(db, event.id)).toMatchObject({ status: 'applied', attempts: 1 });
    expect((await storyState(db, story)).order).toMatchObject({ status: 'paid' });
  });

  it('with nothing due, one statement', async () => {
    seen.statements = [];
    seen.transactions = 0;
    expect(await server.app.webhookApplier.drain()).toBe(0);
    expect(seen).toEqual({ statements: ['select stripe_events_apply_due($1) as r'], transactions: 0 });
  });
});
