// Payment requests in the GraphQL API (issue 20) over real HTTP against the real server in sandbox
// mode: a request made by each kind of creator, read by whom it should be and no one else, paid share
// by share (the member's PaymentIntent confirmed with the official SDK against the sandbox, its webhook
// applied by the server's applier), reminded and canceled; pay links given once; a wrong or replaced
// token opens nothing and changes nothing; pages of a status.
import { randomBytes, randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../../server/auth/apiKeys';
import { signStaffToken } from '../../../server/auth/staffTokens';
import type { StripeSandbox } from '../../../stripe-sandbox/sandbox';
import { type CheckoutServer, JWT_SECRET, newKey, startCheckoutServer } from '../../helpers/checkout';
import type { GraphQLResponse } from '../../helpers/server';

type Auth = { token?: string; headers?: Record<string, string> };
type Caller = 'anonymous' | 'customer' | 'lister' | 'otherCustomer' | 'storefront' | 'otherStorefront' | 'make' | 'support' | 'otherSupport' | 'admin';

let server: CheckoutServer;
let sandbox: StripeSandbox;
let stripe: Stripe;
const as = {} as Record<Caller, Auth>;

beforeAll(async () => {
  server = await startCheckoutServer({ JOBS_ENABLED: 'false', RATE_LIMIT_CUSTOMER_PER_MINUTE: '0', RATE_LIMIT_API_KEY_PER_MINUTE: '0' });
  sandbox = server.app.stripeSandbox!;
  stripe = server.app.stripe;
  const staff = (staffRole: 'support' | 'admin') =>
    signStaffToken(JWT_SECRET, { userId: randomUUID(), email: `${staffRole}-${randomUUID()}@staff.test`, staffRole, audience: 'authenticated', expiresIn: '1h' });
  const { key: makeKey } = await createApiKey(server.app.db, 'payment requests test make', 'make');
  const { key: otherStorefrontKey } = await createApiKey(server.app.db, 'payment requests test other storefront', 'storefront');
  Object.assign(as, {
    anonymous: {},
    customer: { token: await server.customerToken({ email: 'organiser@example.com' }) },
    lister: { token: await server.customerToken({ email: 'lister@example.com' }) },
    otherCustomer: { token: await server.customerToken({ email: 'someone-else@example.com' }) },
    storefront: server.asStorefront,
    otherStorefront: { headers: { 'x-api-key': otherStorefrontKey } },
    make: { headers: { 'x-api-key': makeKey } },
    support: { token: await staff('support') },
    otherSupport: { token: await staff('support') },
    admin: { token: await staff('admin') },
  });
});
afterAll(() => server?.stop());

const MEMBER_FIELDS = 'id email name amount { amount currency } status paymentAttemptCount paymentIntentId paidAt amountRefunded { amount } orderId';
const REQUEST_FIELDS = `id title track trackName description total { amount currency formatted } amountPaid { amount } amountRefunded { amount } status
  membersCount membersPaid expiresAt createdBy createdByName metadata { key value } members { ${MEMBER_FIELDS} } createdAt updatedAt completedAt canceledAt`;
const CREATE = `mutation ($input: CreatePaymentRequestInput!) {
  createPaymentRequest(input: $input) { paymentRequest { ${REQUEST_FIELDS} } payLinks { memberId email payUrl } isRepeat error { code message } }
}`;
const SHARE_FIELDS = 'memberId paymentRequestId title description trackName memberName amount { amount currency } status requestStatus expiresAt';
const SHARE = `query ($token: String!) { memberShare(token: $token) { ${SHARE_FIELDS} } }`;
const PAY = `mutation ($input: PayMemberShareInput!) {
  payMemberShare(input: $input) { share { ${SHARE_FIELDS} } paymentIntentId clientSecret isRepeat error { code message } }
}`;
const CANCEL = `mutation ($input: PaymentRequestActionInput!) { cancelPaymentRequest(input: $input) { paymentRequest { id status canceledAt members { id status } } isRepeat error { code message } } }`;
const REMIND = `mutation ($input: PaymentRequestActionInput!) { remindPaymentRequestMembers(input: $input) { paymentRequest { id } reminded isRepeat error { code message } } }`;
const REQUEST = `query ($id: ID!) { paymentRequest(id: $id) { ${REQUEST_FIELDS} } }`;
const REQUESTS = `query ($filter: PaymentRequestFilter, $first: Int, $after: String) {
  paymentRequests(filter: $filter, first: $first, after: $after) { nodes { id status } pageInfo { hasNextPage endCursor } }
}`;

const gql = (query: string, variables: Record<string, unknown>, caller: Caller) => server.graphql(query, { variables, ...as[caller] });
const ok = (response: GraphQLResponse) => {
  expect(response.body.errors).toBeUndefined();
  return response.body.data;
};
const errorCode = (response: GraphQLResponse) => response.body.errors?.[0]?.extensions?.code;
// A refused action may keep its answer under the caller's key (a repeat answers it again): that is all it writes.
/** A request's member by id: the list's order is not the order the members were given in. */
const memberOf = (request: { members: Array<{ id: string }> }, id: string) => request.members.find((m) => m.id === id) as Record<string, any>;
const byEmail = <T extends { email: string }>(list: T[]) => [...list].sort((a, b) => (a.email < b.email ? -1 : 1));
const withoutKeys = ({ keys: _keys, ...rest }: Record<string, unknown>) => rest;
const tokenOf = (payUrl: string) => new URL(payUrl).searchParams.get('token')!;

async function counts() {
  const { rows } = await server.app.db.query<Record<string, number>>(
    `select (select count(*) from payment_requests)::int as requests, (select count(*) from payment_request_members)::int as members,
            (select count(*) from orders)::int as orders, (select count(*) from payment_attempts)::int as attempts,
            (select count(*) from idempotency_keys)::int as keys, (select count(*) from make_deliveries)::int as deliveries,
            (select count(*) from payment_logs)::int as logs, (select string_agg(token_hash, ',' order by id) from payment_request_members) as tokens`,
  );
  return rows[0]!;
}

/** Every event the sandbox has to deliver reaches the endpoint, and every stored event is applied. */
async function settle(): Promise<void> {
  await sandbox.flushWebhooks();
  await server.app.webhookApplier.drain();
  const { rows } = await server.app.db.query("select id, type, last_error from stripe_events where status <> 'applied' and status <> 'ignored'");
  expect(rows).toEqual([]);
}

const input = (overrides: Record<string, unknown> = {}) => ({
  idempotencyKey: newKey(),
  title: 'Team licence',
  track: 'business_plan_builder',
  currency: 'usd',
  members: [
    { email: `ada-${randomUUID()}@example.com`, name: 'Ada', amount: 3300 },
    { email: `grace-${randomUUID()}@example.com`, name: null, amount: 3300 },
    { email: `linus-${randomUUID()}@example.com`, name: 'Linus', amount: 3300 },
  ],
  ...overrides,
});

async function create(caller: Caller, overrides: Record<string, unknown> = {}) {
  const payload = ok(await gql(CREATE, { input: input(overrides) }, caller)).createPaymentRequest;
  expect(payload.error).toBeNull();
  const links = payload.payLinks as Array<{ memberId: string; email: string; payUrl: string }>;
  return { request: payload.paymentRequest, tokens: links.map((link) => tokenOf(link.payUrl)), memberIds: links.map((link) => link.memberId), payload };
}

/** The member pays their share as the pay page does: payMemberShare, then Stripe.js' confirm (the SDK here). */
async function payShare(token: string, paymentMethod = 'pm_card_visa') {
  const pay = ok(await gql(PAY, { input: { token, idempotencyKey: newKey() } }, 'anonymous')).payMemberShare;
  expect(pay.error).toBeNull();
  expect(pay.clientSecret).toMatch(new RegExp(`^${pay.paymentIntentId}_secret_`));
  const intent = await stripe.paymentIntents.confirm(pay.paymentIntentId, { payment_method: paymentMethod, return_url: 'https://shop.example/pay/return' }).catch((error: Stripe.errors.StripeError) => error);
  await settle();
  return { pay, intent };
}

describe('making a request', () => {
  it('makes the request and its members, and gives each member’s pay link in the first payload only', async () => {
    const expiresAt = new Date(Date.now() + 7 * 86_400_000).toISOString();
    const first = input({ metadata: [{ key: 'team', value: 'north' }], expiresAt });
    const payload = ok(await gql(CREATE, { input: first }, 'storefront')).createPaymentRequest;
    expect(payload).toMatchObject({ isRepeat: false, error: null });
    const request = payload.paymentRequest;
    expect(request).toMatchObject({
      title: 'Team licence',
      track: 'business_plan_builder',
      description: null,
      total: { amount: 9900, currency: 'usd' },
      amountPaid: { amount: 0 },
      status: 'OPEN',
      membersCount: 3,
      membersPaid: 0,
      metadata: [{ key: 'team', value: 'north' }],
      completedAt: null,
      canceledAt: null,
    });
    expect(request.createdBy).toMatch(/^api_key:/);
    expect(Date.parse(request.expiresAt)).toBe(Date.parse(expiresAt));
    expect(byEmail(request.members as Array<Record<string, any> & { email: string }>).map((m) => [m.email, m.name, m.amount.amount, m.status, m.orderId])).toEqual(
      byEmail(first.members).map((m) => [m.email, m.name, m.amount, 'PENDING', null]),
    );
    expect(payload.payLinks).toHaveLength(3);
    for (const link of payload.payLinks) {
      expect(memberOf(request, link.memberId).email).toBe(link.email);
      expect(tokenOf(link.payUrl)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    }
    expect(new Set(payload.payLinks.map((l: { payUrl: string }) => l.payUrl)).size).toBe(3);

    // The same key and input: the request again, no links (tokens are kept only hashed), nothing more written.
    const before = await counts();
    const repeat = ok(await gql(CREATE, { input: first }, 'storefront')).createPaymentRequest;
    expect(repeat).toMatchObject({ isRepeat: true, payLinks: [], error: null, paymentRequest: { id: request.id } });
    expect(await counts()).toEqual(before);
    // The links are in no read either.
    expect(JSON.stringify(ok(await gql(REQUEST, { id: request.id }, 'admin')))).not.toContain(tokenOf(payload.payLinks[0].payUrl));
    // The key with other input is a conflict that writes nothing.
    const conflict = await gql(CREATE, { input: { ...first, title: 'Another title' } }, 'storefront');
    expect(conflict.body.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await counts()).toEqual(before);
    // Nothing secret reached the logs.
    for (const link of payload.payLinks) expect(server.logs.text).not.toContain(tokenOf(link.payUrl));
  });

  it('lets customers, support and admins make one, and a free description stand for the track', async () => {
    for (const caller of ['customer', 'support', 'admin'] as const) {
      const { request } = await create(caller, { track: null, description: 'Two-day workshop in Leeds', currency: 'gbp' });
      expect(request).toMatchObject({ track: null, description: 'Two-day workshop in Leeds', total: { amount: 9900, currency: 'gbp' }, status: 'OPEN' });
      expect(request.createdBy).toMatch(caller === 'customer' ? /^customer:/ : /^staff:/);
      // The creator's name: the customer's sign-in email.
      if (caller === 'customer') expect(request.createdByName).toBe('organiser@example.com');
      else expect(request.createdByName).toEqual(expect.any(String));
      // Staff see each share's order; the creating customer does not.
      expect(request.members.every((m: { orderId: string | null }) => (caller === 'customer' ? m.orderId === null : typeof m.orderId === 'string'))).toBe(true);
    }
  });

  it('refuses a track that is not for sale, or does not exist, writing nothing', async () => {
    const before = await counts();
    // payment_request is the hidden product of shares with a description: not a track one may name.
    for (const track of ['no_such_track', 'payment_request']) {
      const response = await gql(CREATE, { input: input({ track }) }, 'storefront');
      expect(response.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: expect.stringContaining('track') });
    }
    expect(await counts()).toEqual(before);
  });
});

describe('who reads a request', () => {
  it('shows the creator and staff, and reads another’s as null', async () => {
    const { request } = await create('customer');
    const asCreator = ok(await gql(REQUEST, { id: request.id }, 'customer')).paymentRequest;
    expect(asCreator.id).toBe(request.id);
    expect(asCreator.members.map((m: { orderId: unknown }) => m.orderId)).toEqual([null, null, null]);
    for (const caller of ['support', 'admin'] as const) {
      const asStaff = ok(await gql(REQUEST, { id: request.id }, caller)).paymentRequest;
      expect(asStaff.members.every((m: { orderId: string }) => /^[0-9a-f-]{36}$/.test(m.orderId))).toBe(true);
    }
    for (const caller of ['otherCustomer', 'storefront'] as const) {
      expect(ok(await gql(REQUEST, { id: request.id }, caller)).paymentRequest).toBeNull();
      expect(ok(await gql(REQUESTS, {}, caller)).paymentRequests.nodes.map((n: { id: string }) => n.id)).not.toContain(request.id);
    }
    expect(ok(await gql(REQUEST, { id: randomUUID() }, 'admin')).paymentRequest).toBeNull();
    expect(errorCode(await gql(REQUEST, { id: request.id }, 'make'))).toBe('FORBIDDEN');
    expect(errorCode(await gql(REQUEST, { id: request.id }, 'anonymous'))).toBe('UNAUTHENTICATED');
  });
});

describe('paying shares', () => {
  it('pays share by share: the token opens the share, the PaymentIntent is confirmed at the sandbox, the webhook marks the member paid', async () => {
    const { request, tokens, memberIds } = await create('storefront');
    // Grace (the second member) gave no name.
    const share = ok(await gql(SHARE, { token: tokens[1] }, 'anonymous')).memberShare;
    expect(memberOf(request, memberIds[1]!).email).toMatch(/^grace-/);
    expect(share).toMatchObject({
      memberId: memberIds[1],
      paymentRequestId: request.id,
      title: 'Team licence',
      trackName: request.trackName,
      // Grace gave no name: her email stands for it.
      memberName: memberOf(request, memberIds[1]!).email,
      amount: { amount: 3300, currency: 'usd' },
      status: 'PENDING',
      requestStatus: 'OPEN',
    });

    const { pay, intent } = await payShare(tokens[0]!);
    expect(pay).toMatchObject({ isRepeat: false, share: { memberId: memberIds[0] } });
    expect(intent instanceof Error ? intent.message : intent.status).toBe('succeeded');
    const stripeIntent = await stripe.paymentIntents.retrieve(pay.paymentIntentId);
    expect(stripeIntent).toMatchObject({ amount: 3300, currency: 'usd', metadata: { payment_request_id: request.id, payment_request_member_id: memberIds[0] } });

    let read = ok(await gql(REQUEST, { id: request.id }, 'storefront')).paymentRequest;
    expect(read).toMatchObject({ status: 'PARTIALLY_PAID', amountPaid: { amount: 3300 }, membersPaid: 1, completedAt: null });
    expect(memberOf(read, memberIds[0]!)).toMatchObject({ status: 'PAID', paymentIntentId: pay.paymentIntentId, paymentAttemptCount: 1 });
    expect(memberOf(read, memberIds[0]!).paidAt).not.toBeNull();
    expect(memberOf(read, memberIds[1]!)).toMatchObject({ status: 'PENDING', paymentIntentId: null, paidAt: null });

    // A paid share is refused, and nothing is made for it.
    const before = await counts();
    const again = ok(await gql(PAY, { input: { token: tokens[0], idempotencyKey: newKey() } }, 'anonymous')).payMemberShare;
    expect(again).toMatchObject({ clientSecret: null, paymentIntentId: null, error: { code: 'SHARE_ALREADY_PAID' } });
    expect((await counts()).attempts).toBe(before.attempts);

    await payShare(tokens[1]!);
    await payShare(tokens[2]!);
    read = ok(await gql(REQUEST, { id: request.id }, 'admin')).paymentRequest;
    expect(read).toMatchObject({ status: 'PAID', amountPaid: { amount: 9900 }, membersPaid: 3 });
    expect(read.completedAt).not.toBeNull();
    expect(read.members.map((m: { status: string }) => m.status)).toEqual(['PAID', 'PAID', 'PAID']);
    expect(ok(await gql(SHARE, { token: tokens[2] }, 'anonymous')).memberShare).toMatchObject({ status: 'PAID', requestStatus: 'PAID' });
    // Neither the tokens nor the client secret reached the logs.
    for (const secret of [...tokens, pay.clientSecret]) expect(server.logs.text).not.toContain(secret);
  });

  it('answers a double press with the first answer, and a new key with the same open PaymentIntent (option C)', async () => {
    const { tokens } = await create('customer');
    const key = newKey();
    const first = ok(await gql(PAY, { input: { token: tokens[0], idempotencyKey: key } }, 'anonymous')).payMemberShare;
    const before = await counts();
    const second = ok(await gql(PAY, { input: { token: tokens[0], idempotencyKey: key } }, 'anonymous')).payMemberShare;
    expect(second).toMatchObject({ isRepeat: true, paymentIntentId: first.paymentIntentId, clientSecret: first.clientSecret });
    // A new key while the PaymentIntent can still be paid: the same one (option C).
    const third = ok(await gql(PAY, { input: { token: tokens[0], idempotencyKey: newKey() } }, 'anonymous')).payMemberShare;
    expect(third.paymentIntentId).toBe(first.paymentIntentId);
    expect((await counts()).attempts).toBe(before.attempts);
  });

  it('opens nothing and changes nothing for a wrong token', async () => {
    await create('storefront');
    const before = await counts();
    const wrong = randomBytes(32).toString('base64url');
    expect(ok(await gql(SHARE, { token: wrong }, 'anonymous')).memberShare).toBeNull();
    const pay = ok(await gql(PAY, { input: { token: wrong, idempotencyKey: newKey() } }, 'anonymous')).payMemberShare;
    expect(pay).toMatchObject({ share: null, clientSecret: null, paymentIntentId: null, error: { code: 'SHARE_NOT_FOUND' } });
    expect(await counts()).toEqual(before);
  });
});

describe('reminders', () => {
  it('reminds the unpaid members with new links: the old link opens nothing and changes nothing', async () => {
    const { request, tokens } = await create('customer');
    await payShare(tokens[0]!);
    const payload = ok(await gql(REMIND, { input: { id: request.id, idempotencyKey: newKey() } }, 'customer')).remindPaymentRequestMembers;
    expect(payload).toMatchObject({ reminded: 2, isRepeat: false, error: null, paymentRequest: { id: request.id } });
    const { rows } = await server.app.db.query<{ payload: unknown }>(
      "select payload from make_deliveries where kind = 'payment_request_reminder' and payload::text like $1",
      [`%${request.id}%`],
    );
    expect(rows).toHaveLength(2);

    const before = await counts();
    expect(ok(await gql(SHARE, { token: tokens[1] }, 'anonymous')).memberShare).toBeNull();
    expect(ok(await gql(PAY, { input: { token: tokens[1], idempotencyKey: newKey() } }, 'anonymous')).payMemberShare.error.code).toBe('SHARE_NOT_FOUND');
    expect(await counts()).toEqual(before);
    // The paid member's link was not replaced.
    expect(ok(await gql(SHARE, { token: tokens[0] }, 'anonymous')).memberShare.status).toBe('PAID');
    // The new link (in the reminder delivery, for Make's email) opens the share.
    const newToken = /token=([A-Za-z0-9_-]{43})/.exec(JSON.stringify(rows[0]!.payload))?.[1];
    expect(newToken).toBeDefined();
    expect(ok(await gql(SHARE, { token: newToken }, 'anonymous')).memberShare.paymentRequestId).toBe(request.id);
  });

  it('lets the creator, support and admins remind, and answers another creator as not found', async () => {
    const { request } = await create('customer');
    for (const caller of ['support', 'admin'] as const) {
      expect(ok(await gql(REMIND, { input: { id: request.id, idempotencyKey: newKey() } }, caller)).remindPaymentRequestMembers).toMatchObject({ reminded: 3, error: null });
    }
    const before = await counts();
    for (const caller of ['otherCustomer', 'storefront'] as const) {
      const refused = ok(await gql(REMIND, { input: { id: request.id, idempotencyKey: newKey() } }, caller)).remindPaymentRequestMembers;
      expect(refused).toMatchObject({ reminded: 0, paymentRequest: null, error: { code: 'PAYMENT_REQUEST_NOT_FOUND' } });
    }
    expect(errorCode(await gql(REMIND, { input: { id: request.id, idempotencyKey: newKey() } }, 'make'))).toBe('FORBIDDEN');
    expect(withoutKeys(await counts())).toEqual(withoutKeys(before));
  });
});

describe('canceling', () => {
  it('lets the creator cancel; paid shares stay paid, the rest are canceled and can no longer be paid', async () => {
    const { request, tokens, memberIds } = await create('customer');
    await payShare(tokens[0]!);
    // An open PaymentIntent for the second member, canceled with the request.
    const open = ok(await gql(PAY, { input: { token: tokens[1], idempotencyKey: newKey() } }, 'anonymous')).payMemberShare;
    const key = newKey();
    const payload = ok(await gql(CANCEL, { input: { id: request.id, idempotencyKey: key } }, 'customer')).cancelPaymentRequest;
    expect(payload).toMatchObject({ isRepeat: false, error: null, paymentRequest: { id: request.id, status: 'CANCELED' } });
    expect(payload.paymentRequest.canceledAt).not.toBeNull();
    expect(memberIds.map((id) => memberOf(payload.paymentRequest, id).status)).toEqual(['PAID', 'CANCELED', 'CANCELED']);
    expect((await stripe.paymentIntents.retrieve(open.paymentIntentId)).status).toBe('canceled');
    const repeat = ok(await gql(CANCEL, { input: { id: request.id, idempotencyKey: key } }, 'customer')).cancelPaymentRequest;
    expect(repeat).toMatchObject({ isRepeat: true, error: null, paymentRequest: { status: 'CANCELED' } });
    const payAfter = ok(await gql(PAY, { input: { token: tokens[2], idempotencyKey: newKey() } }, 'anonymous')).payMemberShare;
    expect(payAfter).toMatchObject({ clientSecret: null, error: { code: 'REQUEST_NOT_PAYABLE' } });
    const again = ok(await gql(CANCEL, { input: { id: request.id, idempotencyKey: newKey() } }, 'admin')).cancelPaymentRequest;
    expect(again.error.code).toBe('REQUEST_NOT_CANCELABLE');
  });

  it('lets admins cancel any request, refuses support who did not make it and answers another creator as not found', async () => {
    const { request } = await create('storefront');
    const before = await counts();
    expect(errorCode(await gql(CANCEL, { input: { id: request.id, idempotencyKey: newKey() } }, 'support'))).toBe('FORBIDDEN');
    for (const caller of ['otherCustomer', 'otherStorefront'] as const) {
      const refused = ok(await gql(CANCEL, { input: { id: request.id, idempotencyKey: newKey() } }, caller)).cancelPaymentRequest;
      expect(refused).toMatchObject({ paymentRequest: null, error: { code: 'PAYMENT_REQUEST_NOT_FOUND' } });
    }
    expect(errorCode(await gql(CANCEL, { input: { id: request.id, idempotencyKey: newKey() } }, 'make'))).toBe('FORBIDDEN');
    expect(errorCode(await gql(CANCEL, { input: { id: request.id, idempotencyKey: newKey() } }, 'anonymous'))).toBe('UNAUTHENTICATED');
    expect(withoutKeys(await counts())).toEqual(withoutKeys(before));
    expect(ok(await gql(REQUEST, { id: request.id }, 'admin')).paymentRequest.status).toBe('OPEN');
    expect(ok(await gql(CANCEL, { input: { id: request.id, idempotencyKey: newKey() } }, 'admin')).cancelPaymentRequest.paymentRequest.status).toBe('CANCELED');

    // Support may cancel a request support made.
    const own = await create('support');
    expect(ok(await gql(CANCEL, { input: { id: own.request.id, idempotencyKey: newKey() } }, 'support')).cancelPaymentRequest.paymentRequest.status).toBe('CANCELED');
    expect(errorCode(await gql(CANCEL, { input: { id: (await create('support')).request.id, idempotencyKey: newKey() } }, 'otherSupport'))).toBe('FORBIDDEN');
  });
});

describe('listing requests', () => {
  it('pages a creator’s own requests of a status, newest first, and staff’s of all creators', async () => {
    const made = [];
    for (let n = 0; n < 5; n += 1) made.push((await create('lister')).request.id);
    for (const id of [made[0], made[2], made[3]]) ok(await gql(CANCEL, { input: { id, idempotencyKey: newKey() } }, 'lister'));

    const walk = async (caller: Caller, filter: Record<string, unknown> | null) => {
      const seen: string[] = [];
      let after: string | null = null;
      for (;;) {
        const page: { nodes: Array<{ id: string; status: string }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } } = ok(
          await gql(REQUESTS, { filter, first: 2, after }, caller),
        ).paymentRequests;
        expect(page.nodes.length).toBeLessThanOrEqual(2);
        if (filter?.status) expect(page.nodes.every((n) => n.status === filter.status)).toBe(true);
        seen.push(...page.nodes.map((n) => n.id));
        if (!page.pageInfo.hasNextPage) break;
        after = page.pageInfo.endCursor;
      }
      return seen;
    };
    expect(await walk('lister', { status: 'CANCELED' })).toEqual([made[3], made[2], made[0]]);
    expect(await walk('lister', { status: 'OPEN' })).toEqual([made[4], made[1]]);
    expect(await walk('lister', null)).toEqual([...made].reverse());
    expect(await walk('otherCustomer', { status: 'CANCELED' })).not.toContain(made[0]);
    const staffCanceled = await walk('support', { status: 'CANCELED' });
    expect(staffCanceled).toEqual(expect.arrayContaining([made[0], made[2], made[3]]));
    expect(staffCanceled).not.toContain(made[1]);
  });
});
