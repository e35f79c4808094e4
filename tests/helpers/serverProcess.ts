// The real server as `npm start` runs it (server/main.ts), in a child process of its own, so that a
// test can kill it the way a crash does (SIGKILL: no shutdown hook, no drain, nothing flushed) and
// start another on the same database. Also the database such processes share: a file-backed PGlite
// directory, or a throwaway database on the PostgreSQL server when TEST_ENGINE=postgres.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { inject } from 'vitest';
import type { Db } from '../../server/platform/db/db';
import { migrate } from '../../server/platform/db/migrate';
import { openPgliteWith } from '../../server/platform/db/pglite';
import { openPostgres } from '../../server/platform/db/postgres';
import { createTestDb, TEST_ENGINE } from './db';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'server', 'main.ts');
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  /** The base URL from the start-up banner. */
  url: string;
  pid: number;
  /** Everything the process wrote so far (stdout, then stderr), for failure messages. */
  output: () => string;
  /** Resolves once the process has exited. */
  exited: Promise<Exit>;
  /** Sends the signal (if the process still runs) and waits for the exit. */
  kill: (signal: 'SIGKILL' | 'SIGTERM') => Promise<Exit>;
}

/** Every process started here and not yet exited, for afterAll to kill whatever a failed test left. */
const running = new Set<ServerProcess>();

/** A server process spawned and not (necessarily) started yet: what a test can watch while it starts. */
export interface SpawnedServerProcess {
  pid: number;
  /** Everything the process wrote so far (stdout, then stderr). */
  output: () => string;
  exited: Promise<Exit>;
  kill: (signal: 'SIGKILL' | 'SIGTERM') => Promise<Exit>;
  /** Resolves once the banner names the URL; rejects if the process exits first or prints none in time. */
  started: Promise<ServerProcess>;
}

/**
 * Starts server/main.ts with exactly this environment (plus PATH and the test defaults below, the janitor off among them: nothing
 * else leaks in from the test run) and resolves once its banner names its URL. `cwd` should be a
 * directory of the test's own: main.ts reads `.env` from it, and sandbox mode keeps its dev
 * credentials in `.data/` under it.
 */
export async function startServerProcess(env: Record<string, string>, options: { cwd: string; startTimeoutMs?: number }): Promise<ServerProcess> {
  return spawnServerProcess(env, options).started;
}

/** As startServerProcess, but hands the process over at once, for a test that acts while it starts. */
export function spawnServerProcess(env: Record<string, string>, options: { cwd: string; startTimeoutMs?: number }): SpawnedServerProcess {
  const child: ChildProcess = spawn(process.execPath, ['--import', TSX_LOADER, MAIN], {
    cwd: options.cwd,
    env: {
      PATH: process.env.PATH ?? '',
      ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
      CONSOLE_DIST_DIR: join(ROOT, 'dist', 'console'),
      // No janitor pass at a 5-minute mark in the middle of a test, unless the test asks for one.
      RECONCILE_INTERVAL: 'off',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const output = () => `--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const kill = async (signal: 'SIGKILL' | 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  // Until the banner, this process is killed by killServerProcesses too.
  const spawned: ServerProcess = { url: '', pid: child.pid!, output, exited, kill };
  running.add(spawned);
  void exited.then(() => running.delete(spawned));

  const timeoutMs = options.startTimeoutMs ?? 90_000;
  const started = new Promise<ServerProcess>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the server process printed no banner within ${timeoutMs} ms\n${output()}`));
    }, timeoutMs);
    const onData = () => {
      // Every role prints its health URL (a worker has no GraphQL line).
      const match = /Health\s+(http:\/\/\S+)\/healthz/.exec(stdout);
      if (!match) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      spawned.url = match[1]!;
      resolve(spawned);
    };
    child.stdout!.on('data', onData);
    void exited.then((exit) => {
      clearTimeout(timer);
      reject(new Error(`the server process exited before it started (${JSON.stringify(exit)})\n${output()}`));
    });
  });
  // A caller that watches `exited` instead must not see an unhandled rejection.
  started.catch(() => undefined);
  return { pid: child.pid!, output, exited, kill, started };
}

/** Kills (SIGKILL) every server process this file started that is still running. */
export async function killServerProcesses(): Promise<void> {
  await Promise.all([...running].map((server) => server.kill('SIGKILL')));
}

export interface ProcessDatabase {
  /** What a server process needs to use this database: PGLITE_DATA_DIR or DATABASE_URL. */
  env: Record<string, string>;
  /** A scratch directory beside it, for the server processes' working directory. */
  workDir: string;
  /**
   * Opens the database in the test's own process; the caller closes it. PGlite lets one process at a
   * time have its directory open: close it before a server process starts, and open it only after
   * that process has exited.
   */
  open: () => Promise<Db>;
  /** Removes the directory, or drops the database. Safe to call twice. */
  destroy: () => Promise<void>;
}

/** A fresh, migrated database that outlives the processes using it, on the engine the suite runs on. */
export async function createProcessDatabase(): Promise<ProcessDatabase> {
  const workDir = mkdtempSync(join(tmpdir(), 'payments-ops-process-'));
  if (TEST_ENGINE === 'postgres') {
    const testDb = await createTestDb();
    const url = testDb.url!;
    let destroyed: Promise<void> | undefined;
    return {
      env: { DATABASE_URL: url },
      workDir,
      open: async () => openPostgres(url, { max: 4, applicationName: 'payments-ops-test' }),
      destroy: () =>
        (destroyed ??= (async () => {
          rmSync(workDir, { recursive: true, force: true });
          await testDb.close(); // drops the database, with force: whatever a killed process left connected
        })()),
    };
  }
  // A copy of the migrated template globalSetup built, unpacked into a directory on disk.
  const dataDir = join(workDir, 'pglite');
  let loaded = false;
  return {
    env: { PGLITE_DATA_DIR: dataDir },
    workDir,
    async open() {
      const pg = loaded
        ? await PGlite.create({ dataDir })
        : await PGlite.create({ dataDir, loadDataDir: new Blob([readFileSync(inject('pgliteTemplate'))]) });
      loaded = true;
      const db = openPgliteWith(pg);
      await migrate(db); // a no-op on the template
      return db;
    },
    async destroy() {
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}
