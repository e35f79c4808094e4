// Refunds and disputes in the GraphQL API (issue 18) over real HTTP against the real server in sandbox
// mode: who may read and act on every new field, every argument refused before anything is written,
// the lists' keyset pages in the orders the schema states, the Overview's dispute counts, and
// refundPayment through the real Refunds service against the sandbox (full, partial, over the
// remainder, a repeat by key, the key reused with another amount).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApiKey } from '../../../server/auth/apiKeys';
import { signStaffToken } from '../../../server/auth/staffTokens';
import { type CheckoutServer, JWT_SECRET, newKey, startCheckoutServer } from '../../helpers/checkout';
import type { GraphQLResponse } from '../../helpers/server';

type Auth = { token?: string; headers?: Record<string, string> };
type Caller = 'anonymous' | 'customer' | 'storefront' | 'make' | 'support' | 'admin';
const CALLERS: Caller[] = ['anonymous', 'customer', 'storefront', 'make', 'support', 'admin'];

let server: CheckoutServer;
const as = {} as Record<Caller, Auth>;
let otherCustomer: Auth;
const adminId = randomUUID();
const supportId = randomUUID();
const customerUserId = randomUUID();
const customerId = randomUUID();
const seededOrderId = randomUUID();
const seededPaymentId = randomUUID();
const T0 = Date.parse('2026-11-01T12:00:00Z');
const HOUR = 3_600_000;

const RETURN_URL = 'https://shop.test/checkout/return';

// Seeded refunds, oldest first: one made at Stripe (its re_ id), two made here, one failed.
const seededRefunds = [
  { id: 're_seedMadeAtStripe', stripe: 're_seedMadeAtStripe', status: 'succeeded', amount: 1000, reason: 'requested_by_customer', by: null, at: T0 + 1000 },
  { id: randomUUID(), stripe: 're_seedMadeHere1', status: 'succeeded', amount: 500, reason: 'duplicate', by: `staff:${adminId}`, at: T0 + 2000 },
  { id: randomUUID(), stripe: null, status: 'failed', amount: 700, reason: 'other', by: `staff:${adminId}`, at: T0 + 3000 },
  { id: randomUUID(), stripe: 're_seedMadeHere2', status: 'pending', amount: 300, reason: 'expired_uncaptured_charge', by: `staff:${adminId}`, at: T0 + 4000 },
];
// Seeded disputes: open ones due in a day, in 73 hours, in ten days, past due and with none; two closed.
const now = Date.now();
const seededDisputes = [
  { id: 'du_seedOpenLate', status: 'needs_response', due: now + 10 * 24 * HOUR, refundable: false, at: T0 + 1000 },
  { id: 'du_seedOpenSoon', status: 'warning_needs_response', due: now + 24 * HOUR, refundable: true, at: T0 + 2000 },
  { id: 'du_seedOpenNoDue', status: 'under_review', due: null, refundable: false, at: T0 + 3000 },
  { id: 'du_seedWon', status: 'won', due: now - 24 * HOUR, refundable: false, at: T0 + 4000 },
  { id: 'du_seedLost', status: 'lost', due: now - 2 * 24 * HOUR, refundable: false, at: T0 + 5000 },
  { id: 'du_seedOpenPastDue', status: 'needs_response', due: now - HOUR, refundable: false, at: T0 + 6000 },
  { id: 'du_seedOpenIn73h', status: 'warning_under_review', due: now + 73 * HOUR, refundable: false, at: T0 + 7000 },
];

