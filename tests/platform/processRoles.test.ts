// Web and worker processes on one database (issue 24): the PROCESS_ROLE variable and what it refuses,
// the Make routes every process must agree on, and the NOTIFY a stored event sends for the workers.
// The processes themselves, started as users run them: tests/server/roles.test.ts (PostgreSQL).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkerHttpApp } from '../../server/api/http/workerHttpApp';
import { ConfigError, loadConfig } from '../../server/config';
import { createLogger } from '../../server/platform/observability/logger';
import { startApp } from '../../server/compose';
import { MakeRoutesDisagreeError, readMakeRoutes, SandboxMakeRoutesError, seatMakeRoutes } from '../../server/make/routes';
import { RetentionSettingsDisagreeError, seatRetentionSettings } from '../../server/retention/retention';
import { STRIPE_EVENTS_NOTIFY_CHANNEL } from '../../server/webhooks/applier';
import { createTestDb, type TestDb } from './../helpers/db';
import { testConfig } from './../helpers/server';

const POSTGRES = 'postgres://app:secret@db.internal:5432/payments';
const STRIPE_KEY = 'sk_test_0123456789abcdef';

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('PROCESS_ROLE', () => {
  it('defaults to all: HTTP and jobs in one process, as npm start runs it', () => {
    const config = loadConfig({});
    expect(config.role).toBe('all');
    expect(config.jobsEnabled).toBe(true);
  });

  it('web serves HTTP only: no jobs, whatever JOBS_ENABLED says', () => {
    const config = loadConfig({ PROCESS_ROLE: 'web', DATABASE_URL: POSTGRES, STRIPE_SECRET_KEY: STRIPE_KEY, JOBS_ENABLED: 'true' });
    expect(config.role).toBe('web');
    expect(config.jobsEnabled).toBe(false);
  });

  it('worker runs the jobs', () => {
    const config = loadConfig({ PROCESS_ROLE: 'worker', DATABASE_URL: POSTGRES, STRIPE_SECRET_KEY: STRIPE_KEY });
    expect(config.role).toBe('worker');
    expect(config.jobsEnabled).toBe(true);
  });

  it.each(['both', 'WEB', 'jobs', 'web,worker', ' worker x'])('refuses %j, naming the values it takes', (value) => {
    expect(configError({ PROCESS_ROLE: value })).toBe('Invalid environment variable PROCESS_ROLE: expected all, web or worker');
  });

  it.each(['web', 'worker'])('refuses %s on the embedded PGlite database, which is one process’s', (role) => {
    const message = configError({ PROCESS_ROLE: role, STRIPE_SECRET_KEY: STRIPE_KEY });
    expect(message).toBe(
      `Invalid environment variable PROCESS_ROLE: expected all without DATABASE_URL (the embedded PGlite database is one process's; ${role} processes share a PostgreSQL database)`,
    );
  });

  it.each(['web', 'worker'])('refuses %s in sandbox mode, whose Stripe lives inside one process', (role) => {
    const message = configError({ PROCESS_ROLE: role, DATABASE_URL: POSTGRES });
    expect(message).toMatch(/^Invalid environment variable PROCESS_ROLE: expected all without STRIPE_SECRET_KEY \(sandbox mode's Stripe lives inside one process; run `npm run sandbox`/);
    expect(message.split('\n')).toHaveLength(1);
  });

  it('refuses a worker with its jobs turned off', () => {
    expect(configError({ PROCESS_ROLE: 'worker', DATABASE_URL: POSTGRES, STRIPE_SECRET_KEY: STRIPE_KEY, JOBS_ENABLED: 'false' })).toBe(
      'Invalid environment variable JOBS_ENABLED: expected true (or unset) when PROCESS_ROLE=worker',
    );
  });

  it('takes the applier’s poll interval from WEBHOOK_POLL_SECONDS (5 by default) and refuses one out of range', () => {
    expect(loadConfig({}).webhooks.pollSeconds).toBe(5);
    expect(loadConfig({ WEBHOOK_POLL_SECONDS: '3600' }).webhooks.pollSeconds).toBe(3600);
    expect(configError({ WEBHOOK_POLL_SECONDS: '0' })).toBe('Invalid environment variable WEBHOOK_POLL_SECONDS: expected an integer from 1 to 3600');
  });

  it('takes MAKE_ROUTES_OVERWRITE as true or false only', () => {
    expect(loadConfig({}).make.overwriteRoutes).toBe(false);
    expect(loadConfig({ MAKE_ROUTES_OVERWRITE: 'true' }).make.overwriteRoutes).toBe(true);
    expect(configError({ MAKE_ROUTES_OVERWRITE: 'yes' })).toBe('Invalid environment variable MAKE_ROUTES_OVERWRITE: expected true or false');
  });
});

describe('Make routes every process agrees on', () => {
  let testDb: TestDb;
  beforeAll(async () => {
    testDb = await createTestDb();
  });
  afterAll(() => testDb.close());

  const ADD_PROJECT = 'https://hook.eu1.make.com/add-project-first';
  const OTHER_ADD_PROJECT = 'https://hook.eu1.make.com/add-project-other';
  const REFUNDS = 'https://hook.eu1.make.com/refunds';
  const isSandboxRoute = (url: string) => url.includes('/sandbox/make/');

  it('first start: the database holds none, and the process’s routes are written', async () => {
    await testDb.db.query('delete from make_routes');
    expect(await seatMakeRoutes(testDb.db, { add_project: ADD_PROJECT, refund_completed: REFUNDS }, { overwrite: false })).toEqual({ outcome: 'first' });
    expect(await readMakeRoutes(testDb.db)).toEqual({ add_project: ADD_PROJECT, refund_completed: REFUNDS });
  });

  it('agree: a process with the same routes starts and writes nothing', async () => {
    const before = await testDb.db.query('select kind, updated_at from make_routes order by kind');
    expect(await seatMakeRoutes(testDb.db, { refund_completed: REFUNDS, add_project: ADD_PROJECT }, { overwrite: false })).toEqual({ outcome: 'same' });
    expect((await testDb.db.query('select kind, updated_at from make_routes order by kind')).rows).toEqual(before.rows);
  });

  it('differ: a process with another add_project URL is refused, naming the variable and never a URL, and writes nothing', async () => {
    const refused = seatMakeRoutes(testDb.db, { add_project: OTHER_ADD_PROJECT, refund_completed: REFUNDS }, { overwrite: false });
    await expect(refused).rejects.toBeInstanceOf(MakeRoutesDisagreeError);
    const error = (await refused.catch((e: unknown) => e)) as MakeRoutesDisagreeError;
    expect(error.variable).toBe('MAKE_ADD_PROJECT_WEBHOOK_URL');
    expect(error.kinds).toEqual(['add_project']);
    expect(error.message).toBe(
      'MAKE_ADD_PROJECT_WEBHOOK_URL differs from the Make routes in the database (another process\'s) for add_project: set the same MAKE_ADD_PROJECT_WEBHOOK_URL and MAKE_WEBHOOK_URLS in every process, or start one process once with MAKE_ROUTES_OVERWRITE=true to replace them',
    );
    expect(error.message).not.toContain('hook.eu1');
    expect(await readMakeRoutes(testDb.db)).toEqual({ add_project: ADD_PROJECT, refund_completed: REFUNDS });
  });

  it('differ: a process missing a kind (no MAKE_WEBHOOK_URLS) is refused, naming MAKE_WEBHOOK_URLS', async () => {
    const error = (await seatMakeRoutes(testDb.db, { add_project: ADD_PROJECT }, { overwrite: false }).catch((e: unknown) => e)) as MakeRoutesDisagreeError;
    expect(error).toBeInstanceOf(MakeRoutesDisagreeError);
    expect(error.variable).toBe('MAKE_WEBHOOK_URLS');
    expect(error.kinds).toEqual(['refund_completed']);
    expect(await readMakeRoutes(testDb.db)).toEqual({ add_project: ADD_PROJECT, refund_completed: REFUNDS });
  });

  it('differ: a process with no Make configured at all is refused too (it would stop every process’s deliveries)', async () => {
    await expect(seatMakeRoutes(testDb.db, {}, { overwrite: false })).rejects.toBeInstanceOf(MakeRoutesDisagreeError);
    expect(await readMakeRoutes(testDb.db)).toEqual({ add_project: ADD_PROJECT, refund_completed: REFUNDS });
  });

  it('MAKE_ROUTES_OVERWRITE=true replaces them, and then the others must agree with the new routes', async () => {
    expect(await seatMakeRoutes(testDb.db, { add_project: OTHER_ADD_PROJECT }, { overwrite: true })).toEqual({ outcome: 'overwritten', kinds: ['add_project', 'refund_completed'] });
    expect(await readMakeRoutes(testDb.db)).toEqual({ add_project: OTHER_ADD_PROJECT });
    await expect(seatMakeRoutes(testDb.db, { add_project: ADD_PROJECT, refund_completed: REFUNDS }, { overwrite: false })).rejects.toBeInstanceOf(MakeRoutesDisagreeError);
  });

  it('routes a sandbox-mode server wrote to its own sink are replaced without asking: nobody configured them', async () => {
    await testDb.db.query('delete from make_routes');
    await testDb.db.query(`insert into make_routes (kind, url) values ('add_project', 'http://127.0.0.1:41234/sandbox/make/add_project')`);
    expect(await seatMakeRoutes(testDb.db, { add_project: ADD_PROJECT }, { overwrite: false, isSandboxRoute })).toEqual({ outcome: 'first' });
    expect(await readMakeRoutes(testDb.db)).toEqual({ add_project: ADD_PROJECT });
  });
});

describe('a sandbox-mode process (no MAKE_* variables) on a database others use', () => {
  let testDb: TestDb;
  const silent = createLogger({ level: 'silent' });
  beforeAll(async () => {
    testDb = await createTestDb();
  });
  afterAll(() => testDb.close());

  it('refuses to start over configured Make routes, naming the kinds and never a URL, and writes nothing', { timeout: 120_000 }, async () => {
    await testDb.db.query('delete from make_routes');
    await seatMakeRoutes(testDb.db, { add_project: 'https://hook.eu1.make.com/real' }, { overwrite: false });
    const error = (await startApp(testConfig({}), silent, { db: testDb.db }).catch((e: unknown) => e)) as SandboxMakeRoutesError;
    expect(error).toBeInstanceOf(SandboxMakeRoutesError);
    expect(error.kinds).toEqual(['add_project']);
    expect(error.message).not.toContain('\n');
    expect(error.message).not.toContain('hook.eu1');
    expect(await readMakeRoutes(testDb.db)).toEqual({ add_project: 'https://hook.eu1.make.com/real' });
  });

  it('seats its sink routes over none or over another sandbox server’s', { timeout: 120_000 }, async () => {
    await testDb.db.query('delete from make_routes');
    await testDb.db.query(`insert into make_routes (kind, url) values ('add_project', 'http://127.0.0.1:41234/sandbox/make/add_project')`);
    const app = await startApp(testConfig({}), silent, { db: testDb.db });
    try {
      const routes = await readMakeRoutes(testDb.db);
      expect(routes.add_project).toMatch(/\/sandbox\/make\//);
      expect(routes.add_project).not.toBe('http://127.0.0.1:41234/sandbox/make/add_project');
    } finally {
      await app.stop();
    }
  });
});

describe('retention settings every job process agrees on (pg_cron’s run reads them)', () => {
  let testDb: TestDb;
  const LIMITS = { paymentLogsDays: 365, idempotencyKeysDays: 7, webhookPayloadDays: 90, makeAttemptsDays: 90, batchSize: 1000 };
  const stored = async () => (await testDb.db.query('select payment_logs_days, batch_size from retention_settings')).rows;
  beforeAll(async () => {
    testDb = await createTestDb();
  });
  afterAll(() => testDb.close());

  it('takes RETENTION_SETTINGS_OVERWRITE as true or false only (false by default)', () => {
    expect(loadConfig({}).retention.overwriteSettings).toBe(false);
    expect(loadConfig({ RETENTION_SETTINGS_OVERWRITE: 'true' }).retention.overwriteSettings).toBe(true);
    expect(configError({ RETENTION_SETTINGS_OVERWRITE: 'yes' })).toContain('RETENTION_SETTINGS_OVERWRITE');
  });

  it('first start writes them; the same limits write nothing; others are refused in one line naming the variable, and write nothing', async () => {
    expect(await seatRetentionSettings(testDb.db, LIMITS, { overwrite: false })).toBe('first');
    expect(await stored()).toEqual([{ payment_logs_days: 365, batch_size: 1000 }]);
    expect(await seatRetentionSettings(testDb.db, LIMITS, { overwrite: false })).toBe('same');
    const error = (await seatRetentionSettings(testDb.db, { ...LIMITS, paymentLogsDays: 730 }, { overwrite: false }).catch((e: unknown) => e)) as RetentionSettingsDisagreeError;
    expect(error).toBeInstanceOf(RetentionSettingsDisagreeError);
    expect(error.variables).toEqual(['RETENTION_PAYMENT_LOGS_DAYS']);
    expect(error.message).toMatch(/^RETENTION_PAYMENT_LOGS_DAYS differs from the retention settings in the database/);
    expect(error.message).not.toContain('\n');
    expect(await stored()).toEqual([{ payment_logs_days: 365, batch_size: 1000 }]);
  });

  it('RETENTION_SETTINGS_OVERWRITE=true replaces them', async () => {
    expect(await seatRetentionSettings(testDb.db, { ...LIMITS, paymentLogsDays: 730, batchSize: 500 }, { overwrite: true })).toBe('overwritten');
    expect(await stored()).toEqual([{ payment_logs_days: 730, batch_size: 500 }]);
  });

  it('a web process writes none at start, whatever its RETENTION_*; a job process that differs refuses to start', { timeout: 120_000 }, async () => {
    const own = await createTestDb();
    const silent = createLogger({ level: 'silent' });
    try {
      await own.db.query(`insert into retention_settings (id, payment_logs_days, idempotency_keys_days, webhook_payload_days, make_attempts_days, batch_size)
        values (true, 365, 7, 90, 90, 1000)`);
      // A web process: no jobs (JOBS_ENABLED=false as PROCESS_ROLE=web makes it), default RETENTION_* (730 days).
      const web = await startApp(testConfig({ JOBS_ENABLED: 'false' }), silent, { db: own.db });
      await web.stop();
      expect((await own.db.query('select payment_logs_days from retention_settings')).rows).toEqual([{ payment_logs_days: 365 }]);
      await expect(startApp(testConfig({}), silent, { db: own.db })).rejects.toBeInstanceOf(RetentionSettingsDisagreeError);
      expect((await own.db.query('select payment_logs_days from retention_settings')).rows).toEqual([{ payment_logs_days: 365 }]);
    } finally {
      await own.close();
    }
  });
});

describe('a stored batch with events to apply NOTIFYs the workers', () => {
  let testDb: TestDb;
  let notified = 0;
  let unlisten: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    testDb = await createTestDb();
    unlisten = await testDb.db.listen!(STRIPE_EVENTS_NOTIFY_CHANNEL, () => (notified += 1));
  });
  afterAll(async () => {
    await unlisten?.();
    await testDb.close();
  });

  const store = (events: Array<{ id: string; status: 'received' | 'ignored' }>) =>
    testDb.db.query('select stripe_events_store($1::jsonb)', [
      JSON.stringify(
        events.map(({ id, status }) => ({
          id,
          type: 'checkout.session.completed',
          object_type: 'checkout.session',
          object_id: `cs_test_${id}`,
          created: 1_800_000_000,
          livemode: false,
          api_version: '2025-01-01',
          status,
          ignored_reason: status === 'ignored' ? 'unhandled event type' : null,
          payload: { id },
        })),
      ),
    ]);

  const until = async (count: number) => {
    for (let i = 0; notified < count; i++) {
      if (i > 2000) throw new Error(`NOTIFY count stayed ${notified}, expected ${count}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  it('once per batch with a new event to apply; none for a batch of repeats or of ignored events', async () => {
    const first = `evt_${randomUUID().replaceAll('-', '')}`;
    await store([{ id: first, status: 'received' }, { id: `evt_${randomUUID().replaceAll('-', '')}`, status: 'received' }]);
    await until(1);
    // A repeat delivery (nothing inserted), and a batch of ignored events alone: no NOTIFY. The next
    // batch's NOTIFY arrives after any they had sent (one connection, in commit order), so the count
    // then tells.
    await store([{ id: first, status: 'received' }]);
    await store([{ id: `evt_${randomUUID().replaceAll('-', '')}`, status: 'ignored' }]);
    await store([{ id: `evt_${randomUUID().replaceAll('-', '')}`, status: 'received' }]);
    await until(2);
    expect(notified).toBe(2);
  });

  it('not for a batch rolled back: PostgreSQL sends NOTIFY at commit only', async () => {
    const before = notified;
    await testDb.db
      .transaction(async (tx) => {
        await tx.query('select stripe_events_store($1::jsonb)', [
          JSON.stringify([{ id: `evt_${randomUUID().replaceAll('-', '')}`, type: 'checkout.session.completed', object_type: 'checkout.session', object_id: 'cs_test_rollback', created: 1_800_000_000, livemode: false, api_version: '2025-01-01', status: 'received', ignored_reason: null, payload: {} }]),
        ]);
        throw new Error('roll back');
      })
      .catch(() => undefined);
    await store([{ id: `evt_${randomUUID().replaceAll('-', '')}`, status: 'received' }]);
    await until(before + 1);
    expect(notified).toBe(before + 1);
  });
});

describe('a worker’s HTTP: its health checks only', () => {
  let testDb: TestDb;
  beforeAll(async () => {
    testDb = await createTestDb();
  });
  afterAll(() => testDb.close());

  it('answers /healthz, /readyz while the database answers and 503 while it drains, and 404 for anything else', async () => {
    let accepting = true;
    const app = createWorkerHttpApp({ db: testDb.db, logger: createLogger({ level: 'silent' }), isAcceptingTraffic: () => accepting });
    expect(await (await app.request('/healthz')).json()).toEqual({ status: 'ok', role: 'worker' });
    const ready = await app.request('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', role: 'worker', database: testDb.db.engine });
    for (const path of ['/graphql', '/webhooks/stripe', '/', '/sandbox/make/add_project']) {
      expect((await app.request(path, { method: 'POST', body: '{}' })).status, path).toBe(404);
    }
    accepting = false;
    const draining = await app.request('/readyz');
    expect(draining.status).toBe(503);
    expect(await draining.json()).toEqual({ status: 'draining', role: 'worker' });
  });
});
