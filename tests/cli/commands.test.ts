// The admin CLI's commands in process, against the real server's database and its Stripe sandbox: what
// the subprocess suite (cli.test.ts) covers once per path is checked here case by case, without a
// process start each. apikey create and revoke are idempotent by key and audited as the CLI; the
// progress bar is drawn only on a terminal (a fake one: isTTY, columns) and only the counters print
// off one; `orphans resolve` takes none of the listing's options; subscription-info takes Stripe's
// customer id.
import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import * as commands from '../../server/cli/commands';
import { main } from '../../server/cli/main';
import { EXIT, fitToWidth, type Io, type Session, streamIo } from '../../server/cli/runtime';
import { hashApiKey, verifyApiKey } from '../../server/auth/apiKeys';
import { createLogger } from '../../server/platform/observability/logger';
import { type CheckoutServer, startCheckoutServer } from '../helpers/checkout';

// Several Stripe round trips and a pass per test on a shared machine.
vi.setConfig({ testTimeout: 60_000 });

const ACTOR = 'cli:tester@ops-host';
let server: CheckoutServer;

beforeAll(async () => {
  server = await startCheckoutServer({ RECONCILE_INTERVAL: 'off' });
});
afterAll(() => server?.stop());
beforeEach(() => {
  // Events stay in the sandbox: the pass, not the webhook endpoint, is what finds a payment.
  server.app.stripeSandbox!.core.events.stopAutoDelivery();
});

/** A stand-in for a terminal or a pipe: what was written, as text. */
function fakeStream(tty: { isTTY: boolean; columns?: number }) {
  const stream = Object.assign(new PassThrough(), tty);
  let text = '';
  stream.on('data', (chunk) => (text += String(chunk)));
  return { stream, text: () => text };
}

/** A command's context on fake streams, its session the test server's database and Stripe (left open). */
function context(options: { json?: boolean; tty?: boolean; columns?: number; env?: NodeJS.ProcessEnv; answer?: string } = {}) {
  const stdout = fakeStream({ isTTY: options.tty ?? false, columns: options.columns });
  const stderr = fakeStream({ isTTY: options.tty ?? false });
  const stdin = Object.assign(new PassThrough(), { isTTY: options.tty ?? false });
  if (options.answer !== undefined) stdin.end(`${options.answer}\n`);
  const io: Io = streamIo(options.json ?? false, { stdin, stdout: stdout.stream, stderr: stderr.stream, env: options.env ?? {} });
  const session: Session = {
    config: server.config,
    db: server.app.db,
    logger: createLogger({ level: 'silent', destination: pino.destination('/dev/null') }),
    stripe: () => server.app.stripe,
    stripeNow: () => new Date(server.app.stripeSandbox!.core.clock.now() * 1000),
    close: async () => undefined,
  };
  const ctx: commands.CommandContext = { io, actor: ACTOR, open: async () => session };
  return { ctx, stdout: stdout.text, stderr: stderr.text };
}

/** main() in process with fake streams (yargs prints --help with console.log); resolves with the exit code and what was written. */
async function run(argv: string[]) {
  const stdout = fakeStream({ isTTY: false });
  const stderr = fakeStream({ isTTY: false });
  const printed: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void printed.push(args.join(' ')));
  try {
    const code = await main(argv, (json) => streamIo(json, { stdin: new PassThrough(), stdout: stdout.stream, stderr: stderr.stream, env: {} }));
    return { code, help: printed.join('\n'), stdout: stdout.text(), stderr: stderr.text() };
  } finally {
    log.mockRestore();
  }
}

const auditRows = async (action: string, targetId: string) =>
  (
    await server.app.db.query<{ actor_type: string; actor_id: string; details: Record<string, unknown> }>(
      'select actor_type, actor_id, details from audit_log where action = $1 and target_id = $2 order by created_at',
      [action, targetId],
    )
  ).rows;

const keyCount = async () => (await server.app.db.query<{ n: number }>('select count(*)::int as n from api_keys')).rows[0]!.n;

