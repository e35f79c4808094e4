// Bad input to the checkout API, over real HTTP against the real server: every refusal is a typed
// GraphQL error (extensions.code, and reason/field where the server names them) with a message a
// person can act on, and it changes nothing: no row in any table a checkout writes, no idempotency
// key claimed, no object created in the Stripe sandbox.
import { randomUUID } from 'node:crypto';
import {
  astFromValue,
  getNullableType,
  type GraphQLInputType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  print,
} from 'graphql';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../server/auth/apiKeys';
import { signStaffToken } from '../../server/auth/staffTokens';
import { buildSchema } from '../../server/api/graphql/server';
import { type CheckoutServer, JWT_SECRET, newKey, ORDER, ORDER_BY_PAYMENT, startCheckoutServer } from '../helpers/checkout';
import type { GraphQLResponse } from '../helpers/server';

type Auth = { token?: string; headers?: Record<string, string> };
type Input = Record<string, unknown>;
type Mutation = 'createPaymentIntent' | 'createCheckoutSession';
const MUTATIONS: Mutation[] = ['createPaymentIntent', 'createCheckoutSession'];

/** What a refusal must look like: extensions exactly { code, reason?, field?, ... } and a useful message. */
interface Refusal {
  code: 'BAD_USER_INPUT' | 'FORBIDDEN' | 'NOT_FOUND' | 'UNAUTHENTICATED' | 'CONFLICT';
  reason?: string;
  field?: string;
  extensions?: Record<string, unknown>;
  message: RegExp;
}

let server: CheckoutServer;
const ANONYMOUS: Auth = {};
let makeKey: Auth;
let supportStaff: Auth;
let adminStaff: Auth;
/** Customer A: owns an account, a customer row and an unpaid order with a PaymentIntent. */
const accountA = { id: randomUUID(), email: `owner-a-${randomUUID()}@customers.test` };
let customerA: Auth;
let orderOfA: { id: string; paymentIntentId: string };
/** Customer B: signed in, no order yet. */
const accountB = { id: randomUUID(), email: `buyer-b-${randomUUID()}@customers.test` };
let customerB: Auth;
/** A guest's unpaid order, made by the storefront. */
let guestOrder: { id: string; email: string };

beforeAll(async () => {
  server = await startCheckoutServer();
  // Nothing reaches our webhook endpoint: what the database shows is the API calls' doing alone.
  server.app.stripeSandbox!.core.events.stopAutoDelivery();
  const db = server.app.db;
  makeKey = { headers: { 'x-api-key': (await createApiKey(db, 'make scenario', 'make')).key } };
  const staff = (staffRole: 'support' | 'admin') =>
    signStaffToken(JWT_SECRET, { userId: randomUUID(), email: `${staffRole}@shop.test`, staffRole, audience: 'authenticated', expiresIn: '1h' });
  supportStaff = { token: await staff('support') };
  adminStaff = { token: await staff('admin') };
  customerA = { token: await server.customerToken(accountA) };
  customerB = { token: await server.customerToken(accountB) };

  // Products the catalogue cannot sell: one whose only price is retired, one with only a subscription.
  await db.query(`insert into products (id, name) values ('retired_workshop', 'Retired Workshop'), ('monthly_retainer', 'Monthly Retainer')`);
  await db.query(
    `insert into prices (id, product_id, currency, unit_amount, kind, recurring_interval, active) values
       ('retired_workshop_usd', 'retired_workshop', 'usd', 2900, 'one_time', null, false),
       ('monthly_retainer_usd', 'monthly_retainer', 'usd', 19900, 'recurring', 'month', true)`,
  );

  const a = await succeed('createPaymentIntent', { idempotencyKey: newKey(), track: 'business_plan_builder' }, customerA);
  orderOfA = { id: a.order.id, paymentIntentId: a.paymentIntentId };
  const guest = await succeed('createPaymentIntent', { idempotencyKey: newKey(), track: 'social_media_email_campaign', email: guestEmail() });
  guestOrder = { id: guest.order.id, email: guest.order.customer.email };
});
afterAll(() => server?.stop());

const guestEmail = () => `guest-${randomUUID()}@example.com`;
const guestInput = (overrides: Input = {}): Input => ({ idempotencyKey: newKey(), track: 'business_plan_builder', email: guestEmail(), ...overrides });

const call = (mutation: Mutation, input: Input, auth: Auth = server.asStorefront) => server[mutation](input, auth);

async function succeed(mutation: Mutation, input: Input, auth?: Auth) {
  const response = await call(mutation, input, auth);
  expect(response.body.errors).toBeUndefined();
  expect(response.body.data[mutation].error).toBeNull();
  return response.body.data[mutation];
}

