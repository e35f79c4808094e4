// A PostgreSQL outage under load (issue 14, defect 1): PostgreSQL is stopped (`pg_ctl stop -m fast`,
// which terminates every connection with 57P01) while signed webhooks keep arriving, then started again.
// The server, as `npm start` runs it (server/main.ts in a child process), must stay up, answer 5xx for
// what it cannot store (never 200), say 503 on /readyz and SERVICE_UNAVAILABLE on GraphQL, and recover
// without a restart: /readyz 200, new deliveries 200, every acknowledged event applied exactly once.
//
// PostgreSQL suite only, and on a cluster of this test's own (initdb in a temporary directory, on a
// free port): stopping the shared cluster would fail every other test file running beside this one.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate } from '../../server/platform/db/migrate';
import { openPostgres } from '../../server/platform/db/postgres';
import { TEST_ENGINE } from '../helpers/db';
import { killServerProcesses, type ServerProcess, startServerProcess } from '../helpers/serverProcess';
import { deliver, newStory, type Story, storyState, WEBHOOK_TEST_SECRET } from '../helpers/webhookStory';

const STORIES = 30;

/** A PostgreSQL cluster of this file's own, run by the postgres user as .ci/start-postgres.sh does. */
interface Cluster {
  url: string;
  /** A directory beside the cluster for the server process (its .data/), removed with it. */
  workDir: string;
  stop: () => void;
  start: () => void;
  destroy: () => void;
}

function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = readdirSync(root).sort((a, b) => Number(a) - Number(b));
  if (versions.length === 0) throw new Error(`no PostgreSQL under ${root}: run .ci/start-postgres.sh once to install it`);
  return join(root, versions.at(-1)!, 'bin');
}

