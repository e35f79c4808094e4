// Reconciliation's GraphQL API (issue 17) over real HTTP against the real server in sandbox mode: who
// may read and act, every argument refused before anything is written, idempotency by key with the
// first answer kept and audited once, and each operation against the sandbox with the janitor's real
// code paths. Every webhook is dropped, so what settles an order here is reconciliation.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApiKey } from '../../../server/auth/apiKeys';
import { signStaffToken } from '../../../server/auth/staffTokens';
import { parseSince } from '../../../server/reconcile/arguments';
import { staffActionHash } from '../../../server/idempotency/staffAction';
import { runReconciliation } from '../../../server/reconcile/janitor';
import { type CheckoutServer, JWT_SECRET, newKey, startCheckoutServer } from '../../helpers/checkout';
import type { GraphQLResponse } from '../../helpers/server';

type Auth = { token?: string; headers?: Record<string, string> };
type Caller = 'anonymous' | 'customer' | 'storefront' | 'make' | 'support' | 'admin';

let server: CheckoutServer;
const as = {} as Record<Caller, Auth>;
const adminId = randomUUID();
const supportId = randomUUID();
const customerId = randomUUID();
const seededOrderId = randomUUID();
const T0 = Date.parse('2026-11-01T12:00:00Z');
const seededRuns: string[] = [randomUUID(), randomUUID(), randomUUID()];
const seededFindings = { mismatch: randomUUID(), provisional: randomUUID(), resolved: randomUUID(), dismissable: randomUUID(), another: randomUUID() };

const RETURN_URL = 'https://shop.test/checkout/return';
const sandbox = () => server.app.stripeSandbox!;
const pass = () => runReconciliation(server.app.reconciliation, { trigger: 'manual', actor: 'test' });

beforeAll(async () => {
  // The job is off: each test starts the passes it means to see.
  server = await startCheckoutServer({ RECONCILE_INTERVAL: 'off' });
  const staff = (userId: string, staffRole: 'support' | 'admin') =>
    signStaffToken(JWT_SECRET, { userId, email: `${staffRole}@staff.test`, staffRole, audience: 'authenticated', expiresIn: '1h' });
  const { key: makeKey } = await createApiKey(server.app.db, 'reconciliation test make scenario', 'make');
  Object.assign(as, {
    anonymous: {},
    customer: { token: await server.customerToken() },
    storefront: server.asStorefront,
    make: { headers: { 'x-api-key': makeKey } },
    support: { token: await staff(supportId, 'support') },
    admin: { token: await staff(adminId, 'admin') },
  });
  const db = server.app.db;
  await db.query(`insert into customers (id, email, name) values ($1, 'ada@example.com', 'Ada')`, [customerId]);
  await db.query(
    `insert into orders (id, customer_id, product_id, price_id, amount, currency, status, sync_state, payment_intent_id, created_at, sync_attempts, last_sync_at)
     values ($1, $2, 'website_audit_feedback', 'website_audit_feedback_usd', 7900, 'usd', 'paid', 'failed', 'pi_reconApiSeed', $3, 3, $3)`,
    [seededOrderId, customerId, new Date(T0)],
  );
  for (const [n, id] of seededRuns.entries()) {
    await db.query(
      `insert into reconciliation_runs (id, trigger, actor, status, started_at, finished_at, counters, error)
       values ($1, 'schedule', 'janitor', $2, $3, $4, $5, $6)`,
      [id, n === 1 ? 'failed' : 'succeeded', new Date(T0 + n * 60_000), new Date(T0 + n * 60_000 + 1500), { synced: n, adopted: 1 }, n === 1 ? 'StripeAPIError 500' : null],
    );
  }
  type Extra = { stripe_object_id?: string; stripe_status?: string; amount?: number; currency?: string; order_id?: string };
  const finding = (id: string, kind: string, status: string, seenAt: number, extra: Extra = {}) =>
    db.query(
      `insert into reconciliation_findings (id, kind, subject, stripe_object_id, stripe_status, amount, currency, order_id, status, resolution, resolved_by, resolved_at, first_seen_at, last_checked_at, checks, run_id, details)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, 2, $14, $15)`,
      [
        id, kind, `test:${id}`, extra.stripe_object_id ?? null, extra.stripe_status ?? null, extra.amount ?? null, extra.currency ?? null, extra.order_id ?? null,
        status, status === 'resolved' ? 'paid at Stripe' : null, status === 'resolved' ? `janitor:${seededRuns[0]}` : null, status === 'resolved' ? new Date(T0 + seenAt + 5000) : null,
        new Date(T0 + seenAt), seededRuns[0]!, { order_amount: 7900 },
      ],
    );
  await finding(seededFindings.mismatch, 'AMOUNT_MISMATCH', 'open', 1000, { stripe_object_id: 'pi_reconApiSeed', stripe_status: 'succeeded', amount: 100, currency: 'usd', order_id: seededOrderId });
  await finding(seededFindings.provisional, 'PROVISIONAL_TOO_LONG', 'open', 2000, { order_id: seededOrderId });
  await finding(seededFindings.resolved, 'STRIPE_WITHOUT_RECORD', 'resolved', 3000, { stripe_object_id: 'pi_reconApiResolved', stripe_status: 'succeeded', amount: 7900, currency: 'usd' });
  await finding(seededFindings.dismissable, 'STRIPE_WITHOUT_RECORD', 'open', 4000, { stripe_object_id: 'pi_reconApiOpen', stripe_status: 'requires_payment_method', amount: 7900, currency: 'usd' });
  await finding(seededFindings.another, 'NEEDS_CLEANUP', 'open', 5000, {});
});
afterAll(() => server?.stop());
// Every webhook is lost: the sandbox drops each delivery, so reconciliation is the only way anything is learnt.
beforeEach(() => {
  sandbox().core.events.stopAutoDelivery();
  sandbox().webhookFaults.dropNext = 1_000_000;
});

