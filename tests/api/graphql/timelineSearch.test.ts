// The order timeline, the customer page and search anywhere (issue 22) over real HTTP against the
// real server: who may read them, bad input refused with typed errors, the timeline's merge of every
// source newest first with ties broken by entry id, its pages across equal timestamps, each search
// kind routed to its console page, and a customer's totals with a refund.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../../server/auth/apiKeys';
import { signStaffToken } from '../../../server/auth/staffTokens';
import { type CheckoutServer, JWT_SECRET, startCheckoutServer } from '../../helpers/checkout';
import type { GraphQLResponse } from '../../helpers/server';

type Auth = { token?: string; headers?: Record<string, string> };
type Caller = 'anonymous' | 'customer' | 'storefront' | 'make' | 'support' | 'admin';
const CALLERS: Caller[] = ['anonymous', 'customer', 'storefront', 'make', 'support', 'admin'];

let server: CheckoutServer;
const as = {} as Record<Caller, Auth>;
const adminId = randomUUID();
const customerUserId = randomUUID();
const customerId = randomUUID();
const orderId = randomUUID();
const euroOrderId = randomUUID();
const pendingOrderId = randomUUID();
const paymentId = randomUUID();
const euroPaymentId = randomUUID();
const attemptId = randomUUID();
const deliveryId = randomUUID();
const refundId = randomUUID();
const failedRefundId = randomUUID();
const T0 = Date.parse('2026-11-01T12:00:00Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000);

let shopKeyId = '';
let logIds: string[] = [];
let refundLogIds: string[] = [];
let auditId = '';
let namedAuditId = '';

beforeAll(async () => {
  // No jobs: the outbox worker would post the deliveries the triggers enqueue and add attempts as it goes.
  server = await startCheckoutServer({ RECONCILE_INTERVAL: 'off', JOBS_ENABLED: 'false' });
  const staff = (userId: string, staffRole: 'support' | 'admin') =>
    signStaffToken(JWT_SECRET, { userId, email: `${staffRole}@staff.test`, staffRole, audience: 'authenticated', expiresIn: '1h' });
  const { key: makeKey } = await createApiKey(server.app.db, 'timeline test make scenario', 'make');
  const { row: shopKey } = await createApiKey(server.app.db, 'Partner shop', 'storefront');
  shopKeyId = shopKey.id;
  Object.assign(as, {
    anonymous: {},
    customer: { token: await server.customerToken({ id: customerUserId, email: 'ada@example.com' }) },
    storefront: server.asStorefront,
    make: { headers: { 'x-api-key': makeKey } },
    support: { token: await staff(randomUUID(), 'support') },
    admin: { token: await staff(adminId, 'admin') },
  });
  const db = server.app.db;
  await db.query(`insert into customers (id, user_id, email, name, created_at) values ($1, $2, 'ada@example.com', 'Ada', $3)`, [customerId, customerUserId, at(-100)]);
  const order = (id: string, amount: number, currency: string, status: string, pi: string | null, cs: string | null, seconds: number) =>
    db.query(
      `insert into orders (id, customer_id, product_id, price_id, amount, currency, status, payment_intent_id, checkout_session_id, created_at)
       values ($1, $2, 'business_plan_builder', 'business_plan_builder_usd', $3, $4, $5, $6, $7, $8)`,
      [id, customerId, amount, currency, status, pi, cs, at(seconds)],
    );
  await order(orderId, 9900, 'usd', 'partially_refunded', 'pi_tlPaid', null, 0);
  await order(euroOrderId, 5000, 'eur', 'paid', 'pi_tlEuro', null, 50);
  await order(pendingOrderId, 9900, 'usd', 'pending', null, 'cs_test_tlPending', 60);
  await db.query(
    `insert into payment_attempts (id, order_id, attempt, kind, stripe_idempotency_key, stripe_object_id, status, created_at)
     values ($1, $2, 1, 'payment_intent', 'tl-key-1', 'pi_tlPaid', 'succeeded', $3),
            (gen_random_uuid(), $4, 1, 'payment_intent', 'tl-key-2', 'pi_tlAttemptOnly', 'open', $5)`,
    [attemptId, orderId, at(1), pendingOrderId, at(61)],
  );
  await db.query(
    `insert into payments (id, order_id, stripe_payment_intent_id, stripe_charge_id, amount, amount_refunded, currency, status, created_at)
     values ($1, $2, 'pi_tlPaid', 'ch_tlPaid', 9900, 1500, 'usd', 'succeeded', $3), ($4, $5, 'pi_tlEuro', 'ch_tlEuro', 5000, 0, 'eur', 'succeeded', $6)`,
    [paymentId, orderId, at(3), euroPaymentId, euroOrderId, at(51)],
  );
  await db.query(
    `insert into refunds (id, stripe_refund_id, order_id, payment_id, amount, currency, status, reason, requested_by, created_at, updated_at)
     values ($1, 're_tlDone', $2, $3, 1500, 'usd', 'succeeded', 'requested_by_customer', $4, $5, $5),
            ($6, null, $2, $3, 700, 'usd', 'failed', 'duplicate', $4, $7, $7)`,
    [refundId, orderId, paymentId, `staff:${adminId}`, at(5), failedRefundId, at(7)],
  );
  await db.query(
    `insert into disputes (id, order_id, payment_id, amount, currency, status, reason, created_at, updated_at)
     values ('du_tlOpen', $1, $2, 9900, 'usd', 'needs_response', 'fraudulent', $3, $3)`,
    [orderId, paymentId, at(8)],
  );
  // The triggers enqueue Make deliveries as of now; the timeline here has its own, at known times.
  await db.query('delete from make_deliveries where order_id = any($1::uuid[])', [[orderId, euroOrderId, pendingOrderId]]);
  await db.query(
    `insert into make_deliveries (id, kind, dedupe_key, order_id, customer_id, payload, status, attempts, created_at)
     values ($1, 'add_project', 'tl-add-project', $2, $3, '{}', 'delivered', 2, $4)`,
    [deliveryId, orderId, customerId, at(3)],
  );
  await db.query(
    `insert into make_delivery_attempts (delivery_id, attempt, started_at, finished_at, status_code, latency_ms, outcome, error)
     values ($1, 1, $2, $2, 503, 12, 'retry', 'Service Unavailable'), ($1, 2, $3, $3, 200, 9, 'delivered', null)`,
    [deliveryId, at(4), at(6)],
  );
  const event = (id: string, type: string, objectId: string, seconds: number) =>
    db.query(
      `insert into stripe_events (id, type, object_type, object_id, created, livemode, status, outcome, applied_at)
       values ($1, $2, 'x', $3, $4, false, 'applied', 'order paid', now())`,
      [id, type, objectId, at(seconds)],
    );
  await event('evt_tlSucceeded', 'payment_intent.succeeded', 'pi_tlPaid', 2);
  await event('evt_tlRefund', 'refund.updated', 're_tlDone', 6);
  await event('evt_tlDispute', 'charge.dispute.created', 'du_tlOpen', 8);
  await event('evt_tlOther', 'payment_intent.succeeded', 'pi_tlEuro', 2);
  const { rows: logs } = await db.query<{ id: string }>(
    `insert into payment_logs (event_type, status, order_id, customer_id, amount, currency, metadata, created_at)
     values ('checkout.attempt_started', 'pending', $1, $2, null, null, '{"actor": "storefront"}', $3),
            ('payment.paid', 'paid', $1, $2, 9900, 'usd', '{"actor": "webhook", "source": "webhook"}', $4),
            ('payment.paid', 'paid', $5, $2, 5000, 'eur', '{}', $4),
            ('payment.confirmed', 'paid', $1, $2, 9900, 'usd', $6, $7)
     returning id::text`,
    [orderId, customerId, at(1), at(2), euroOrderId, { actor: `api_key:${shopKeyId}` }, at(12)],
  );
  logIds = logs.map((row) => row.id);
  // A refund's log rows carry the order's amount (payment_log_for_order): the refund's own is in the
  // metadata (refund_amount), or on the refund row its refund_id names.
  const { rows: refundLogs } = await db.query<{ id: string }>(
    `insert into payment_logs (event_type, status, order_id, customer_id, amount, currency, metadata, created_at)
     values ('refund.succeeded', 'succeeded', $1, $2, 9900, 'usd', $3, $4),
            ('refund.succeeded', 'succeeded', $1, $2, 9900, 'usd', '{"actor": "webhook", "source": "webhook", "refund_id": "re_tlDone"}', $5)
     returning id::text`,
    [orderId, customerId, { actor: 'staff', refund_id: refundId, refund_amount: 1500 }, at(9), at(10)],
  );
  refundLogIds = refundLogs.map((row) => row.id);
  // The refund's audit row names who asked (as refundPayment records it); a sync's predates names.
  const { rows: audit } = await db.query<{ id: string }>(
    `insert into audit_log (actor_type, actor_id, action, target_type, target_id, details, created_at)
     values ('staff', $1, 'refund.create', 'order', $2, $3, $4),
            ('staff', $1, 'reconciliation.sync_order', 'order', $2, '{"outcome": "no_change"}', $5)
     returning id::text`,
    [`staff:${adminId}`, orderId, { refund_id: refundId, amount: 1500, currency: 'usd', reason: 'requested_by_customer', actor_name: 'admin@staff.test' }, at(5), at(11)],
  );
  namedAuditId = audit[0]!.id;
  auditId = audit[1]!.id;
  await db.query(`insert into subscriptions (id, customer_id, order_id, status, created_at) values ('sub_tlMonthly', $1, null, 'active', $2)`, [customerId, at(70)]);
  await db.query(
    `insert into subscription_invoices (id, subscription_id, status, amount_due, amount_paid, currency, stripe_created) values ('in_tlFirst', 'sub_tlMonthly', 'open', 4900, 0, 'usd', $1)`,
    [at(71)],
  );
});
afterAll(() => server?.stop());

const TIMELINE = `query ($id: ID!, $first: Int, $after: String) {
  order(id: $id) { timeline(first: $first, after: $after) {
    nodes { id at kind summary status amount { amount currency } actor { kind name } subjectId link { route stripeObjectId } }
    pageInfo { hasNextPage endCursor } } }
}`;
const SEARCH = `query ($query: String!) { search(query: $query) { query queryKind matches { kind id label route orderId } } }`;
const CUSTOMER = `query ($id: ID!) { customer(id: $id) {
  id email name createdAt
  orders(first: 2) { nodes { id } pageInfo { hasNextPage } }
  subscriptions { id } refunds { id status } disputes { id } paymentRequests { id }
  totals { currency paid { amount } refunded { amount } net { amount formatted } }
  firstPaymentAt lastPaymentAt } }`;
const CUSTOMER_BY_EMAIL = `query ($email: String!) { customerByEmail(email: $email) { id email } }`;

const gql = (query: string, variables: Record<string, unknown>, caller: Caller) => server.graphql(query, { variables, ...as[caller] });
const ok = (response: GraphQLResponse) => {
  expect(response.body.errors).toBeUndefined();
  return response.body.data;
};
const code = (response: GraphQLResponse) => response.body.errors?.[0]?.extensions?.code;

// Newest first; at one time, the greater entry id (byte-wise) first.
const expectedTimeline = () => [
  'log:' + logIds[3], // 12 s
  'audit:' + auditId, // 11 s
  'log:' + refundLogIds[1], // 10 s
  'log:' + refundLogIds[0], // 9 s
  'event:evt_tlDispute', // 8 s, "event" > "dispute" byte-wise
  'dispute:du_tlOpen', // 8 s
  'refund:' + failedRefundId, // 7 s
  'make_attempt:' + deliveryId + ':2', // 6 s
  'event:evt_tlRefund', // 6 s
  'refund:' + refundId, // 5 s
  'audit:' + namedAuditId, // 5 s
  'make_attempt:' + deliveryId + ':1', // 4 s
  'make:' + deliveryId, // 3 s
  'log:' + logIds[1], // 2 s
  'event:evt_tlSucceeded', // 2 s
  'log:' + logIds[0], // 1 s, "log" > "attempt"
  'attempt:' + attemptId, // 1 s
];

describe('Order.timeline', () => {
  it('is for staff only: support and admin read it, everyone else is refused', async () => {
    for (const caller of CALLERS) {
      const response = await gql(TIMELINE, { id: orderId, first: 5 }, caller);
      if (caller === 'support' || caller === 'admin') expect(ok(response).order.timeline.nodes).toHaveLength(5);
      else if (caller === 'anonymous') expect(code(response)).toBe('UNAUTHENTICATED');
      else if (caller === 'customer') expect(code(response)).toBe('FORBIDDEN'); // their own order, but not its timeline
      else expect(code(response)).toBe('FORBIDDEN');
    }
  });

  it('merges every source newest first, ties broken by entry id, each entry in words with its actor and link', async () => {
    const nodes = ok(await gql(TIMELINE, { id: orderId, first: 200 }, 'support')).order.timeline.nodes;
    expect(nodes.map((n: { id: string }) => n.id)).toEqual(expectedTimeline());
    const byId = new Map(nodes.map((n: { id: string }) => [n.id, n]));
    expect(byId.get('refund:' + refundId)).toMatchObject({
      kind: 'REFUND',
      at: at(5).toISOString(),
      summary: 'Refund of $15.00 succeeded (requested by customer)',
      amount: { amount: 1500, currency: 'usd' },
      actor: { kind: 'STAFF', name: 'admin@staff.test' },
      subjectId: 're_tlDone',
      link: { route: `/orders/${orderId}`, stripeObjectId: 're_tlDone' },
    });
    // Staff are named by the email their audit row recorded, never by their user id.
    expect(byId.get('audit:' + namedAuditId)).toMatchObject({
      kind: 'AUDIT',
      summary: 'Refund of $15.00 requested by admin@staff.test (reason: requested by customer)',
      actor: { kind: 'STAFF', name: 'admin@staff.test' },
      subjectId: refundId,
    });
    expect(byId.get('audit:' + auditId)).toMatchObject({ kind: 'AUDIT', summary: 'Sync with Stripe requested by a staff member: no change', actor: { kind: 'STAFF', name: null } });
    // A refund made at Stripe's dashboard has no requester; one whose audit row names nobody is "a staff member" (null).
    expect(byId.get('refund:' + failedRefundId)).toMatchObject({ actor: { kind: 'STAFF', name: null } });
    expect(JSON.stringify(nodes)).not.toContain(adminId);
    // A refund's log rows say the refund's amount, not the order's $99.00: from the metadata, else the refund row.
    for (const id of refundLogIds) {
      expect(byId.get('log:' + id)).toMatchObject({ summary: 'Payment log: refund.succeeded (succeeded) of $15.00', amount: { amount: 1500, currency: 'usd' } });
    }
    expect(byId.get('log:' + logIds[1])).toMatchObject({ summary: 'Payment log: payment.paid (paid) of $99.00', amount: { amount: 9900, currency: 'usd' } });
    expect(byId.get('event:evt_tlSucceeded')).toMatchObject({
      kind: 'WEBHOOK_EVENT',
      summary: 'Stripe event payment_intent.succeeded applied: order paid',
      actor: { kind: 'STRIPE', name: null },
      link: { route: '/webhook-events?open=evt_tlSucceeded', stripeObjectId: 'evt_tlSucceeded' },
    });
    expect(byId.get('make_attempt:' + deliveryId + ':1')).toMatchObject({
      kind: 'MAKE_DELIVERY_ATTEMPT',
      summary: 'Make delivery add_project, attempt 1: retry (HTTP 503): Service Unavailable',
      link: { route: `/make-deliveries?open=${deliveryId}` },
    });
    expect(byId.get('log:' + logIds[0])).toMatchObject({ kind: 'PAYMENT_LOG', actor: { kind: 'API_KEY', name: 'storefront' }, link: { route: `/payment-logs?open=${logIds[0]}` } });
    // An API key by its name, never its id.
    expect(byId.get('log:' + logIds[3])).toMatchObject({ kind: 'PAYMENT_LOG', actor: { kind: 'API_KEY', name: 'Partner shop' } });
    expect(JSON.stringify(nodes)).not.toContain(shopKeyId);
    expect(byId.get('attempt:' + attemptId)).toMatchObject({ kind: 'PAYMENT_ATTEMPT', subjectId: 'pi_tlPaid', summary: 'Attempt 1: PaymentIntent pi_tlPaid succeeded' });
    // Another order's event and log are not in it.
    expect(byId.has('event:evt_tlOther')).toBe(false);
    expect(byId.has('log:' + logIds[2])).toBe(false);
  });

  it('pages through every entry once, across equal timestamps, in the same order as one page', async () => {
    for (const first of [1, 2, 3]) {
      const seen: string[] = [];
      let after: string | null = null;
      for (let pages = 0; pages < 50; pages++) {
        const timeline: { nodes: Array<{ id: string }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } } = ok(await gql(TIMELINE, { id: orderId, first, after }, 'admin')).order.timeline;
        seen.push(...timeline.nodes.map((n: { id: string }) => n.id));
        if (!timeline.pageInfo.hasNextPage) break;
        after = timeline.pageInfo.endCursor;
      }
      expect(seen).toEqual(expectedTimeline());
    }
  });

  it('refuses a bad page size or a cursor not its own with BAD_USER_INPUT', async () => {
    expect(code(await gql(TIMELINE, { id: orderId, first: 0 }, 'support'))).toBe('BAD_USER_INPUT');
    expect(code(await gql(TIMELINE, { id: orderId, first: 201 }, 'support'))).toBe('BAD_USER_INPUT');
    expect(code(await gql(TIMELINE, { id: orderId, after: 'not-a-cursor' }, 'support'))).toBe('BAD_USER_INPUT');
    // A cursor of the orders list (a bare UUID for id) is not a timeline's.
    const ordersCursor = ok(await gql('{ orders(first: 1) { pageInfo { endCursor } } }', {}, 'support')).orders.pageInfo.endCursor;
    expect(code(await gql(TIMELINE, { id: orderId, after: ordersCursor }, 'support'))).toBe('BAD_USER_INPUT');
  });
});