/** Runs a PostgreSQL tool as the postgres user (the server refuses to run as root). */
function asPostgres(command: string): void {
  if (process.getuid?.() === 0) execFileSync('su', ['postgres', '-s', '/bin/bash', '-c', command], { stdio: 'pipe' });
  else execFileSync('/bin/bash', ['-c', command], { stdio: 'pipe' });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function createCluster(): Promise<Cluster> {
  const bin = postgresBin();
  const root = mkdtempSync(join(tmpdir(), 'payments-ops-outage-'));
  chmodSync(root, 0o777); // the postgres user writes its data directory and socket here
  const data = join(root, 'data');
  const port = await freePort();
  asPostgres(`${bin}/initdb -D ${data} -U postgres --auth=trust -E UTF8 --locale=C.UTF-8`);
  const start = () =>
    asPostgres(`${bin}/pg_ctl -D ${data} -l ${root}/server.log -w -o '-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off' start`);
  start();
  let destroyed = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    workDir: mkdirSync(join(root, 'work'), { recursive: true })!,
    // Fast shutdown: every session is terminated (57P01), as when an operator or a failover stops it.
    stop: () => asPostgres(`${bin}/pg_ctl -D ${data} -m fast -w stop`),
    start,
    destroy: () => {
      if (destroyed) return;
      destroyed = true;
      try {
        asPostgres(`${bin}/pg_ctl -D ${data} -m immediate -w stop`);
      } catch {
        // already stopped
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}

type Phase = 'up' | 'stopping' | 'down' | 'starting' | 'recovered';

interface Delivery {
  eventId: string;
  /** The HTTP status, or the network error's code when no answer came. */
  status: number | string;
  startedIn: Phase;
  endedIn: Phase;
}

async function until(what: string, check: () => Promise<boolean> | boolean, server: ServerProcess, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}\n${server.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const readyz = async (url: string) => (await fetch(`${url}/readyz`)).status;

describe.skipIf(TEST_ENGINE !== 'postgres')('PostgreSQL stopped and started again under webhook load', () => {
  let cluster: Cluster | undefined;

  afterAll(async () => {
    await killServerProcesses();
    cluster?.destroy();
  });

  it('keeps the process up, answers 5xx (never 200) and /readyz 503 while down, and recovers without a restart, applying every acknowledged event once', { timeout: 300_000 }, async () => {
    cluster = await createCluster();
    const setup = openPostgres(cluster.url, { max: 2 });
    let stories: Story[];
    try {
      await migrate(setup);
      stories = [];
      for (let i = 0; i < STORIES; i++) stories.push(await newStory(setup));
    } finally {
      await setup.close();
    }
    const events = stories.flatMap((story) => [story.event('checkout.session.completed'), story.event('payment_intent.succeeded')]);
    const server = await startServerProcess({ DATABASE_URL: cluster.url, STRIPE_WEBHOOK_SECRET: WEBHOOK_TEST_SECRET, LOG_LEVEL: 'info' }, { cwd: cluster.workDir });
    let exitedEarly = false;
    void server.exited.then(() => (exitedEarly = true));

    // Stripe's side: deliveries throughout, each event again until it is acknowledged, as Stripe retries.
    let phase: Phase = 'up';
    const deliveries: Delivery[] = [];
    const acknowledged = new Set<string>();
    let sending = true;
    let next = 0;
    const sendLoop = async () => {
      while (sending) {
        const waiting = events.filter((event) => !acknowledged.has(event.id));
        if (waiting.length === 0) break;
        const event = waiting[next++ % waiting.length]!;
        const startedIn = phase;
        let status: number | string;
        try {
          status = (await deliver(server.url, event)).status;
        } catch (error) {
          status = String((error as { cause?: { code?: string } }).cause?.code ?? error);
        }
        deliveries.push({ eventId: event.id, status, startedIn, endedIn: phase });
        if (status === 200) acknowledged.add(event.id);
        // A steady load of some 100 deliveries a second over four connections, not a busy loop.
        await new Promise((resolve) => setTimeout(resolve, 40));
      }
    };
    // Several at once, so that stored batches (transactions holding a pooled connection) are in
    // progress when PostgreSQL terminates the connections.
    const sender = Promise.all([sendLoop(), sendLoop(), sendLoop(), sendLoop()]);

    await until('some events are acknowledged before the outage', () => acknowledged.size >= 10, server);

    phase = 'stopping';
    cluster.stop();
    phase = 'down';
    await until('deliveries fail during the outage', () => deliveries.filter((d) => d.startedIn === 'down').length >= 20, server);
    // The process lived through the connections being terminated (it died of an unheard 'error' before).
    expect(exitedEarly, server.output()).toBe(false);
    const readyWhileDown = await fetch(`${server.url}/readyz`);
    const graphqlWhileDown = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ pricing { name } }' }),
    });
    const graphqlBody = (await graphqlWhileDown.json()) as { errors?: { message: string; extensions: Record<string, unknown> }[] };

    phase = 'starting';
    cluster.start();
    await until('/readyz answers 200 again', async () => (await readyz(server.url)) === 200, server);
    phase = 'recovered';
    await until('every event is acknowledged', () => acknowledged.size === events.length, server);
    sending = false;
    await sender;

    // While down: the process lived, said so on /readyz, and acknowledged nothing it could not store.
    expect(readyWhileDown.status).toBe(503);
    expect(await readyWhileDown.json()).toEqual({ status: 'unavailable', reason: 'database unreachable' });
    expect(graphqlWhileDown.status).toBe(503);
    expect(graphqlWhileDown.headers.get('retry-after')).toBe('5');
    expect(graphqlBody.errors).toEqual([expect.objectContaining({ message: 'The database is unavailable at the moment: try again shortly', extensions: { code: 'SERVICE_UNAVAILABLE' } })]);
    const duringOutage = deliveries.filter((d) => d.startedIn === 'down' && d.endedIn === 'down');
    expect(duringOutage.length).toBeGreaterThanOrEqual(20);
    // Every answer a 5xx: no 200 for an event that could not be stored, and no connection reset.
    expect(duringOutage.filter((d) => typeof d.status !== 'number' || d.status < 500)).toEqual([]);
    // After: new deliveries acknowledged again, by the same process.
    expect(deliveries.some((d) => d.startedIn === 'recovered' && d.status === 200)).toBe(true);
    expect(server.output()).not.toMatch(/unhandled|uncaught/i);

    // Every acknowledged event stored and applied exactly once: each order paid once, with one log line.
    const check = openPostgres(cluster.url, { max: 2 });
    try {
      const eventIds = events.map((event) => event.id);
      await until(
        'every acknowledged event is applied',
        async () => {
          const { rows } = await check.query<{ n: number }>(`select count(*)::int as n from stripe_events where id = any($1::text[]) and status = 'applied'`, [eventIds]);
          return rows[0]!.n === events.length;
        },
        server,
      );
      for (const story of stories) {
        expect(await storyState(check, story)).toMatchObject({
          order: { status: 'paid', sync_state: 'confirmed' },
          payments: [{ pi: story.id('pi_fixture0001'), status: 'succeeded' }],
        });
      }
      const { rows } = await check.query<{ order_id: string; n: number }>(
        `select order_id, count(*)::int as n from payment_logs where event_type = 'payment.paid' and order_id = any($1::uuid[]) group by order_id`,
        [stories.map((story) => story.orderId)],
      );
      expect(rows.map((row) => row.n)).toEqual(stories.map(() => 1));
    } finally {
      await check.close();
    }

    // And it still shuts down cleanly.
    expect(await server.kill('SIGTERM'), server.output()).toEqual({ code: 0, signal: null });
  });
});