/** A token as Supabase Auth issues it, with the email claim as given (absent when undefined). */
function customerTokenWithEmail(email: string | undefined) {
  return new SignJWT({ role: 'authenticated', app_metadata: { provider: 'phone' }, ...(email === undefined ? {} : { email }) })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(randomUUID())
    .setAudience('authenticated')
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(JWT_SECRET));
}

/** Everything a checkout could have written or created: our rows and the sandbox's Stripe objects. */
async function effects() {
  const [paymentIntents, checkoutSessions] = await Promise.all([
    server.app.stripe.paymentIntents.list({ limit: 100 }).autoPagingToArray({ limit: 10_000 }),
    server.app.stripe.checkout.sessions.list({ limit: 100 }).autoPagingToArray({ limit: 10_000 }),
  ]);
  return {
    rows: await server.counts(),
    stripe: { paymentIntents: paymentIntents.length, checkoutSessions: checkoutSessions.length, objects: server.app.stripeSandbox!.core.store.index.size },
  };
}

async function isKeyClaimed(key: unknown): Promise<boolean> {
  if (typeof key !== 'string') return false;
  const { rows } = await server.app.db.query<{ n: number }>('select count(*)::int as n from idempotency_keys where key = $1', [key]);
  return rows[0]!.n > 0;
}

function expectError(response: GraphQLResponse, field: string, refusal: Refusal) {
  expect(response.body.errors, JSON.stringify(response.body)).toHaveLength(1);
  const [error] = response.body.errors!;
  expect(error!.extensions).toEqual({
    code: refusal.code,
    ...(refusal.reason ? { reason: refusal.reason } : {}),
    ...(refusal.field ? { field: refusal.field } : {}),
    ...refusal.extensions,
  });
  expect(error!.message).toMatch(refusal.message);
  expect(response.body.data?.[field] ?? null).toBeNull();
}

/** Sends the request and asserts it was refused as described, leaving every table and Stripe as they were. */
async function expectRefusedWithoutEffect(send: () => Promise<GraphQLResponse>, field: string, refusal: Refusal) {
  const before = await effects();
  const response = await send();
  expectError(response, field, refusal);
  expect(await effects()).toEqual(before);
  return response;
}

/** A refused creating mutation: also its idempotency key is left unclaimed. */
async function expectCheckoutRefused(mutation: Mutation, input: Input, auth: Auth | undefined, refusal: Refusal) {
  await expectRefusedWithoutEffect(() => call(mutation, input, auth), mutation, refusal);
  expect(await isKeyClaimed(input.idempotencyKey)).toBe(false);
}

/** Runs a test with a catalogue change in place, undoing it afterwards whatever happens. */
async function withCatalogue(change: string, undo: string, run: () => Promise<void>) {
  await server.app.db.query(change);
  try {
    await run();
  } finally {
    await server.app.db.query(undo);
  }
}

interface InputCase extends Refusal {
  name: string;
  input: () => Input;
  auth?: () => Auth;
  catalogue?: { change: string; undo: string };
}

const bad = (reason: string, field: string, message: RegExp) => ({ code: 'BAD_USER_INPUT' as const, reason, field, message });
const metadataOf = (count: number) => Array.from({ length: count }, (_, i) => ({ key: `key_${i}`, value: `value ${i}` }));
const A_321_CHARACTER_EMAIL = `${'a'.repeat(64)}@${'b'.repeat(252)}.com`;

const TRACK_CASES: InputCase[] = [
  { name: 'an unknown track (well-formed slug)', input: () => guestInput({ track: 'consulting_hours' }), ...bad('UNKNOWN_TRACK', 'track', /no such product track/) },
  { name: 'a malformed track', input: () => guestInput({ track: 'Business Plan!' }), ...bad('UNKNOWN_TRACK', 'track', /no product track "Business Plan!"/) },
  {
    name: 'an inactive product',
    input: () => guestInput({ track: 'website_audit_feedback' }),
    catalogue: { change: `update products set active = false where id = 'website_audit_feedback'`, undo: `update products set active = true where id = 'website_audit_feedback'` },
    ...bad('INACTIVE_PRODUCT', 'track', /not for sale/),
  },
  { name: 'a product whose only price is inactive', input: () => guestInput({ track: 'retired_workshop' }), ...bad('NO_PRICE', 'track', /no one-time price/) },
  { name: 'a product with only a recurring price', input: () => guestInput({ track: 'monthly_retainer' }), ...bad('NO_PRICE', 'track', /no one-time price/) },
  { name: 'both track and orderId', input: () => guestInput({ orderId: guestOrder.id, email: undefined }), ...bad('TRACK_OR_ORDER', 'orderId', /either track .* or orderId .*not both/) },
  { name: 'neither track nor orderId', input: () => guestInput({ track: undefined }), ...bad('TRACK_OR_ORDER', 'track', /either track .* or orderId/) },
  { name: 'a malformed orderId', input: () => ({ idempotencyKey: newKey(), orderId: 'order-42' }), ...bad('INVALID_ORDER_ID', 'orderId', /orderId must be an order id \(a UUID\)/) },
  { name: 'the orderId of no order', input: () => ({ idempotencyKey: newKey(), orderId: randomUUID() }), code: 'NOT_FOUND', field: 'orderId', message: /no such order/ },
];

