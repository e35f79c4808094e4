// Alerts pushed to Sentry (issue 14): the alert job sends one message per onset, with a fingerprint per
// alert, nothing while the alert keeps holding, one more after it resolved and starts again, and one
// in all when several processes evaluate on one database. The real @sentry/node SDK sends; msw stands
// in for Sentry's ingest endpoint only. The server itself runs the job when its jobs are on.
import { randomUUID } from 'node:crypto';
import * as Sentry from '@sentry/node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startApp } from '../../../server/compose';
import type { Db } from '../../../server/platform/db/db';
import { openPostgres } from '../../../server/platform/db/postgres';
import { createLogger } from '../../../server/platform/observability/logger';
import { initSentry } from '../../../server/platform/observability/sentry';
import { type AlertMonitor, createAlertMonitor } from '../../../server/ops/alertMonitor';
import { createTestDb, TEST_ENGINE, type TestDb } from '../../helpers/db';
import { LogCapture, testConfig } from '../../helpers/server';
import { messageOf, type SentryEvent, sentryIngest, TEST_DSN } from './sentryIngest';

const ingest = sentryIngest();
let testDb: TestDb;
let db: Db;
let logs: LogCapture;
let monitor: AlertMonitor;

beforeAll(async () => {
  expect(ingest.start()).toBe(true);
  testDb = await createTestDb();
  db = testDb.db;
});
afterAll(async () => {
  await testDb?.close();
  await ingest.stop();
});
beforeEach(async () => {
  await db.query('delete from make_deliveries');
  await db.query('delete from stripe_events');
  await db.query('delete from ops_alerts');
  logs = new LogCapture();
  monitor = createAlertMonitor({ db, logger: createLogger({ level: 'info', destination: logs }) });
});

async function deadDelivery(q: Db = db) {
  const id = randomUUID();
  await q.query(`insert into make_deliveries (id, kind, dedupe_key, payload, status, attempts) values ($1, 'add_project', $2, '{}', 'dead', 9)`, [id, id]);
}

async function failedEvent(q: Db = db) {
  await q.query(
    `insert into stripe_events (id, type, created, livemode, payload, status)
     values ($1, 'payment_intent.succeeded', now(), false, '{}', 'failed')`,
    [`evt_${randomUUID().replaceAll('-', '')}`],
  );
}

/** Every alert message Sentry received for one alert code, once the SDK has sent what it queued. */
async function sentAlerts(code: string): Promise<SentryEvent[]> {
  expect(await Sentry.flush(5000)).toBe(true);
  return ingest.events().filter((e) => e.fingerprint?.includes(code));
}

describe('the alert job', () => {
  it('sends an alert that starts to hold to Sentry once, with its fingerprint and figures, and logs a warning', async () => {
    const before = (await sentAlerts('MAKE_DEAD')).length;
    await deadDelivery();
    await deadDelivery();

    const result = await monitor.evaluate();
    expect(result).toMatchObject({ outcome: 'evaluated', onsets: [{ code: 'MAKE_DEAD', holding: true, figures: { makeDead: 2 } }], resolved: [] });

    const sent = (await sentAlerts('MAKE_DEAD')).slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ level: 'warning', fingerprint: ['ops-alert', 'MAKE_DEAD'], tags: { alert: 'MAKE_DEAD' }, extra: { makeDead: 2 } });
    const since = (result as { onsets: Array<{ since: Date }> }).onsets[0]!.since.toISOString();
    expect(messageOf(sent[0]!)).toBe(`Make deliveries dead since ${since}. 2 Make deliveries gave up and wait to be retried or replayed.`);
    expect(logs.lines.filter((l) => l.alert === 'MAKE_DEAD')).toEqual([
      expect.objectContaining({ level: 40, figures: { makeDead: 2 }, msg: expect.stringContaining('alert holds: Make deliveries dead') }),
    ]);
  });

  it('sends nothing while the alert still holds at the next evaluations, even with other figures', async () => {
    await deadDelivery();
    await monitor.evaluate();
    const afterOnset = (await sentAlerts('MAKE_DEAD')).length;

    await deadDelivery();
    expect(await monitor.evaluate()).toMatchObject({ outcome: 'evaluated', onsets: [], resolved: [], holding: [{ code: 'MAKE_DEAD' }] });
    expect(await monitor.evaluate()).toMatchObject({ onsets: [], resolved: [] });

    expect(await sentAlerts('MAKE_DEAD')).toHaveLength(afterOnset);
    expect(logs.lines.filter((l) => l.alert === 'MAKE_DEAD' && l.level === 40)).toHaveLength(1);
  });

  // The same figures both times: the second onset must not look like a duplicate to the SDK.
  it('logs the resolution without telling Sentry, and sends the next onset again', async () => {
    const before = (await sentAlerts('WEBHOOK_FAILED')).length;
    await failedEvent();
    await monitor.evaluate();

    await db.query(`update stripe_events set status = 'applied'`);
    expect(await monitor.evaluate()).toMatchObject({ onsets: [], resolved: [{ code: 'WEBHOOK_FAILED', holding: false }] });
    expect(await sentAlerts('WEBHOOK_FAILED')).toHaveLength(before + 1);
    expect(logs.lines.filter((l) => l.alert === 'WEBHOOK_FAILED' && l.level === 30)).toEqual([
      expect.objectContaining({ msg: expect.stringContaining('alert resolved: Webhook events failed') }),
    ]);

    await failedEvent();
    expect(await monitor.evaluate()).toMatchObject({ onsets: [{ code: 'WEBHOOK_FAILED' }] });
    expect(await sentAlerts('WEBHOOK_FAILED')).toHaveLength(before + 2);

    const { rows } = await db.query<{ holding: boolean; onsets: number; resolved_at: Date | null }>(`select holding, onsets, resolved_at from ops_alerts where code = 'WEBHOOK_FAILED'`);
    expect(rows[0]).toMatchObject({ holding: true, onsets: 2, resolved_at: expect.any(Date) });
  });

  it('records every alert, orphaned payments (the open reconciliation findings) included', async () => {
    await monitor.evaluate();
    const { rows } = await db.query<{ code: string; holding: boolean }>('select code, holding from ops_alerts order by code');
    expect(rows).toEqual(
      ['MAKE_DEAD', 'ORPHANED_PAYMENTS', 'PAYMENT_FAILURE_RATE', 'PAYMENT_FINDINGS', 'SHARE_PAID_ON_CLOSED_REQUEST', 'SYNC_FAILURE_RATE', 'WEBHOOK_FAILED', 'WEBHOOK_LAG'].map((code) => ({ code, holding: false })),
    );
  });

  // Two processes' worth: on PostgreSQL each evaluator has a pool of its own, as two servers would;
  // PGlite is one process's database, so there the two share it.
  it('sends each onset once when two evaluators run at the same time on one database', async () => {
    const other = TEST_ENGINE === 'postgres' ? openPostgres(testDb.url!, { max: 2 }) : db;
    try {
      const otherLogs = new LogCapture();
      const second = createAlertMonitor({ db: other, logger: createLogger({ level: 'info', destination: otherLogs }) });
      const before = (await sentAlerts('MAKE_DEAD')).length;
      for (let round = 1; round <= 4; round++) {
        await deadDelivery();
        const results = await Promise.all([monitor.evaluate(), second.evaluate(), monitor.evaluate(), second.evaluate()]);
        const onsets = results.flatMap((r) => (r.outcome === 'evaluated' ? r.onsets : []));
        expect(onsets.map((o) => o.code)).toEqual(['MAKE_DEAD']);
        expect(await sentAlerts('MAKE_DEAD')).toHaveLength(before + round);

        await db.query('delete from make_deliveries');
        const resolutions = await Promise.all([monitor.evaluate(), second.evaluate()]);
        expect(resolutions.flatMap((r) => (r.outcome === 'evaluated' ? r.resolved.map((a) => a.code) : []))).toEqual(['MAKE_DEAD']);
      }
      expect(await sentAlerts('MAKE_DEAD')).toHaveLength(before + 4);
    } finally {
      if (other !== db) await other.close();
    }
  });
});

