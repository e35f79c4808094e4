// The server's life cycle over real HTTP: health and readiness, request ids, unknown routes, graceful
// shutdown that drains requests in flight, and the background job runner's start/stop guarantees.
import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type RunningApp, startApp } from '../../server/compose';
import type { Db, QueryResult, SqlParam } from '../../server/platform/db/db';
import { type Job, JobRunner } from '../../server/platform/jobs/runner';
import { createLogger } from '../../server/platform/observability/logger';
import { TEST_ENGINE } from '../helpers/db';
import { LogCapture, startTestServer, testConfig, type TestServer } from '../helpers/server';

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * The test database behind a seam on the readiness probe's `select 1`: `onPing` runs before it and may
 * throw (the database is down) or wait (the database is slow). Everything else passes straight through.
 */
function dbWithPingHook(inner: Db, onPing: () => Promise<void>): Db {
  return {
    engine: inner.engine,
    async query<Row>(sql: string, params?: readonly SqlParam[]): Promise<QueryResult<Row>> {
      if (sql.trim() === 'select 1') await onPing();
      return inner.query<Row>(sql, params);
    },
    exec: (sql) => inner.exec(sql),
    transaction: (fn) => inner.transaction(fn),
    close: () => inner.close(),
  };
}

/** Resolves when a TCP connection to the port opens, rejects with the socket error (ECONNREFUSED) otherwise. */
function openConnection(url: string): Promise<void> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

/** Sends raw bytes on one connection and collects everything the server writes until it closes. */
function rawExchange(url: string, request: string): { received: Promise<string> } {
  const { hostname, port } = new URL(url);
  const received = new Promise<string>((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(request));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.once('error', reject);
    socket.once('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
  return { received };
}

let server: TestServer;
const extraApps: RunningApp[] = [];

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  for (const app of extraApps) await app.stop();
  await server?.stop();
});

/** Another server on the same test database (migrations are already applied), reached through `db`. */
async function startExtraApp(db: Db) {
  const logs = new LogCapture();
  const app = await startApp(testConfig(), createLogger({ level: 'info', destination: logs }), { db });
  extraApps.push(app);
  return { app, logs };
}

describe('health and readiness', () => {
  it('answers GET /healthz with 200 ok', async () => {
    const response = await fetch(`${server.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('answers GET /readyz with 200 and the database engine when the database answers', async () => {
    const response = await fetch(`${server.url}/readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ready', database: TEST_ENGINE });
  });

  it('answers GET /readyz with 503 while the database fails, and 200 again once it is back', async () => {
    let databaseDown = false;
    const { app, logs } = await startExtraApp(
      dbWithPingHook(server.testDb.db, async () => {
        if (databaseDown) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
      }),
    );

    databaseDown = true;
    const down = await fetch(`${app.url}/readyz`);
    databaseDown = false;
    const up = await fetch(`${app.url}/readyz`);

    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ status: 'unavailable', reason: 'database unreachable' });
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ status: 'ready', database: TEST_ENGINE });
    expect(logs.lines.some((l) => l.msg === 'readiness check failed: database unreachable' && l.level === 40)).toBe(true);
  });
});