beforeAll(async () => {
  server = await startCheckoutServer({ RECONCILE_INTERVAL: 'off' });
  const staff = (userId: string, staffRole: 'support' | 'admin') =>
    signStaffToken(JWT_SECRET, { userId, email: `${staffRole}@staff.test`, staffRole, audience: 'authenticated', expiresIn: '1h' });
  const { key: makeKey } = await createApiKey(server.app.db, 'refunds test make scenario', 'make');
  Object.assign(as, {
    anonymous: {},
    customer: { token: await server.customerToken({ id: customerUserId, email: 'ada@example.com' }) },
    storefront: server.asStorefront,
    make: { headers: { 'x-api-key': makeKey } },
    support: { token: await staff(supportId, 'support') },
    admin: { token: await staff(adminId, 'admin') },
  });
  otherCustomer = { token: await server.customerToken() };
  const db = server.app.db;
  await db.query(`insert into customers (id, user_id, email, name) values ($1, $2, 'ada@example.com', 'Ada')`, [customerId, customerUserId]);
  await db.query(
    `insert into orders (id, customer_id, product_id, price_id, amount, currency, status, sync_state, payment_intent_id, created_at)
     values ($1, $2, 'business_plan_builder', 'business_plan_builder_usd', 9900, 'usd', 'partially_refunded', 'confirmed', 'pi_refundsApiSeed', $3)`,
    [seededOrderId, customerId, new Date(T0)],
  );
  await db.query(
    `insert into payments (id, order_id, stripe_payment_intent_id, stripe_charge_id, amount, amount_refunded, currency, status)
     values ($1, $2, 'pi_refundsApiSeed', 'ch_refundsApiSeed', 9900, 1800, 'usd', 'succeeded')`,
    [seededPaymentId, seededOrderId],
  );
  for (const r of seededRefunds) {
    await db.query(
      `insert into refunds (id, stripe_refund_id, order_id, payment_id, amount, currency, status, reason, failure_reason, requested_by, created_at, updated_at)
       values ($1, $2, $3, $4, $5, 'usd', $6, $7, $8, $9, $10, $10)`,
      [r.id, r.stripe, seededOrderId, seededPaymentId, r.amount, r.status, r.reason, r.status === 'failed' ? 'charge_for_pending_refund_disputed' : null, r.by, new Date(r.at)],
    );
  }
  for (const d of seededDisputes) {
    await db.query(
      `insert into disputes (id, order_id, payment_id, amount, currency, status, reason, evidence_due_by, is_charge_refundable, created_at, updated_at)
       values ($1, $2, $3, 9900, 'usd', $4, 'fraudulent', $5, $6, $7, $7)`,
      [d.id, seededOrderId, seededPaymentId, d.status, d.due === null ? null : new Date(d.due), d.refundable, new Date(d.at)],
    );
  }
});
afterAll(() => server?.stop());

const REFUND_FIELDS = 'id stripeRefundId orderId amount { amount currency formatted } status reason failureReason createdAt updatedAt';
const DISPUTE_FIELDS = 'id orderId order { id } amount { amount currency } reason status isOpen evidenceDueBy isChargeRefundable createdAt updatedAt';
const ORDER_REFUNDS = `query ($id: ID!) { order(id: $id) { id refunds { ${REFUND_FIELDS} } } }`;
const ORDER_REFUNDS_BY = `query ($id: ID!) { order(id: $id) { id refunds { id requestedBy } } }`;
const ORDER_REFUNDS_BY_NAME = `query ($id: ID!) { order(id: $id) { id refunds { id requestedBy requestedByName } } }`;
const ORDER_REFUNDABLE = `query ($id: ID!) { order(id: $id) { id refundableAmount { amount currency formatted } } }`;
const ORDER_DISPUTES = `query ($id: ID!) { order(id: $id) { id disputes { ${DISPUTE_FIELDS} } } }`;
const REFUNDS = `query ($filter: RefundFilter, $first: Int, $after: String) {
  refunds(filter: $filter, first: $first, after: $after) { nodes { ${REFUND_FIELDS} requestedBy } pageInfo { hasNextPage endCursor } }
}`;
const DISPUTES = `query ($filter: DisputeFilter, $first: Int, $after: String) {
  disputes(filter: $filter, first: $first, after: $after) { nodes { ${DISPUTE_FIELDS} } pageInfo { hasNextPage endCursor } }
}`;
const OVERVIEW = `{ opsOverview { disputesOpen disputesDueSoon } }`;
const REFUND = `mutation ($input: RefundPaymentInput!) {
  refundPayment(input: $input) {
    refund { ${REFUND_FIELDS} requestedBy } order { id status refundableAmount { amount currency } }
    error { code message } refundableAmount { amount currency } isRepeat
  }
}`;