const BUYER_CASES: InputCase[] = [
  { name: 'a guest without email', input: () => guestInput({ email: undefined }), ...bad('EMAIL_REQUIRED', 'email', /email is required for a guest/) },
  { name: 'a guest with a blank email', input: () => guestInput({ email: '   ' }), ...bad('EMAIL_REQUIRED', 'email', /email is required for a guest/) },
  { name: "the email 'not-an-email'", input: () => guestInput({ email: 'not-an-email' }), ...bad('INVALID_EMAIL', 'email', /valid email address/) },
  { name: "the email 'a@'", input: () => guestInput({ email: 'a@' }), ...bad('INVALID_EMAIL', 'email', /valid email address/) },
  { name: 'an email of 321 characters', input: () => guestInput({ email: A_321_CHARACTER_EMAIL }), ...bad('INVALID_EMAIL', 'email', /valid email address/) },
  { name: 'a name of 201 characters', input: () => guestInput({ name: 'N'.repeat(201) }), ...bad('INVALID_NAME', 'name', /up to 200 characters of plain text/) },
  // Refused at the edge, like a NUL in any string (see 'text the database cannot hold' below).
  { name: 'a name with a NUL character', input: () => guestInput({ name: 'Ada\u0000Lovelace' }), ...bad('INVALID_TEXT', 'input.name', /input\.name holds a NUL character/) },
  { name: 'a name with a terminal escape', input: () => guestInput({ name: 'Ada \u001b[31mLovelace' }), ...bad('INVALID_NAME', 'name', /plain text/) },
];

const METADATA_CASES: InputCase[] = [
  { name: '21 metadata entries', input: () => guestInput({ metadata: metadataOf(21) }), ...bad('METADATA_TOO_LARGE', 'metadata', /at most 20 entries/) },
  { name: 'a metadata key of 41 characters', input: () => guestInput({ metadata: [{ key: 'k'.repeat(41), value: 'v' }] }), ...bad('INVALID_METADATA_KEY', 'metadata', /1 to 40 letters, digits/) },
  { name: 'an empty metadata key', input: () => guestInput({ metadata: [{ key: '', value: 'v' }] }), ...bad('INVALID_METADATA_KEY', 'metadata', /1 to 40 letters, digits/) },
  { name: 'a metadata key with a space', input: () => guestInput({ metadata: [{ key: 'utm source', value: 'v' }] }), ...bad('INVALID_METADATA_KEY', 'metadata', /letters, digits, '_', '.' or '-'/) },
  { name: 'a metadata key with brackets', input: () => guestInput({ metadata: [{ key: 'a[b]', value: 'v' }] }), ...bad('INVALID_METADATA_KEY', 'metadata', /letters, digits, '_', '.' or '-'/) },
  { name: 'a metadata value of 501 characters', input: () => guestInput({ metadata: [{ key: 'note', value: 'v'.repeat(501) }] }), ...bad('METADATA_TOO_LARGE', 'metadata', /at most 500 characters/) },
  ...['order_id', 'customer_id', 'track', 'attempt'].map((key) => ({
    name: `the reserved metadata key ${key}`,
    input: () => guestInput({ metadata: [{ key: 'campaign', value: 'spring' }, { key, value: 'mine' }] }),
    ...bad('RESERVED_METADATA_KEY', 'metadata', new RegExp(`"${key}" is set by the server`)),
  })),
  {
    name: 'a duplicate metadata key',
    input: () => guestInput({ metadata: [{ key: 'campaign', value: 'spring' }, { key: 'campaign', value: 'autumn' }] }),
    ...bad('DUPLICATE_METADATA_KEY', 'metadata', /"campaign" is given twice/),
  },
];