describe('apikey create', () => {
  it('is audited as the CLI, and the same --idempotency-key answers the same key id without its secret again', async () => {
    const key = `cli-test-${randomUUID()}`;
    const first = context({ json: true });
    await commands.apiKeyCreate(first.ctx, { name: 'Once only', scope: 'make', idempotencyKey: key });
    const created = JSON.parse(first.stdout());
    expect(created).toMatchObject({ idempotencyKey: key, isRepeat: false, name: 'Once only', scope: 'make', key: expect.stringMatching(/^pok_make_/) });
    expect(await verifyApiKey(server.app.db, created.key)).toMatchObject({ id: created.id });
    expect(first.stderr()).toContain(`idempotency key: ${key}`);
    const before = await keyCount();

    const again = context({ json: true });
    await commands.apiKeyCreate(again.ctx, { name: 'Once only', scope: 'make', idempotencyKey: key });
    const human = context();
    await commands.apiKeyCreate(human.ctx, { name: 'Once only', scope: 'make', idempotencyKey: key });

    expect(JSON.parse(again.stdout())).toEqual({ idempotencyKey: key, isRepeat: true, id: created.id, name: 'Once only', scope: 'make', key: null });
    expect(human.stdout()).toMatch(new RegExp(`already created with this idempotency key[\\s\\S]*shown once, when it was created`));
    expect(human.stdout()).toContain(created.id);
    expect(human.stdout()).not.toMatch(/pok_/);
    expect(await keyCount()).toBe(before);
    expect(await auditRows('api_key.create', created.id)).toEqual([
      { actor_type: 'cli', actor_id: ACTOR, details: { name: 'Once only', scope: 'make', prefix: created.key.slice(0, 'pok_make_'.length + 4), idempotency_key: key, actor_name: ACTOR } },
    ]);
  });

  it('refuses the same key with another name (IDEMPOTENCY_KEY_REUSED, exit 1), making no key', async () => {
    const key = `cli-test-${randomUUID()}`;
    await commands.apiKeyCreate(context().ctx, { name: 'First name', scope: 'storefront', idempotencyKey: key });
    const before = await keyCount();
    await expect(commands.apiKeyCreate(context().ctx, { name: 'Other name', scope: 'storefront', idempotencyKey: key })).rejects.toMatchObject({
      details: { reason: 'IDEMPOTENCY_KEY_REUSED' },
    });
    expect(await keyCount()).toBe(before);
  });

  it('refuses a malformed --idempotency-key as bad usage before anything is made', async () => {
    const before = await keyCount();
    await expect(commands.apiKeyCreate(context().ctx, { name: 'Bad key', scope: 'make', idempotencyKey: 'a b' })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await keyCount()).toBe(before);
  });
  it('stores only the hash of the key, never the key itself, and lists neither', async () => {
    const made = context({ json: true });
    await commands.apiKeyCreate(made.ctx, { name: 'Hash check', scope: 'storefront' });
    const created = JSON.parse(made.stdout()) as { id: string; key: string };

    const { rows } = await server.app.db.query<Record<string, unknown>>('select * from api_keys where id = $1', [created.id]);
    expect(rows[0]!.key_hash).toBe(hashApiKey(created.key));
    expect(JSON.stringify(rows[0])).not.toContain(created.key);
    const idempotency = await server.app.db.query('select * from idempotency_keys where response::text like $1', [`%${created.id}%`]);
    expect(idempotency.rows).toHaveLength(1); // the create's answer, kept for a repeat: the id, never the secret
    expect(JSON.stringify(idempotency.rows)).not.toContain(created.key);
    for (const json of [true, false]) {
      const listed = context({ json });
      await commands.apiKeyList(listed.ctx);
      expect(listed.stdout()).toContain(created.id);
      if (!json) expect(listed.stdout()).toMatch(/^ID\s+NAME\s+SCOPE\s+PREFIX\s+CREATED\s+LAST USED\s+REVOKED$/m);
      expect(listed.stdout()).not.toContain(created.key);
      expect(listed.stdout()).not.toContain(String(rows[0]!.key_hash));
    }
  });
});

