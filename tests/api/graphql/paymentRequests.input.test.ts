// Payment requests in the GraphQL API (issue 20): what is refused before the service is called, over
// real HTTP against the real server in sandbox mode. Every field of every mutation with bad input
// (NUL, lone surrogates, control characters, out-of-range numbers, 51 members, oversized strings) and
// every caller without the role is a typed error that writes nothing: no request, member, order,
// customer, attempt, key, delivery or audit row.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../../server/auth/apiKeys';
import { signStaffToken } from '../../../server/auth/staffTokens';
import { parseCreatePaymentRequestInput } from '../../../server/api/graphql/resolvers/paymentRequests';
import { type CheckoutServer, JWT_SECRET, newKey, startCheckoutServer } from '../../helpers/checkout';
import type { GraphQLResponse } from '../../helpers/server';

type Auth = { token?: string; headers?: Record<string, string> };
type Caller = 'anonymous' | 'customer' | 'storefront' | 'make' | 'support' | 'admin';

let server: CheckoutServer;
const as = {} as Record<Caller, Auth>;

beforeAll(async () => {
  // No rate limit: this file sends many refused mutations in a minute on purpose.
  server = await startCheckoutServer({ JOBS_ENABLED: 'false', RATE_LIMIT_CUSTOMER_PER_MINUTE: '0', RATE_LIMIT_API_KEY_PER_MINUTE: '0' });
  const staff = (staffRole: 'support' | 'admin') =>
    signStaffToken(JWT_SECRET, { userId: randomUUID(), email: `${staffRole}@staff.test`, staffRole, audience: 'authenticated', expiresIn: '1h' });
  const { key: makeKey } = await createApiKey(server.app.db, 'payment requests input test make', 'make');
  Object.assign(as, {
    anonymous: {},
    customer: { token: await server.customerToken({ email: 'payer@example.com' }) },
    storefront: server.asStorefront,
    make: { headers: { 'x-api-key': makeKey } },
    support: { token: await staff('support') },
    admin: { token: await staff('admin') },
  });
});
afterAll(() => server?.stop());

const REQUEST_FIELDS = 'id title status total { amount currency } members { id email status orderId }';
const CREATE = `mutation ($input: CreatePaymentRequestInput!) {
  createPaymentRequest(input: $input) { paymentRequest { ${REQUEST_FIELDS} } payLinks { memberId email payUrl } isRepeat error { code message } }
}`;
const PAY = `mutation ($input: PayMemberShareInput!) {
  payMemberShare(input: $input) { share { memberId status } paymentIntentId clientSecret isRepeat error { code message } }
}`;
const CANCEL = `mutation ($input: PaymentRequestActionInput!) { cancelPaymentRequest(input: $input) { paymentRequest { id status } isRepeat error { code message } } }`;
const REMIND = `mutation ($input: PaymentRequestActionInput!) { remindPaymentRequestMembers(input: $input) { paymentRequest { id } reminded isRepeat error { code message } } }`;
const REQUEST = `query ($id: ID!) { paymentRequest(id: $id) { ${REQUEST_FIELDS} } }`;
const REQUESTS = `query ($filter: PaymentRequestFilter, $first: Int, $after: String) {
  paymentRequests(filter: $filter, first: $first, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } }
}`;
const SHARE = `query ($token: String!) { memberShare(token: $token) { memberId status } }`;

const gql = (query: string, variables: Record<string, unknown>, caller: Caller) => server.graphql(query, { variables, ...as[caller] });
const firstError = (response: GraphQLResponse) => response.body.errors?.[0];

async function counts() {
  const { rows } = await server.app.db.query<Record<string, number>>(
    `select (select count(*) from payment_requests)::int as requests, (select count(*) from payment_request_members)::int as members,
            (select count(*) from orders)::int as orders, (select count(*) from customers)::int as customers,
            (select count(*) from payment_attempts)::int as attempts, (select count(*) from idempotency_keys)::int as keys,
            (select count(*) from make_deliveries)::int as deliveries, (select count(*) from audit_log)::int as audits,
            (select count(*) from payment_logs)::int as logs`,
  );
  return rows[0]!;
}