describe('search', () => {
  const search = async (query: string) => ok(await gql(SEARCH, { query }, 'support')).search;

  it('is for staff only', async () => {
    for (const caller of CALLERS) {
      const response = await gql(SEARCH, { query: orderId }, caller);
      if (caller === 'support' || caller === 'admin') expect(ok(response).search.matches).toHaveLength(1);
      else expect(code(response)).toBe(caller === 'anonymous' ? 'UNAUTHENTICATED' : 'FORBIDDEN');
    }
  });

  it('routes each kind of id to the console page that holds it', async () => {
    const orderRoute = `/orders/${orderId}`;
    const cases: Array<[string, string, Array<{ kind: string; id: string; route: string }>]> = [
      [` ${orderId.toUpperCase()} `, 'ORDER_ID', [{ kind: 'ORDER', id: orderId, route: orderRoute }]],
      [customerId, 'ORDER_ID', [{ kind: 'CUSTOMER', id: customerId, route: `/customers/${customerId}` }]],
      ['ADA@Example.com', 'EMAIL', [{ kind: 'CUSTOMER', id: customerId, route: `/customers/${customerId}` }]],
      ['pi_tlPaid', 'PAYMENT_INTENT', [{ kind: 'ORDER', id: orderId, route: orderRoute }]],
      ['pi_tlAttemptOnly', 'PAYMENT_INTENT', [{ kind: 'ORDER', id: pendingOrderId, route: `/orders/${pendingOrderId}` }]],
      ['cs_test_tlPending', 'CHECKOUT_SESSION', [{ kind: 'ORDER', id: pendingOrderId, route: `/orders/${pendingOrderId}` }]],
      ['ch_tlPaid', 'CHARGE', [{ kind: 'ORDER', id: orderId, route: orderRoute }]],
      ['re_tlDone', 'REFUND', [{ kind: 'REFUND', id: refundId, route: orderRoute }]],
      ['du_tlOpen', 'DISPUTE', [{ kind: 'DISPUTE', id: 'du_tlOpen', route: '/disputes?open=du_tlOpen' }]],
      ['evt_tlRefund', 'WEBHOOK_EVENT', [{ kind: 'WEBHOOK_EVENT', id: 'evt_tlRefund', route: '/webhook-events?open=evt_tlRefund' }]],
      ['sub_tlMonthly', 'SUBSCRIPTION', [{ kind: 'SUBSCRIPTION', id: 'sub_tlMonthly', route: '/subscriptions?open=sub_tlMonthly' }]],
      ['in_tlFirst', 'INVOICE', [{ kind: 'SUBSCRIPTION', id: 'sub_tlMonthly', route: '/subscriptions?open=sub_tlMonthly' }]],
      ['pi_nothingHere', 'PAYMENT_INTENT', []],
      ['dp_nothingHere', 'DISPUTE', []],
      ['just some words', 'UNKNOWN', []],
    ];
    for (const [query, queryKind, matches] of cases) {
      const result = await search(query);
      expect({ query, queryKind: result.queryKind, matches: result.matches.map(({ kind, id, route }: { kind: string; id: string; route: string }) => ({ kind, id, route })) }).toEqual({
        query,
        queryKind,
        matches,
      });
    }
    expect((await search('re_tlDone')).matches[0]).toMatchObject({ label: 'Refund of $15.00, succeeded', orderId });
  });

  it('refuses NUL, a lone surrogate and more than 500 characters with BAD_USER_INPUT', async () => {
    for (const query of ['pi_\u0000x', 'ada\uD800@example.com', '\uDC00', 'x'.repeat(501)]) {
      const response = await gql(SEARCH, { query }, 'support');
      expect(code(response)).toBe('BAD_USER_INPUT');
      expect(response.body.errors?.[0]?.extensions?.field).toBe('query');
    }
    expect((await search('x'.repeat(500))).queryKind).toBe('UNKNOWN');
  });
});

