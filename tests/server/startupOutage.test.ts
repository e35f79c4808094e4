// A process whose database is away while it starts (issue 24): PostgreSQL unreachable when the process
// starts, or the connection cut in the middle of its start (migrations, seating the Make routes and the
// retention limits, LISTEN). The process, as users start it (server/main.ts in a child process), must
// say it waits for the database (never the password), retry each step with backoff, answer /healthz
// 200 and /readyz 503 meanwhile, and become ready once the database is back; SIGTERM while it waits
// ends it with exit code 0.
//
// On an on-disk PGlite (the PGlite suite), SIGTERM while the first start migrates a fresh directory
// closes the database before the process exits 0: the directory is released and whole.
//
// The outage tests: PostgreSQL suite only. The database is reached through a TCP proxy of this test's own, which is not
// listening yet, or cuts every connection after a number of statements: the shared PostgreSQL server
// that other test files use is never stopped.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../server/platform/db/db';
import { PGLITE_LOCK_FILE } from '../../server/platform/db/pgliteLock';
import { TEST_ENGINE } from '../helpers/db';
import { type ExternalSandbox, startExternalSandbox } from '../helpers/externalSandbox';
import { createProcessDatabase, killServerProcesses, type ProcessDatabase, spawnServerProcess, type SpawnedServerProcess, startServerProcess } from '../helpers/serverProcess';
import { WEBHOOK_TEST_SECRET } from '../helpers/webhookStory';

const PASSWORD = 'start-outage-db-password-9f3k';
const MAKE_SECRET = 'startup-outage-make-signing-secret';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A proxy in front of PostgreSQL that can cut every connection once the clients have sent `cutAfter`
 * statements between them (a simple Query or a Parse message: one per statement), and then refuse
 * every new one (accepted and closed at once, as a server going down does) until healed.
 */
interface DbProxy {
  port: number;
  statements: () => number;
  cut: () => boolean;
  heal: () => void;
  close: () => Promise<void>;
}

