// `payments-ops` (issue 21) run as a subprocess, the real binary through tsx, against a migrated
// database on disk and the Stripe sandbox in its own process. The story: a payment made at Stripe that
// we never recorded is adopted by `reconcile` (after a dry run that changes nothing), then refunded in
// part by `process-refund` (an over-refund refused first), synced, and its Make delivery retried; the
// audit rows name the CLI's actor. Bad usage is exit 2, a refusal 1, an unreachable database or
// Stripe 3. One sandbox process and one database for the file; the parsers and formatters are
// unit-tested in process (output.test.ts), not here flag by flag.
import { randomUUID } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Db } from '../../server/platform/db/db';
import { createProcessDatabase, type ProcessDatabase } from '../helpers/serverProcess';
import { type CliRun, runCli, runNpx, type SandboxProcess, startSandboxProcess } from './helpers';

// Each CLI run is a process start (tsx, then PGlite); a test runs several, on a machine shared with others.
vi.setConfig({ testTimeout: 120_000 });

const ACTOR = `cli:${userInfo().username}@${hostname()}`;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

let database: ProcessDatabase;
let sandbox: SandboxProcess;
let stripe: Stripe;

beforeAll(async () => {
  [database, sandbox] = await Promise.all([createProcessDatabase(), startSandboxProcess()]);
  (await database.open()).close(); // the migrated template, written to its directory
  const url = new URL(sandbox.url);
  stripe = new Stripe(sandbox.env.STRIPE_SECRET_KEY!, { host: url.hostname, port: Number(url.port), protocol: 'http', maxNetworkRetries: 0 });
}, 120_000);
afterAll(async () => {
  await sandbox?.stop();
  await database?.destroy();
});

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { ...database.env, ...sandbox.env, ...env }, { cwd: database.workDir });

/** The test's own look at the database, between CLI runs (PGlite: one process at a time). */
async function withDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const db = await database.open();
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

const auditRows = (action: string) =>
  withDb(async (db) => (await db.query<{ actor_type: string; actor_id: string; target_id: string; details: Record<string, unknown> }>('select actor_type, actor_id, target_id, details from audit_log where action = $1 order by created_at', [action])).rows);

/** One line on stderr naming the code, nothing on stdout but (with --json) the error document. */
function expectError(run: CliRun, exit: number, code: string) {
  expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(exit);
  const lines = run.stderr.trim().split('\n');
  expect(lines.at(-1)).toMatch(new RegExp(`^payments-ops: .+ \\(${code}[;)]`));
}

const json = (run: CliRun) => {
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout);
};

let paidIntent: Stripe.PaymentIntent;
let orderId: string;