describe('the server', () => {
  const OVERVIEW = '{ opsOverview { webhookFailed alerts { code title message since } } }';
  // A server's stop closes Sentry (it flushes what is queued on the way out): each test starts it again.
  beforeEach(() => {
    if (!Sentry.isEnabled()) expect(initSentry({ dsn: TEST_DSN, environment: 'test' })).toBe(true);
  });

  async function startWithFailedEvent(env: Record<string, string>) {
    const serverDb = await createTestDb();
    await failedEvent(serverDb.db);
    const serverLogs = new LogCapture();
    const app = await startApp(testConfig(env), createLogger({ level: 'info', destination: serverLogs }), { db: serverDb.db });
    const overview = async () => {
      const response = await fetch(`${app.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${app.devCredentials!.supportToken}` },
        body: JSON.stringify({ query: OVERVIEW }),
      });
      return ((await response.json()) as { data: { opsOverview: { webhookFailed: number; alerts: Array<Record<string, unknown>> } } }).data.opsOverview;
    };
    return { db: serverDb.db, app, overview, logs: serverLogs, close: () => serverDb.close() };
  }

  it('runs the alert job: what holds at start is recorded and sent, and the Overview lists it with its onset', async () => {
    const before = (await sentAlerts('WEBHOOK_FAILED')).length;
    const server = await startWithFailedEvent({});
    try {
      const { rows } = await server.db.query<{ since: Date }>(`select since from ops_alerts where code = 'WEBHOOK_FAILED' and holding`);
      expect(rows).toHaveLength(1);
      expect(await sentAlerts('WEBHOOK_FAILED')).toHaveLength(before + 1);

      const overview = await server.overview();
      expect(overview.webhookFailed).toBe(1);
      expect(overview.alerts).toEqual([
        { code: 'WEBHOOK_FAILED', title: 'Webhook events failed', message: '1 Stripe event could not be applied and waits to be replayed.', since: rows[0]!.since.toISOString() },
      ]);
    } finally {
      await server.app.stop();
      await server.close();
    }
  });

  it('with JOBS_ENABLED=false runs no alert job, and the Overview still evaluates the alerts itself', async () => {
    const before = (await sentAlerts('WEBHOOK_FAILED')).length;
    const server = await startWithFailedEvent({ JOBS_ENABLED: 'false' });
    try {
      expect((await server.overview()).alerts).toEqual([expect.objectContaining({ code: 'WEBHOOK_FAILED', since: null })]);
      // With jobs on, startApp returns after the first evaluation (the test above): none ran here.
      expect((await server.db.query('select code from ops_alerts')).rows).toEqual([]);
      expect(await sentAlerts('WEBHOOK_FAILED')).toHaveLength(before);
    } finally {
      await server.app.stop();
      await server.close();
    }
  });
});