const existingOrderWith = (fields: Input) => () => ({ idempotencyKey: newKey(), orderId: guestOrder.id, ...fields });
const ORDER_FIELD_CASES: InputCase[] = [
  { name: 'an email with orderId', input: existingOrderWith({ email: guestEmail() }), ...bad('ORDER_FIELDS', 'orderId', /belong to a new order/) },
  { name: 'a name with orderId', input: existingOrderWith({ name: 'Ada' }), ...bad('ORDER_FIELDS', 'orderId', /belong to a new order/) },
  { name: 'metadata with orderId', input: existingOrderWith({ metadata: [{ key: 'campaign', value: 'spring' }] }), ...bad('ORDER_FIELDS', 'orderId', /belong to a new order/) },
  { name: 'empty metadata with orderId', input: existingOrderWith({ metadata: [] }), ...bad('ORDER_FIELDS', 'orderId', /belong to a new order/) },
];

const KEY_MESSAGE = /idempotencyKey must be 1 to 255 printable ASCII characters without spaces/;
const IDEMPOTENCY_KEY_CASES: InputCase[] = [
  { name: 'an empty idempotency key', input: () => guestInput({ idempotencyKey: '' }), ...bad('INVALID_IDEMPOTENCY_KEY', 'idempotencyKey', KEY_MESSAGE) },
  { name: 'an idempotency key with a space', input: () => guestInput({ idempotencyKey: `order ${randomUUID()}` }), ...bad('INVALID_IDEMPOTENCY_KEY', 'idempotencyKey', KEY_MESSAGE) },
  { name: 'an idempotency key of 256 characters', input: () => guestInput({ idempotencyKey: 'k'.repeat(256) }), ...bad('INVALID_IDEMPOTENCY_KEY', 'idempotencyKey', KEY_MESSAGE) },
  { name: 'a non-ASCII idempotency key', input: () => guestInput({ idempotencyKey: `clé-${randomUUID()}` }), ...bad('INVALID_IDEMPOTENCY_KEY', 'idempotencyKey', KEY_MESSAGE) },
];

const CUSTOMER_CASES: InputCase[] = [
  {
    name: 'a signed-in customer giving another email',
    input: () => guestInput({ email: guestEmail() }),
    auth: () => customerB,
    code: 'FORBIDDEN',
    message: /pays as themselves: email must be your account’s email/,
  },
  {
    name: 'a signed-in customer giving a malformed email',
    input: () => guestInput({ email: 'not-an-email' }),
    auth: () => customerB,
    ...bad('INVALID_EMAIL', 'email', /valid email address/),
  },
  {
    name: "a customer paying another customer's order (not found to them, as if there were none)",
    input: () => ({ idempotencyKey: newKey(), orderId: orderOfA.id }),
    auth: () => customerB,
    code: 'NOT_FOUND',
    field: 'orderId',
    message: /no such order/,
  },
  {
    name: "a customer paying a guest's order (not found to them)",
    input: () => ({ idempotencyKey: newKey(), orderId: guestOrder.id }),
    auth: () => customerB,
    code: 'NOT_FOUND',
    field: 'orderId',
    message: /no such order/,
  },
];

const ALL_INPUT_CASES = [...TRACK_CASES, ...BUYER_CASES, ...METADATA_CASES, ...ORDER_FIELD_CASES, ...IDEMPOTENCY_KEY_CASES, ...CUSTOMER_CASES];