const gql = (query: string, variables: Record<string, unknown>, caller: Caller | Auth) =>
  server.graphql(query, { variables, ...(typeof caller === 'string' ? as[caller] : caller) });

const ok = (response: GraphQLResponse) => {
  expect(response.body.errors).toBeUndefined();
  return response.body.data;
};

const codeOf = (response: GraphQLResponse) => response.body.errors?.[0]?.extensions?.code ?? null;

/** Row counts of everything refundPayment may write. */
async function counts() {
  const { rows } = await server.app.db.query<Record<string, number>>(
    `select (select count(*) from refunds)::int as refunds, (select count(*) from idempotency_keys)::int as keys,
            (select count(*) from audit_log)::int as audit, (select count(*) from payment_logs)::int as logs`,
  );
  return rows[0]!;
}

describe('who may read and act', () => {
  // What each caller gets: 'data' (answered), or the error code. Customer means the order's own customer.
  const matrix: Array<{ name: string; query: string; variables: () => Record<string, unknown>; allowed: Caller[]; hidden?: Caller[] }> = [
    { name: 'Order.refunds', query: ORDER_REFUNDS, variables: () => ({ id: seededOrderId }), allowed: ['customer', 'support', 'admin'] },
    { name: 'Order.refunds.requestedBy', query: ORDER_REFUNDS_BY, variables: () => ({ id: seededOrderId }), allowed: ['support', 'admin'] },
    { name: 'Order.refunds.requestedByName', query: ORDER_REFUNDS_BY_NAME, variables: () => ({ id: seededOrderId }), allowed: ['support', 'admin'] },
    { name: 'Order.refundableAmount', query: ORDER_REFUNDABLE, variables: () => ({ id: seededOrderId }), allowed: ['support', 'admin'] },
    { name: 'Order.disputes', query: ORDER_DISPUTES, variables: () => ({ id: seededOrderId }), allowed: ['support', 'admin'] },
    { name: 'refunds', query: REFUNDS, variables: () => ({}), allowed: ['support', 'admin'] },
    { name: 'disputes', query: DISPUTES, variables: () => ({}), allowed: ['support', 'admin'] },
    { name: 'opsOverview.disputesOpen', query: OVERVIEW, variables: () => ({}), allowed: ['support', 'admin'] },
  ];
  for (const entry of matrix) {
    it(`${entry.name}: ${entry.allowed.join(', ')} only; anonymous is UNAUTHENTICATED, the rest FORBIDDEN`, async () => {
      for (const caller of CALLERS) {
        const response = await gql(entry.query, entry.variables(), caller);
        if (entry.allowed.includes(caller)) expect({ caller, errors: response.body.errors }).toEqual({ caller, errors: undefined });
        else expect({ caller, code: codeOf(response) }).toEqual({ caller, code: caller === 'anonymous' ? 'UNAUTHENTICATED' : 'FORBIDDEN' });
      }
    });
  }

  it('refundPayment: admins only; every other caller is refused before anything is written', async () => {
    const before = await counts();
    for (const caller of CALLERS.filter((c) => c !== 'admin')) {
      const response = await gql(REFUND, { input: { orderId: seededOrderId, amount: 100, reason: 'OTHER', idempotencyKey: newKey() } }, caller);
      expect({ caller, code: codeOf(response) }).toEqual({ caller, code: caller === 'anonymous' ? 'UNAUTHENTICATED' : 'FORBIDDEN' });
    }
    expect(await counts()).toEqual(before);
  });

  it("another customer never sees the order, so never its refunds", async () => {
    expect(ok(await gql(ORDER_REFUNDS, { id: seededOrderId }, otherCustomer)).order).toBeNull();
  });

  it("the order's customer sees its refunds, newest first, without who made them", async () => {
    const order = ok(await gql(ORDER_REFUNDS, { id: seededOrderId }, 'customer')).order;
    expect(order.refunds.map((r: { id: string }) => r.id)).toEqual([...seededRefunds].reverse().map((r) => r.id));
    expect(order.refunds[3]).toEqual({
      id: 're_seedMadeAtStripe', stripeRefundId: 're_seedMadeAtStripe', orderId: seededOrderId, amount: { amount: 1000, currency: 'usd', formatted: '$10.00' },
      status: 'SUCCEEDED', reason: 'REQUESTED_BY_CUSTOMER', failureReason: null, createdAt: new Date(T0 + 1000).toISOString(), updatedAt: new Date(T0 + 1000).toISOString(),
    });
    // Stripe's reasons beyond the three we send read as OTHER; a failure says why.
    expect(order.refunds[0]).toMatchObject({ status: 'PENDING', reason: 'OTHER' });
    expect(order.refunds[1]).toMatchObject({ status: 'FAILED', stripeRefundId: null, failureReason: 'charge_for_pending_refund_disputed' });
  });

  it('staff see who made each refund: staff:<id> here, null for refunds made at Stripe', async () => {
    const order = ok(await gql(ORDER_REFUNDS_BY, { id: seededOrderId }, 'support')).order;
    expect(order.refunds.map((r: { requestedBy: string | null }) => r.requestedBy)).toEqual([...seededRefunds].reverse().map((r) => r.by));
  });
});