describe('customer page', () => {
  it('is for staff only, by id and by email', async () => {
    for (const caller of CALLERS) {
      const byId = await gql(CUSTOMER, { id: customerId }, caller);
      const byEmail = await gql(CUSTOMER_BY_EMAIL, { email: 'Ada@Example.com' }, caller);
      if (caller === 'support' || caller === 'admin') {
        expect(ok(byId).customer.id).toBe(customerId);
        expect(ok(byEmail).customerByEmail).toEqual({ id: customerId, email: 'ada@example.com' });
      } else {
        expect(code(byId)).toBe(caller === 'anonymous' ? 'UNAUTHENTICATED' : 'FORBIDDEN');
        expect(code(byEmail)).toBe(caller === 'anonymous' ? 'UNAUTHENTICATED' : 'FORBIDDEN');
      }
    }
    // The customer reaches their own order's customer, but not the staff fields on it.
    const own = await gql(`query ($id: ID!) { order(id: $id) { customer { email totals { currency } } } }`, { id: orderId }, 'customer');
    expect(code(own)).toBe('FORBIDDEN');
  });

  it('shows orders, subscriptions, refunds, disputes and totals per currency, paid less what was refunded', async () => {
    const customer = ok(await gql(CUSTOMER, { id: customerId }, 'support')).customer;
    expect(customer).toMatchObject({ email: 'ada@example.com', name: 'Ada', createdAt: at(-100).toISOString() });
    expect(customer.orders).toEqual({ nodes: [{ id: pendingOrderId }, { id: euroOrderId }], pageInfo: { hasNextPage: true } });
    expect(customer.subscriptions).toEqual([{ id: 'sub_tlMonthly' }]);
    expect(customer.refunds).toEqual([
      { id: failedRefundId, status: 'FAILED' },
      { id: refundId, status: 'SUCCEEDED' },
    ]);
    expect(customer.disputes).toEqual([{ id: 'du_tlOpen' }]);
    // The failed refund takes nothing back; euros are never added to dollars.
    expect(customer.totals).toEqual([
      { currency: 'eur', paid: { amount: 5000 }, refunded: { amount: 0 }, net: { amount: 5000, formatted: '€50.00' } },
      { currency: 'usd', paid: { amount: 9900 }, refunded: { amount: 1500 }, net: { amount: 8400, formatted: '$84.00' } },
    ]);
    expect(customer.firstPaymentAt).toBe(at(3).toISOString());
    expect(customer.lastPaymentAt).toBe(at(51).toISOString());
  });

  it('reads null for an unknown customer and refuses ids and emails that are not', async () => {
    expect(ok(await gql(CUSTOMER, { id: randomUUID() }, 'support')).customer).toBeNull();
    expect(ok(await gql(CUSTOMER_BY_EMAIL, { email: 'nobody@example.com' }, 'support')).customerByEmail).toBeNull();
    expect(code(await gql(CUSTOMER, { id: 'pi_tlPaid' }, 'support'))).toBe('BAD_USER_INPUT');
    for (const email of ['not an email', 'a\u0000@b.c', `${'a'.repeat(320)}@b.c`, 'a\uD800@b.c']) {
      expect(code(await gql(CUSTOMER_BY_EMAIL, { email }, 'support'))).toBe('BAD_USER_INPUT');
    }
  });
});