const RUN_FIELDS = 'id status trigger actor startedAt finishedAt durationMs error counters { synced failed skipped adopted canceled orphansFound eventsBackfilled }';
const FINDING_FIELDS = `id kind status stripeObjectId stripeStatus amount { amount currency formatted } order { id syncAttempts lastSyncAt }
  firstSeenAt lastCheckedAt checks nextCheckAt actions resolution resolvedBy resolvedAt details`;
const RUN = `query ($id: ID!) { reconciliationRun(id: $id) { ${RUN_FIELDS} } }`;
const RUNS = `query ($first: Int, $after: String) { reconciliationRuns(first: $first, after: $after) { nodes { id startedAt } pageInfo { hasNextPage endCursor } } }`;
const STATUS = `{ reconciliationStatus { running { id } lastRun { id status } schedule nextScheduledAt openFindings openFindingsByKind { kind count } } }`;
const FINDINGS = `query ($filter: OrphanedPaymentFilter, $first: Int, $after: String) {
  orphanedPayments(filter: $filter, first: $first, after: $after) { nodes { id kind status firstSeenAt } pageInfo { hasNextPage endCursor } }
}`;
const FINDING = `query ($id: ID!) { orphanedPayment(id: $id) { ${FINDING_FIELDS} } }`;
const SYNC = `mutation ($input: SyncOrderInput!) {
  syncOrder(input: $input) { order { id status syncState syncAttempts lastSyncAt } outcome error { code message } isRepeat }
}`;
const RUN_NOW = `mutation ($input: RunReconciliationInput!) { runReconciliation(input: $input) { run { ${RUN_FIELDS} } started error { code } isRepeat } }`;
const RESOLVE = `mutation ($input: ResolveOrphanedPaymentInput!) {
  resolveOrphanedPayment(input: $input) { orphanedPayment { ${FINDING_FIELDS} } order { id status syncState } error { code message } isRepeat }
}`;

const ok = (response: GraphQLResponse) => {
  expect(response.body.errors).toBeUndefined();
  return response.body.data;
};

function refusal(response: GraphQLResponse, code: string, extensions: Record<string, unknown> = {}) {
  // Nothing answered: no data, or (for a nullable field such as reconciliationRun) every field null.
  expect(Object.values(response.body.data ?? {}).filter((value) => value !== null)).toEqual([]);
  expect(response.body.errors?.[0]?.extensions).toMatchObject({ code, ...extensions });
  return response.body.errors![0]!.message;
}

const gql = (query: string, variables: Record<string, unknown>, caller: Caller) => server.graphql(query, { variables, ...as[caller] });

/** Row counts of everything a reconciliation mutation may write. */
async function counts() {
  const { rows } = await server.app.db.query<Record<string, number>>(
    `select (select count(*) from idempotency_keys)::int as keys, (select count(*) from audit_log)::int as audit,
            (select count(*) from reconciliation_runs)::int as runs, (select count(*) from reconciliation_findings)::int as findings,
            (select count(*) from reconciliation_findings where status = 'open')::int as open_findings,
            (select count(*) from orders)::int as orders, (select count(*) from payment_logs)::int as logs`,
  );
  return rows[0]!;
}

async function auditRows(key: string) {
  const { rows } = await server.app.db.query<{ actor_type: string; actor_id: string; action: string; target_type: string; target_id: string; details: Record<string, unknown> }>(
    `select actor_type, actor_id, action, target_type, target_id, details from audit_log where details->>'idempotency_key' = $1 order by id`,
    [key],
  );
  return rows;
}

