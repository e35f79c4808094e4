// Builders' follow-up 9: PaymentRequest.members reads through the request's loader, so a page of
// requests reads all their members in one query (it was one query per request).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLoaders } from '../../server/api/graphql/loaders';
import { paymentRequestResolvers } from '../../server/api/graphql/resolvers/paymentRequests';
import type { Queryable } from '../../server/platform/db/db';
import { membersOf } from '../../server/paymentRequests/read.sql';
import { type CheckoutServer, startCheckoutServer } from '../helpers/checkout';
import { newRequest } from './payHelpers';

let server: CheckoutServer;
beforeAll(async () => {
  server = await startCheckoutServer({ RECONCILE_INTERVAL: 'off', JOBS_ENABLED: 'false' });
});
afterAll(() => server?.stop());

/** The server's database, counting the statements sent through it. */
function counting(): { db: Queryable; statements: string[] } {
  const statements: string[] = [];
  const base = server.app.db;
  const db = Object.assign(Object.create(base) as Queryable, {
    query: ((text: string, params?: readonly never[]) => {
      statements.push(text);
      return base.query(text, params);
    }) as Queryable['query'],
  });
  return { db, statements };
}

describe('PaymentRequest.members', () => {
  it('reads the members of a page of requests in one query, each request’s in the order given', async () => {
    const requests = [await newRequest(server, { amounts: [1000, 2000, 3000] }), await newRequest(server, { amounts: [500] }), await newRequest(server, { amounts: [700, 800] })];
    const { db, statements } = counting();
    const loaders = createLoaders(db);
    const members = (paymentRequestResolvers.PaymentRequest as unknown as {
      members: (request: { id: string; currency: string }, args: unknown, context: unknown) => Promise<Array<{ id: string; currency: string }>>;
    }).members;
    const context = { loaders, paymentRequests: { members: () => Promise.reject(new Error('one read per request')) } };
    const ids = [...requests.map((r) => r.id), randomUUID()];
    const read = await Promise.all(ids.map((id) => members({ id, currency: 'gbp' }, {}, context)));
    expect(statements).toHaveLength(1);
    for (const [index, id] of ids.entries()) {
      expect(read[index]!.map((m) => m.id)).toEqual((await membersOf(server.app.db, id)).map((m) => m.id));
      for (const member of read[index]!) expect(member.currency).toBe('gbp');
    }
    expect(read.map((list) => list.length)).toEqual([3, 1, 2, 0]);
  });
});