describe('reads', () => {
  it("refundableAmount is the payment less every refund that holds (creating, pending and succeeded), not the failed one", async () => {
    const id = randomUUID();
    const paymentId = randomUUID();
    const db = server.app.db;
    await db.query(
      `insert into orders (id, customer_id, product_id, price_id, amount, currency, status) values ($1, $2, 'business_plan_builder', 'business_plan_builder_usd', 9900, 'usd', 'partially_refunded')`,
      [id, customerId],
    );
    await db.query(
      `insert into payments (id, order_id, stripe_payment_intent_id, amount, amount_refunded, currency, status) values ($1, $2, $3, 9900, 1500, 'usd', 'succeeded')`,
      [paymentId, id, `pi_holds${paymentId.slice(0, 8)}`],
    );
    for (const [amount, status] of [[1000, 'succeeded'], [300, 'pending'], [200, 'creating'], [700, 'failed']] as const) {
      await db.query(`insert into refunds (id, order_id, payment_id, amount, currency, status) values ($1, $2, $3, $4, 'usd', $5)`, [randomUUID(), id, paymentId, amount, status]);
    }
    const order = ok(await gql(ORDER_REFUNDABLE, { id }, 'support')).order;
    expect(order.refundableAmount).toEqual({ amount: 9900 - 1000 - 300 - 200, currency: 'usd', formatted: '$84.00' });
  });

  it('refundableAmount is zero while a dispute stops Stripe refunding the charge (lost, or open and not refundable)', async () => {
    const order = ok(await gql(ORDER_REFUNDABLE, { id: seededOrderId }, 'support')).order;
    expect(order.refundableAmount).toEqual({ amount: 0, currency: 'usd', formatted: '$0.00' });
  });

  it('refundableAmount is zero for an order not paid', async () => {
    const id = randomUUID();
    await server.app.db.query(
      `insert into orders (id, customer_id, product_id, price_id, amount, currency, status) values ($1, $2, 'website_audit_feedback', 'website_audit_feedback_usd', 7900, 'usd', 'pending')`,
      [id, customerId],
    );
    expect(ok(await gql(ORDER_REFUNDABLE, { id }, 'admin')).order.refundableAmount).toEqual({ amount: 0, currency: 'usd', formatted: '$0.00' });
  });

  it("an order's disputes, newest first, with their order, whether open, due date and refundability", async () => {
    const order = ok(await gql(ORDER_DISPUTES, { id: seededOrderId }, 'support')).order;
    expect(order.disputes.map((d: { id: string }) => d.id)).toEqual([...seededDisputes].reverse().map((d) => d.id));
    const soon = order.disputes.find((d: { id: string }) => d.id === 'du_seedOpenSoon');
    expect(soon).toEqual({
      id: 'du_seedOpenSoon', orderId: seededOrderId, order: { id: seededOrderId }, amount: { amount: 9900, currency: 'usd' }, reason: 'fraudulent',
      status: 'WARNING_NEEDS_RESPONSE', isOpen: true, evidenceDueBy: new Date(seededDisputes[1]!.due!).toISOString(), isChargeRefundable: true,
      createdAt: new Date(T0 + 2000).toISOString(), updatedAt: new Date(T0 + 2000).toISOString(),
    });
    expect(order.disputes.find((d: { id: string }) => d.id === 'du_seedWon')).toMatchObject({ status: 'WON', isOpen: false });
    expect(order.disputes.find((d: { id: string }) => d.id === 'du_seedOpenNoDue')).toMatchObject({ isOpen: true, evidenceDueBy: null });
  });

  it('the Overview counts open disputes, and those due within 72 hours (not one past due, not one in 73 hours, not a closed one)', async () => {
    expect(ok(await gql(OVERVIEW, {}, 'support')).opsOverview).toEqual({ disputesOpen: 5, disputesDueSoon: 1 });
  });
});

