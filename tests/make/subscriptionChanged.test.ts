// subscription_changed to Make (issue 19 review, finding 3): a pause, a resume and a cancel at period
// end are each announced once, with the pause fields in the payload, though each change is written
// twice (the mutation's own answer and its webhook) and Stripe delivers every event twice; a state
// left and reached again is announced again; a change written in two statements of one transaction
// (as the applier writes a subscription) is one delivery of the final state. Real server, sandbox,
// GraphQL mutations over HTTP; jobs are off, so the outbox keeps what is enqueued.
import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signStaffToken } from '../../server/auth/staffTokens';
import type { StripeSandbox } from '../../stripe-sandbox/sandbox';
import { type CheckoutServer, JWT_SECRET, newKey, startCheckoutServer } from '../helpers/checkout';
import { deliveries, makeEnv, schemaErrors } from './makeHelpers';

const PAUSE = `mutation ($input: PauseSubscriptionInput!) { pauseSubscription(input: $input) { error { code } } }`;
const RESUME = `mutation ($input: ResumeSubscriptionInput!) { resumeSubscription(input: $input) { error { code } } }`;
const CANCEL = `mutation ($input: CancelSubscriptionInput!) { cancelSubscription(input: $input) { error { code } } }`;

let server: CheckoutServer;
let sandbox: StripeSandbox;
let stripe: Stripe;
let admin: { token: string };
const customerId = randomUUID();

beforeAll(async () => {
  server = await startCheckoutServer({ ...makeEnv(['subscription_changed']), JOBS_ENABLED: 'false' });
  sandbox = server.app.stripeSandbox!;
  stripe = server.app.stripe;
  admin = { token: await signStaffToken(JWT_SECRET, { userId: randomUUID(), email: 'admin@staff.test', staffRole: 'admin', audience: 'authenticated', expiresIn: '1h' }) };
  await server.app.db.query(`insert into customers (id, email) values ($1, 'make-sub@example.com')`, [customerId]);
});
afterAll(() => server?.stop());

async function settle(): Promise<void> {
  await sandbox.flushWebhooks();
  await server.app.webhookApplier.drain();
}

async function subscribe(): Promise<string> {
  const { rows } = await server.app.db.query<{ stripe_price_id: string }>("select stripe_price_id from prices where id = 'website_audit_feedback_usd_monthly'");
  const customer = await stripe.customers.create({ email: `${randomUUID()}@example.com` });
  const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: rows[0]!.stripe_price_id }], default_payment_method: 'pm_card_visa', metadata: { customer_id: customerId } });
  await settle();
  return sub.id;
}

async function act(mutation: string, input: Record<string, unknown>): Promise<void> {
  const response = await server.graphql(mutation, { variables: { input: { idempotencyKey: newKey(), ...input } }, ...admin });
  expect(response.body.errors).toBeUndefined();
  expect(Object.values(response.body.data as Record<string, { error: unknown }>)[0]!.error).toBeNull();
  await settle();
}

type Announced = { status: string; cancel_at_period_end: boolean; pause_behavior: string | null; pause_resumes_at: string | null };

async function announced(subscriptionId: string): Promise<Announced[]> {
  const rows = await deliveries(server.app.db, "kind = 'subscription_changed' and subject_id = $1", [subscriptionId]);
  for (const row of rows) expect(schemaErrors(row.payload), JSON.stringify(row.payload)).toEqual([]);
  return rows.map((row) => {
    const { status, cancel_at_period_end, pause_behavior, pause_resumes_at } = row.payload.data.subscription;
    return { status, cancel_at_period_end, pause_behavior, pause_resumes_at: pause_resumes_at === null ? null : new Date(pause_resumes_at).toISOString() };
  });
}

const collecting = { status: 'active', cancel_at_period_end: false, pause_behavior: null, pause_resumes_at: null };

describe('subscription_changed', () => {
  it('announces a pause, a resume, a pause again and a cancel at period end once each, every event delivered twice', async () => {
    const id = await subscribe();
    expect(await announced(id)).toEqual([collecting]);
    sandbox.webhookFaults.duplicateNext = 1000;
    try {
      const resumesAt = new Date(Date.parse((await server.app.db.query<{ e: string }>('select current_period_end::text as e from subscriptions where id = $1', [id])).rows[0]!.e) + 86_400_000);
      resumesAt.setUTCMilliseconds(0);
      await act(PAUSE, { subscriptionId: id, behavior: 'KEEP_AS_DRAFT', resumesAt: resumesAt.toISOString() });
      await act(RESUME, { subscriptionId: id });
      await act(PAUSE, { subscriptionId: id, behavior: 'VOID' });
      await act(RESUME, { subscriptionId: id });
      await act(CANCEL, { subscriptionId: id, atPeriodEnd: true });
      expect(await announced(id)).toEqual([
        collecting,
        { ...collecting, pause_behavior: 'keep_as_draft', pause_resumes_at: resumesAt.toISOString() },
        collecting,
        { ...collecting, pause_behavior: 'void' },
        collecting,
        { ...collecting, cancel_at_period_end: true },
      ]);
    } finally {
      sandbox.webhookFaults.duplicateNext = 0;
    }
  });

  it('is one delivery of the final state for a change written in two statements of one transaction, and none for a state written again', async () => {
    const id = await subscribe();
    await server.app.db.transaction(async (tx) => {
      await tx.query("update subscriptions set status = 'past_due' where id = $1", [id]);
      await tx.query("update subscriptions set pause_behavior = 'void' where id = $1", [id]);
    });
    // The same state again, and a change undone within its transaction.
    await server.app.db.query("update subscriptions set status = 'past_due', pause_behavior = 'void' where id = $1", [id]);
    await server.app.db.transaction(async (tx) => {
      await tx.query('update subscriptions set cancel_at_period_end = true where id = $1', [id]);
      await tx.query('update subscriptions set cancel_at_period_end = false where id = $1', [id]);
    });
    expect(await announced(id)).toEqual([collecting, { ...collecting, status: 'past_due', pause_behavior: 'void' }]);
    const rows = await deliveries(server.app.db, "kind = 'subscription_changed' and subject_id = $1", [id]);
    expect(rows[1]!.payload.data.subscription.previous_status).toBe('active');
  });
});
