// What the payMemberShare, webhook and expiry suites share: a request made straight in SQL (its members
// with known tokens, each share an order of its own, as the design has it), the service built on the
// test server's own database and Stripe client (the sandbox, over HTTP, on its clock), and row reads.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { createPaymentRequests } from '../../server/paymentRequests/paymentRequests';
import type { PaymentRequests } from '../../server/paymentRequests/service';
import { createLogger } from '../../server/platform/observability/logger';
import type { CheckoutServer } from '../helpers/checkout';

export interface TestMember {
  id: string;
  orderId: string;
  email: string;
  token: string;
  amount: number;
}

export interface TestRequest {
  id: string;
  members: TestMember[];
}

export const RETURN_URL = 'https://shop.test/pay/return';

/** The service as the server builds it, on the test server's database and Stripe. */
export function paymentRequestsOf(server: CheckoutServer): PaymentRequests {
  const sandbox = server.app.stripeSandbox!;
  return createPaymentRequests({
    db: server.app.db,
    stripe: server.app.stripe,
    logger: createLogger({ level: 'silent' }),
    payUrl: (token) => `https://pay.test/?token=${token}`,
    now: () => sandbox.core.clock.now() * 1000,
  });
}

/** A request for `amounts` (GBP pence), one member each, written in one transaction. */
export async function insertRequest(server: CheckoutServer, options: { amounts: number[]; expiresAt?: Date | null; status?: string }): Promise<TestRequest> {
  const id = randomUUID();
  const members: TestMember[] = options.amounts.map((amount) => ({
    id: randomUUID(),
    orderId: randomUUID(),
    email: `member-${randomUUID()}@example.com`,
    token: randomBytes(32).toString('base64url'),
    amount,
  }));
  const total = options.amounts.reduce((sum, amount) => sum + amount, 0);
  await server.app.db.transaction(async (tx) => {
    await tx.query(
      `insert into payment_requests (id, title, description, currency, total, expires_at, created_by, created_by_name)
       values ($1, 'Workshop split', 'A workshop split between participants', 'gbp', $2, $3, 'staff:test', 'Test')`,
      [id, total, options.expiresAt?.toISOString() ?? null],
    );
    for (const member of members) {
      const { rows } = await tx.query<{ id: string }>('insert into customers (email) values ($1) returning id', [member.email]);
      await tx.query(
        `insert into orders (id, customer_id, product_id, price_id, amount, currency, payment_request_id)
         values ($1, $2, 'payment_request', null, $3, 'gbp', $4)`,
        [member.orderId, rows[0]!.id, member.amount, id],
      );
      await tx.query(
        `insert into payment_request_members (id, payment_request_id, email, amount_pence, token_hash, order_id)
         values ($1, $2, $3, $4, $5, $6)`,
        [member.id, id, member.email, member.amount, sha256(member.token), member.orderId],
      );
    }
  });
  return { id, members };
}

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export async function memberRow(server: CheckoutServer, memberId: string) {
  const { rows } = await server.app.db.query<{ status: string; payment_attempt_count: number; stripe_payment_intent_id: string | null; paid_at: Date | null; order_status: string }>(
    `select m.status, m.payment_attempt_count, m.stripe_payment_intent_id, m.paid_at, o.status as order_status
       from payment_request_members m join orders o on o.id = m.order_id where m.id = $1`,
    [memberId],
  );
  return rows[0]!;
}

export async function requestRow(server: CheckoutServer, requestId: string) {
  const { rows } = await server.app.db.query<{ status: string; completed_at: Date | null }>('select status, completed_at from payment_requests where id = $1', [requestId]);
  return rows[0]!;
}

export async function attemptsOf(server: CheckoutServer, orderId: string) {
  const { rows } = await server.app.db.query<{ id: string; attempt: number; status: string; stripe_object_id: string | null; stripe_idempotency_key: string; last_error: string | null }>(
    'select id, attempt, status, stripe_object_id, stripe_idempotency_key, last_error from payment_attempts where order_id = $1 order by attempt',
    [orderId],
  );
  return rows;
}

/** Every PaymentIntent the sandbox holds for this member (by our metadata). */
export async function intentsOf(server: CheckoutServer, memberId: string): Promise<Stripe.PaymentIntent[]> {
  const all: Stripe.PaymentIntent[] = [];
  for await (const intent of server.app.stripe.paymentIntents.list({ limit: 100 })) {
    if (intent.metadata.payment_request_member_id === memberId) all.push(intent);
  }
  return all;
}

/** Row counts a refused call must leave as they were. */
export async function payCounts(server: CheckoutServer) {
  const { rows } = await server.app.db.query<Record<string, number>>(
    `select (select count(*) from payment_attempts)::int as attempts, (select count(*) from idempotency_keys)::int as keys,
            (select count(*) from payment_logs)::int as logs, (select sum(payment_attempt_count) from payment_request_members)::int as counted`,
  );
  return rows[0]!;
}

/** Delivers what the sandbox has due to the server and applies it. */
export async function settle(server: CheckoutServer): Promise<void> {
  await server.app.stripeSandbox!.flushWebhooks();
  await server.app.webhookApplier.drain();
}

/** Confirms a PaymentIntent at the sandbox as the member's browser would; a decline is an answer, not a throw. */
export async function confirmAs(server: CheckoutServer, paymentIntentId: string, paymentMethod: string): Promise<string> {
  try {
    const intent = await server.app.stripe.paymentIntents.confirm(paymentIntentId, { payment_method: paymentMethod, return_url: RETURN_URL });
    return intent.status;
  } catch (error) {
    if ((error as { type?: string }).type === 'StripeCardError') return 'declined';
    throw error;
  }
}

export const newPayKey = () => `pay-${randomUUID()}`;
