// Retention in the running server: the job the server schedules from RETENTION_SCHEDULE removes old
// rows, and a webhook event whose payload retention dropped still reads in the staff API (payload null)
// while a replay of it is refused with a typed error that changes nothing. Real HTTP, the real Stripe
// SDK against the built-in sandbox, the real webhook endpoint and applier.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { signStaffToken } from '../../server/auth/staffTokens';
import { createLogger } from '../../server/platform/observability/logger';
import { runRetention } from '../../server/retention/retention';
import { SandboxClock } from '../../stripe-sandbox/clock';
import { type CheckoutServer, JWT_SECRET, newKey, startCheckoutServer } from '../helpers/checkout';
import { TEST_ENGINE } from '../helpers/db';

const DAY_S = 86_400;

let server: CheckoutServer;
let adminToken: string;
let supportToken: string;

beforeAll(async () => {
  // Every second instead of daily, so the test sees the scheduled job run.
  server = await startCheckoutServer({ RETENTION_SCHEDULE: '* * * * * *', RETENTION_BATCH_SIZE: '2' });
  const staff = (staffRole: 'support' | 'admin') =>
    signStaffToken(JWT_SECRET, { userId: randomUUID(), email: `${staffRole}@staff.test`, staffRole, audience: 'authenticated', expiresIn: '1h' });
  adminToken = await staff('admin');
  supportToken = await staff('support');
});

afterAll(() => server?.stop());

const count = async (sql: string, params: string[] = []) => {
  const { rows } = await server.app.db.query<{ n: number }>(`select count(*)::int as n from (${sql}) as t`, params);
  return rows[0]!.n;
};

describe(`retention in the server (${TEST_ENGINE})`, () => {
  it('runs on RETENTION_SCHEDULE with the other jobs, deleting old payment logs and keeping young ones', async () => {
    await server.app.db.query(
      `insert into payment_logs (event_type, status, metadata, created_at)
       select 'retention.test', 'succeeded', jsonb_build_object('age', $1::text), now() - make_interval(days => $2::int)
         from generate_series(1, 5)`,
      ['old', 800],
    );
    await server.app.db.query(
      `insert into payment_logs (event_type, status, metadata, created_at) values ('retention.test', 'succeeded', '{"age": "young"}', now() - interval '700 days')`,
    );

    await vi.waitFor(async () => expect(await count(`select 1 from payment_logs where metadata->>'age' = 'old'`)).toBe(0), { timeout: 20_000, interval: 200 });

    expect(await count(`select 1 from payment_logs where metadata->>'age' = 'young'`)).toBe(1);
    const runs = server.logs.lines.filter((line) => line.msg === 'retention run done' && line.removed.payment_logs > 0);
    expect(runs.reduce((sum, line) => sum + line.removed.payment_logs, 0)).toBe(5);
  });

  it('keeps an event whose payload was dropped readable, and refuses its replay with WEBHOOK_EVENT_PAYLOAD_DROPPED, changing nothing', async () => {
    // A real payment: Stripe's events reach our endpoint and the applier applies them.
    const created = await server.createPaymentIntent({ idempotencyKey: newKey(), track: 'business_plan_builder', email: `retention-${randomUUID()}@example.com` });
    expect(created.body.errors).toBeUndefined();
    const { paymentIntentId } = created.body.data.createPaymentIntent;
    await server.app.stripe.paymentIntents.confirm(paymentIntentId, { payment_method: 'pm_card_visa', return_url: 'https://shop.test/return' });
    await server.app.stripeSandbox!.flushWebhooks();
    let eventId = '';
    await vi.waitFor(
      async () => {
        const { rows } = await server.app.db.query<{ id: string; status: string }>(
          `select id, status from stripe_events where type = 'payment_intent.succeeded' and object_id = $1`,
          [paymentIntentId],
        );
        expect(rows[0]?.status).toBe('applied');
        eventId = rows[0]!.id;
      },
      { timeout: 20_000, interval: 100 },
    );

    // 91 days later by the sandbox clock.
    const clock = new SandboxClock();
    clock.advance(91 * DAY_S);
    const report = await runRetention({
      db: server.app.db,
      settings: { paymentLogsDays: 730, idempotencyKeysDays: 7, webhookPayloadDays: 90, makeAttemptsDays: 90, batchSize: 100 },
      logger: createLogger({ level: 'silent' }),
      now: () => new Date(clock.now() * 1000),
    });
    expect(report.removed.webhook_payloads).toBeGreaterThanOrEqual(1);

    const read = await server.graphql(`query ($id: ID!) { webhookEvent(id: $id) { id type status objectId payload } }`, {
      variables: { id: eventId },
      token: supportToken,
    });
    expect(read.body).toEqual({
      data: { webhookEvent: { id: eventId, type: 'payment_intent.succeeded', status: 'APPLIED', objectId: paymentIntentId, payload: null } },
    });

    const rowBefore = (await server.app.db.query('select * from stripe_events where id = $1', [eventId])).rows;
    const auditBefore = await count('select 1 from audit_log');
    const key = newKey();
    const replay = await server.graphql(
      `mutation ($input: ReplayWebhookEventInput!) { replayWebhookEvent(input: $input) { event { id } error { code message } isRepeat } }`,
      { variables: { input: { id: eventId, idempotencyKey: key } }, token: adminToken },
    );

    expect(replay.body.errors).toBeUndefined();
    expect(replay.body.data.replayWebhookEvent).toMatchObject({ event: null, error: { code: 'WEBHOOK_EVENT_PAYLOAD_DROPPED' }, isRepeat: false });
    expect(replay.body.data.replayWebhookEvent.error.message).toContain(eventId);
    expect((await server.app.db.query('select * from stripe_events where id = $1', [eventId])).rows).toEqual(rowBefore);
    expect(await count('select 1 from audit_log')).toBe(auditBefore);
    // The key is not spent on a replay that did not happen.
    expect(await count('select 1 from idempotency_keys where key = $1', [key])).toBe(0);
  });
});
