// The janitor as a job of the server (server/compose.ts): RECONCILE_INTERVAL schedules passes that
// record themselves as trigger `schedule`.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ RECONCILE_INTERVAL: '* * * * * *' });
});
afterAll(() => server?.stop());

it('runs scheduled passes on RECONCILE_INTERVAL, each a succeeded run with trigger schedule and actor janitor', async () => {
  await expect
    .poll(async () => {
      const { rows } = await server.app.db.query<{ n: number }>(`select count(*)::int as n from reconciliation_runs where trigger = 'schedule' and status = 'succeeded'`);
      return rows[0]!.n;
    }, { timeout: 15_000 })
    .toBeGreaterThanOrEqual(2);
  const { rows } = await server.app.db.query<{ actor: string; failed: number }>(
    `select min(actor) as actor, count(*) filter (where status = 'failed')::int as failed from reconciliation_runs`,
  );
  expect(rows[0]).toEqual({ actor: 'janitor', failed: 0 });
});
