// What the payMemberShare, webhook and expiry suites share: the service built on the test server's own
// database and Stripe client (the sandbox, over HTTP, on its clock), a request made by its create with
// the members' tokens read from their pay links, and row reads.
import { createHash, randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import type { Viewer } from '../../server/auth/viewer';
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

/** A request for `amounts` (GBP pence), one member each, made by the service's own create (as an admin). */
export async function newRequest(server: CheckoutServer, options: { amounts: number[]; expiresAt?: Date | null; track?: string }): Promise<TestRequest> {
  const tag = randomUUID().slice(0, 8);
  const created = await paymentRequestsOf(server).create(ADMIN, {
    idempotencyKey: `create-${randomUUID()}`,
    title: 'Workshop split',
    track: options.track ?? null,
    description: options.track ? null : 'A workshop split between participants',
    currency: 'gbp',
    members: options.amounts.map((amount, i) => ({ email: `member${i}-${tag}@members.test`, name: null, amount })),
    expiresAt: options.expiresAt?.getTime() ?? null,
    metadata: {},
  });
  if (created.outcome !== 'created' || created.isRepeat) throw new Error(`could not create the request: ${JSON.stringify(created)}`);
  const { rows } = await server.app.db.query<{ id: string; order_id: string; email: string; amount_pence: string }>(
    'select id, order_id, email, amount_pence from payment_request_members where payment_request_id = $1',
    [created.request.id],
  );
  const members = created.payLinks.map((link): TestMember => {
    const row = rows.find((r) => r.id === link.memberId)!;
    return { id: row.id, orderId: row.order_id, email: row.email, token: new URL(link.payUrl).searchParams.get('token')!, amount: Number(row.amount_pence) };
  });
  // In the order of the amounts given.
  members.sort((a, b) => a.email.localeCompare(b.email));
  return { id: created.request.id, members };
}

const ADMIN: Viewer = { role: 'ADMIN', id: randomUUID(), name: 'admin@staff.test', kind: 'user' };

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