/** A background pass has ended: its run is no longer RUNNING (waits on the condition, not on time). */
async function finished(runId: string) {
  for (;;) {
    const run = ok(await gql(RUN, { id: runId }, 'support')).reconciliationRun;
    if (run.status !== 'RUNNING') return run;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A PaymentIntent with our metadata made straight at Stripe, never recorded by us: an orphan. */
function intentAtStripe() {
  return server.app.stripe.paymentIntents.create({
    amount: 9900,
    currency: 'usd',
    receipt_email: `orphan-${randomUUID()}@example.com`,
    metadata: { order_id: randomUUID(), customer_id: randomUUID(), track: 'business_plan_builder', attempt: '1' },
  });
}

async function openOrphanFinding() {
  const intent = await intentAtStripe();
  await pass();
  const { rows } = await server.app.db.query<{ id: string }>(`select id from reconciliation_findings where stripe_object_id = $1 and status = 'open'`, [intent.id]);
  expect(rows).toHaveLength(1);
  return { intent, findingId: rows[0]!.id };
}

describe('who may read and act', () => {
  const READS: Record<string, [string, Record<string, unknown>]> = {
    reconciliationRun: [RUN, { id: seededRuns[0] }],
    reconciliationRuns: [RUNS, {}],
    reconciliationStatus: [STATUS, {}],
    orphanedPayments: [FINDINGS, {}],
    orphanedPayment: [FINDING, { id: seededFindings.mismatch }],
  };
  const WRITES: Record<string, [string, () => Record<string, unknown>, readonly Caller[]]> = {
    syncOrder: [SYNC, () => ({ input: { orderId: seededOrderId, idempotencyKey: newKey() } }), ['support', 'admin']],
    runReconciliation: [RUN_NOW, () => ({ input: { idempotencyKey: newKey() } }), ['admin']],
    resolveOrphanedPayment: [RESOLVE, () => ({ input: { id: seededFindings.another, action: 'DISMISS', note: 'test', idempotencyKey: newKey() } }), ['admin']],
  };

  it.each(Object.keys(READS))('answers %s to support and admins only: UNAUTHENTICATED anonymously, FORBIDDEN to customers, storefronts and Make', async (field) => {
    const [query, variables] = READS[field]!;
    refusal(await gql(query, variables, 'anonymous'), 'UNAUTHENTICATED');
    for (const caller of ['customer', 'storefront', 'make'] as const) refusal(await gql(query, variables, caller), 'FORBIDDEN');
    for (const caller of ['support', 'admin'] as const) expect(ok(await gql(query, variables, caller))[field]).not.toBeNull();
  });

  it.each(Object.keys(WRITES))('refuses %s to every caller its rule leaves out, writing nothing', async (field) => {
    const [query, variables, allowed] = WRITES[field]!;
    const before = await counts();
    refusal(await gql(query, variables(), 'anonymous'), 'UNAUTHENTICATED');
    for (const caller of (['customer', 'storefront', 'make', 'support', 'admin'] as const).filter((c) => !allowed.includes(c))) {
      refusal(await gql(query, variables(), caller), 'FORBIDDEN');
    }
    expect(await counts()).toEqual(before);
  });

  it("shows an order's syncAttempts and lastSyncAt to staff only: a storefront reading the order it made is FORBIDDEN them", async () => {
    const created = (await server.createPaymentIntent({ idempotencyKey: newKey(), track: 'business_plan_builder', email: `fields-${randomUUID()}@example.com` })).body.data
      .createPaymentIntent;
    const BY_PAYMENT = (fields: string) => `query ($id: String) { orderByPayment(paymentIntentId: $id) { ${fields} } }`;
    const variables = { id: created.paymentIntentId };
    expect(ok(await gql(BY_PAYMENT('id status'), variables, 'storefront')).orderByPayment).toMatchObject({ id: created.order.id });
    for (const field of ['syncAttempts', 'lastSyncAt']) {
      const answer = await gql(BY_PAYMENT(`id ${field}`), variables, 'storefront');
      expect(answer.body.errors?.[0]).toMatchObject({ path: ['orderByPayment', field], extensions: { code: 'FORBIDDEN' } });
    }
    expect(ok(await gql(BY_PAYMENT('id syncAttempts lastSyncAt'), variables, 'support')).orderByPayment).toEqual({ id: created.order.id, syncAttempts: 0, lastSyncAt: null });
  });

  it('lets support sync an order (here one that does not exist, which is an answer, not a refusal)', async () => {
    const answer = ok(await gql(SYNC, { input: { orderId: randomUUID(), idempotencyKey: newKey() } }, 'support')).syncOrder;
    expect(answer).toMatchObject({ order: null, outcome: 'FAILED', error: { code: 'ORDER_NOT_FOUND' }, isRepeat: false });
  });
});

describe('reading runs, status and findings', () => {
  it('shows a run with its status, trigger, times, duration and every counter (those it never touched as 0)', async () => {
    const run = ok(await gql(RUN, { id: seededRuns[1] }, 'support')).reconciliationRun;
    expect(run).toEqual({
      id: seededRuns[1],
      status: 'FAILED',
      trigger: 'SCHEDULE',
      actor: 'janitor',
      startedAt: new Date(T0 + 60_000).toISOString(),
      finishedAt: new Date(T0 + 61_500).toISOString(),
      durationMs: 1500,
      error: 'StripeAPIError 500',
      counters: { synced: 1, failed: 0, skipped: 0, adopted: 1, canceled: 0, orphansFound: 0, eventsBackfilled: 0 },
    });
    expect(ok(await gql(RUN, { id: randomUUID() }, 'support')).reconciliationRun).toBeNull();
  });

  it('pages runs newest first with keyset cursors, each run once', async () => {
    const seen: Array<{ id: string; startedAt: string }> = [];
    let after: string | null = null;
    for (;;) {
      const page: { nodes: Array<{ id: string; startedAt: string }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } } = ok(
        await gql(RUNS, { first: 2, after }, 'admin'),
      ).reconciliationRuns;
      expect(page.nodes.length).toBeLessThanOrEqual(2);
      seen.push(...page.nodes);
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(new Set(seen.map((run) => run.id)).size).toBe(seen.length);
    const times = seen.map((run) => Date.parse(run.startedAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(seen.map((run) => run.id).filter((id) => seededRuns.includes(id))).toEqual([...seededRuns].reverse());
  });

  it('shows a finding with its amount, order, checks and the actions an admin may take', async () => {
    const finding = ok(await gql(FINDING, { id: seededFindings.mismatch }, 'support')).orphanedPayment;
    expect(finding).toMatchObject({
      id: seededFindings.mismatch,
      kind: 'AMOUNT_MISMATCH',
      status: 'OPEN',
      stripeObjectId: 'pi_reconApiSeed',
      stripeStatus: 'succeeded',
      amount: { amount: 100, currency: 'usd', formatted: '$1.00' },
      order: { id: seededOrderId, syncAttempts: 3, lastSyncAt: new Date(T0).toISOString() },
      firstSeenAt: new Date(T0 + 1000).toISOString(),
      lastCheckedAt: new Date(T0 + 1000).toISOString(),
      checks: 2,
      nextCheckAt: null,
      // AMOUNT_MISMATCH: order_apply_payment refuses the amount, so ADOPT is never offered.
      actions: ['DISMISS'],
      resolution: null,
      resolvedBy: null,
      resolvedAt: null,
    });
    expect(JSON.parse(finding.details)).toEqual({ order_amount: 7900 });
    const resolved = ok(await gql(FINDING, { id: seededFindings.resolved }, 'support')).orphanedPayment;
    expect(resolved).toMatchObject({ status: 'RESOLVED', actions: [], resolution: 'paid at Stripe', resolvedBy: `janitor:${seededRuns[0]}`, order: null });
    expect(ok(await gql(FINDING, { id: randomUUID() }, 'support')).orphanedPayment).toBeNull();
  });

  it('lists findings newest first, filtered by status and kind, in keyset pages', async () => {
    const open = ok(await gql(FINDINGS, { filter: { status: 'OPEN' } }, 'support')).orphanedPayments.nodes as Array<{ id: string; status: string }>;
    expect(open.every((f) => f.status === 'OPEN')).toBe(true);
    expect(open.map((f) => f.id)).not.toContain(seededFindings.resolved);
    const byKind = ok(await gql(FINDINGS, { filter: { kind: 'PROVISIONAL_TOO_LONG', status: 'OPEN' } }, 'support')).orphanedPayments.nodes;
    expect(byKind.map((f: { id: string }) => f.id)).toContain(seededFindings.provisional);
    expect(byKind.every((f: { kind: string }) => f.kind === 'PROVISIONAL_TOO_LONG')).toBe(true);

    const first = ok(await gql(FINDINGS, { first: 1 }, 'support')).orphanedPayments;
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = ok(await gql(FINDINGS, { first: 1, after: first.pageInfo.endCursor }, 'support')).orphanedPayments;
    expect(Date.parse(second.nodes[0].firstSeenAt)).toBeLessThanOrEqual(Date.parse(first.nodes[0].firstSeenAt));
    expect(second.nodes[0].id).not.toBe(first.nodes[0].id);
  });

  it('counts open findings by kind in reconciliationStatus, with no schedule on a server whose janitor is off', async () => {
    const status = ok(await gql(STATUS, {}, 'support')).reconciliationStatus;
    const { rows } = await server.app.db.query<{ kind: string; count: number }>(
      `select kind, count(*)::int as count from reconciliation_findings where status = 'open' group by kind order by kind`,
    );
    expect(status.openFindingsByKind).toEqual(rows);
    expect(status.openFindings).toBe(rows.reduce((sum, row) => sum + row.count, 0));
    expect(status).toMatchObject({ schedule: null, nextScheduledAt: null });
  });
});

describe('bad input', () => {
  const tooOld = new Date(Date.now() - 31 * 86_400_000).toISOString();
  const future = new Date(Date.now() + 3_600_000).toISOString();
  const CASES: Array<[string, string, Record<string, unknown>, Caller, string, string]> = [
    ['reconciliationRun with an id that is not a UUID', RUN, { id: 'run-1' }, 'support', 'INVALID_RUN_ID', 'id'],
    ['orphanedPayment with an id that is not a UUID', FINDING, { id: '42' }, 'support', 'INVALID_FINDING_ID', 'id'],
    ['reconciliationRuns with first 0', RUNS, { first: 0 }, 'support', 'INVALID_FIRST', 'first'],
    ['reconciliationRuns with first 201', RUNS, { first: 201 }, 'support', 'INVALID_FIRST', 'first'],
    ['reconciliationRuns with a cursor it never gave', RUNS, { after: 'bm90IGEgY3Vyc29y' }, 'support', 'INVALID_CURSOR', 'after'],
    ['orphanedPayments with first 500', FINDINGS, { first: 500 }, 'support', 'INVALID_FIRST', 'first'],
    ['orphanedPayments with a cursor of another list', FINDINGS, { after: Buffer.from('1|evt_1').toString('base64url') }, 'support', 'INVALID_CURSOR', 'after'],
    ['syncOrder with an order id that is not a UUID', SYNC, { input: { orderId: 'order-1', idempotencyKey: newKey() } }, 'support', 'INVALID_ORDER_ID', 'input.orderId'],
    ['syncOrder with an empty key', SYNC, { input: { orderId: seededOrderId, idempotencyKey: '' } }, 'support', 'INVALID_IDEMPOTENCY_KEY', 'input.idempotencyKey'],
    ['syncOrder with a key holding a space', SYNC, { input: { orderId: seededOrderId, idempotencyKey: 'a key' } }, 'support', 'INVALID_IDEMPOTENCY_KEY', 'input.idempotencyKey'],
    ['runReconciliation with a key of 256 characters', RUN_NOW, { input: { idempotencyKey: 'k'.repeat(256) } }, 'admin', 'INVALID_IDEMPOTENCY_KEY', 'input.idempotencyKey'],
    ['runReconciliation with since not a date', RUN_NOW, { input: { idempotencyKey: newKey(), since: 'yesterday' } }, 'admin', 'INVALID_SINCE', 'input.since'],
    ['runReconciliation with since without its zone', RUN_NOW, { input: { idempotencyKey: newKey(), since: '2026-12-01T00:00:00' } }, 'admin', 'INVALID_SINCE', 'input.since'],
    ['runReconciliation with since in the future', RUN_NOW, { input: { idempotencyKey: newKey(), since: future } }, 'admin', 'SINCE_IN_FUTURE', 'input.since'],
    ['runReconciliation with since 31 days ago', RUN_NOW, { input: { idempotencyKey: newKey(), since: tooOld } }, 'admin', 'SINCE_TOO_OLD', 'input.since'],
    ['resolveOrphanedPayment with an id that is not a UUID', RESOLVE, { input: { id: 'f-1', action: 'CANCEL', idempotencyKey: newKey() } }, 'admin', 'INVALID_FINDING_ID', 'input.id'],
    ['resolveOrphanedPayment with a note of 1,001 characters', RESOLVE, { input: { id: seededFindings.another, action: 'DISMISS', note: 'n'.repeat(1001), idempotencyKey: newKey() } }, 'admin', 'NOTE_TOO_LONG', 'input.note'],
    ['resolveOrphanedPayment DISMISS without a note', RESOLVE, { input: { id: seededFindings.another, action: 'DISMISS', idempotencyKey: newKey() } }, 'admin', 'NOTE_REQUIRED', 'input.note'],
    ['resolveOrphanedPayment DISMISS with a blank note', RESOLVE, { input: { id: seededFindings.another, action: 'DISMISS', note: '  \n ', idempotencyKey: newKey() } }, 'admin', 'NOTE_REQUIRED', 'input.note'],
    ['resolveOrphanedPayment with a bad key', RESOLVE, { input: { id: seededFindings.another, action: 'DISMISS', note: 'x', idempotencyKey: 'é' } }, 'admin', 'INVALID_IDEMPOTENCY_KEY', 'input.idempotencyKey'],
  ];

  it.each(CASES)('refuses %s with BAD_USER_INPUT naming the field, writing nothing', async (_name, query, variables, caller, reason, field) => {
    const before = await counts();
    const message = refusal(await gql(query, variables, caller), 'BAD_USER_INPUT', { reason, field });
    expect(message.length).toBeGreaterThan(0);
    expect(await counts()).toEqual(before);
  });

  it('accepts a note of exactly 1,000 characters (counted as characters, not UTF-16 units)', async () => {
    const note = '🙂'.repeat(1000);
    const answer = ok(await gql(RESOLVE, { input: { id: seededFindings.another, action: 'DISMISS', note, idempotencyKey: newKey() } }, 'admin')).resolveOrphanedPayment;
    expect(answer).toMatchObject({ error: null, orphanedPayment: { status: 'RESOLVED' } });
  });
});

describe('idempotency by key, with the first answer kept', () => {
  it('answers a repeated DISMISS with the first answer flagged isRepeat, audited once; the key with another note is CONFLICT', async () => {
    const key = newKey();
    const input = { id: seededFindings.dismissable, action: 'DISMISS', note: 'a test payment made by hand at Stripe', idempotencyKey: key };
    const first = ok(await gql(RESOLVE, { input }, 'admin')).resolveOrphanedPayment;
    expect(first).toMatchObject({ error: null, isRepeat: false, orphanedPayment: { id: seededFindings.dismissable, status: 'RESOLVED', resolvedBy: `staff:${adminId}`, actions: [] } });
    const before = await counts();

    const again = ok(await gql(RESOLVE, { input }, 'admin')).resolveOrphanedPayment;
    expect(again).toEqual({ ...first, isRepeat: true });
    expect(await counts()).toEqual(before);
    expect(await auditRows(key)).toEqual([
      {
        actor_type: 'staff',
        actor_id: `staff:${adminId}`,
        action: 'reconciliation.resolve_finding',
        target_type: 'reconciliation_finding',
        target_id: seededFindings.dismissable,
        details: expect.objectContaining({ action: 'dismiss', note: input.note, idempotency_key: key }),
      },
    ]);

    refusal(await gql(RESOLVE, { input: { ...input, note: 'another reason' } }, 'admin'), 'CONFLICT', { reason: 'IDEMPOTENCY_KEY_REUSED' });
    refusal(await gql(SYNC, { input: { orderId: seededOrderId, idempotencyKey: key } }, 'admin'), 'CONFLICT', { reason: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await counts()).toEqual(before);
  });

  it('keeps no key for a refusal that changed nothing (ORPHAN_WRONG_STATE, ORPHAN_NOT_FOUND, ORDER_NOT_FOUND), so the same key may be sent again', async () => {
    const before = await counts();
    const wrongState = ok(await gql(RESOLVE, { input: { id: seededFindings.resolved, action: 'DISMISS', note: 'late', idempotencyKey: newKey() } }, 'admin')).resolveOrphanedPayment;
    expect(wrongState).toMatchObject({ error: { code: 'ORPHAN_WRONG_STATE' }, isRepeat: false, orphanedPayment: { id: seededFindings.resolved, status: 'RESOLVED' } });
    const missing = ok(await gql(RESOLVE, { input: { id: randomUUID(), action: 'CANCEL', idempotencyKey: newKey() } }, 'admin')).resolveOrphanedPayment;
    expect(missing).toMatchObject({ error: { code: 'ORPHAN_NOT_FOUND' }, orphanedPayment: null, isRepeat: false });
    const noOrder = ok(await gql(SYNC, { input: { orderId: randomUUID(), idempotencyKey: newKey() } }, 'support')).syncOrder;
    expect(noOrder).toMatchObject({ order: null, outcome: 'FAILED', error: { code: 'ORDER_NOT_FOUND' }, isRepeat: false });
    const after = await counts();
    expect({ keys: after.keys, audit: after.audit }).toEqual({ keys: before.keys, audit: before.audit });
  });

  it('refuses a key whose first call is still working with CONFLICT (IDEMPOTENCY_KEY_IN_PROGRESS), starting nothing', async () => {
    const key = newKey();
    // The first press's claim, as it stands while that call waits for Stripe.
    await server.app.db.query(
      `insert into idempotency_keys (scope, key, operation, request_hash) values ($1, $2, 'reconciliation_run', $3)`,
      [`user:${adminId}`, key, staffActionHash('reconciliation_run', { since: null })],
    );
    const before = await counts();
    refusal(await gql(RUN_NOW, { input: { idempotencyKey: key } }, 'admin'), 'CONFLICT', { reason: 'IDEMPOTENCY_KEY_IN_PROGRESS' });
    expect(await counts()).toEqual(before);
  });

  it('starts one pass for a repeated runReconciliation: the same run again, flagged isRepeat, one audit row; the key with since is CONFLICT', async () => {
    const key = newKey();
    const runsBefore = (await counts()).runs!;
    const first = ok(await gql(RUN_NOW, { input: { idempotencyKey: key } }, 'admin')).runReconciliation;
    expect(first).toMatchObject({ started: true, isRepeat: false, error: null, run: { status: 'RUNNING', trigger: 'MANUAL', actor: `staff:${adminId}`, finishedAt: null } });
    const done = await finished(first.run.id);
    expect(done.status).toBe('SUCCEEDED');

    const again = ok(await gql(RUN_NOW, { input: { idempotencyKey: key } }, 'admin')).runReconciliation;
    // The first answer, re-read as the run stands now.
    expect(again).toMatchObject({ started: true, isRepeat: true, run: { id: first.run.id, status: 'SUCCEEDED' } });
    expect((await counts()).runs).toBe(runsBefore + 1);
    expect(await auditRows(key)).toEqual([
      expect.objectContaining({ actor_id: `staff:${adminId}`, action: 'reconciliation.run', target_type: 'reconciliation_run', target_id: first.run.id }),
    ]);
    const since = new Date(Date.now() - 86_400_000).toISOString();
    refusal(await gql(RUN_NOW, { input: { idempotencyKey: key, since } }, 'admin'), 'CONFLICT', { reason: 'IDEMPOTENCY_KEY_REUSED' });
    expect((await counts()).runs).toBe(runsBefore + 1);
  });

  it('answers a retried runReconciliation whose since is a little ahead of our clock as a repeat, not CONFLICT: the instant given is what is hashed', async () => {
    const now = new Date('2026-12-07T12:00:00.000Z');
    const ahead = new Date(now.getTime() + 30_000);
    expect(parseSince(ahead.toISOString(), now)).toEqual(ahead);
    // Through the API: a client clock 30 s ahead, and the same press sent twice.
    const key = newKey();
    const since = new Date(Date.now() + 30_000).toISOString();
    const first = ok(await gql(RUN_NOW, { input: { idempotencyKey: key, since } }, 'admin')).runReconciliation;
    await finished(first.run.id);
    const again = ok(await gql(RUN_NOW, { input: { idempotencyKey: key, since } }, 'admin')).runReconciliation;
    expect(again).toMatchObject({ isRepeat: true, run: { id: first.run.id } });
  });
});

describe('operations against the sandbox', () => {
  it('answers runReconciliation with the pass already running (started false) when there is one', async () => {
    const running = randomUUID();
    await server.app.db.query(`insert into reconciliation_runs (id, trigger, actor) values ($1, 'cli', 'cli:ops')`, [running]);
    try {
      const answer = ok(await gql(RUN_NOW, { input: { idempotencyKey: newKey() } }, 'admin')).runReconciliation;
      expect(answer).toMatchObject({ started: false, isRepeat: false, run: { id: running, status: 'RUNNING', trigger: 'CLI' } });
      expect(ok(await gql(STATUS, {}, 'support')).reconciliationStatus.running).toEqual({ id: running });
    } finally {
      await server.app.db.query(`update reconciliation_runs set status = 'failed', finished_at = now() where id = $1`, [running]);
    }
  });

  it("syncs an order whose webhook never came: SYNCED and confirmed, when recorded (the janitor's check count untouched); a second sync is UNCHANGED", async () => {
    const created = (await server.createPaymentIntent({ idempotencyKey: newKey(), track: 'business_plan_builder', email: `sync-${randomUUID()}@example.com` })).body.data
      .createPaymentIntent;
    await server.app.stripe.paymentIntents.confirm(created.paymentIntentId, { payment_method: 'pm_card_visa', return_url: RETURN_URL });
    const orderId = created.order.id;
    expect(ok(await gql(SYNC, { input: { orderId, idempotencyKey: newKey() } }, 'support')).syncOrder).toMatchObject({
      outcome: 'SYNCED',
      error: null,
      isRepeat: false,
      order: { id: orderId, status: 'PAID', syncState: 'CONFIRMED', syncAttempts: 0, lastSyncAt: expect.any(String) },
    });
    expect(ok(await gql(SYNC, { input: { orderId, idempotencyKey: newKey() } }, 'support')).syncOrder).toMatchObject({ outcome: 'UNCHANGED', error: null });
  });

  it('gives the key back when Stripe cannot be reached (PAYMENT_PROVIDER_UNAVAILABLE): the same key then syncs', async () => {
    const created = (await server.createPaymentIntent({ idempotencyKey: newKey(), track: 'business_plan_builder', email: `outage-${randomUUID()}@example.com` })).body.data
      .createPaymentIntent;
    await server.app.stripe.paymentIntents.confirm(created.paymentIntentId, { payment_method: 'pm_card_visa', return_url: RETURN_URL });
    const key = newKey();
    const input = { orderId: created.order.id, idempotencyKey: key };
    // One call and its one SDK retry (STRIPE_MAX_NETWORK_RETRIES=1 in these servers).
    sandbox().failNext('api_error', 'api_error');
    expect(ok(await gql(SYNC, { input }, 'support')).syncOrder).toMatchObject({ outcome: 'FAILED', error: { code: 'PAYMENT_PROVIDER_UNAVAILABLE' }, isRepeat: false });
    expect(await auditRows(key)).toEqual([]);

    expect(ok(await gql(SYNC, { input }, 'support')).syncOrder).toMatchObject({ outcome: 'SYNCED', isRepeat: false, order: { syncState: 'CONFIRMED' } });
    expect(await auditRows(key)).toEqual([expect.objectContaining({ action: 'reconciliation.sync_order', target_id: created.order.id, actor_id: `staff:${supportId}` })]);
  });

  it('CANCELs an open orphan at Stripe, and the finding is resolved by the admin', async () => {
    const { intent, findingId } = await openOrphanFinding();
    const listed = ok(await gql(FINDING, { id: findingId }, 'admin')).orphanedPayment;
    expect(listed).toMatchObject({ kind: 'STRIPE_WITHOUT_RECORD', status: 'OPEN', stripeObjectId: intent.id, amount: { amount: 9900, currency: 'usd' }, actions: ['CANCEL', 'DISMISS'] });

    const key = newKey();
    const answer = ok(await gql(RESOLVE, { input: { id: findingId, action: 'CANCEL', idempotencyKey: key } }, 'admin')).resolveOrphanedPayment;
    expect(answer).toMatchObject({ error: null, isRepeat: false, orphanedPayment: { id: findingId, status: 'RESOLVED', resolvedBy: `staff:${adminId}`, actions: [] } });
    // Open, it was due for the automatic cancel; resolved, nothing will look at it again.
    expect(listed.nextCheckAt).toEqual(expect.any(String));
    expect(answer.orphanedPayment.nextCheckAt).toBeNull();
    expect((await server.app.stripe.paymentIntents.retrieve(intent.id)).status).toBe('canceled');
    expect(await auditRows(key)).toHaveLength(1);
  });

  it('keeps the key and audits a CANCEL done at Stripe although the janitor resolved the finding meanwhile, saying what was done', async () => {
    const { intent, findingId } = await openOrphanFinding();
    const intents = server.app.stripe.paymentIntents;
    const cancel = intents.cancel;
    intents.cancel = (async (...args: Parameters<typeof cancel>) => {
      await server.app.db.query(`update reconciliation_findings set status = 'resolved', resolution = 'expired at Stripe', resolved_by = 'janitor:x', resolved_at = now() where id = $1`, [findingId]);
      return cancel.apply(intents, args);
    }) as typeof cancel;
    const key = newKey();
    let answer;
    try {
      answer = ok(await gql(RESOLVE, { input: { id: findingId, action: 'CANCEL', idempotencyKey: key } }, 'admin')).resolveOrphanedPayment;
    } finally {
      intents.cancel = cancel;
    }
    expect(answer).toMatchObject({ isRepeat: false, error: { code: 'ORPHAN_WRONG_STATE', message: expect.stringMatching(/^Done: cancelled at Stripe by staff\./) } });
    expect((await server.app.stripe.paymentIntents.retrieve(intent.id)).status).toBe('canceled');
    expect(await auditRows(key)).toEqual([expect.objectContaining({ action: 'reconciliation.resolve_finding', target_id: findingId })]);
    const again = ok(await gql(RESOLVE, { input: { id: findingId, action: 'CANCEL', idempotencyKey: key } }, 'admin')).resolveOrphanedPayment;
    expect(again).toMatchObject({ isRepeat: true, error: { code: 'ORPHAN_WRONG_STATE', message: answer.error.message } });
  });

  it('refuses to CANCEL an orphan someone paid (ORPHAN_ALREADY_PAID), keeping no key; ADOPT then records it on one order', async () => {
    const { intent, findingId } = await openOrphanFinding();
    await server.app.stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_visa', return_url: RETURN_URL });
    const before = await counts();
    const refused = ok(await gql(RESOLVE, { input: { id: findingId, action: 'CANCEL', idempotencyKey: newKey() } }, 'admin')).resolveOrphanedPayment;
    expect(refused).toMatchObject({ error: { code: 'ORPHAN_ALREADY_PAID' }, isRepeat: false, orphanedPayment: { id: findingId, status: 'OPEN' } });
    const afterRefusal = await counts();
    expect({ keys: afterRefusal.keys, audit: afterRefusal.audit, open: afterRefusal.open_findings }).toEqual({ keys: before.keys, audit: before.audit, open: before.open_findings });
    expect((await server.app.stripe.paymentIntents.retrieve(intent.id)).status).toBe('succeeded');

    const adopted = ok(await gql(RESOLVE, { input: { id: findingId, action: 'ADOPT', idempotencyKey: newKey() } }, 'admin')).resolveOrphanedPayment;
    expect(adopted).toMatchObject({ error: null, orphanedPayment: { status: 'RESOLVED' }, order: { id: intent.metadata.order_id, status: 'PAID' } });
    const { rows } = await server.app.db.query<{ n: number }>('select count(*)::int as n from orders where id = $1', [intent.metadata.order_id!]);
    expect(rows[0]!.n).toBe(1);
  });
});
