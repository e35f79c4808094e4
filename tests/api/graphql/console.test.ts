// The console's read API over real HTTP against the real server: paymentLogs, orders and opsOverview.
// Who may read them, keyset pagination through GraphQL cursors, the search box, and bad input refused
// with a typed error before anything is read. (The SQL behind each list has its own tests in
// tests/paymentLogs, tests/orders and tests/ops.)
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../../server/auth/apiKeys';
import { signStaffToken } from '../../../server/auth/staffTokens';
import { type CheckoutServer, JWT_SECRET, startCheckoutServer } from '../../helpers/checkout';
import type { GraphQLResponse } from '../../helpers/server';

type Auth = { token?: string; headers?: Record<string, string> };
type Caller = 'anonymous' | 'customer' | 'storefront' | 'make' | 'support' | 'admin';

let server: CheckoutServer;
const as = {} as Record<Caller, Auth>;
const customerId = randomUUID();
const orderIds = Array.from({ length: 5 }, () => randomUUID());
const T0 = Date.parse('2026-11-01T12:00:00Z');

beforeAll(async () => {
  server = await startCheckoutServer({ JOBS_ENABLED: 'false' });
  const staff = (staffRole: 'support' | 'admin') => signStaffToken(JWT_SECRET, { userId: randomUUID(), email: `${staffRole}@staff.test`, staffRole, audience: 'authenticated', expiresIn: '1h' });
  const { key: makeKey } = await createApiKey(server.app.db, 'console test make scenario', 'make');
  Object.assign(as, {
    anonymous: {},
    customer: { token: await server.customerToken() },
    storefront: server.asStorefront,
    make: { headers: { 'x-api-key': makeKey } },
    support: { token: await staff('support') },
    admin: { token: await staff('admin') },
  });
  const db = server.app.db;
  await db.query(`insert into customers (id, email, name) values ($1, 'grace@example.com', 'Grace')`, [customerId]);
  for (const [n, id] of orderIds.entries()) {
    await db.query(
      `insert into orders (id, customer_id, product_id, price_id, amount, currency, status, sync_state, payment_intent_id, created_at)
       values ($1, $2, 'website_audit_feedback', 'website_audit_feedback_usd', 7900, 'usd', $3, 'confirmed', $4, $5)`,
      [id, customerId, n % 2 ? 'paid' : 'failed', `pi_consoleTest${n}`, new Date(T0 + n * 1000)],
    );
    await db.query(
      `insert into payment_logs (event_type, customer_id, order_id, amount, currency, status, metadata, created_at)
       values ($1, $2, $3, 7900, 'usd', $4, $5, $6)`,
      [n % 2 ? 'payment.paid' : 'payment.failed', customerId, id, n % 2 ? 'paid' : 'failed', { source: 'webhook', n }, new Date(T0 + n * 1000)],
    );
  }
});
afterAll(() => server?.stop());

const LOGS = `query ($filter: PaymentLogFilter, $first: Int, $after: String) {
  paymentLogs(filter: $filter, first: $first, after: $after) {
    nodes { id eventType status amount { amount currency formatted } orderId customerId customerEmail metadata createdAt }
    pageInfo { hasNextPage endCursor }
  }
}`;
const ORDERS = `query ($filter: OrderFilter, $first: Int, $after: String) {
  orders(filter: $filter, first: $first, after: $after) { nodes { id status syncState paymentIntentId customer { email } } pageInfo { hasNextPage endCursor } }
}`;
const OVERVIEW = `{ opsOverview { paymentsToday failureRate syncFailureRate webhookBacklog webhookLagSeconds makeFailing makeDead hourly { hour succeeded failed } alerts { code message } } }`;

const ok = (response: GraphQLResponse) => {
  expect(response.body.errors).toBeUndefined();
  return response.body.data;
};

function refusal(response: GraphQLResponse, code: string, field?: string) {
  // Nothing answered: no data, or (for a nullable field such as paymentLog) every field null.
  expect(Object.values(response.body.data ?? {}).filter((value) => value !== null)).toEqual([]);
  expect(response.body.errors?.[0]?.extensions).toMatchObject({ code, ...(field ? { field } : {}) });
  return response.body.errors![0]!.message;
}