describe('help and usage', () => {
  it('prints every command with `npx payments-ops --help` in the repository, and a command’s options with its own --help (exit 0)', async () => {
    const [all, refund] = await Promise.all([runNpx(['--help']), cli(['process-refund', '--help'])]);
    expect(all.code).toBe(0);
    for (const command of ['process-refund', 'webhook-status', 'replay-event', 'subscription-info', 'sync-order', 'reconcile', 'orphans', 'make', 'apikey', 'completion']) {
      expect(all.stdout).toContain(command);
    }
    expect(refund.code).toBe(0);
    expect(refund.stdout).toMatch(/--amount/);
    expect(refund.stdout).toMatch(/--idempotency-key/);
  });

  it('refuses bad arguments with exit 2 and one line, before any database is opened', async () => {
    const runs = await Promise.all([
      cli(['process-refund']),
      cli(['process-refund', 'order-7', '--yes']),
      cli(['webhook-status', '--pending', '--failed']),
      cli(['orphans', 'resolve', randomUUID(), '--adopt', '--cancel', '--yes']),
      cli(['frobnicate']),
      // A database that cannot exist: reaching it would be exit 3, not 2.
      cli(['reconcile', '--since', 'yesterday', '--yes'], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' }),
    ]);
    for (const run of runs) {
      expect(run.code, run.stderr).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(runs[1]!.stderr).toMatch(/"order-7" is neither an order id/);
    expect(runs[5]!.stderr).toMatch(/\(INVALID_SINCE\)/);
  });
});

describe('reconcile', () => {
  it('refuses to run without --yes when not on a terminal (exit 2), starting no pass', async () => {
    const run = await cli(['reconcile']);
    expectError(run, 2, 'CONFIRMATION_REQUIRED');
    expect(run.stderr).toMatch(/--yes/);
    expect(await withDb(async (db) => (await db.query('select 1 from reconciliation_runs')).rows)).toEqual([]);
  });

  it('with --dry-run reports the payment it would adopt and changes nothing', async () => {
    paidIntent = await stripe.paymentIntents.create({
      amount: 9900,
      currency: 'usd',
      receipt_email: `cli-${randomUUID()}@example.com`,
      metadata: { order_id: randomUUID(), customer_id: randomUUID(), track: 'business_plan_builder', attempt: '1' },
    });
    await stripe.paymentIntents.confirm(paidIntent.id, { payment_method: 'pm_card_visa', return_url: 'https://shop.test/return' });

    const human = await cli(['reconcile', '--dry-run']);
    const machine = await cli(['reconcile', '--dry-run', '--json']);

    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^Dry run/m);
    expect(human.stdout).toMatch(/^would adopt\s+1$/m);
    expect(json(machine)).toMatchObject({ dryRun: true, counters: { adopted: 1 } });
    expect(await withDb(async (db) => (await db.query('select 1 from orders union all select 1 from reconciliation_runs')).rows)).toEqual([]);
  });

  it('with --yes runs a pass that adopts it, prints the key it used and audits the run as the CLI actor', async () => {
    const run = await cli(['reconcile', '--yes', '--json']);

    const body = json(run);
    expect(body).toMatchObject({ started: true, isRepeat: false, run: { status: 'succeeded', trigger: 'cli', actor: ACTOR, counters: { adopted: 1 } } });
    expect(run.stderr).toContain(`idempotency key: ${body.idempotencyKey}`);
    orderId = await withDb(async (db) => (await db.query<{ id: string }>('select id from orders')).rows[0]!.id);
    expect(await auditRows('reconciliation.run')).toEqual([expect.objectContaining({ actor_type: 'cli', actor_id: ACTOR, target_id: body.run.id })]);
  });
});

describe('process-refund', () => {
  it('refuses more than is left to refund with exit 1 and its typed code, recording no refund', async () => {
    const run = await cli(['process-refund', paidIntent.id, '--amount', '100.00', '--yes']);
    expectError(run, 1, 'REFUND_EXCEEDS_REMAINING');
    expect(run.stdout).toMatch(/^Refundable\s+\$99\.00$/m);
    expect(await withDb(async (db) => (await db.query('select 1 from refunds')).rows)).toEqual([]);
  });

  it('refunds part of the order by its PaymentIntent, shows it, and a repeat with the printed key refunds nothing more', async () => {
    const run = await cli(['process-refund', paidIntent.id, '--amount', '29.70', '--reason', 'duplicate', '--note', 'double charge', '--yes']);

    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^Order\\s+${orderId}$`, 'm'));
    expect(run.stdout).toMatch(/^Amount\s+\$99\.00$/m);
    expect(run.stdout).toMatch(new RegExp(`^Refunded: \\$29\\.70 of order ${orderId}$`, 'm'));
    const key = /idempotency key: (\S+)/.exec(run.stderr)![1]!;

    const repeat = json(await cli(['process-refund', orderId, '--amount', '29.70', '--reason', 'duplicate', '--note', 'double charge', '--yes', '--json', '--idempotency-key', key]));
    expect(repeat).toMatchObject({ idempotencyKey: key, isRepeat: true, refund: { amount: 2970, status: 'succeeded' } });
    expect((await stripe.refunds.list({ payment_intent: paidIntent.id })).data.map((r) => r.amount)).toEqual([2970]);
    const audit = await auditRows('refund.create');
    expect(audit).toEqual([expect.objectContaining({ actor_type: 'cli', actor_id: ACTOR, target_id: orderId, details: expect.objectContaining({ note: 'double charge', idempotency_key: key }) })]);
    // The customer's payment log says staff, never the operator's user and host.
    const logs = await withDb(async (db) => (await db.query<{ metadata: Record<string, unknown> }>(`select metadata from payment_logs where event_type like 'refund.%'`)).rows);
    expect(JSON.stringify(logs)).not.toContain(ACTOR);
  });
});

describe('reads', () => {
  it('webhook-status counts events by status (human and JSON); subscription-info of nobody is exit 1', async () => {
    // One at a time: a PGlite directory is one process's (the lock refuses a second).
    const human = await cli(['webhook-status']);
    const machine = await cli(['webhook-status', '--failed', '--json']);
    const nobody = await cli(['subscription-info', 'nobody@example.com']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^Received \(unapplied\)\s+\d+$/m);
    expect(human.stdout).toMatch(/^Failed in the last hour\s+0$/m);
    expect(json(machine)).toMatchObject({ status: { failed: 0 }, events: [] });
    expectError(nobody, 1, 'SUBSCRIPTION_NOT_FOUND');
  });

  it('subscription-info finds a customer’s subscription by email: status, period, pause, cancel and latest invoices', async () => {
    const email = await withDb(async (db) => {
      const { rows } = await db.query<{ id: string; email: string }>('select c.id, c.email from customers c join orders o on o.customer_id = c.id where o.id = $1', [orderId]);
      const customer = rows[0]!;
      await db.query(
        `insert into subscriptions (id, customer_id, status, current_period_start, current_period_end, cancel_at_period_end, pause_behavior)
         values ('sub_cliTest1', $1::uuid, 'active', '2026-12-01T00:00:00Z', '2027-01-01T00:00:00Z', true, 'void')`,
        [customer.id],
      );
      await db.query(
        `insert into subscription_invoices (id, subscription_id, status, amount_due, amount_paid, currency, stripe_created)
         values ('in_cliOld', 'sub_cliTest1', 'paid', 4900, 4900, 'usd', '2026-11-01T00:00:00Z'), ('in_cliNew', 'sub_cliTest1', 'open', 4900, 0, 'usd', '2026-12-01T00:00:00Z')`,
      );
      return customer.email;
    });

    const human = await cli(['subscription-info', email.toUpperCase()]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^sub_cliTest1  active$/m);
    expect(human.stdout).toMatch(/^Period\s+2026-12-01 00:00:00Z \(.+\) → 2027-01-01 00:00:00Z \(.+\)$/m);
    expect(human.stdout).toMatch(/^Paused\s+yes \(void\)$/m);
    expect(human.stdout).toMatch(/^Cancel\s+at period end$/m);
    // Newest invoice first.
    expect(human.stdout).toMatch(/^in_cliNew\s+open\s+\$49\.00\s+\$0\.00\s+2026-12-01 00:00:00Z[^\n]*\nin_cliOld\s+paid\s+\$49\.00\s+\$49\.00/m);
    const machine = json(await cli(['subscription-info', 'sub_cliTest1', '--json']));
    expect(machine.subscriptions).toEqual([expect.objectContaining({ id: 'sub_cliTest1', customer_email: email, latestInvoices: [expect.objectContaining({ id: 'in_cliNew' }), expect.objectContaining({ id: 'in_cliOld' })] })]);
  });

  it('replay-event of an event we never stored is exit 1', async () => {
    expectError(await cli(['replay-event', 'evt_neverStored', '--yes']), 1, 'WEBHOOK_EVENT_NOT_FOUND');
  });

  it('replays a stored event (one a pass with --since backfilled from Stripe), audited as the CLI', async () => {
    const today = new Date().toISOString().slice(0, 10);
    expect(json(await cli(['reconcile', '--since', today, '--yes', '--json'])).run.status).toBe('succeeded');
    const eventId = await withDb(async (db) => (await db.query<{ id: string }>(`select id from stripe_events where type = 'payment_intent.succeeded' and object_id = $1`, [paidIntent.id])).rows[0]?.id);
    expect(eventId).toMatch(/^evt_/);

    const replayed = json(await cli(['replay-event', eventId!, '--yes', '--json']));

    expect(replayed).toMatchObject({ isRepeat: false, event: { id: eventId, status: expect.stringMatching(/^(applied|ignored)$/) } });
    expect(await auditRows('webhook_event.replay')).toEqual([expect.objectContaining({ actor_type: 'cli', actor_id: ACTOR, target_id: eventId })]);
  });
});

describe('sync-order, make, orphans', () => {
  it('syncs the order with Stripe (audited as the CLI), and is exit 3 when Stripe cannot be reached', async () => {
    const synced = json(await cli(['sync-order', orderId, '--json']));
    expect(synced).toMatchObject({ outcome: expect.stringMatching(/^(SYNCED|UNCHANGED)$/), error: null, order: { id: orderId } });
    expect(await auditRows('reconciliation.sync_order')).toEqual([expect.objectContaining({ actor_type: 'cli', actor_id: ACTOR, target_id: orderId })]);

    const away = await cli(['sync-order', orderId], { STRIPE_API_BASE: 'http://127.0.0.1:1' });
    expectError(away, 3, 'PAYMENT_PROVIDER_UNAVAILABLE');
    const pass = await cli(['reconcile', '--dry-run'], { STRIPE_API_BASE: 'http://127.0.0.1:1' });
    expectError(pass, 3, 'PAYMENT_PROVIDER_UNAVAILABLE');
  });

  it('lists Make deliveries, retries a dead one with --yes (audited), and refuses a retry of a delivered one (exit 1)', async () => {
    const [dead, delivered] = [randomUUID(), randomUUID()];
    await withDb((db) =>
      db.query(
        `insert into make_deliveries (id, kind, dedupe_key, order_id, payload, status, dead_at, delivered_at)
         values ($1::uuid, 'add_project', $1::text, $3::uuid, '{}', 'dead', now(), null), ($2::uuid, 'add_project', $2::text, $3::uuid, '{}', 'delivered', null, now())`,
        [dead, delivered, orderId],
      ),
    );
    const listed = json(await cli(['make', 'deliveries', '--status', 'dead', '--json']));
    expect(listed.deliveries.map((d: { id: string }) => d.id)).toContain(dead);

    const retried = await cli(['make', 'retry', dead, '--yes']);
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stdout).toMatch(/Queued for retry: delivery .* is pending/);
    expect(await auditRows('make_delivery.retry')).toEqual([expect.objectContaining({ actor_type: 'cli', actor_id: ACTOR, target_id: dead })]);

    expectError(await cli(['make', 'retry', delivered, '--yes']), 1, 'MAKE_DELIVERY_WRONG_STATE');
  });

  it('lists an open orphaned payment as a table and JSON and dismisses it with a note (audited); one that does not exist is exit 1', async () => {
    const open = await stripe.paymentIntents.create({ amount: 1500, currency: 'usd', metadata: { order_id: randomUUID(), customer_id: randomUUID(), track: 'business_plan_builder', attempt: '1' } });
    expect(json(await cli(['reconcile', '--since', new Date().toISOString().slice(0, 10), '--yes', '--json'])).run.counters).toMatchObject({ orphansFound: 1 });

    const table = await cli(['orphans', '--open']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^ID\s+KIND\s+STATUS\s+STRIPE OBJECT\s+AMOUNT\s+FIRST SEEN\s+ORDER$/m);
    expect(table.stdout).toMatch(new RegExp(`STRIPE_WITHOUT_RECORD\\s+open\\s+${open.id}\\s+\\$15\\.00`));
    const finding = json(await cli(['orphans', '--open', '--kind', 'stripe_without_record', '--json'])).findings.find((f: { stripe_object_id: string }) => f.stripe_object_id === open.id);
    expect(finding).toMatchObject({ status: 'open', kind: 'STRIPE_WITHOUT_RECORD' });

    const dismissed = await cli(['orphans', 'resolve', finding.id, '--dismiss', '--note', 'a test payment', '--yes']);
    expect(dismissed.code, dismissed.stderr).toBe(0);
    expect(dismissed.stdout).toMatch(new RegExp(`^Finding ${finding.id}: dismiss done`));
    expect(await auditRows('reconciliation.resolve_finding')).toEqual([
      expect.objectContaining({ actor_type: 'cli', actor_id: ACTOR, target_id: finding.id, details: expect.objectContaining({ action: 'dismiss', note: 'a test payment' }) }),
    ]);
    expect(json(await cli(['orphans', '--open', '--json'])).findings.map((f: { id: string }) => f.id)).not.toContain(finding.id);

    expectError(await cli(['orphans', 'resolve', randomUUID(), '--dismiss', '--note', 'test', '--yes']), 1, 'ORPHAN_NOT_FOUND');
  });
});

describe('an unreachable database', () => {
  it('is exit 3 with one line, in words and as JSON', async () => {
    const env = { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' };
    const [human, machine] = await Promise.all([cli(['webhook-status'], env), cli(['webhook-status', '--json'], env)]);
    expectError(human, 3, 'DATABASE_UNAVAILABLE');
    expect(machine.code).toBe(3);
    expect(JSON.parse(machine.stdout)).toMatchObject({ error: { code: 'DATABASE_UNAVAILABLE' } });
    expect(human.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('apikey', () => {
  it('creates, lists and revokes through the CLI (revoke needs --yes off a terminal)', async () => {
    const created = json(await cli(['apikey', 'create', '--name', 'CLI test', '--scope', 'make', '--json']));
    expect(created).toMatchObject({ id: expect.stringMatching(UUID), scope: 'make', key: expect.stringMatching(/^pok_make_/) });
    expectError(await cli(['apikey', 'revoke', created.id]), 2, 'CONFIRMATION_REQUIRED');
    const revoked = await cli(['apikey', 'revoke', created.id, '--yes']);
    expect(revoked.stdout).toMatch(new RegExp(`^Revoked API key ${created.id}`));
    const listed = json(await cli(['apikey', 'list', '--json']));
    expect(listed.keys.find((k: { id: string }) => k.id === created.id)).toMatchObject({ revoked_at: expect.any(String) });
    expect(JSON.stringify(listed)).not.toContain(created.key);
  });
});