const member = (n: number, amount = 1000) => ({ email: `member${n}@example.com`, name: `Member ${n}`, amount });
const validInput = (overrides: Record<string, unknown> = {}) => ({
  idempotencyKey: newKey(),
  title: 'Team licence for the business plan builder',
  track: 'business_plan_builder',
  currency: 'usd',
  members: [member(1, 4950), member(2, 4950)],
  expiresAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
  metadata: [{ key: 'team', value: 'north' }],
  ...overrides,
});
const withMember = (index: number, fields: Record<string, unknown>) => validInput({ members: [member(1), member(2), { ...member(3), ...fields }].slice(0, Math.max(3, index + 1)) });

// [what, input, field, reason]: reason null where GraphQL itself or the HTTP layer refuses the value.
const BAD_CREATE_INPUTS: Array<[string, Record<string, unknown>, string, string | null]> = [
  ['an empty idempotency key', validInput({ idempotencyKey: '' }), 'input.idempotencyKey', 'INVALID_IDEMPOTENCY_KEY'],
  ['an idempotency key with a space', validInput({ idempotencyKey: 'a key' }), 'input.idempotencyKey', 'INVALID_IDEMPOTENCY_KEY'],
  ['a 256-character idempotency key', validInput({ idempotencyKey: 'k'.repeat(256) }), 'input.idempotencyKey', 'INVALID_IDEMPOTENCY_KEY'],
  ['an empty title', validInput({ title: '' }), 'input.title', 'INVALID_TITLE'],
  ['a blank title', validInput({ title: '   ' }), 'input.title', 'INVALID_TITLE'],
  ['a 201-character title', validInput({ title: 't'.repeat(201) }), 'input.title', 'INVALID_TITLE'],
  ['a 201-emoji title', validInput({ title: '💸'.repeat(201) }), 'input.title', 'INVALID_TITLE'],
  ['a title with a control character', validInput({ title: 'Team\u0007licence' }), 'input.title', 'INVALID_TITLE'],
  ['a title with a line break', validInput({ title: 'Team\nlicence' }), 'input.title', 'INVALID_TITLE'],
  ['a title with a NUL', validInput({ title: 'Team\u0000licence' }), 'input.title', null],
  ['a title with a lone surrogate', validInput({ title: 'Team \ud800 licence' }), 'input.title', null],
  ['both a track and a description', validInput({ description: 'A workshop' }), 'input.description', 'TRACK_OR_DESCRIPTION'],
  ['neither a track nor a description', validInput({ track: null }), 'input.track', 'TRACK_OR_DESCRIPTION'],
  ['a blank description and no track', validInput({ track: null, description: '  ' }), 'input.track', 'TRACK_OR_DESCRIPTION'],
  ['a 1001-character description', validInput({ track: null, description: 'd'.repeat(1001) }), 'input.description', 'INVALID_DESCRIPTION'],
  ['a description with a control character', validInput({ track: null, description: 'A workshop\u001b[31m' }), 'input.description', 'INVALID_DESCRIPTION'],
  ['a description with a NUL', validInput({ track: null, description: 'A\u0000workshop' }), 'input.description', null],
  ['a track that is no product id', validInput({ track: 'Business Plan' }), 'input.track', 'UNKNOWN_TRACK'],
  ['an upper-case currency', validInput({ currency: 'USD' }), 'input.currency', 'INVALID_CURRENCY'],
  ['a two-letter currency', validInput({ currency: 'us' }), 'input.currency', 'INVALID_CURRENCY'],
  ['a four-letter currency', validInput({ currency: 'usdd' }), 'input.currency', 'INVALID_CURRENCY'],
  ['no members', validInput({ members: [] }), 'input.members', 'INVALID_MEMBER_COUNT'],
  ['51 members', validInput({ members: Array.from({ length: 51 }, (_, n) => member(n, 100)) }), 'input.members', 'INVALID_MEMBER_COUNT'],
  ['a member email that is no email', withMember(2, { email: 'not-an-email' }), 'input.members[2].email', 'INVALID_EMAIL'],
  ['a 321-character member email', withMember(2, { email: `${'e'.repeat(309)}@example.com` }), 'input.members[2].email', 'INVALID_EMAIL'],
  ['a member email given twice, in another case', withMember(2, { email: 'MEMBER1@Example.com' }), 'input.members[2].email', 'DUPLICATE_MEMBER_EMAIL'],
  ['a member email with a NUL', withMember(2, { email: 'a\u0000@example.com' }), 'input.members[2].email', null],
  ['a 201-character member name', withMember(2, { name: 'n'.repeat(201) }), 'input.members[2].name', 'INVALID_NAME'],
  ['a member name with a line break', withMember(2, { name: 'Ada\nLovelace' }), 'input.members[2].name', 'INVALID_NAME'],
  ['a member name with a lone surrogate', withMember(2, { name: 'Ada \udc00' }), 'input.members[2].name', null],
  ['a share of 0', withMember(2, { amount: 0 }), 'input.members[2].amount', 'INVALID_AMOUNT'],
  ['a negative share', withMember(2, { amount: -500 }), 'input.members[2].amount', 'INVALID_AMOUNT'],
  ['a share over 99,999,999', withMember(2, { amount: 100_000_000 }), 'input.members[2].amount', 'INVALID_AMOUNT'],
  ['a share past a 32-bit Int', withMember(2, { amount: 2 ** 31 }), 'input.members[2].amount', null],
  ['a fractional share', withMember(2, { amount: 10.5 }), 'input.members[2].amount', null],
  ['shares summing past 99,999,999', validInput({ members: [member(1, 60_000_000), member(2, 60_000_000)] }), 'input.members', 'TOTAL_TOO_LARGE'],
  ['an expiry that is no time', validInput({ expiresAt: 'next week' }), 'input.expiresAt', 'INVALID_EXPIRES_AT'],
  ['an expiry without a zone', validInput({ expiresAt: '2099-01-01T00:00:00' }), 'input.expiresAt', 'INVALID_EXPIRES_AT'],
  ['an expiry in the past', validInput({ expiresAt: new Date(Date.now() - 60_000).toISOString() }), 'input.expiresAt', 'INVALID_EXPIRES_AT'],
  ['an expiry more than a year ahead', validInput({ expiresAt: new Date(Date.now() + 367 * 86_400_000).toISOString() }), 'input.expiresAt', 'INVALID_EXPIRES_AT'],
  ['21 metadata entries', validInput({ metadata: Array.from({ length: 21 }, (_, n) => ({ key: `k${n}`, value: 'v' })) }), 'input.metadata', 'METADATA_TOO_LARGE'],
  ['a metadata key the server sets', validInput({ metadata: [{ key: 'payment_request_id', value: 'x' }] }), 'input.metadata', 'RESERVED_METADATA_KEY'],
  ['the order_id metadata key', validInput({ metadata: [{ key: 'order_id', value: 'x' }] }), 'input.metadata', 'RESERVED_METADATA_KEY'],
  ['a metadata key with a space', validInput({ metadata: [{ key: 'a b', value: 'x' }] }), 'input.metadata', 'INVALID_METADATA_KEY'],
  ['a 41-character metadata key', validInput({ metadata: [{ key: 'k'.repeat(41), value: 'x' }] }), 'input.metadata', 'INVALID_METADATA_KEY'],
  ['a metadata key given twice', validInput({ metadata: [{ key: 'team', value: 'a' }, { key: 'team', value: 'b' }] }), 'input.metadata', 'DUPLICATE_METADATA_KEY'],
  ['a 501-character metadata value', validInput({ metadata: [{ key: 'team', value: 'v'.repeat(501) }] }), 'input.metadata', 'METADATA_TOO_LARGE'],
  ['a metadata value with a NUL', validInput({ metadata: [{ key: 'team', value: 'a\u0000' }] }), 'input.metadata[0].value', null],
];