describe('apikey revoke', () => {
  async function newKey(name: string) {
    const made = context({ json: true });
    await commands.apiKeyCreate(made.ctx, { name, scope: 'storefront' });
    return JSON.parse(made.stdout()) as { id: string; key: string };
  }

  it('is audited once as the CLI; revoking again, with or without the key, is the same answer and writes nothing', async () => {
    const { id, key: secret } = await newKey('Revoke me');
    const key = `cli-test-${randomUUID()}`;
    const first = context({ json: true });
    await commands.apiKeyRevoke(first.ctx, { id, yes: true, idempotencyKey: key });
    const answer = JSON.parse(first.stdout());
    expect(answer).toMatchObject({ idempotencyKey: key, isRepeat: false, id, name: 'Revoke me', alreadyRevoked: false, revokedAt: expect.any(String) });
    expect(await verifyApiKey(server.app.db, secret)).toBeUndefined();

    const repeat = context({ json: true });
    await commands.apiKeyRevoke(repeat.ctx, { id, yes: true, idempotencyKey: key });
    const twice = context();
    await commands.apiKeyRevoke(twice.ctx, { id, yes: false });

    expect(JSON.parse(repeat.stdout())).toEqual({ ...answer, isRepeat: true });
    expect(twice.stdout()).toMatch(new RegExp(`^API key ${id} \\("Revoke me"\\) was already revoked ${answer.revokedAt.slice(0, 19).replace('T', ' ')}Z`));
    const audited = await auditRows('api_key.revoke', id);
    expect(audited).toEqual([{ actor_type: 'cli', actor_id: ACTOR, details: { name: 'Revoke me', idempotency_key: key, actor_name: ACTOR } }]);
  });

  it('asks on a terminal, on stderr: a no is exit 1 and revokes nothing, a yes revokes (with --json, stdout is the document only)', async () => {
    const { id, key: secret } = await newKey('Ask first');
    const no = context({ tty: true, answer: 'n' });
    await expect(commands.apiKeyRevoke(no.ctx, { id, yes: false })).rejects.toMatchObject({ code: 'NOT_CONFIRMED', exitCode: EXIT.refused });
    expect(no.stderr()).toContain(`Revoke API key ${id} ("Ask first")? Clients using it are refused from now on. [y/N] `);
    expect(no.stdout()).toBe('');
    expect(await verifyApiKey(server.app.db, secret)).toMatchObject({ id });

    const yes = context({ tty: true, json: true, answer: 'yes' });
    await commands.apiKeyRevoke(yes.ctx, { id, yes: false });
    expect(JSON.parse(yes.stdout())).toMatchObject({ id, alreadyRevoked: false });
    expect(await verifyApiKey(server.app.db, secret)).toBeUndefined();
  });

  it('refuses an unknown id (exit 1) and, off a terminal, a revoke without --yes (exit 2), revoking nothing', async () => {
    const { id, key: secret } = await newKey('Keep me');
    await expect(commands.apiKeyRevoke(context().ctx, { id: randomUUID(), yes: true })).rejects.toMatchObject({ code: 'API_KEY_NOT_FOUND', exitCode: EXIT.refused });
    await expect(commands.apiKeyRevoke(context().ctx, { id, yes: false })).rejects.toMatchObject({ code: 'CONFIRMATION_REQUIRED', exitCode: EXIT.usage });
    expect(await verifyApiKey(server.app.db, secret)).toMatchObject({ id });
    expect(await auditRows('api_key.revoke', id)).toEqual([]);
  });
});