describe('lists and their pages', () => {
  async function allPages(query: string, field: 'refunds' | 'disputes', filter: Record<string, unknown> | null, first: number) {
    const ids: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 50; page += 1) {
      const data: { nodes: Array<{ id: string }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } } = ok(await gql(query, { filter, first, after }, 'support'))[field];
      ids.push(...data.nodes.map((n: { id: string }) => n.id));
      if (!data.pageInfo.hasNextPage) return ids;
      after = data.pageInfo.endCursor;
    }
    throw new Error('pages never ended');
  }

  it('refunds: newest first, one at a time, each once', async () => {
    const ids = await allPages(REFUNDS, 'refunds', { orderId: seededOrderId }, 1);
    expect(ids).toEqual([...seededRefunds].reverse().map((r) => r.id));
  });

  it('refunds: filtered by status', async () => {
    const ids = await allPages(REFUNDS, 'refunds', { status: 'SUCCEEDED', orderId: seededOrderId }, 50);
    expect(ids).toEqual([seededRefunds[1]!.id, seededRefunds[0]!.id]);
  });

  it('disputes: open first by evidence due soonest (none last), then closed, paged two at a time', async () => {
    const ids = await allPages(DISPUTES, 'disputes', null, 2);
    expect(ids.filter((id) => id.startsWith('du_seed'))).toEqual([
      'du_seedOpenPastDue', 'du_seedOpenSoon', 'du_seedOpenIn73h', 'du_seedOpenLate', 'du_seedOpenNoDue', 'du_seedLost', 'du_seedWon',
    ]);
  });

  it('disputes: by status, and open ones due before a time', async () => {
    expect(await allPages(DISPUTES, 'disputes', { status: 'WON' }, 50)).toEqual(['du_seedWon']);
    const before = new Date(now + 3 * 24 * HOUR).toISOString();
    expect(await allPages(DISPUTES, 'disputes', { evidenceDueBefore: before }, 50)).toEqual(['du_seedOpenPastDue', 'du_seedOpenSoon']);
    // A closed dispute is never "due": the won one's date is past, yet it is not listed.
    expect(await allPages(DISPUTES, 'disputes', { evidenceDueBefore: new Date(now).toISOString() }, 50)).toEqual(['du_seedOpenPastDue']);
  });

  const refused: Array<[string, string, Record<string, unknown>, string]> = [
    ['refunds: first 0', REFUNDS, { first: 0 }, 'INVALID_FIRST'],
    ['refunds: first 201', REFUNDS, { first: 201 }, 'INVALID_FIRST'],
    ['refunds: a made-up cursor', REFUNDS, { after: 'bm90IGEgY3Vyc29y' }, 'INVALID_CURSOR'],
    ['refunds: an orderId that is no UUID', REFUNDS, { filter: { orderId: 'order-1' } }, 'INVALID_ORDER_ID'],
    ['disputes: first 0', DISPUTES, { first: 0 }, 'INVALID_FIRST'],
    ['disputes: a refunds cursor', DISPUTES, { after: Buffer.from(`1|${seededRefunds[0]!.id}`).toString('base64url') }, 'INVALID_CURSOR'],
    ['disputes: evidenceDueBefore without a zone', DISPUTES, { filter: { evidenceDueBefore: '2026-12-10T00:00:00' } }, 'INVALID_EVIDENCE_DUE_BEFORE'],
    ['disputes: evidenceDueBefore not a time', DISPUTES, { filter: { evidenceDueBefore: 'tomorrow' } }, 'INVALID_EVIDENCE_DUE_BEFORE'],
  ];
  for (const [name, query, variables, reason] of refused) {
    it(`${name} is BAD_USER_INPUT (${reason})`, async () => {
      const response = await gql(query, variables, 'admin');
      expect(response.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason });
    });
  }
});

