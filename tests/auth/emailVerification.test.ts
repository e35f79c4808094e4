// Guest orders and signed-in customers (issue 14, defect 5): a sign-in takes over the guest customer
// with its email, and with it the guest's orders, only when its token says the email is verified.
// Otherwise the account gets a customer row of its own that keeps the email for receipts and Make but
// owns nothing of the guest's. Real tokens through the real server, the real SQL, the sandbox Stripe.
import { randomUUID } from 'node:crypto';
import { type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenVerifier, signStaffToken } from '../../server/auth/staffTokens';
import { type CheckoutServer, JWT_SECRET, newKey, ORDER, startCheckoutServer } from '../helpers/checkout';

const AUDIENCE = 'authenticated';

/** A Supabase-shaped customer token with exactly these extra claims. */
function customerToken(email: string, claims: JWTPayload = {}, userId: string = randomUUID()) {
  return new SignJWT({ email, role: 'authenticated', app_metadata: { provider: 'email' }, ...claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(JWT_SECRET));
}

describe('which tokens vouch for their email', () => {
  const verify = createTokenVerifier({ jwtSecret: JWT_SECRET, audience: AUDIENCE });
  const verified = async (claims: JWTPayload, email = 'ada@example.com') => (await verify(await customerToken(email, claims))).emailVerified;

  it.each([
    ['email_verified: true (OIDC, or an access token hook)', { email_verified: true }],
    ['app_metadata.email_verified: true (set by the service role only)', { app_metadata: { provider: 'email', email_verified: true } }],
    ['email_confirmed_at, as a hook copies it from auth.users', { email_confirmed_at: '2026-11-30T10:00:00Z' }],
    ['confirmed_at, as a hook copies it from auth.users', { confirmed_at: '2026-11-30T10:00:00.123456+00:00' }],
  ])('trusts %s', async (_name, claims) => {
    expect(await verified(claims)).toBe(true);
  });

  it.each([
    ['no claim at all', {}],
    ['user_metadata.email_verified: true, which the user can set with updateUser', { user_metadata: { email_verified: true } }],
    ['email_verified: "true" as a string', { email_verified: 'true' }],
    ['email_verified: false', { email_verified: false }],
    ['a null confirmed-at, as a hook copies an unconfirmed user', { email_confirmed_at: null, confirmed_at: null }],
    ['a confirmed-at that is not a time', { email_confirmed_at: 'yes' }],
  ])('does not trust %s', async (_name, claims) => {
    expect(await verified(claims)).toBe(false);
  });

  it('vouches for no email when the token carries none (a phone sign-in), whatever it claims', async () => {
    expect(await verified({ email_verified: true }, '')).toBe(false);
  });

  it('has the sandbox dev tokens vouch for their emails unless told otherwise', async () => {
    const sign = (emailVerified?: boolean) =>
      signStaffToken(JWT_SECRET, { userId: randomUUID(), email: 'dev@example.com', emailVerified, audience: AUDIENCE, expiresIn: '1h' });
    expect((await verify(await sign())).emailVerified).toBe(true);
    expect((await verify(await sign(false))).emailVerified).toBe(false);
  });
});

describe('a signed-in customer and the guest customer with the same email', () => {
  let server: CheckoutServer;
  beforeAll(async () => {
    server = await startCheckoutServer();
    server.app.stripeSandbox!.core.events.stopAutoDelivery();
  });
  afterAll(() => server?.stop());

  const track = 'business_plan_builder';
  const newEmail = () => `guest-${randomUUID()}@example.com`;

  async function intent(input: Record<string, unknown>, token?: string) {
    const response = await server.createPaymentIntent(input, token ? { token } : undefined);
    expect(response.body.errors).toBeUndefined();
    return response.body.data.createPaymentIntent as { order: { id: string; customer: { id: string; email: string } }; paymentIntentId: string };
  }
  const guestOrder = (email: string) => intent({ idempotencyKey: newKey(), track, email });
  const customerRow = async (id: string) =>
    (await server.app.db.query<{ user_id: string | null; email: string; email_owner: boolean }>('select user_id, email, email_owner from customers where id = $1', [id])).rows[0];

  async function expectNoAccessToGuestOrder(guest: Awaited<ReturnType<typeof guestOrder>>, token: string) {
    expect((await server.graphql(ORDER, { variables: { id: guest.order.id }, token })).body).toEqual({ data: { order: null } });
    const before = await server.counts();
    const pay = await server.createPaymentIntent({ idempotencyKey: newKey(), orderId: guest.order.id }, { token });
    expect(pay.body.errors?.[0]).toMatchObject({ extensions: { code: 'NOT_FOUND' }, message: expect.stringMatching(/no such order/) });
    const confirm = await server.confirmPayment({ paymentIntentId: guest.paymentIntentId }, { token });
    expect(confirm.body.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    expect(await server.counts()).toEqual(before);
  }

  it.each([
    ['no verification claim', {}],
    ['only user_metadata.email_verified, which users can set themselves', { user_metadata: { email_verified: true } }],
  ])('gives a customer whose token has %s a new customer, who cannot read or pay the guest’s orders', async (_name, claims) => {
    const email = newEmail();
    const guest = await guestOrder(email);
    const userId = randomUUID();
    const token = await customerToken(email.toUpperCase(), claims, userId);

    const own = await intent({ idempotencyKey: newKey(), track: 'website_audit_feedback' }, token);
    expect(own.order.customer.id).not.toBe(guest.order.customer.id);
    // The account's row keeps the email (Stripe's receipt, the console and Make use it) without owning it.
    expect(own.order.customer.email).toBe(email.toUpperCase());
    expect(await customerRow(own.order.customer.id)).toEqual({ user_id: userId, email: email.toUpperCase(), email_owner: false });
    expect(await customerRow(guest.order.customer.id)).toEqual({ user_id: null, email, email_owner: true });
    expect((await server.app.stripe.paymentIntents.retrieve(own.paymentIntentId)).receipt_email).toBe(email.toUpperCase());
    const { rows } = await server.app.db.query<{ data: { customer: { email: string } } }>('select make_order_data($1) as data', [own.order.id]);
    expect(rows[0]!.data.customer).toMatchObject({ id: own.order.customer.id, email: email.toUpperCase() });

    await expectNoAccessToGuestOrder(guest, token);
    // Their own order stays theirs, and a second checkout finds the same row by the user id.
    expect((await server.graphql(ORDER, { variables: { id: own.order.id }, token })).body.data.order.id).toBe(own.order.id);
    expect((await intent({ idempotencyKey: newKey(), track }, token)).order.customer.id).toBe(own.order.customer.id);
  });

  it('keeps later guest orders with that email away from an account that never verified it', async () => {
    const email = newEmail();
    // The account signs up first, with an address it has not proven...
    const account = await intent({ idempotencyKey: newKey(), track }, await customerToken(email));
    // ...then the owner of the address buys as a guest: the order goes to a guest row, not the account.
    const guest = await guestOrder(email);
    expect(guest.order.customer.id).not.toBe(account.order.customer.id);
    expect(await customerRow(guest.order.customer.id)).toEqual({ user_id: null, email, email_owner: true });
    await expectNoAccessToGuestOrder(guest, await customerToken(email, {}, (await customerRow(account.order.customer.id))!.user_id!));
  });

  it('links a customer whose token says the email is verified to the guest’s customer and its orders', async () => {
    const email = newEmail();
    const guest = await guestOrder(email);
    const userId = randomUUID();
    const token = await customerToken(email, { email_verified: true }, userId);

    const own = await intent({ idempotencyKey: newKey(), track: 'social_media_email_campaign' }, token);
    expect(own.order.customer.id).toBe(guest.order.customer.id);
    expect(await customerRow(guest.order.customer.id)).toEqual({ user_id: userId, email, email_owner: true });
    const read = await server.graphql(ORDER, { variables: { id: guest.order.id }, token });
    expect(read.body.data.order).toMatchObject({ id: guest.order.id, customer: { id: guest.order.customer.id, email } });
    const pay = await intent({ idempotencyKey: newKey(), orderId: guest.order.id }, token);
    expect(pay.paymentIntentId).toBe(guest.paymentIntentId);
  });

  it('gives the verified owner of an email the owning row even when an unverified account used the email first', async () => {
    const email = newEmail();
    const squatter = await intent({ idempotencyKey: newKey(), track }, await customerToken(email));
    const owner = await intent({ idempotencyKey: newKey(), track }, await customerToken(email, { email_verified: true }));
    expect(owner.order.customer.id).not.toBe(squatter.order.customer.id);
    expect((await customerRow(owner.order.customer.id))!.email_owner).toBe(true);
    // Guest orders with the email now reach the verified owner's customer.
    expect((await guestOrder(email)).order.customer.id).toBe(owner.order.customer.id);
  });

  it('makes an account’s row the owner of its email once the account has verified it, if no guest holds it', async () => {
    const email = newEmail();
    const userId = randomUUID();
    const first = await intent({ idempotencyKey: newKey(), track }, await customerToken(email, {}, userId));
    expect((await customerRow(first.order.customer.id))!.email_owner).toBe(false);

    const later = await intent({ idempotencyKey: newKey(), track }, await customerToken(email, { email_verified: true }, userId));
    expect(later.order.customer.id).toBe(first.order.customer.id);
    expect((await customerRow(first.order.customer.id))!.email_owner).toBe(true);
    expect((await guestOrder(email)).order.customer.id).toBe(first.order.customer.id);
  });

  it('leaves a guest’s row with the guest when an account verifies an email a guest had already used', async () => {
    const email = newEmail();
    const userId = randomUUID();
    const account = await intent({ idempotencyKey: newKey(), track }, await customerToken(email, {}, userId));
    const guest = await guestOrder(email);

    const verifiedToken = await customerToken(email, { email_verified: true }, userId);
    const later = await intent({ idempotencyKey: newKey(), track }, verifiedToken);
    expect(later.order.customer.id).toBe(account.order.customer.id);
    expect(await customerRow(account.order.customer.id)).toMatchObject({ email_owner: false });
    expect(await customerRow(guest.order.customer.id)).toEqual({ user_id: null, email, email_owner: true });
  });

  it('lets staff find the orders of every customer with an email, owner or not', async () => {
    const email = newEmail();
    const guest = await guestOrder(email);
    const account = await intent({ idempotencyKey: newKey(), track }, await customerToken(email));
    const staff = await signStaffToken(JWT_SECRET, { userId: randomUUID(), email: 'support@shop.test', staffRole: 'support', audience: AUDIENCE, expiresIn: '1h' });
    const { body } = await server.graphql('query ($filter: OrderFilter) { orders(filter: $filter) { nodes { id } } }', {
      variables: { filter: { search: email } },
      token: staff,
    });
    expect(body.errors).toBeUndefined();
    expect(body.data.orders.nodes.map((node: { id: string }) => node.id).sort()).toEqual([guest.order.id, account.order.id].sort());
  });
});
