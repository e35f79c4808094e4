// The real server in sandbox mode (its Stripe client talks to the sandbox it serves, over HTTP), with
// a storefront API key, customer tokens and the checkout operations, for the checkout suites.
import { randomUUID } from 'node:crypto';
import { createApiKey } from '../../server/auth/apiKeys';
import { signStaffToken } from '../../server/auth/staffTokens';
import type { Db } from '../../server/platform/db/db';
import { startTestServer, type TestServer } from './server';

export const JWT_SECRET = 'checkout-tests-jwt-secret-0123456789abcdef';

export const ORDER_FIELDS = `
  id status syncState track trackName amount { amount currency formatted }
  customer { id email name } checkoutSessionId paymentIntentId
  payment { paymentIntentId chargeId status amount { amount } amountRefunded { amount } }
  metadata { key value } createdAt updatedAt`;

export const CREATE_PAYMENT_INTENT = `mutation ($input: CheckoutInput!) {
  createPaymentIntent(input: $input) { order { ${ORDER_FIELDS} } paymentIntentId clientSecret isRepeat error { code message declineCode } }
}`;

export const CREATE_CHECKOUT_SESSION = `mutation ($input: CheckoutInput!) {
  createCheckoutSession(input: $input) { order { ${ORDER_FIELDS} } checkoutSessionId url expiresAt isRepeat error { code message declineCode } }
}`;

export const CONFIRM_PAYMENT = `mutation ($input: ConfirmPaymentInput!) {
  confirmPayment(input: $input) { outcome nextActionUrl order { ${ORDER_FIELDS} } error { code message declineCode } }
}`;

export const ORDER = `query ($id: ID!) { order(id: $id) { ${ORDER_FIELDS} } }`;
export const ORDER_BY_PAYMENT = `query ($pi: String, $cs: String) { orderByPayment(paymentIntentId: $pi, checkoutSessionId: $cs) { ${ORDER_FIELDS} } }`;

export interface CheckoutServer extends TestServer {
  storefrontKey: string;
  asStorefront: { headers: Record<string, string> };
  customerToken: (user?: { id?: string; email?: string | null }) => Promise<string>;
  createPaymentIntent: (input: Record<string, unknown>, auth?: Auth) => ReturnType<TestServer['graphql']>;
  createCheckoutSession: (input: Record<string, unknown>, auth?: Auth) => ReturnType<TestServer['graphql']>;
  confirmPayment: (input: Record<string, unknown>, auth?: Auth) => ReturnType<TestServer['graphql']>;
  /** Row counts of the tables a checkout writes, to prove a refused request changed nothing. */
  counts: () => Promise<Record<string, number>>;
}

type Auth = { token?: string; headers?: Record<string, string> };

export async function startCheckoutServer(env: Record<string, string> = {}, options: { wrapDb?: (db: Db) => Db } = {}): Promise<CheckoutServer> {
  const server = await startTestServer({ SUPABASE_JWT_SECRET: JWT_SECRET, STRIPE_MAX_NETWORK_RETRIES: '1', ...env }, options);
  const { key } = await createApiKey(server.app.db, 'test storefront', 'storefront');
  const asStorefront = { headers: { 'x-api-key': key } };
  const call = (query: string) => (input: Record<string, unknown>, auth: Auth = asStorefront) => server.graphql(query, { variables: { input }, ...auth });
  return Object.assign(server, {
    storefrontKey: key,
    asStorefront,
    customerToken: (user: { id?: string; email?: string | null } = {}) =>
      signStaffToken(JWT_SECRET, { userId: user.id ?? randomUUID(), email: user.email ?? `${randomUUID()}@customers.test`, audience: 'authenticated', expiresIn: '1h' }),
    createPaymentIntent: call(CREATE_PAYMENT_INTENT),
    createCheckoutSession: call(CREATE_CHECKOUT_SESSION),
    confirmPayment: call(CONFIRM_PAYMENT),
    counts: () => countRows(server.app.db),
  });
}

export async function countRows(db: Db): Promise<Record<string, number>> {
  const { rows } = await db.query<Record<string, number>>(
    `select (select count(*) from orders)::int as orders, (select count(*) from customers)::int as customers,
            (select count(*) from payment_attempts)::int as attempts, (select count(*) from idempotency_keys)::int as keys,
            (select count(*) from payment_logs)::int as logs, (select count(*) from payments)::int as payments`,
  );
  return rows[0]!;
}

export const newKey = () => `test-${randomUUID()}`;