describe('apikey bad arguments', () => {
  // An unreachable database: a case that got as far as opening one would be exit 3, not 2.
  beforeEach(() => void vi.stubEnv('DATABASE_URL', 'postgres://nobody@127.0.0.1:1/none'));
  afterEach(() => void vi.unstubAllEnvs());

  const cases: Array<[string, string[], RegExp]> = [
    ['an unknown scope', ['create', '--name', 'Bad scope', '--scope', 'admin'], /Invalid values: Argument: scope, Given: "admin", Choices: "storefront", "make"/],
    ['a missing name', ['create', '--scope', 'storefront'], /Missing required argument: name/],
    ['a blank name', ['create', '--name', '   ', '--scope', 'storefront'], /create needs --name <name>/],
    ['a name with no value', ['create', '--name', '--scope', 'make'], /create needs --name <name>/],
    ['a name over 100 characters', ['create', '--name', 'n'.repeat(101), '--scope', 'storefront'], /--name must be at most 100 characters/],
    ['a missing scope', ['create', '--name', 'No scope'], /Missing required argument: scope/],
    ['an unknown option', ['list', '--all'], /Unknown argument: all/],
    ['an unknown command', ['delete', 'x'], /Unknown arguments: delete, x/],
    ['no command', [], /apikey needs a command: create, list or revoke/],
    ['revoke without an id', ['revoke'], /Not enough non-option arguments/],
    ['revoke with something that is not an id', ['revoke', '1; drop table api_keys', '--yes'], /is not a key id/],
    ['an extra argument', ['list', 'everything'], /Unknown argument: everything/],
  ];

  it.each(cases)('refuses %s with one line on stderr, exit 2, before any database is opened', async (_label, argv, message) => {
    const before = await server.app.db.query('select id, revoked_at from api_keys order by id');

    const result = await run(['apikey', ...argv]);

    expect(result.code).toBe(EXIT.usage);
    expect(result.stdout).toBe('');
    expect(result.stderr.endsWith('\n')).toBe(true);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^payments-ops: .+ \(BAD_USAGE/);
    expect(result.stderr).toMatch(message);
    expect((await server.app.db.query('select id, revoked_at from api_keys order by id')).rows).toEqual(before.rows);
  });

  it('prints its usage with --help and exits 0', async () => {
    const help = await run(['apikey', '--help']);
    expect(help).toMatchObject({ code: EXIT.done, stderr: '' });
    for (const command of ['apikey create', 'apikey list', 'apikey revoke <id>']) expect(help.help).toContain(command);
  });
});

describe('the progress bar of reconcile', () => {
  /** A payment at Stripe we never recorded: the pass (dry or not) counts it, so it reports progress. */
  async function unrecordedPayment() {
    const stripe = server.app.stripe;
    const intent = await stripe.paymentIntents.create({
      amount: 4200,
      currency: 'usd',
      receipt_email: `bar-${randomUUID()}@example.com`,
      metadata: { order_id: randomUUID(), customer_id: randomUUID(), track: 'business_plan_builder', attempt: '1' },
    });
    await stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_visa', return_url: 'https://shop.test/return' });
  }

  it('is redrawn in place on a terminal, each frame cut to its width, and cleared before the counters', async () => {
    await unrecordedPayment();
    const terminal = context({ tty: true, columns: 40 });

    await commands.reconcileCommand(terminal.ctx, { dryRun: true, yes: false });

    const [before, ...frames] = terminal.stdout().split('\r\x1b[2K');
    expect(before).toBe('');
    expect(frames.length).toBeGreaterThanOrEqual(2);
    const last = frames.at(-1)!;
    // Drawn at once, before the pass has counted anything, and cut to the 40 columns (39 and no wrap).
    expect(frames[0]).toBe('[=                   ] checked 0  sync…');
    for (const frame of frames.slice(0, -1)) {
      expect(frame).toMatch(/^\[[ =]{20}\] checked \d/);
      expect(Array.from(frame).length).toBeLessThan(40);
      expect(frame).not.toContain('\n');
    }
    // The last redraw clears the line; the counters follow, in colour on a terminal.
    expect(last).toMatch(/^Dry run: what a pass would do now/);
    expect(last).toContain('\x1b[1mCOUNTER');
  });

  it('prints only the final counters off a terminal, and only the JSON document with --json', async () => {
    await unrecordedPayment();
    const pipe = context({ tty: false });
    const json = context({ tty: true, json: true, columns: 40 });

    await commands.reconcileCommand(pipe.ctx, { dryRun: true, yes: false });
    await commands.reconcileCommand(json.ctx, { dryRun: true, yes: false });

    const lines = pipe.stdout().split('\n');
    expect(pipe.stdout()).not.toMatch(/[\r\x1b]/);
    expect(lines[0]).toMatch(/^Dry run: what a pass would do now/);
    expect(lines[1]).toMatch(/^COUNTER\s+COUNT$/);
    expect(lines.find((line) => line.startsWith('would adopt'))).toMatch(/^would adopt\s+\d+$/);
    expect(lines.some((line) => line.startsWith('['))).toBe(false);
    expect(JSON.parse(json.stdout())).toMatchObject({ dryRun: true, counters: { adopted: expect.any(Number) } });
  });

  it('fits a frame to a narrow terminal and leaves it whole on a wide one or when the width is unknown', () => {
    const line = '[=   ] checked 120  synced 3  orphans found 1';
    expect(fitToWidth(line, 20)).toBe('[=   ] checked 120…');
    expect(fitToWidth(line, 200)).toBe(line);
    expect(fitToWidth(line, undefined)).toBe(line);
  });
});