describe('refundPayment: bad input is refused and writes nothing', () => {
  const valid = () => ({ orderId: seededOrderId, amount: 100, reason: 'REQUESTED_BY_CUSTOMER', note: 'asked by email', idempotencyKey: newKey() });
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['an orderId that is no UUID', { orderId: 'not-a-uuid' }, 'INVALID_ORDER_ID'],
    ['an amount of 0', { amount: 0 }, 'INVALID_AMOUNT'],
    ['a negative amount', { amount: -5 }, 'INVALID_AMOUNT'],
    ['an amount over 99,999,999', { amount: 100_000_000 }, 'INVALID_AMOUNT'],
    ['a note of 501 characters', { note: 'é'.repeat(501) }, 'NOTE_TOO_LONG'],
    ['an empty idempotency key', { idempotencyKey: '' }, 'INVALID_IDEMPOTENCY_KEY'],
    ['an idempotency key with a space', { idempotencyKey: 'a b' }, 'INVALID_IDEMPOTENCY_KEY'],
    ['an idempotency key of 256 characters', { idempotencyKey: 'k'.repeat(256) }, 'INVALID_IDEMPOTENCY_KEY'],
  ];
  for (const [name, change, reason] of cases) {
    it(`${name}: BAD_USER_INPUT (${reason})`, async () => {
      const before = await counts();
      const response = await gql(REFUND, { input: { ...valid(), ...change } }, 'admin');
      expect(response.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason });
      expect(await counts()).toEqual(before);
    });
  }

  it('an amount that is not an integer, and a reason that is not one of the four, are refused by the schema', async () => {
    const before = await counts();
    for (const change of [{ amount: 12.5 }, { amount: '100' }, { reason: 'BECAUSE' }]) {
      const response = await gql(REFUND, { input: { ...valid(), ...change } }, 'admin');
      expect(codeOf(response)).toBe('BAD_USER_INPUT');
    }
    expect(await counts()).toEqual(before);
  });

  it('a note of exactly 500 characters passes the check (the order is unknown, so nothing is written)', async () => {
    const before = await counts();
    const response = await gql(REFUND, { input: { ...valid(), orderId: randomUUID(), note: 'n'.repeat(500) } }, 'admin');
    expect(ok(response).refundPayment).toMatchObject({ refund: null, order: null, error: { code: 'ORDER_NOT_FOUND' }, isRepeat: false });
    expect(await counts()).toEqual(before);
  });
});