async function startDbProxy(target: URL, options: { port?: number; cutAfter?: number } = {}): Promise<DbProxy> {
  let statements = 0;
  let refusing = false;
  let cut = false;
  const sockets = new Set<Socket>();
  const cutAll = () => {
    refusing = true;
    cut = true;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  };
  const server: Server = createServer((client) => {
    if (refusing) return void client.destroy();
    const upstream = connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    // The frontend's messages: the startup message has no type byte, every later one has.
    let buffered = Buffer.alloc(0);
    let started = false;
    client.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const header = started ? 5 : 4;
        if (buffered.length < header) break;
        const length = started ? buffered.readInt32BE(1) + 1 : buffered.readInt32BE(0);
        if (buffered.length < length) break;
        const type = started ? String.fromCharCode(buffered[0]!) : '';
        buffered = buffered.subarray(length);
        started = true;
        if (type === 'Q' || type === 'P') {
          statements += 1;
          if (options.cutAfter !== undefined && statements > options.cutAfter && !cut) return cutAll();
        }
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    statements: () => statements,
    cut: () => cut,
    heal: () => (refusing = false),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** The database's URL through the proxy, with a password in it (trust auth ignores it; the logs must not show it). */
function throughProxy(databaseUrl: string, port: number): string {
  const url = new URL(databaseUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  url.password = PASSWORD;
  return url.toString();
}

async function health(baseUrl: string) {
  const [healthz, readyz] = await Promise.all([fetch(`${baseUrl}/healthz`), fetch(`${baseUrl}/readyz`)]);
  return { healthz: healthz.status, readyz: readyz.status, ready: (await readyz.json()) as { status: string } };
}

const waitingLines = (output: string) => output.split('\n').filter((line) => line.includes('waiting for the database'));

describe.skipIf(TEST_ENGINE !== 'postgres')('a process whose database is away while it starts', () => {
  let database: ProcessDatabase;
  let stripe: ExternalSandbox;
  let db: Db;
  const proxies: DbProxy[] = [];
  const make = 'http://127.0.0.1:9/make';

  beforeAll(async () => {
    database = await createProcessDatabase();
    stripe = await startExternalSandbox();
    db = await database.open();
  }, 120_000);

  afterAll(async () => {
    await killServerProcesses();
    await Promise.all(proxies.map((proxy) => proxy.close()));
    await db?.close();
    await stripe?.close();
    await database?.destroy();
  });

  const workerEnv = (databaseUrl: string, port: number) => ({
    ...stripe.env,
    DATABASE_URL: databaseUrl,
    PORT: String(port),
    PROCESS_ROLE: 'worker',
    STRIPE_WEBHOOK_SECRET: WEBHOOK_TEST_SECRET,
    MAKE_ADD_PROJECT_WEBHOOK_URL: `${make}/add_project`,
    MAKE_SIGNING_SECRET: MAKE_SECRET,
    LOG_LEVEL: 'info',
  });

  async function expectWaiting(server: SpawnedServerProcess, port: number) {
    await expect.poll(() => waitingLines(server.output()).length, { timeout: 60_000, interval: 100 }).toBeGreaterThan(0);
    // Alive (a liveness check must not restart it: a restart would wait the same), not ready.
    await expect.poll(async () => health(`http://127.0.0.1:${port}`).catch((error: Error) => error.message), { timeout: 30_000, interval: 100 }).toEqual({
      healthz: 200,
      readyz: 503,
      ready: expect.objectContaining({ status: 'starting' }),
    });
  }

  it('starts while PostgreSQL is unreachable, says it waits, and becomes ready once the database is there', { timeout: 240_000 }, async () => {
    const dbPort = await freePort();
    const port = await freePort();
    const server = spawnServerProcess(workerEnv(throughProxy(database.env.DATABASE_URL!, dbPort), port), { cwd: database.workDir });
    await expectWaiting(server, port);
    // Retried with backoff: more than one attempt while the port stays closed.
    await expect.poll(() => waitingLines(server.output()).length, { timeout: 60_000, interval: 100 }).toBeGreaterThan(1);

    proxies.push(await startDbProxy(new URL(database.env.DATABASE_URL!), { port: dbPort }));
    const started = await server.started;
    expect(await health(started.url)).toMatchObject({ healthz: 200, readyz: 200, ready: { status: 'ready' } });
    const { rows } = await db.query<{ kind: string; url: string }>('select kind, url from make_routes');
    expect(rows).toEqual([{ kind: 'add_project', url: `${make}/add_project` }]);
    // The worker LISTENs once it is up: its two connections are there.
    await expect
      .poll(async () => (await db.query<{ n: number }>(`select count(*)::int as n from pg_stat_activity where datname = current_database() and query ilike 'listen %'`)).rows[0]!.n, { timeout: 30_000 })
      .toBe(2);

    const output = server.output();
    expect(output).not.toContain(PASSWORD);
    expect(output).not.toContain(MAKE_SECRET);
    for (const line of waitingLines(output)) expect(JSON.parse(line)).toMatchObject({ level: 40, retryInMs: expect.any(Number), step: expect.any(String) });
    expect(await server.kill('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  // The statements a worker's start sends before it is ready: the migrations' transaction, seating the
  // Make routes, seating the retention limits. A cut after each of these numbers lands in another step.
  it.each([1, 4, 9])('recovers when every connection is cut after %i statements of its start', { timeout: 240_000 }, async (cutAfter) => {
    const proxy = await startDbProxy(new URL(database.env.DATABASE_URL!), { cutAfter });
    proxies.push(proxy);
    const port = await freePort();
    const server = spawnServerProcess(workerEnv(throughProxy(database.env.DATABASE_URL!, proxy.port), port), { cwd: database.workDir });
    await expect.poll(() => proxy.cut(), { timeout: 60_000, interval: 100 }).toBe(true);
    await expectWaiting(server, port);
    proxy.heal();
    const started = await server.started;
    expect(await health(started.url)).toMatchObject({ healthz: 200, readyz: 200, ready: { status: 'ready' } });
    expect(server.output()).not.toContain(PASSWORD);
    expect(await server.kill('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('exits 0 on SIGTERM while it waits for the database', { timeout: 120_000 }, async () => {
    const dbPort = await freePort();
    const port = await freePort();
    const server = spawnServerProcess(workerEnv(throughProxy(database.env.DATABASE_URL!, dbPort), port), { cwd: database.workDir });
    await expectWaiting(server, port);
    expect(await server.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(server.output()).not.toContain(PASSWORD);
  });
});

describe.skipIf(TEST_ENGINE === 'postgres')('a process told to stop while it starts on an on-disk PGlite', () => {
  let workDir: string;
  beforeAll(() => {
    workDir = mkdtempSync(join(tmpdir(), 'payments-ops-aborted-start-'));
  });
  afterAll(async () => {
    await killServerProcesses();
    rmSync(workDir, { recursive: true, force: true });
  });

  it('closes the database before it exits 0: the directory is released, and the next start opens it and finishes the migrations', { timeout: 240_000 }, async () => {
    const dataDir = join(workDir, 'pglite');
    const port = await freePort();
    // A fresh directory: its first start makes it and applies every migration, which takes seconds.
    const server = spawnServerProcess({ PGLITE_DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'info' }, { cwd: workDir });
    // Listening while it migrates: alive, not ready.
    await expect.poll(async () => health(`http://127.0.0.1:${port}`).catch((error: Error) => error.message), { timeout: 90_000, interval: 50 }).toEqual({
      healthz: 200,
      readyz: 503,
      ready: expect.objectContaining({ status: 'starting' }),
    });
    expect(await server.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(server.output()).toContain('stopped before the start was over');
    // The database was closed before the exit: Postgres shut down (a shutdown checkpoint), not left
    // running as a crash leaves it, for the next start to recover.
    expect(controlFileState(dataDir), server.output()).toBe(DB_SHUTDOWNED);
    expect(existsSync(join(dataDir, PGLITE_LOCK_FILE))).toBe(false);

    const again = await startServerProcess({ PGLITE_DATA_DIR: dataDir }, { cwd: workDir });
    expect(await health(again.url)).toMatchObject({ healthz: 200, readyz: 200, ready: { status: 'ready' } });
    expect(controlFileState(dataDir)).toBe(DB_IN_PRODUCTION);
    expect(await again.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(controlFileState(dataDir)).toBe(DB_SHUTDOWNED);
  });
});

// Postgres's DBState (src/include/catalog/pg_control.h): what global/pg_control says of the directory.
const DB_SHUTDOWNED = 1;
const DB_IN_PRODUCTION = 6;
/** ControlFileData.state: after system_identifier (uint64), pg_control_version and catalog_version_no (uint32 each); little-endian in WASM. */
const controlFileState = (dataDir: string) => readFileSync(join(dataDir, 'global', 'pg_control')).readInt32LE(16);