describe('routing and request ids', () => {
  it('answers an unknown route with a 404 JSON body', async () => {
    const response = await fetch(`${server.url}/no/such/route`, { headers: { accept: 'application/json' } });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ error: 'not_found', message: 'No route for GET /no/such/route' });
  });

  it('puts a fresh X-Request-Id on every response', async () => {
    const [a, b] = await Promise.all([fetch(`${server.url}/healthz`), fetch(`${server.url}/no/such/route`)]);
    const ids = [a.headers.get('x-request-id'), b.headers.get('x-request-id')];
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(ids[0]).not.toBe(ids[1]);
  });

  it('echoes a sane incoming X-Request-Id and logs the request under it', async () => {
    const response = await fetch(`${server.url}/readyz`, { headers: { 'x-request-id': 'storefront-req_42.a:b' } });
    expect(response.headers.get('x-request-id')).toBe('storefront-req_42.a:b');
    expect(server.logs.lines).toContainEqual(expect.objectContaining({ requestId: 'storefront-req_42.a:b', path: '/readyz', status: 200 }));
  });

  it('replaces an incoming X-Request-Id that is too long or has unsafe characters', async () => {
    for (const incoming of ['has spaces and <tags>', 'x'.repeat(101), 'quote"d']) {
      const response = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': incoming } });
      const id = response.headers.get('x-request-id');
      expect(id).not.toBe(incoming);
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});

describe('graceful shutdown', () => {
  it('lets a request in flight finish before stop() resolves, and refuses new connections meanwhile', async () => {
    const pingReached = deferred();
    const releasePing = deferred();
    let holdPing = true;
    const { app, logs } = await startExtraApp(
      dbWithPingHook(server.testDb.db, async () => {
        if (!holdPing) return;
        holdPing = false;
        pingReached.resolve();
        await releasePing.promise;
      }),
    );
    const servedReadyz = () => logs.lines.some((l) => l.msg === 'request' && l.path === '/readyz' && l.status === 200);
    let stopResolved = false;
    let requestServedWhenStopResolved: boolean | undefined;

    const inFlight = fetch(`${app.url}/readyz`).then(async (response) => ({ status: response.status, body: await response.json() }));
    await pingReached.promise;
    const stopped = app.stop().then(() => {
      stopResolved = true;
      requestServedWhenStopResolved = servedReadyz();
    });

    await expect(openConnection(app.url)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(stopResolved).toBe(false);

    releasePing.resolve();
    expect(await inFlight).toEqual({ status: 200, body: { status: 'ready', database: TEST_ENGINE } });
    await stopped;
    expect(requestServedWhenStopResolved).toBe(true);
    await expect(openConnection(app.url)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('closes the connection of a request that finishes during shutdown, instead of keeping it alive', async () => {
    const pingReached = deferred();
    const releasePing = deferred();
    let holdPing = true;
    const { app } = await startExtraApp(
      dbWithPingHook(server.testDb.db, async () => {
        if (!holdPing) return;
        holdPing = false;
        pingReached.resolve();
        await releasePing.promise;
      }),
    );
    // A client that would keep the connection alive (HTTP/1.1 default) for more requests.
    const exchange = rawExchange(app.url, `GET /readyz HTTP/1.1\r\nHost: ${new URL(app.url).host}\r\n\r\n`);
    await pingReached.promise;
    const stopped = app.stop();

    releasePing.resolve();
    const text = await exchange.received;
    await stopped;

    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(text).toMatch(/^connection: close\r$/im);
    expect(text).toContain('{"status":"ready","database":"' + TEST_ENGINE + '"}');
  });

  it('may be called twice; both calls resolve once the server stopped', async () => {
    const { app } = await startExtraApp(server.testDb.db);
    await Promise.all([app.stop(), app.stop()]);
    await expect(openConnection(app.url)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

describe('JobRunner', () => {
  const newRunner = () => {
    const logs = new LogCapture();
    return { runner: new JobRunner(createLogger({ level: 'info', destination: logs })), logs };
  };

  /** A job whose runs wait on a gate the test opens; it records starts, ends and the signal it got. */
  function gatedJob(name = 'gated') {
    const state = { starts: 0, ends: 0, started: deferred(), gate: deferred(), signal: undefined as AbortSignal | undefined };
    const job: Job = {
      name,
      schedule: 60_000,
      run: async (signal) => {
        state.starts += 1;
        state.signal = signal;
        state.started.resolve();
        await state.gate.promise;
        state.ends += 1;
      },
    };
    return { job, state };
  }

  afterEach(() => {
    vi.useRealTimers();
  });

  it('stop() waits for a run in flight, and signals it to wind down', async () => {
    const { runner } = newRunner();
    const { job, state } = gatedJob();
    const events: string[] = [];
    const run = runner.runOnce(job).then((outcome) => events.push(`run ${outcome}`));
    await state.started.promise;

    const stopping = runner.stop(60_000).then(() => events.push('stopped'));
    // Let every timer and I/O callback due now run: stop() must still be waiting.
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual([]);
    expect(state.signal?.aborted).toBe(true);

    state.gate.resolve();
    await Promise.all([run, stopping]);
    expect(events).toEqual(['run ran', 'stopped']);
    expect(state.ends).toBe(1);
  });

  it('starts no run after stop(), neither on demand nor on schedule', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] });
    const { runner } = newRunner();
    let runs = 0;
    const job: Job = { name: 'ticking', schedule: 1000, run: async () => void (runs += 1) };
    runner.start([job]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(runs).toBe(1);

    await runner.stop(5000);
    await vi.advanceTimersByTimeAsync(10_000);

    expect(await runner.runOnce(job)).toBe('skipped');
    expect(runs).toBe(1);
  });

  it('runOnce skips a job that is already running, then runs it again once it ended', async () => {
    const { runner } = newRunner();
    const { job, state } = gatedJob();
    const first = runner.runOnce(job);
    await state.started.promise;

    expect(await runner.runOnce(job)).toBe('skipped');
    expect(state.starts).toBe(1);

    state.gate.resolve();
    expect(await first).toBe('ran');
    expect(await runner.runOnce(job)).toBe('ran');
    expect(state.starts).toBe(2);
    await runner.stop(1000);
  });

  it('does not overlap a scheduled job with its own run still in flight', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] });
    const { runner } = newRunner();
    const { job, state } = gatedJob('slow-scheduled');
    runner.start([{ ...job, schedule: 1000 }]);

    await vi.advanceTimersByTimeAsync(5000);
    expect(state.starts).toBe(1);

    state.gate.resolve();
    await vi.advanceTimersByTimeAsync(1000);
    expect(state.starts).toBe(2);
    await runner.stop(1000);
  });

  it('logs a failing job with its name and keeps running other and later runs', async () => {
    const { runner, logs } = newRunner();
    let attempts = 0;
    const failing: Job = {
      name: 'flaky',
      schedule: 60_000,
      run: async () => {
        attempts += 1;
        throw new Error('make.com answered 502');
      },
    };
    const healthy: Job = { name: 'healthy', schedule: 60_000, run: async () => undefined };

    expect(await runner.runOnce(failing)).toBe('ran');
    expect(await runner.runOnce(healthy)).toBe('ran');
    expect(await runner.runOnce(failing)).toBe('ran');

    expect(attempts).toBe(2);
    const failures = logs.lines.filter((l) => l.msg === 'job failed');
    expect(failures).toHaveLength(2);
    expect(failures[0]).toMatchObject({ level: 50, job: 'flaky', err: { message: 'make.com answered 502' } });
    await runner.stop(1000);
  });

  it('backs a failing job off its schedule (5 s, then twice as long each time), errs once then warns, and resumes its schedule once a run succeeds', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'Date'] });
    const { runner, logs } = newRunner();
    let databaseDown = true;
    let runs = 0;
    const job: Job = {
      name: 'needs-db',
      schedule: 1000,
      run: async () => {
        runs += 1;
        if (databaseDown) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
      },
    };
    runner.start([job]);

    await vi.advanceTimersByTimeAsync(1000); // first failure at 1 s: held back until 6 s
    expect(runs).toBe(1);
    await vi.advanceTimersByTimeAsync(4999);
    expect(runs).toBe(1);
    await vi.advanceTimersByTimeAsync(1); // 6 s: second failure, held back 10 s
    expect(runs).toBe(2);
    await vi.advanceTimersByTimeAsync(9999);
    expect(runs).toBe(2);
    await vi.advanceTimersByTimeAsync(1); // 16 s: third failure, held back 20 s
    expect(runs).toBe(3);

    databaseDown = false;
    await vi.advanceTimersByTimeAsync(20_000); // 36 s: succeeds; then every second again
    expect(runs).toBe(4);
    await vi.advanceTimersByTimeAsync(2000);
    expect(runs).toBe(6);

    const failures = logs.lines.filter((l) => l.msg === 'job failed');
    expect(failures.map((l) => [l.level, l.failuresInARow, l.nextScheduledRunInMs])).toEqual([
      [50, 1, 5000],
      [40, 2, 10_000],
      [40, 3, 20_000],
    ]);
    expect(logs.lines.filter((l) => l.msg === 'job recovered')).toEqual([expect.objectContaining({ level: 30, job: 'needs-db', failuresInARow: 3 })]);
    await runner.stop(1000);
  });

  it('caps the backoff at a minute however long the failures last', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'Date'] });
    const { runner, logs } = newRunner();
    const job: Job = { name: 'always-failing', schedule: 1000, run: async () => Promise.reject(new Error('the database is unavailable')) };
    runner.start([job]);
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    const backoffs = logs.lines.filter((l) => l.msg === 'job failed').map((l) => l.nextScheduledRunInMs);
    expect(backoffs.slice(0, 6)).toEqual([5000, 10_000, 20_000, 40_000, 60_000, 60_000]);
    expect(new Set(backoffs.slice(4))).toEqual(new Set([60_000]));
    await runner.stop(1000);
  });

  it('stop() gives up waiting for a run that outlives its timeout', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { runner } = newRunner();
    const { job, state } = gatedJob('stuck');
    void runner.runOnce(job);
    await state.started.promise;

    let stopped = false;
    const stopping = runner.stop(3000).then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(2999);
    expect(stopped).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await stopping;
    expect(stopped).toBe(true);
    expect(state.ends).toBe(0);
    state.gate.resolve();
  });
});
