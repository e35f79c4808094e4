// Payment requests against the real server in sandbox mode: the service built on the server's
// database and Stripe client (the official SDK against the sandbox, over HTTP), the sandbox's webhooks
// applied by the server's applier. Viewers of every kind, row counts, and a share paid the way the
// pay path does it (the share order's attempt, a PaymentIntent with its metadata, confirmed).
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type Stripe from 'stripe';
import { expect } from 'vitest';
import type { Viewer } from '../../server/auth/viewer';
import { createPaymentRequests } from '../../server/paymentRequests/paymentRequests';
import type { CreatePaymentRequestInput, PaymentRequests } from '../../server/paymentRequests/service';
import type { Db } from '../../server/platform/db/db';
import { createLogger } from '../../server/platform/observability/logger';
import type { CheckoutServer } from '../helpers/checkout';
import { newKey } from '../helpers/checkout';

export const silent = createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, done) => done() }) });

export const PAY_URL = 'https://shop.test/pay?token=';

export function service(server: CheckoutServer, stripe: Stripe = server.app.stripe, db: Db = server.app.db): PaymentRequests {
  const sandbox = server.app.stripeSandbox!;
  return createPaymentRequests({ db, stripe, logger: silent, payUrl: (token) => `${PAY_URL}${token}`, now: () => sandbox.core.clock.now() * 1000 });
}

export const customer = (): Viewer => ({ role: 'CUSTOMER', id: randomUUID(), name: `c-${randomUUID()}@customers.test`, kind: 'user' });
export const support = (): Viewer => ({ role: 'SUPPORT', id: randomUUID(), name: 'support@staff.test', kind: 'user' });
export const admin = (): Viewer => ({ role: 'ADMIN', id: randomUUID(), name: 'admin@staff.test', kind: 'user' });
export const storefront = (): Viewer => ({ role: 'STOREFRONT', id: randomUUID(), name: 'test storefront', kind: 'api_key' });

export function input(over: Partial<CreatePaymentRequestInput> = {}): CreatePaymentRequestInput {
  const tag = randomUUID().slice(0, 8);
  return {
    idempotencyKey: newKey(),
    title: 'Team plan',
    track: 'business_plan_builder',
    description: null,
    currency: 'gbp',
    members: [
      { email: `ann-${tag}@members.test`, name: 'Ann', amount: 3000 },
      { email: `bob-${tag}@members.test`, name: null, amount: 6900 },
    ],
    expiresAt: null,
    metadata: {},
    ...over,
  };
}

/** Rows of every table a create writes. */
export interface Counts {
  requests: number;
  members: number;
  orders: number;
  customers: number;
  keys: number;
  logs: number;
  audit: number;
}

export async function counts(db: Db): Promise<Counts> {
  const { rows } = await db.query<Counts>(
    `select (select count(*) from payment_requests)::int as requests, (select count(*) from payment_request_members)::int as members,
            (select count(*) from orders)::int as orders, (select count(*) from customers)::int as customers,
            (select count(*) from idempotency_keys)::int as keys, (select count(*) from payment_logs)::int as logs,
            (select count(*) from audit_log)::int as audit`,
  );
  return rows[0]!;
}

/** The token at the end of a pay link. */
export const tokenOf = (payUrl: string) => payUrl.slice(PAY_URL.length);

export interface ShareRow {
  id: string;
  order_id: string;
  status: string;
  amount_pence: number;
}

export async function membersById(db: Db, requestId: string): Promise<ShareRow[]> {
  const { rows } = await db.query<ShareRow>(
    'select id, order_id, status, amount_pence::float8 as amount_pence from payment_request_members where payment_request_id = $1 order by position, created_at',
    [requestId],
  );
  return rows;
}

/**
 * A PaymentIntent for the share as the pay path makes it: the share order's next attempt (key
 * member_share:<member id>:<attempt>), the object at the sandbox with the order's metadata, recorded open.
 */
export async function openShareIntent(server: CheckoutServer, member: ShareRow): Promise<Stripe.PaymentIntent> {
  const db = server.app.db;
  const { rows } = await db.query<{ attempt: number; currency: string; request_id: string }>(
    `select coalesce((select max(attempt) from payment_attempts where order_id = o.id), 0) + 1 as attempt, o.currency, o.payment_request_id as request_id
       from orders o where o.id = $1`,
    [member.order_id],
  );
  const { attempt, currency, request_id } = rows[0]!;
  const key = `member_share:${member.id}:${attempt}`;
  const { rows: made } = await db.query<{ id: string }>(
    "insert into payment_attempts (order_id, attempt, kind, stripe_idempotency_key) values ($1, $2, 'payment_intent', $3) returning id",
    [member.order_id, attempt, key],
  );
  const intent = await server.app.stripe.paymentIntents.create(
    {
      amount: member.amount_pence,
      currency,
      automatic_payment_methods: { enabled: true },
      metadata: { order_id: member.order_id, attempt: String(attempt), payment_request_id: request_id, payment_request_member_id: member.id },
    },
    { idempotencyKey: key },
  );
  await db.query("update payment_attempts set stripe_object_id = $2, status = 'open', client_secret = $3 where id = $1", [made[0]!.id, intent.id, intent.client_secret]);
  await db.query('update payment_request_members set stripe_payment_intent_id = $2, payment_attempt_count = payment_attempt_count + 1 where id = $1', [member.id, intent.id]);
  return intent;
}

/** Every event the sandbox has to deliver reaches the endpoint, and every stored event is applied. */
export async function settle(server: CheckoutServer): Promise<void> {
  await server.app.stripeSandbox!.flushWebhooks();
  await server.app.webhookApplier.drain();
  const { rows } = await server.app.db.query("select id, type, last_error from stripe_events where status <> 'applied' and status <> 'ignored'");
  expect(rows).toEqual([]);
}

/** The member pays their share with a card (pm_card_visa pays; pm_card_chargeDeclined is declined). */
export async function payShare(server: CheckoutServer, member: ShareRow, paymentMethod = 'pm_card_visa'): Promise<Stripe.PaymentIntent> {
  const intent = await openShareIntent(server, member);
  await server.app.stripe.paymentIntents.confirm(intent.id, { payment_method: paymentMethod, return_url: 'https://shop.test/return' }).catch(() => undefined);
  await settle(server);
  return intent;
}

export async function requestStatus(db: Db, id: string): Promise<{ status: string; completed_at: string | null; canceled_at: string | null }> {
  const { rows } = await db.query<{ status: string; completed_at: string | null; canceled_at: string | null }>(
    'select status, completed_at::text, canceled_at::text from payment_requests where id = $1',
    [id],
  );
  return rows[0]!;
}

export async function deliveries(db: Db, subjectId: string): Promise<Array<{ kind: string; dedupe_key: string; payload: any }>> {
  const { rows } = await db.query<{ kind: string; dedupe_key: string; payload: any }>(
    'select kind, dedupe_key, payload from make_deliveries where subject_id = $1 order by created_at, kind',
    [subjectId],
  );
  return rows;
}