describe('who may read the console lists', () => {
  const QUERIES = { paymentLogs: LOGS, paymentLog: '{ paymentLog(id: "1") { id } }', orders: ORDERS, opsOverview: OVERVIEW, stripeMode: '{ stripeMode }' };
  it.each(Object.keys(QUERIES).flatMap((field) => (['customer', 'storefront', 'make'] as const).map((caller) => [field, caller] as const)))(
    'refuses %s to a %s with FORBIDDEN',
    async (field, caller) => {
      refusal(await server.graphql(QUERIES[field as keyof typeof QUERIES], as[caller]), 'FORBIDDEN');
    },
  );
  it.each(Object.keys(QUERIES))('refuses %s to an anonymous caller with UNAUTHENTICATED', async (field) => {
    refusal(await server.graphql(QUERIES[field as keyof typeof QUERIES], as.anonymous), 'UNAUTHENTICATED');
  });
  it.each(['support', 'admin'] as const)('answers each of them to %s', async (caller) => {
    for (const query of Object.values(QUERIES)) ok(await server.graphql(query, as[caller]));
  });
});

describe('stripeMode', () => {
  it('says SANDBOX on a server without a Stripe key, for the console to link test-mode dashboard pages', async () => {
    expect(ok(await server.graphql('{ stripeMode }', as.support))).toEqual({ stripeMode: 'SANDBOX' });
  });
});

describe('paymentLog', () => {
  const ROW = 'query ($id: ID!) { paymentLog(id: $id) { id eventType status orderId customerEmail metadata createdAt } }';

  it('answers one row by id, as the list shows it, and null for an id with no row', async () => {
    const { paymentLogs } = ok(await server.graphql(LOGS, { variables: { first: 1, filter: { search: orderIds[4] } }, ...as.support }));
    const listed = paymentLogs.nodes[0];
    const { paymentLog } = ok(await server.graphql(ROW, { variables: { id: listed.id }, ...as.support }));
    expect(paymentLog).toEqual({
      id: listed.id,
      eventType: listed.eventType,
      status: listed.status,
      orderId: orderIds[4],
      customerEmail: 'grace@example.com',
      metadata: listed.metadata,
      createdAt: listed.createdAt,
    });
    expect(ok(await server.graphql(ROW, { variables: { id: '9223372036854775807' }, ...as.support }))).toEqual({ paymentLog: null });
  });

  it.each(['abc', '-1', '1.5', '', '9223372036854775808', '99999999999999999999'])('refuses the id %j with BAD_USER_INPUT', async (id) => {
    expect(refusal(await server.graphql(ROW, { variables: { id }, ...as.support }), 'BAD_USER_INPUT', 'id')).toMatch(/payment log row id/);
  });
});