describe('createPaymentRequest refuses bad input before anything is written', () => {
  it.each(BAD_CREATE_INPUTS)('%s', async (_what, input, field, reason) => {
    const before = await counts();
    for (const caller of ['storefront', 'customer', 'admin'] as const) {
      const error = firstError(await gql(CREATE, { input }, caller));
      expect(error?.extensions?.code).toBe('BAD_USER_INPUT');
      if (reason !== null) expect(error?.extensions).toMatchObject({ reason, field });
      // The HTTP layer names the variable's path for text it refuses.
      else if (error?.extensions?.field !== undefined) expect(error.extensions.field).toContain(field.replace(/^input\./, ''));
    }
    expect(await counts()).toEqual(before);
  });

  it('refuses lone surrogates in every text field when called without the HTTP layer', () => {
    const now = Date.now();
    const cases: Array<[Record<string, unknown>, string]> = [
      [validInput({ title: 'a\ud83d' }), 'input.title'],
      [validInput({ title: '\udca9b' }), 'input.title'],
      [validInput({ track: null, description: 'x\udbff y' }), 'input.description'],
      [withMember(2, { name: 'Ada\ud800' }), 'input.members[2].name'],
      [validInput({ metadata: [{ key: 'team', value: '\udfff' }] }), 'input.metadata'],
    ];
    for (const [input, field] of cases) {
      expect(() => parseCreatePaymentRequestInput(input as never, now)).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT', details: expect.objectContaining({ field }) }));
    }
    // A whole pair is text like any other.
    expect(parseCreatePaymentRequestInput(validInput({ title: '💸'.repeat(200) }) as never, now).title).toBe('💸'.repeat(200));
  });

  it('trims the text it keeps and reads expiresAt by the given clock', () => {
    const now = Date.parse('2026-12-07T12:00:00Z');
    const parsed = parseCreatePaymentRequestInput(
      validInput({ title: '  Workshop  ', track: null, description: ' Two days\nin Leeds ', members: [{ email: ' A@Example.com ', name: '  ', amount: 50 }], expiresAt: '2027-01-01T00:00:00+01:00' }) as never,
      now,
    );
    expect(parsed).toMatchObject({ title: 'Workshop', track: null, description: 'Two days\nin Leeds', members: [{ email: 'A@Example.com', name: null, amount: 50 }] });
    expect(parsed.expiresAt).toBe(Date.parse('2026-12-31T23:00:00Z'));
    expect(() => parseCreatePaymentRequestInput(validInput({ expiresAt: '2027-12-08T12:00:00Z' }) as never, now)).toThrow(expect.objectContaining({ details: expect.objectContaining({ reason: 'INVALID_EXPIRES_AT' }) }));
  });
});