describe.each(MUTATIONS)('%s refuses bad input with a typed error and no effect', (mutation) => {
  it.each(ALL_INPUT_CASES.map((c) => [c.name, c] as const))('%s', async (_name, { input, auth, catalogue, ...refusal }) => {
    const run = () => expectCheckoutRefused(mutation, input(), auth?.(), refusal);
    if (catalogue) await withCatalogue(catalogue.change, catalogue.undo, run);
    else await run();
  });

  it("refuses a customer whose sign-in email is already another account's customer", async () => {
    // Customer A's row carries A's email and A's user id; C signs in with the same email.
    const customerC = { token: await server.customerToken({ id: randomUUID(), email: accountA.email.toUpperCase() }) };
    await expectCheckoutRefused(mutation, { idempotencyKey: newKey(), track: 'business_plan_builder' }, customerC, {
      code: 'FORBIDDEN',
      message: /email belongs to another customer’s account/,
    });
  });

  it('asks a customer whose sign-in carries no email for one', async () => {
    const token = await customerTokenWithEmail(undefined);
    await expectCheckoutRefused(mutation, { idempotencyKey: newKey(), track: 'business_plan_builder' }, { token }, bad('EMAIL_REQUIRED', 'email', /your sign-in carries none/));
  });

  // Supabase Auth writes `"email": ""` into the tokens of phone and anonymous sign-ins.
  it('asks a customer whose sign-in carries an empty email (a phone sign-in) for one', async () => {
    const token = await customerTokenWithEmail('');
    await expectCheckoutRefused(mutation, { idempotencyKey: newKey(), track: 'business_plan_builder' }, { token }, bad('EMAIL_REQUIRED', 'email', /your sign-in carries none/));
  });

  // The email such a customer gives is not vouched for by their sign-in: it must not attach them to the
  // guest's customer row (and with it, to the guest's orders).
  it("does not let a customer without a sign-in email take over a guest's customer record by naming its email", async () => {
    const guest = await succeed(mutation, guestInput());
    const intruder = { token: await customerTokenWithEmail(undefined) };
    await expectCheckoutRefused(mutation, { idempotencyKey: newKey(), track: 'business_plan_builder', email: guest.order.customer.email }, intruder, {
      code: 'FORBIDDEN',
      message: /email belongs to another customer/,
    });
    const { rows } = await server.app.db.query('select user_id from customers where id = $1', [guest.order.customer.id]);
    expect(rows).toEqual([{ user_id: null }]);
    const { body } = await server.graphql(ORDER, { variables: { id: guest.order.id }, ...intruder });
    expect(body).toEqual({ data: { order: null } });
  });

  it.each([
    ['no credentials', () => ANONYMOUS, { code: 'UNAUTHENTICATED', message: /Authentication required/ }],
    ['an unknown API key', () => ({ headers: { 'x-api-key': `pok_${'x'.repeat(40)}` } }), { code: 'UNAUTHENTICATED', message: /API key is not valid/ }],
    ['a garbled bearer token', () => ({ token: 'not.a.jwt' }), { code: 'UNAUTHENTICATED', message: /bearer token is not valid/ }],
    ['support staff', () => supportStaff, { code: 'FORBIDDEN', message: /Your role \(support\) may not do this; allowed: storefront, customer/ }],
    ['admin staff', () => adminStaff, { code: 'FORBIDDEN', message: /Your role \(admin\) may not do this; allowed: storefront, customer/ }],
    ['a make-scope API key', () => makeKey, { code: 'FORBIDDEN', message: /Your role \(make\) may not do this; allowed: storefront, customer/ }],
  ] as const)('refuses a caller with %s', async (_name, auth, refusal) => {
    await expectCheckoutRefused(mutation, guestInput(), auth(), refusal);
  });

  it('leaves the idempotency key of a refused request free for the corrected request', async () => {
    const input = guestInput({ track: 'consulting_hours' });
    await expectCheckoutRefused(mutation, input, undefined, bad('UNKNOWN_TRACK', 'track', /no such product track/));
    const corrected = await succeed(mutation, { ...input, track: 'business_plan_builder' });
    expect(corrected).toMatchObject({ isRepeat: false, order: { track: 'business_plan_builder', status: 'PENDING' } });
  });
});

describe.each(MUTATIONS)('%s with a reused idempotency key', (mutation) => {
  const reused = (key: string, firstOperation: Mutation): Refusal => ({
    code: 'CONFLICT',
    reason: 'IDEMPOTENCY_KEY_REUSED',
    extensions: { idempotencyKey: key },
    message: new RegExp(`idempotency key "${key}" was already used with different input \\(for ${firstOperation}\\)`),
  });

  it.each([
    ['another track', { track: 'website_audit_feedback' }],
    ['another email', { email: guestEmail() }],
    ['another name', { name: 'Somebody Else' }],
    ['other metadata', { metadata: [{ key: 'campaign', value: 'autumn' }] }],
  ])('is a CONFLICT naming the key when sent with %s, and changes nothing', async (_name, change) => {
    const first = guestInput({ name: 'First Buyer', metadata: [{ key: 'campaign', value: 'spring' }] });
    await succeed(mutation, first);
    await expectRefusedWithoutEffect(() => call(mutation, { ...first, ...change }), mutation, reused(first.idempotencyKey as string, mutation));
  });

  it('is a CONFLICT when the same key and input go to the other mutation', async () => {
    const other = MUTATIONS.find((m) => m !== mutation)!;
    const first = guestInput();
    await succeed(other, first);
    await expectRefusedWithoutEffect(() => call(mutation, first), mutation, reused(first.idempotencyKey as string, other));
  });
});

