// Processes for the benchmarks that compare servers per CPU (webhooks, checkout): our real server as
// users run it (compiled JavaScript when it builds, else tsx), peers in processes of their own, CPU
// time read from /proc for a process and for the PostgreSQL backends serving one database, and a
// paced (open-loop) sender whose latencies count from each request's scheduled send time.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Where the benchmark compiles the server (apart from dist/server, which `npm run build:server` owns). */
const BENCH_DIST = join(ROOT, 'dist', 'bench-server');

// ---------------------------------------------------------------------------------------------------
// CPU and memory from /proc (Linux). Elsewhere the figures are absent, not wrong.

let clockTicks: number | undefined;
const ticksPerSecond = () => (clockTicks ??= Number(tryExec('getconf', ['CLK_TCK'])) || 100);

function tryExec(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

/** utime + stime of a process in ms, or undefined when it is gone (or there is no /proc). */
export function processCpuMs(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond();
}

export interface ProcessMemory {
  rssMiB: number;
  peakRssMiB: number;
}

export function processMemory(pid: number): ProcessMemory | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMiB: kib('VmRSS') / 1024, peakRssMiB: kib('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

/** application_name of the benchmark's own connections (setup, counting, reading results): not counted. */
export const OBSERVER = 'bench-observer';

/**
 * CPU of the client backends connected to one database (not the benchmark's own, named OBSERVER): their pids from
 * pg_stat_activity, their CPU from /proc (the server must be on this machine). A backend that exits
 * during a window loses its CPU from the count; the pools measured here keep their connections.
 * Autovacuum and PostgreSQL's background processes are not counted.
 */
export class DatabaseCpu {
  /** applicationPrefix: only the backends whose application_name starts with it (one process's, e.g. `payments-ops:web`). */
  constructor(
    private readonly client: pg.Pool | pg.Client,
    private readonly applicationPrefix = '',
  ) {}

  private async backends(): Promise<number[]> {
    const { rows } = await this.client.query<{ pid: number }>(
      `select pid from pg_stat_activity
        where datname = current_database() and backend_type = 'client backend' and pid <> pg_backend_pid() and application_name <> $1
          and starts_with(application_name, $2)`,
      [OBSERVER, this.applicationPrefix],
    );
    return rows.map((row) => row.pid);
  }

  async snapshot(): Promise<Map<number, number>> {
    const cpu = new Map<number, number>();
    for (const pid of await this.backends()) {
      const ms = processCpuMs(pid);
      if (ms !== undefined) cpu.set(pid, ms);
    }
    return cpu;
  }

  /** ms of CPU since `before`: backends that appeared since count whole. */
  async since(before: Map<number, number>): Promise<number> {
    let total = 0;
    for (const [pid, ms] of await this.snapshot()) total += ms - (before.get(pid) ?? 0);
    return total;
  }
}

/** CPU spent during `work` by a process and by a database's backends, in ms. */
export interface CpuSpent {
  serverMs: number | undefined;
  databaseMs: number | undefined;
}

export async function measureCpu<T>(pid: number | undefined, database: DatabaseCpu | undefined, work: () => Promise<T>): Promise<{ result: T; cpu: CpuSpent }> {
  const serverBefore = pid === undefined ? undefined : processCpuMs(pid);
  const databaseBefore = await database?.snapshot();
  const result = await work();
  const serverAfter = pid === undefined ? undefined : processCpuMs(pid);
  const databaseMs = database && databaseBefore ? await database.since(databaseBefore) : undefined;
  return { result, cpu: { serverMs: serverBefore !== undefined && serverAfter !== undefined ? serverAfter - serverBefore : undefined, databaseMs } };
}

export const machineLoad = () =>
  `load average ${loadavg()
    .map((v) => v.toFixed(2))
    .join(' / ')} (1 / 5 / 15 min) on ${tryExec('nproc', []) || '?'} cores`;

// ---------------------------------------------------------------------------------------------------
// Our server as users run it: `node dist/server/main.js` (compiled), else `node --import tsx server/main.ts`.

export type Runner = 'compiled JavaScript (esbuild, dist/bench-server; --enable-source-maps as the image runs it)' | 'tsx (TypeScript compiled at load)';

let compiled: Promise<{ main: string | undefined; why: string }> | undefined;

/** Compiles the server once per benchmark run into dist/bench-server; undefined main: use tsx (why says why). */
function compiledServer() {
  return (compiled ??= (async () => {
    if (process.env.BENCH_SERVER_RUNNER === 'tsx') return { main: undefined, why: 'BENCH_SERVER_RUNNER=tsx' };
    try {
      const { buildServer } = await import('../scripts/build-server');
      await buildServer(BENCH_DIST);
      return { main: join(BENCH_DIST, 'server', 'main.js'), why: '' };
    } catch (error) {
      return { main: undefined, why: `the compile failed: ${error instanceof Error ? error.message : String(error)}` };
    }
  })());
}

export interface ChildServer {
  url: string;
  pid: number;
  stop: () => Promise<void>;
}

export interface RealServer extends ChildServer {
  runner: Runner;
}

/**
 * server/main.ts in a child process with `env` (over the defaults below), in a scratch working
 * directory (main.ts reads a .env there and sandbox mode writes .data/ there). Resolves once it listens.
 */
export async function startRealServer(env: Record<string, string>): Promise<RealServer> {
  const { main, why } = await compiledServer();
  if (!main && why && !startRealServer.warned) {
    startRealServer.warned = true;
    console.log(`(our server runs under tsx: ${why})`);
  }
  // BENCH_SERVER_NODE_ARGS: more node flags for our server (say --cpu-prof --cpu-prof-dir=…, which NODE_OPTIONS refuses).
  const nodeArgs = process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const args = [...nodeArgs, ...(main ? ['--enable-source-maps', main] : ['--import', import.meta.resolve('tsx'), join(ROOT, 'server', 'main.ts')])];
  const cwd = mkdtempSync(join(tmpdir(), 'bench-server-'));
  const child = spawnChild(args, cwd, {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'silent',
    CONSOLE_DIST_DIR: join(ROOT, 'dist', 'console'),
    RATE_LIMIT_API_KEY_PER_MINUTE: '0',
    RATE_LIMIT_WEBHOOK_UNVERIFIED_PER_MINUTE: '0',
    ...env,
  });
  const stop = stopper(child, () => rmSync(cwd, { recursive: true, force: true }));
  try {
    const url = await listeningUrl(child, /Health\s+(http:\/\/\S+)\/healthz/, 'our server');
    return { url, pid: child.pid!, stop, runner: main ? 'compiled JavaScript (esbuild, dist/bench-server; --enable-source-maps as the image runs it)' : 'tsx (TypeScript compiled at load)' };
  } catch (error) {
    await stop();
    throw error;
  }
}
startRealServer.warned = false;

/**
 * A script of bench/ that prints `listening on <url>`: the peers are plain JavaScript, so that no
 * loader sits between them and Node; a .ts script (the timed sandbox) runs under tsx.
 */
export async function startScript(script: string, env: Record<string, string>): Promise<ChildServer> {
  const path = join(ROOT, 'bench', script); // a path relative to bench/
  const child = spawnChild(script.endsWith('.ts') ? ['--import', import.meta.resolve('tsx'), path] : [path], ROOT, env);
  const stop = stopper(child);
  try {
    return { url: await listeningUrl(child, /listening on (http:\/\/\S+)/, script), pid: child.pid!, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** `npm run sandbox`'s script (the Stripe sandbox alone) in a child process on a free port. */
export function startSandbox(): Promise<ChildServer> {
  return startScript('../stripe-sandbox/standalone.ts', { STRIPE_SANDBOX_PORT: '0' });
}

/**
 * Children get only what they are given, over a few variables of the system: the benchmark's own
 * environment (DATABASE_URL for one) must not configure a server (a PGlite run would otherwise use
 * the PostgreSQL server's own database).
 */
const SYSTEM_VARIABLES = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ'];

function spawnChild(args: string[], cwd: string, env: Record<string, string>): ChildProcess {
  const system = Object.fromEntries(SYSTEM_VARIABLES.filter((name) => process.env[name] !== undefined).map((name) => [name, process.env[name]!]));
  return spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], env: { ...system, ...env } });
}

/** SIGTERM, then SIGKILL after 15 s; also SIGKILL if this process exits first. */
function stopper(child: ChildProcess, after?: () => void) {
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  return async () => {
    process.off('exit', kill);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(kill, 15_000);
      await exited;
      clearTimeout(timer);
    }
    after?.();
  };
}

function listeningUrl(child: ChildProcess, pattern: RegExp, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    // Generous: on the shared 2-core machine under load, a start has taken over a minute.
    const timer = setTimeout(() => reject(new Error(`${what} did not start within 180 s: ${output.slice(-500)}`)), 180_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      if (output.length < 100_000) output += chunk.toString();
      const match = pattern.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (code ${code}) before listening: ${output.slice(-500)}`));
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// Paced, open-loop load.

export interface PacedResult {
  /** Requests per second the run asked for, and what it achieved (answers / time from first send to last answer). */
  rate: number;
  achieved: number;
  /** ms from each request's scheduled send time to its answer. */
  p50: number;
  p99: number;
  max: number;
  ok: number;
  failed: number;
  errors: number;
}

export interface PacedOptions<T> {
  rate: number;
  items: T[];
  /** Requests in flight at most (one per connection); a request due while all are busy waits, and its wait counts. */
  connections: number;
  /** Resolves true when the request succeeded; `latencyMs` is its time from the scheduled send. */
  call: (connection: number, item: T, index: number) => Promise<boolean>;
  /** Called with each successful request's latency from its scheduled send time. */
  onLatency?: (index: number, latencyMs: number) => void;
}

/** Sends items[i] at start + i / rate (or as soon after as a connection is free), and measures from then. */
export function pacedRun<T>(options: PacedOptions<T>): Promise<PacedResult> {
  const { items, rate } = options;
  const interval = 1000 / rate;
  const latencies: number[] = [];
  const free = Array.from({ length: options.connections }, (_, i) => i);
  let next = 0;
  let done = 0;
  let failed = 0;
  let errors = 0;
  let timer: NodeJS.Timeout | undefined;
  const start = performance.now() + 20;
  return new Promise((resolve) => {
    const finish = () => {
      const elapsed = performance.now() - start;
      latencies.sort((a, b) => a - b);
      const at = (q: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]! : NaN);
      resolve({ rate, achieved: (latencies.length / elapsed) * 1000, p50: at(0.5), p99: at(0.99), max: at(1), ok: latencies.length, failed, errors });
    };
    const send = (connection: number, index: number) => {
      const scheduled = start + index * interval;
      options.call(connection, items[index]!, index).then(
        (ok) => {
          if (ok) {
            const latency = performance.now() - scheduled;
            latencies.push(latency);
            options.onLatency?.(index, latency);
          } else failed += 1;
        },
        () => (errors += 1),
      ).finally(() => {
        free.push(connection);
        if (++done === items.length) finish();
        else pump();
      });
    };
    const pump = () => {
      const now = performance.now();
      while (next < items.length && free.length > 0 && start + next * interval <= now) send(free.pop()!, next++);
      if (next < items.length && free.length > 0 && !timer) {
        timer = setTimeout(() => {
          timer = undefined;
          pump();
        }, Math.max(0, start + next * interval - now));
      }
    };
    if (items.length === 0) finish();
    else pump();
  });
}