describe('paymentLogs', () => {
  it('pages newest first through cursors, each row with its amount, customer and metadata', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const { paymentLogs } = ok(await server.graphql(LOGS, { variables: { first: 2, after, filter: { search: 'grace@example.com' } }, ...as.support }));
      seen.push(...paymentLogs.nodes.map((node: { orderId: string }) => node.orderId));
      if (!paymentLogs.pageInfo.hasNextPage) break;
      after = paymentLogs.pageInfo.endCursor;
    }
    expect(seen).toEqual([...orderIds].reverse());
    const { paymentLogs } = ok(await server.graphql(LOGS, { variables: { first: 1, filter: { search: orderIds[4] } }, ...as.support }));
    expect(paymentLogs.nodes[0]).toMatchObject({
      eventType: 'payment.failed',
      status: 'failed',
      amount: { amount: 7900, currency: 'usd', formatted: '$79.00' },
      customerId,
      customerEmail: 'grace@example.com',
      createdAt: new Date(T0 + 4000).toISOString(),
    });
    expect(JSON.parse(paymentLogs.nodes[0].metadata)).toEqual({ source: 'webhook', n: 4 });
  });

  it('filters by type and date range, and finds an order by its PaymentIntent', async () => {
    const ids = async (filter: Record<string, unknown>) =>
      ok(await server.graphql(LOGS, { variables: { filter }, ...as.admin })).paymentLogs.nodes.map((node: { orderId: string }) => node.orderId);
    expect(await ids({ eventType: 'payment.paid', customerId })).toEqual([orderIds[3], orderIds[1]]);
    expect(await ids({ customerId, from: new Date(T0 + 1000).toISOString(), to: new Date(T0 + 3000).toISOString() })).toEqual([orderIds[2], orderIds[1]]);
    expect(await ids({ search: 'pi_consoleTest2' })).toEqual([orderIds[2]]);
  });

  it.each([
    [{ filter: { search: 'hello' } }, 'filter.search', /order id, a PaymentIntent id \(pi_…\), a Checkout Session id \(cs_…\) or a customer email/],
    [{ filter: { from: 'yesterday' } }, 'filter.from', /ISO 8601/],
    [{ filter: { from: '2026-11-02T00:00:00Z', to: '2026-11-01T00:00:00Z' } }, 'filter.from', /before filter.to/],
    [{ filter: { customerId: 'grace' } }, 'filter.customerId', /UUID/],
    [{ filter: { eventType: '' } }, 'filter.eventType', /1 to 100 characters/],
    [{ first: 0 }, 'first', /between 1 and 200/],
    [{ first: 201 }, 'first', /between 1 and 200/],
    [{ after: 'bm90IGEgY3Vyc29y' }, 'after', /not a cursor from paymentLogs/],
  ])('refuses %j with BAD_USER_INPUT naming %s', async (variables, field, message) => {
    expect(refusal(await server.graphql(LOGS, { variables, ...as.support }), 'BAD_USER_INPUT', field)).toMatch(message);
  });

  it('refuses a cursor from another list', async () => {
    const { orders } = ok(await server.graphql(ORDERS, { variables: { first: 1 }, ...as.support }));
    expect(refusal(await server.graphql(LOGS, { variables: { after: orders.pageInfo.endCursor }, ...as.support }), 'BAD_USER_INPUT', 'after')).toMatch(/paymentLogs/);
  });
});

describe('orders', () => {
  it('pages newest first, filters by status and sync state, and searches', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const { orders } = ok(await server.graphql(ORDERS, { variables: { first: 2, after, filter: { search: 'GRACE@example.com' } }, ...as.support }));
      seen.push(...orders.nodes.map((node: { id: string }) => node.id));
      if (!orders.pageInfo.hasNextPage) break;
      after = orders.pageInfo.endCursor;
    }
    expect(seen).toEqual([...orderIds].reverse());
    const paid = ok(await server.graphql(ORDERS, { variables: { filter: { status: 'PAID', syncState: 'CONFIRMED', search: 'grace@example.com' } }, ...as.support }));
    expect(paid.orders.nodes.map((node: { id: string }) => node.id)).toEqual([orderIds[3], orderIds[1]]);
    expect(paid.orders.nodes[0]).toMatchObject({ status: 'PAID', syncState: 'CONFIRMED', paymentIntentId: 'pi_consoleTest3', customer: { email: 'grace@example.com' } });
  });

  it('refuses a search that is none of the four kinds, and a bad cursor', async () => {
    refusal(await server.graphql(ORDERS, { variables: { filter: { search: 'ch_123' } }, ...as.support }), 'BAD_USER_INPUT', 'filter.search');
    refusal(await server.graphql(ORDERS, { variables: { after: 'x' }, ...as.support }), 'BAD_USER_INPUT', 'after');
  });
});

describe('opsOverview', () => {
  it('answers the figures, 24 hours oldest first, and no alert on this quiet server', async () => {
    const { opsOverview } = ok(await server.graphql(OVERVIEW, as.support));
    expect(opsOverview).toMatchObject({ webhookBacklog: 0, webhookLagSeconds: null, makeFailing: 0, makeDead: 0, alerts: [] });
    expect(opsOverview.hourly).toHaveLength(24);
    expect(Date.parse(opsOverview.hourly[23].hour) - Date.parse(opsOverview.hourly[0].hour)).toBe(23 * 3_600_000);
  });
});