describe('confirmPayment refuses bad references with a typed error and no effect', () => {
  const confirm = (input: Input, auth?: Auth) => () => server.confirmPayment(input, auth);
  const reference = (reason: string, field: string, message: RegExp) => ({ code: 'BAD_USER_INPUT' as const, reason, field, message });
  const EITHER = reference('PAYMENT_REFERENCE', 'paymentIntentId', /Give either paymentIntentId or checkoutSessionId/);

  it.each([
    ['neither id', {}, EITHER],
    ['both ids', { paymentIntentId: 'pi_abc123', checkoutSessionId: 'cs_test_abc123' }, EITHER],
    ["'pi_' alone", { paymentIntentId: 'pi_' }, reference('INVALID_PAYMENT_INTENT_ID', 'paymentIntentId', /must be a PaymentIntent id \(pi_…\)/)],
    ["a charge id 'ch_123' as paymentIntentId", { paymentIntentId: 'ch_123' }, reference('INVALID_PAYMENT_INTENT_ID', 'paymentIntentId', /must be a PaymentIntent id/)],
    ["'cs_x' as checkoutSessionId", { checkoutSessionId: 'cs_x' }, reference('INVALID_CHECKOUT_SESSION_ID', 'checkoutSessionId', /must be a Checkout Session id \(cs_…\)/)],
    ['a PaymentIntent id as checkoutSessionId', { checkoutSessionId: 'pi_abc123' }, reference('INVALID_CHECKOUT_SESSION_ID', 'checkoutSessionId', /must be a Checkout Session id/)],
    ['a PaymentIntent Stripe does not have', { paymentIntentId: 'pi_doesnotexist123' }, { code: 'NOT_FOUND', field: 'paymentIntentId', message: /no such payment/ }],
    ['a Checkout Session Stripe does not have', { checkoutSessionId: 'cs_test_doesnotexist123' }, { code: 'NOT_FOUND', field: 'checkoutSessionId', message: /no such payment/ }],
  ] as const)('refuses %s', async (_name, input, refusal) => {
    await expectRefusedWithoutEffect(confirm(input), 'confirmPayment', refusal);
  });

  it('refuses a PaymentIntent that is not one of ours as NOT_FOUND', async () => {
    const foreign = await server.app.stripe.paymentIntents.create({ amount: 100, currency: 'usd' });
    await expectRefusedWithoutEffect(confirm({ paymentIntentId: foreign.id }), 'confirmPayment', {
      code: 'NOT_FOUND',
      message: /does not belong to an order of this shop/,
    });
  });

  it.each([
    ['no credentials', () => ANONYMOUS, { code: 'UNAUTHENTICATED', message: /Authentication required/ }],
    ['a make-scope API key', () => makeKey, { code: 'FORBIDDEN', message: /Your role \(make\) may not do this/ }],
  ] as const)('refuses a caller with %s', async (_name, auth, refusal) => {
    await expectRefusedWithoutEffect(confirm({ paymentIntentId: orderOfA.paymentIntentId }, auth()), 'confirmPayment', refusal);
  });

  it("refuses a customer confirming another customer's payment, leaving the order pending", async () => {
    const a = await succeed('createPaymentIntent', { idempotencyKey: newKey(), track: 'website_audit_feedback' }, customerA);
    await server.app.stripe.paymentIntents.confirm(a.paymentIntentId, { payment_method: 'pm_card_visa', return_url: 'https://shop.test/return' });

    await expectRefusedWithoutEffect(confirm({ paymentIntentId: a.paymentIntentId }, customerB), 'confirmPayment', {
      code: 'FORBIDDEN',
      message: /payment belongs to another customer’s order/,
    });
    const { body } = await server.graphql(ORDER, { variables: { id: a.order.id }, ...server.asStorefront });
    expect(body.data.order).toMatchObject({ status: 'PENDING', syncState: null, payment: null });

    // The owner can: the refusal was about who asked, not about the payment.
    const own = await server.confirmPayment({ paymentIntentId: a.paymentIntentId }, customerA);
    expect(own.body.errors).toBeUndefined();
    expect(own.body.data.confirmPayment).toMatchObject({ outcome: 'SUCCEEDED', order: { id: a.order.id, status: 'PAID', syncState: 'PROVISIONAL' } });
  });
});