describe('refundPayment through the Refunds service and the sandbox', () => {
  // Every webhook is dropped: what these tests see is refundPayment's own doing (Stripe's answer to the
  // create call), and no event applied meanwhile adds rows between a count and the next.
  beforeEach(() => {
    server.app.stripeSandbox!.core.events.stopAutoDelivery();
    server.app.stripeSandbox!.webhookFaults.dropNext = 1_000_000;
  });
  /** An order paid at Stripe, as the storefront's confirm leaves it. */
  async function paidOrder() {
    const created = ok(await server.createPaymentIntent({ idempotencyKey: newKey(), track: 'business_plan_builder', email: `guest-${randomUUID()}@example.com` })).createPaymentIntent;
    await server.app.stripe.paymentIntents.confirm(created.paymentIntentId, { payment_method: 'pm_card_visa', return_url: RETURN_URL });
    const confirmed = ok(await server.confirmPayment({ paymentIntentId: created.paymentIntentId })).confirmPayment;
    expect(confirmed.order).toMatchObject({ status: 'PAID' });
    return { orderId: confirmed.order.id as string, paymentIntentId: created.paymentIntentId as string };
  }
  const refund = (input: Record<string, unknown>) => gql(REFUND, { input: { reason: 'REQUESTED_BY_CUSTOMER', idempotencyKey: newKey(), ...input } }, 'admin');

  it('a partial refund, then the rest (amount omitted): each made at Stripe, the order PARTIALLY_REFUNDED then REFUNDED', async () => {
    const { orderId, paymentIntentId } = await paidOrder();
    const first = ok(await refund({ orderId, amount: 2970, note: 'half a month' })).refundPayment;
    expect(first).toMatchObject({
      refund: { orderId, amount: { amount: 2970, currency: 'usd' }, status: 'SUCCEEDED', reason: 'REQUESTED_BY_CUSTOMER', requestedBy: `staff:${adminId}`, stripeRefundId: expect.stringMatching(/^re_/) },
      order: { id: orderId, status: 'PARTIALLY_REFUNDED', refundableAmount: { amount: 9900 - 2970, currency: 'usd' } },
      error: null, refundableAmount: null, isRepeat: false,
    });
    const rest = ok(await refund({ orderId, reason: 'DUPLICATE' })).refundPayment;
    expect(rest).toMatchObject({ refund: { amount: { amount: 6930 }, status: 'SUCCEEDED', reason: 'DUPLICATE' }, order: { status: 'REFUNDED', refundableAmount: { amount: 0 } }, error: null });
    const atStripe = await server.app.stripe.refunds.list({ payment_intent: paymentIntentId });
    expect(atStripe.data.map((r) => r.amount).sort()).toEqual([2970, 6930]);
    expect(atStripe.data.map((r) => r.id).sort()).toEqual([first.refund.stripeRefundId, rest.refund.stripeRefundId].sort());
    // The note is kept in the audit log only, with who asked in words (the order timeline's "by admin@…").
    const { rows } = await server.app.db.query<{ details: { note?: string; actor_name?: string } }>(`select details from audit_log where details->>'refund_id' = $1`, [first.refund.id]);
    expect(rows.map((r) => r.details.note)).toContain('half a month');
    expect(rows.map((r) => r.details.actor_name)).toEqual(['admin@staff.test']);
    // A fully refunded order is no longer refundable.
    // An amount asked of a refunded order is more than the remainder (0), as for a loser of a race.
    expect(ok(await refund({ orderId, amount: 1 })).refundPayment).toMatchObject({ refund: null, error: { code: 'REFUND_EXCEEDS_REMAINING' }, refundableAmount: { amount: 0, currency: 'usd' } });
  });

  it('staff see who requested a refund in words (requestedByName, as the request recorded it); one made at Stripe names nobody', async () => {
    const { orderId } = await paidOrder();
    const made = ok(await refund({ orderId, amount: 1000 })).refundPayment.refund;
    // A refund made in Stripe's dashboard, as its webhook records it: no one of ours asked.
    await server.app.db.query(
      `insert into refunds (id, order_id, payment_id, amount, currency, status) select $1, order_id, id, 500, 'usd', 'succeeded' from payments where order_id = $2`,
      [`re_byName${randomUUID().slice(0, 8)}`, orderId],
    );
    const order = ok(await gql(ORDER_REFUNDS_BY_NAME, { id: orderId }, 'support')).order;
    expect(order.refunds).toHaveLength(2);
    expect(order.refunds).toContainEqual({ id: made.id, requestedBy: `staff:${adminId}`, requestedByName: 'admin@staff.test' });
    expect(order.refunds.find((r: { id: string }) => r.id !== made.id)).toMatchObject({ requestedBy: null, requestedByName: null });
  });

  it('more than the remainder is REFUND_EXCEEDS_REMAINING with what may still be refunded, and writes no refund', async () => {
    const { orderId, paymentIntentId } = await paidOrder();
    ok(await refund({ orderId, amount: 9000 }));
    const before = await counts();
    const over = ok(await refund({ orderId, amount: 901 })).refundPayment;
    expect(over).toMatchObject({ refund: null, order: { id: orderId, status: 'PARTIALLY_REFUNDED' }, error: { code: 'REFUND_EXCEEDS_REMAINING' }, refundableAmount: { amount: 900, currency: 'usd' }, isRepeat: false });
    expect(await counts()).toEqual(before);
    expect((await server.app.stripe.refunds.list({ payment_intent: paymentIntentId })).data).toHaveLength(1);
  });

  it('Stripe unreachable: the refund stays CREATING with PAYMENT_PROVIDER_UNAVAILABLE and its amount held; the same key completes that refund', async () => {
    const { orderId, paymentIntentId } = await paidOrder();
    const key = newKey();
    // The SDK tries twice (STRIPE_MAX_NETWORK_RETRIES=1): both fail.
    server.app.stripeSandbox!.failNext('api_error', 'api_error');
    const first = ok(await refund({ orderId, amount: 4000, idempotencyKey: key })).refundPayment;
    expect(first).toMatchObject({
      refund: { status: 'CREATING', stripeRefundId: null, amount: { amount: 4000 } },
      order: { id: orderId, refundableAmount: { amount: 5900 } },
      error: { code: 'PAYMENT_PROVIDER_UNAVAILABLE' }, isRepeat: false,
    });
    const completed = ok(await refund({ orderId, amount: 4000, idempotencyKey: key })).refundPayment;
    expect(completed).toMatchObject({ refund: { id: first.refund.id, status: 'SUCCEEDED', stripeRefundId: expect.stringMatching(/^re_/) }, error: null, isRepeat: true });
    expect((await server.app.stripe.refunds.list({ payment_intent: paymentIntentId })).data.map((r) => r.id)).toEqual([completed.refund.stripeRefundId]);
  });

  it('the same key again is the first answer, flagged isRepeat, with one Stripe refund; with another amount it is CONFLICT', async () => {
    const { orderId, paymentIntentId } = await paidOrder();
    const key = newKey();
    const first = ok(await refund({ orderId, amount: 1500, idempotencyKey: key })).refundPayment;
    expect(first).toMatchObject({ isRepeat: false, error: null, refund: { status: 'SUCCEEDED' } });
    const again = ok(await refund({ orderId, amount: 1500, idempotencyKey: key })).refundPayment;
    expect(again).toMatchObject({ isRepeat: true, error: null, refund: { id: first.refund.id, stripeRefundId: first.refund.stripeRefundId, status: 'SUCCEEDED' } });
    expect((await server.app.stripe.refunds.list({ payment_intent: paymentIntentId })).data).toHaveLength(1);
    const before = await counts();
    const other = await refund({ orderId, amount: 1600, idempotencyKey: key });
    expect(other.body.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await counts()).toEqual(before);
  });
});