describe('the parser', () => {
  it('gives `orphans resolve` its own options only: its --help lists none of the listing’s, and --open is bad usage there', async () => {
    const help = await run(['orphans', 'resolve', '--help']);
    expect(help.code).toBe(0);
    expect(help.help).toMatch(/--adopt/);
    expect(help.help).toMatch(/--idempotency-key/);
    for (const option of ['--open', '--kind', '--limit']) expect(help.help).not.toContain(option);

    const listing = await run(['orphans', '--help']);
    for (const option of ['--open', '--kind', '--limit']) expect(listing.help).toContain(option);

    const misused = await run(['orphans', 'resolve', randomUUID(), '--adopt', '--open', '--yes']);
    expect(misused.code).toBe(EXIT.usage);
    expect(misused.stderr).toMatch(/^payments-ops: Unknown argument: open \(BAD_USAGE/);
  });

  it('takes --idempotency-key on apikey create and revoke', async () => {
    for (const command of [['apikey', 'create', '--help'], ['apikey', 'revoke', '--help']]) {
      expect((await run(command)).help).toMatch(/--idempotency-key/);
    }
  });
});

describe('make deliveries', () => {
  it('prints a reminder’s payload with its pay link redacted, as the console shows it, and other kinds as stored', async () => {
    const [reminder, project] = [randomUUID(), randomUUID()];
    const payUrl = `https://shop.test/pay?token=${randomUUID()}`;
    // Not due for a day: the server's outbox leaves them pending.
    await server.app.db.query(
      `insert into make_deliveries (id, kind, dedupe_key, payload, next_attempt_at)
       values ($1::uuid, 'payment_request_reminder', $1::text, $3::jsonb, now() + interval '1 day'),
              ($2::uuid, 'add_project', $2::text, $4::jsonb, now() + interval '1 day')`,
      [reminder, project, JSON.stringify({ data: { pay_url: payUrl, member: { status: 'pending' } } }), JSON.stringify({ data: { pay_url: 'kept' } })],
    );

    const listed = context({ json: true });
    await commands.makeDeliveries(listed.ctx, { status: 'pending', limit: 200 });
    const human = context();
    await commands.makeDeliveries(human.ctx, { status: 'pending', limit: 200 });

    const byId = new Map((JSON.parse(listed.stdout()).deliveries as Array<{ id: string; payload: unknown }>).map((d) => [d.id, d.payload]));
    expect(byId.get(reminder)).toEqual({ data: { pay_url: '[redacted]', member: { status: 'pending' } } });
    expect(byId.get(project)).toEqual({ data: { pay_url: 'kept' } });
    for (const out of [listed.stdout(), human.stdout()]) expect(out).not.toContain('token=');
    // Make is still sent the link: only what staff read is redacted.
    const stored = await server.app.db.query<{ payload: { data: { pay_url: string } } }>('select payload from make_deliveries where id = $1', [reminder]);
    expect(stored.rows[0]!.payload.data.pay_url).toBe(payUrl);
  });
});

describe('subscription-info', () => {
  it('finds a customer’s subscriptions by their Stripe customer id (cus_…) as by our id, and refuses what is no id (exit 2)', async () => {
    const stripeCustomerId = `cus_${randomUUID().replace(/-/g, '').slice(0, 14)}`;
    const email = `sub-${randomUUID()}@example.com`;
    const { rows } = await server.app.db.query<{ id: string }>(`insert into customers (email, stripe_customer_id) values ($1, $2) returning id`, [email, stripeCustomerId]);
    const subscriptionId = `sub_cli${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    await server.app.db.query(`insert into subscriptions (id, customer_id, status) values ($1, $2, 'active')`, [subscriptionId, rows[0]!.id]);
    const other = await server.app.db.query<{ id: string }>(`insert into customers (email, stripe_customer_id) values ($1, $2) returning id`, [`other-${randomUUID()}@example.com`, `${stripeCustomerId}x`]);
    await server.app.db.query(`insert into subscriptions (id, customer_id, status) values ($1, $2, 'active')`, [`${subscriptionId}x`, other.rows[0]!.id]);

    const byStripe = context({ json: true });
    await commands.subscriptionInfo(byStripe.ctx, { who: stripeCustomerId });
    const byOurs = context({ json: true });
    await commands.subscriptionInfo(byOurs.ctx, { who: rows[0]!.id });

    expect(JSON.parse(byStripe.stdout()).subscriptions.map((s: { id: string }) => s.id)).toEqual([subscriptionId]);
    expect(byStripe.stdout()).toBe(byOurs.stdout());
    await expect(commands.subscriptionInfo(context().ctx, { who: 'cus_nobody00000' })).rejects.toMatchObject({ code: 'SUBSCRIPTION_NOT_FOUND', exitCode: EXIT.refused });
    await expect(commands.subscriptionInfo(context().ctx, { who: 'cus_' })).rejects.toMatchObject({ code: 'BAD_USAGE', exitCode: EXIT.usage });
  });
});

describe('webhook-status', () => {
  it('counts by status with the oldest unapplied age and the last hour’s failures; --pending, --failed and --type list the matching events', async () => {
    const type = `test.cli_${randomUUID().slice(0, 8)}`;
    const pending = `evt_cliPending${randomUUID().replace(/-/g, '').slice(0, 10)}`;
    const failed = `evt_cliFailed${randomUUID().replace(/-/g, '').slice(0, 10)}`;
    // Not due for a day: the server's applier leaves them as they are.
    await server.app.db.query(
      `insert into stripe_events (id, type, created, livemode, status, received_at, next_attempt_at, attempts, last_error, failed_at)
       values ($1, $3, now(), false, 'received', now() - interval '2 hours', now() + interval '1 day', 0, null, null),
              ($2, $3, now(), false, 'failed', now() - interval '20 minutes', now() + interval '1 day', 5, 'no order for this payment', now() - interval '10 minutes')`,
      [pending, failed, type],
    );

    const summary = context();
    await commands.webhookStatusCommand(summary.ctx, { pending: false, failed: false, limit: 20 });
    const listed = async (flags: { pending?: boolean; failed?: boolean; type?: string }) => {
      const run = context({ json: true });
      await commands.webhookStatusCommand(run.ctx, { pending: false, failed: false, limit: 200, ...flags });
      return (JSON.parse(run.stdout()).events as Array<{ id: string; payload?: unknown }>).map((e) => e.id);
    };

    expect(summary.stdout()).toMatch(/^Oldest unapplied\s+2 h 0 min$/m);
    expect(summary.stdout()).toMatch(/^Failed in the last hour\s+[1-9]\d*$/m);
    expect(summary.stdout()).not.toContain(pending); // no flag, no list
    expect(await listed({ pending: true })).toContain(pending);
    expect(await listed({ pending: true })).not.toContain(failed);
    expect(await listed({ failed: true })).toContain(failed);
    expect((await listed({ type })).sort()).toEqual([failed, pending].sort());
    const table = context();
    await commands.webhookStatusCommand(table.ctx, { pending: false, failed: true, type, limit: 20 });
    expect(table.stdout()).toMatch(/^ID\s+TYPE\s+STATUS\s+ATTEMPTS\s+RECEIVED\s+LAST ERROR$/m);
    expect(table.stdout()).toMatch(new RegExp(`^${failed}\\s+${type.replace('.', '\\.')}\\s+failed\\s+5\\s+.+ago\\)\\s+no order for this payment$`, 'm'));
    await expect(commands.webhookStatusCommand(context().ctx, { pending: false, failed: false, limit: 0 })).rejects.toMatchObject({ code: 'BAD_USAGE', exitCode: EXIT.usage });
  });
});