describe('order queries refuse bad input and hide other customers’ orders', () => {
  const orderQuery = (id: string, auth: Auth) => () => server.graphql(ORDER, { variables: { id }, ...auth });
  const byPayment = (variables: { pi?: string; cs?: string }, auth: Auth) => () => server.graphql(ORDER_BY_PAYMENT, { variables, ...auth });

  it.each(['42', 'not-a-uuid', `${randomUUID()}x`])('refuses order(id: %j) as BAD_USER_INPUT', async (id) => {
    await expectRefusedWithoutEffect(orderQuery(id, server.asStorefront), 'order', {
      code: 'BAD_USER_INPUT',
      reason: 'INVALID_ORDER_ID',
      field: 'id',
      message: /id must be an order id \(a UUID\)/,
    });
  });

  it.each([
    ['neither id', {}],
    ['both ids', { pi: 'pi_abc123', cs: 'cs_test_abc123' }],
  ])('refuses orderByPayment with %s as BAD_USER_INPUT', async (_name, variables) => {
    await expectRefusedWithoutEffect(byPayment(variables, server.asStorefront), 'orderByPayment', {
      code: 'BAD_USER_INPUT',
      reason: 'PAYMENT_REFERENCE',
      field: 'paymentIntentId',
      message: /Give either paymentIntentId or checkoutSessionId/,
    });
  });

  it('refuses orderByPayment with a malformed id as BAD_USER_INPUT', async () => {
    await expectRefusedWithoutEffect(byPayment({ pi: 'ch_123' }, server.asStorefront), 'orderByPayment', {
      code: 'BAD_USER_INPUT',
      reason: 'INVALID_PAYMENT_INTENT_ID',
      field: 'paymentIntentId',
      message: /must be a PaymentIntent id/,
    });
  });

  it.each([
    ['no credentials', () => ANONYMOUS, { code: 'UNAUTHENTICATED', message: /Authentication required/ }],
    ['a make-scope API key', () => makeKey, { code: 'FORBIDDEN', message: /Your role \(make\) may not do this/ }],
  ] as const)('refuses a caller with %s', async (_name, auth, refusal) => {
    await expectRefusedWithoutEffect(orderQuery(orderOfA.id, auth()), 'order', refusal);
    await expectRefusedWithoutEffect(byPayment({ pi: orderOfA.paymentIntentId }, auth()), 'orderByPayment', refusal);
  });

  it("reads another customer's order as null for a customer, by id and by payment", async () => {
    const byId = await orderQuery(orderOfA.id, customerB)();
    expect(byId.body).toEqual({ data: { order: null } });
    const byIntent = await byPayment({ pi: orderOfA.paymentIntentId }, customerB)();
    expect(byIntent.body).toEqual({ data: { orderByPayment: null } });
  });

  it.each([
    ['its owner', () => customerA],
    ['the storefront', () => server.asStorefront],
    ['support staff', () => supportStaff],
    ['admin staff', () => adminStaff],
  ])("shows a customer's order to %s", async (_name, auth) => {
    const byId = await orderQuery(orderOfA.id, auth())();
    expect(byId.body.errors).toBeUndefined();
    expect(byId.body.data.order).toMatchObject({ id: orderOfA.id, customer: { email: accountA.email } });
    const byIntent = await byPayment({ pi: orderOfA.paymentIntentId }, auth())();
    expect(byIntent.body.data.orderByPayment).toMatchObject({ id: orderOfA.id });
  });
});