describe('the other operations refuse bad arguments before anything is read or written', () => {
  const wellFormedToken = () => randomBytes(32).toString('base64url');

  it('refuses bad ids and keys of cancel and remind, and bad list arguments', async () => {
    const before = await counts();
    for (const mutation of [CANCEL, REMIND]) {
      for (const caller of ['customer', 'support', 'admin'] as const) {
        expect(firstError(await gql(mutation, { input: { idempotencyKey: newKey(), id: 'not-a-uuid' } }, caller))?.extensions).toMatchObject({
          code: 'BAD_USER_INPUT',
          reason: 'INVALID_PAYMENT_REQUEST_ID',
          field: 'input.id',
        });
        expect(firstError(await gql(mutation, { input: { idempotencyKey: 'x'.repeat(256), id: randomUUID() } }, caller))?.extensions).toMatchObject({
          code: 'BAD_USER_INPUT',
          reason: 'INVALID_IDEMPOTENCY_KEY',
        });
        expect(firstError(await gql(mutation, { input: { idempotencyKey: newKey(), id: `${randomUUID()}\u0000` } }, caller))?.extensions?.code).toBe('BAD_USER_INPUT');
      }
    }
    expect(firstError(await gql(REQUEST, { id: 'x' }, 'admin'))?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_PAYMENT_REQUEST_ID', field: 'id' });
    expect(firstError(await gql(REQUESTS, { first: 0 }, 'admin'))?.extensions).toMatchObject({ reason: 'INVALID_FIRST' });
    expect(firstError(await gql(REQUESTS, { first: 201 }, 'customer'))?.extensions).toMatchObject({ reason: 'INVALID_FIRST' });
    expect(firstError(await gql(REQUESTS, { after: 'bm90LWEtY3Vyc29y' }, 'support'))?.extensions).toMatchObject({ reason: 'INVALID_CURSOR', field: 'after' });
    expect(firstError(await gql(REQUESTS, { filter: { status: 'SETTLED' } }, 'support'))?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(await counts()).toEqual(before);
  });

  it('answers a token that cannot be one as no share, and a bad key of payMemberShare as BAD_USER_INPUT', async () => {
    const before = await counts();
    for (const token of ['', 'short', `${wellFormedToken()}A`, `${wellFormedToken().slice(0, 42)}=`, `${wellFormedToken().slice(0, 42)}+`, 't'.repeat(10_000)]) {
      expect((await gql(SHARE, { token }, 'anonymous')).body).toEqual({ data: { memberShare: null } });
      const pay = await gql(PAY, { input: { token, idempotencyKey: newKey() } }, 'anonymous');
      expect(pay.body.errors).toBeUndefined();
      expect(pay.body.data.payMemberShare).toEqual({ share: null, paymentIntentId: null, clientSecret: null, isRepeat: false, error: { code: 'SHARE_NOT_FOUND', message: expect.any(String) } });
    }
    for (const idempotencyKey of ['', 'two words', 'k'.repeat(256)]) {
      expect(firstError(await gql(PAY, { input: { token: wellFormedToken(), idempotencyKey } }, 'anonymous'))?.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        reason: 'INVALID_IDEMPOTENCY_KEY',
        field: 'input.idempotencyKey',
      });
    }
    expect(firstError(await gql(PAY, { input: { token: `${wellFormedToken().slice(0, 42)}\u0000`, idempotencyKey: newKey() } }, 'anonymous'))?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(await counts()).toEqual(before);
  });
});

describe('callers without the role are refused before anything is read or written', () => {
  it('refuses anonymous callers and Make’s key every operation but the member’s own two', async () => {
    const before = await counts();
    const id = randomUUID();
    const operations: Array<[string, Record<string, unknown>]> = [
      [CREATE, { input: validInput() }],
      [CANCEL, { input: { idempotencyKey: newKey(), id } }],
      [REMIND, { input: { idempotencyKey: newKey(), id } }],
      [REQUEST, { id }],
      [REQUESTS, {}],
    ];
    for (const [query, variables] of operations) {
      expect(firstError(await gql(query, variables, 'anonymous'))?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(firstError(await gql(query, variables, 'make'))?.extensions?.code).toBe('FORBIDDEN');
    }
    // The token is the member's credential: anyone may ask, and a malformed one opens nothing.
    expect((await gql(SHARE, { token: 'x' }, 'make')).body).toEqual({ data: { memberShare: null } });
    expect((await gql(PAY, { input: { token: 'x', idempotencyKey: newKey() } }, 'make')).body.data.payMemberShare.error.code).toBe('SHARE_NOT_FOUND');
    expect(await counts()).toEqual(before);
  });
});