// A NUL or an unpaired surrogate in any string a mutation takes: the database cannot hold either (a
// NUL in a metadata value used to reach jsonb and come back INTERNAL with PostgreSQL's message and a
// stack trace). Every string input of every mutation in the schema, found by walking the schema, is
// refused at the edge with BAD_USER_INPUT naming it, before anything runs.
describe('text the database cannot hold', () => {
  type Path = Array<string | number>;
  const schema = buildSchema();
  const mutations = Object.values(schema.getMutationType()!.getFields());

  /** Every String or ID leaf under an input type, lists entered at [0]. */
  function stringLeaves(type: GraphQLInputType, path: Path = [], seen = new Set<string>()): Path[] {
    const inner = getNullableType(type);
    if (isListType(inner)) return stringLeaves(inner.ofType, [...path, 0], seen);
    if (isScalarType(inner)) return inner.name === 'String' || inner.name === 'ID' ? [path] : [];
    if (!isInputObjectType(inner) || seen.has(inner.name)) return [];
    return Object.values(inner.getFields()).flatMap((field) => stringLeaves(field.type, [...path, field.name], new Set([...seen, inner.name])));
  }

  /** A value of the type with every required field filled, for the parts no valid input is known for. */
  function sample(type: GraphQLInputType): unknown {
    const inner = getNullableType(type);
    if (isListType(inner)) return [sample(inner.ofType)];
    if (isEnumType(inner)) return inner.getValues()[0]!.value;
    if (isScalarType(inner)) return { Int: 1, Float: 1, Boolean: false }[inner.name] ?? 'sample';
    if (!isInputObjectType(inner)) return null;
    return Object.fromEntries(Object.values(inner.getFields()).filter((f) => isNonNullType(f.type)).map((f) => [f.name, sample(f.type)]));
  }

  /** An input each mutation would otherwise take, where one is known: what is refused is the one string. */
  const validInput = (mutation: string): Record<string, unknown> | undefined =>
    ({
      createPaymentIntent: guestInput({ name: 'Ada Lovelace', metadata: [{ key: 'campaign', value: 'spring' }] }),
      createCheckoutSession: guestInput({ name: 'Ada Lovelace', metadata: [{ key: 'campaign', value: 'spring' }] }),
      confirmPayment: { paymentIntentId: orderOfA.paymentIntentId },
    })[mutation];

  function withValueAt(base: unknown, path: Path, value: string): unknown {
    if (path.length === 0) return value;
    const [head, ...rest] = path;
    const copy: any = Array.isArray(base) ? [...base] : { ...(base as object) };
    const child = copy[head!] ?? (typeof rest[0] === 'number' ? [] : {});
    copy[head!] = withValueAt(child, rest, value);
    return copy;
  }

  const pathName = (argument: string, path: Path) => path.reduce<string>((name, key) => (typeof key === 'number' ? `${name}[${key}]` : `${name}.${key}`), argument);
  const authFor = (mutation: string) => (/WebhookEvent|MakeDelivery/.test(mutation) ? adminStaff : server.asStorefront);

  const cases = mutations.flatMap((mutation) =>
    mutation.args.flatMap((argument) =>
      stringLeaves(argument.type).map((path) => ({ mutation: mutation.name, argument: argument.name, type: argument.type, path, name: `${mutation.name} ${pathName(argument.name, path)}` })),
    ),
  );

  it('finds the string inputs of every mutation', () => {
    expect(new Set(cases.map((c) => c.mutation))).toEqual(new Set(mutations.map((m) => m.name)));
    expect(cases.map((c) => c.name)).toEqual(expect.arrayContaining(['createCheckoutSession input.name', 'createPaymentIntent input.metadata[0].value', 'confirmPayment input.paymentIntentId']));
  });

  /** Every table's row count: a refused request changes none, whatever the mutation would touch. */
  async function everyTable(): Promise<Record<string, number>> {
    const { rows: tables } = await server.app.db.query<{ name: string }>(
      `select quote_ident(tablename) as name from pg_tables where schemaname = 'public' order by tablename`,
    );
    const counts: Record<string, number> = {};
    for (const { name } of tables) counts[name] = (await server.app.db.query<{ n: number }>(`select count(*)::int as n from ${name}`)).rows[0]!.n;
    return counts;
  }

  async function expectRefused(send: () => Promise<GraphQLResponse>, mutation: string, field: string, message: RegExp) {
    const before = { rows: await everyTable(), stripe: (await effects()).stripe };
    const response = await send();
    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([{ message: expect.stringMatching(message), extensions: { code: 'BAD_USER_INPUT', reason: 'INVALID_TEXT', field } }]);
    expect(response.body.data?.[mutation] ?? null).toBeNull();
    expect({ rows: await everyTable(), stripe: (await effects()).stripe }).toEqual(before);
  }

  const BAD_TEXT = [
    ['a NUL character', 'before\u0000after', /holds a NUL character \(\\u0000\)/],
    ['an unpaired surrogate', 'before\ud800after', /holds an unpaired surrogate/],
  ] as const;

  describe.each(BAD_TEXT)('%s', (_what, text, message) => {
    it.each(cases.map((c) => [c.name, c] as const))('in %s, sent as a variable', async (_name, { mutation, argument, type, path }) => {
      const base = validInput(mutation) ?? sample(type);
      const variables = { [argument]: withValueAt(base, path, text) };
      const query = `mutation M($${argument}: ${type.toString()}) { ${mutation}(${argument}: $${argument}) { __typename } }`;
      await expectRefused(() => server.graphql(query, { variables, ...authFor(mutation) }), mutation, pathName(argument, path), message);
    });
  });

  // GraphQL can spell a NUL in a literal (\u0000, \u{0}); an unpaired surrogate there is a syntax error.
  it.each(cases.map((c) => [c.name, c] as const))('refuses a NUL character in %s written in the query as a literal', async (_name, { mutation, argument, type, path }) => {
    const base = validInput(mutation) ?? sample(type);
    const literal = print(astFromValue(withValueAt(base, path, 'before\u0000after'), type)!);
    expect(literal).toContain('\\u0000');
    const query = `mutation { ${mutation}(${argument}: ${literal}) { __typename } }`;
    await expectRefused(() => server.graphql(query, authFor(mutation)), mutation, pathName(argument, path), /holds a NUL character/);
  });

  it('refuses a NUL written as \\u{0} in a literal', async () => {
    const query = `mutation { createPaymentIntent(input: { idempotencyKey: "${newKey()}", track: "business_plan_builder", email: "${guestEmail()}", name: "Ada\\u{0}" }) { __typename } }`;
    await expectRefused(() => server.graphql(query, server.asStorefront), 'createPaymentIntent', 'input.name', /holds a NUL character/);
  });

  it('accepts a name with a character outside the Basic Multilingual Plane (a surrogate pair)', async () => {
    const created = await succeed('createPaymentIntent', guestInput({ name: 'Ada 😀 Lovelace', metadata: [{ key: 'mood', value: '😀' }] }));
    expect(created.order).toMatchObject({ status: 'PENDING' });
  });
});
