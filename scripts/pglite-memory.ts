// Where the embedded database's memory goes during a webhook load (issue 23, "Memory"): starts the real
// server on PGlite in a child process, as bench/webhooks.bench.ts does, sends signed webhook events
// over loopback HTTP (other integrations' events, then events for orders of ours), lets the applier
// drain them, and prints the server process's memory at each step: RSS, V8 heap in use, external and
// ArrayBuffer memory, the size of PGlite's WebAssembly memory and of the files of its in-memory
// filesystem (the data directory, WAL included), which live in ArrayBuffers outside the WASM heap,
// and the server process's CPU per event over each step.
//
//   npx tsx scripts/pglite-memory.ts              the embedded default as `npm start` runs it: PGlite on
//                                                 disk (a new directory, removed after), glibc malloc
//                                                 tuned by GLIBC_TUNABLES as package.json's start sets it
//   PGLITE_MEMORY_DIR=/tmp/x                      on disk in that directory (new or existing), kept
//   PGLITE_MEMORY_IN_MEMORY=1                     in-memory PGlite, as the tests and the webhook benchmark run it
//   GLIBC_TUNABLES=... (or empty: glibc's own)    the server process's malloc settings instead of npm start's
//   PGLITE_MEMORY_DEFAULTS=1                      PGlite with its own settings, its initdb in the server process,
//                                                 no checkpointer, glibc's malloc settings (before issue 23)
//   PGLITE_MEMORY_EVENTS=2000 (per applied batch), PGLITE_MEMORY_ROUNDS=3, PGLITE_MEMORY_SECONDS=3
//   PGLITE_MEMORY_NODE_FLAGS='--optimize-for-size'   node (V8) flags for the server process
//   PGLITE_MEMORY_VACUUM=1                        a database-wide VACUUM after each step (as a periodic one would)
//   PGLITE_MEMORY_HEAP_SNAPSHOT=/tmp/x.heapsnapshot   the server's V8 heap written there at the end (after a GC),
//                                                 and a summary printed of what holds it (scripts/heapSummary.ts)
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { writeHeapSnapshot } from 'node:v8';
import { PGlite } from '@electric-sql/pglite';
import Stripe from 'stripe';
import { closedLoop, KeepAliveConnections } from '../bench/load';
import { startApp } from '../server/compose';
import { loadConfig } from '../server/config';
import { MALLOC_TUNABLES, openPglite, openPgliteWith } from '../server/platform/db/pglite';
import { createLogger } from '../server/platform/observability/logger';
import { summarizeHeapSnapshot } from './heapSummary';

const SECRET = 'whsec_pgliteMemorySigningSecret0001';
const SERVE_FLAG = '--serve-for-pglite-memory';
const THIS_FILE = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EVENTS = Number(process.env.PGLITE_MEMORY_EVENTS ?? 2000);
const ROUNDS = Number(process.env.PGLITE_MEMORY_ROUNDS ?? 3);
const SECONDS = Number(process.env.PGLITE_MEMORY_SECONDS ?? 3);
const MiB = 1048576;

// ---------------------------------------------------------------------------------------------------
// The child: the server, answering SQL and memory requests over IPC.

interface Memory {
  rss: number;
  peakRss: number;
  heapUsed: number;
  heapTotal: number;
  /** Resident bytes of the WASM memory's mapping, and of malloc's (the brk heap and thread arenas). */
  wasmResident: number | undefined;
  mallocResident: number;
  external: number;
  arrayBuffers: number;
  wasm: number | undefined;
  fsFiles: number | undefined;
  wal: number | undefined;
  /** utime+stime of the server process so far, µs. */
  cpuMicros: number;
}

type Call = { id: number; op: 'query'; sql: string; params: unknown[] } | { id: number; op: 'snapshot'; path: string } | { id: number; op: 'memory' | 'files' | 'stop' };

/** The largest files of the in-memory data directory: path and MiB. */
function largestFiles(pg: PGlite): string[] {
  const fs = (pg as unknown as { mod: { FS: EmscriptenFs } }).mod.FS;
  const found: Array<[string, number]> = [];
  const walk = (dir: string) => {
    for (const name of fs.readdir(dir)) {
      if (name === '.' || name === '..') continue;
      const path = `${dir}/${name}`;
      const stat = fs.stat(path);
      if (fs.isDir(stat.mode)) walk(path);
      else found.push([path.replace('/pglite/data/', ''), stat.size]);
    }
  };
  walk('/pglite/data');
  return found
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([path, size]) => `${path} ${(size / 1048576).toFixed(1)}`);
}

/** Bytes in the files under a directory of PGlite's Emscripten filesystem (and those under pg_wal). */
function fsBytes(pg: PGlite): { files: number; wal: number } | undefined {
  const fs = (pg as unknown as { mod?: { FS?: EmscriptenFs } }).mod?.FS;
  if (!fs) return undefined;
  let files = 0;
  let wal = 0;
  const walk = (dir: string) => {
    for (const name of fs.readdir(dir)) {
      if (name === '.' || name === '..') continue;
      const path = `${dir}/${name}`;
      const stat = fs.stat(path);
      if (fs.isDir(stat.mode)) walk(path);
      else {
        files += stat.size;
        if (path.includes('/pg_wal/')) wal += stat.size;
      }
    }
  };
  walk('/pglite/data');
  return { files, wal };
}

/**
 * From /proc/self/smaps: the resident part of the mapping as large as the WASM memory (V8 commits it
 * as one mapping), and of glibc malloc's memory: [heap] and the 64 MiB-aligned anonymous regions of
 * its thread arenas (a heuristic: other anonymous mappings may land there too).
 */
function residentBytes(wasmBytes: number | undefined): { wasmResident: number | undefined; mallocResident: number } {
  let wasmResident: number | undefined;
  let mallocResident = 0;
  for (const block of readFileSync('/proc/self/smaps', 'utf8').split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
    const head = block.slice(0, block.indexOf('\n'));
    const [from, to] = head.split(' ')[0]!.split('-').map((hex) => parseInt(hex, 16)) as [number, number];
    const rss = Number(/\nRss:\s+(\d+)/.exec(block)?.[1] ?? 0) * 1024;
    const anonymous = / 00:00 0\s*$/.test(head);
    if (wasmBytes !== undefined && to - from === wasmBytes && anonymous) wasmResident = rss;
    else if (head.endsWith('[heap]') || (anonymous && from % (64 * 1048576) === 0 && to - from <= 64 * 1048576)) mallocResident += rss;
  }
  return { wasmResident, mallocResident };
}

interface EmscriptenFs {
  readdir(path: string): string[];
  stat(path: string): { mode: number; size: number };
  isDir(mode: number): boolean;
}

async function serve() {
  // The PGlite instance the server opens, kept to read its WASM memory and its filesystem.
  const instances: PGlite[] = [];
  const create = PGlite.create.bind(PGlite);
  (PGlite as unknown as { create: typeof create }).create = (async (...args: Parameters<typeof create>) => {
    const pg = await create(...args);
    instances.push(pg);
    return pg;
  }) as typeof create;

  const silent = createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, done) => done() }) });
  const config = loadConfig({ NODE_ENV: 'test', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'silent', STRIPE_WEBHOOK_SECRET: SECRET });
  const dataDir = process.env.PGLITE_MEMORY_DIR || undefined;
  const db = process.env.PGLITE_MEMORY_DEFAULTS ? openPgliteWith(await PGlite.create({ dataDir })) : await openPglite(dataDir);
  const app = await startApp(config, silent, { db });
  app.stripeSandbox?.core.events.stopAutoDelivery();
  const pg = instances[instances.length - 1];

  const memory = (): Memory => {
    const usage = process.memoryUsage();
    const heap = (pg as unknown as { mod?: { HEAPU8?: Uint8Array } } | undefined)?.mod?.HEAPU8;
    const fs = pg && !process.env.PGLITE_MEMORY_DIR ? fsBytes(pg) : undefined;
    return {
      rss: usage.rss,
      peakRss: process.resourceUsage().maxRSS * 1024,
      heapUsed: usage.heapUsed,
      heapTotal: usage.heapTotal,
      ...residentBytes(heap?.byteLength),
      external: usage.external,
      arrayBuffers: usage.arrayBuffers,
      wasm: heap?.byteLength,
      fsFiles: fs?.files,
      wal: fs?.wal,
      cpuMicros: process.cpuUsage().user + process.cpuUsage().system,
    };
  };
  process.on('message', async (call: Call) => {
    try {
      if (call.op === 'query') process.send!({ id: call.id, ok: true, result: (await app.db.query(call.sql, call.params as never)).rows });
      else if (call.op === 'memory') process.send!({ id: call.id, ok: true, result: memory() });
      else if (call.op === 'snapshot') process.send!({ id: call.id, ok: true, result: writeHeapSnapshot(call.path) });
      else if (call.op === 'files') process.send!({ id: call.id, ok: true, result: pg && !process.env.PGLITE_MEMORY_DIR ? largestFiles(pg) : [] });
      else {
        await app.stop();
        await db.close();
        process.send!({ id: call.id, ok: true, result: null }, undefined, {}, () => process.exit(0));
      }
    } catch (error) {
      process.send!({ id: call.id, ok: false, error: error instanceof Error ? error.message : String(error) });
    }
  });
  process.send!({ ready: app.url });
}

// ---------------------------------------------------------------------------------------------------
// The parent: the load, and the figures.

class Server {
  private next = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {
    child.on('message', (m: { id: number; ok: boolean; result?: unknown; error?: string }) => {
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.ok) w?.resolve(m.result);
      else w?.reject(new Error(m.error));
    });
  }
  static async start(env: NodeJS.ProcessEnv): Promise<Server> {
    const flags = (process.env.PGLITE_MEMORY_NODE_FLAGS ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...flags, '--import', 'tsx', THIS_FILE, SERVE_FLAG], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    process.once('exit', () => child.kill('SIGKILL'));
    const url = await new Promise<string>((resolve, reject) => {
      child.once('message', (m: { ready: string }) => resolve(m.ready));
      child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
    });
    return new Server(child, url);
  }
  call<T>(call: Record<string, unknown>): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ ...call, id });
    });
  }
  query<T>(sql: string, params: unknown[] = []) {
    return this.call<T[]>({ op: 'query', sql, params });
  }
}

const fixture = JSON.parse(readFileSync(new URL('../tests/webhooks/fixtures/payment_intent.succeeded.json', import.meta.url), 'utf8'));

interface Owner {
  orderId: string;
  customerId: string;
  track: string;
  attempt: number;
  amount: number;
  currency: string;
}

/** The n-th event of a run, as bench/webhooks.bench.ts makes it: its own event and PaymentIntent ids. */
function delivery(tag: string, n: number, owner: Owner | null) {
  const suffix = `${tag}${String(n).padStart(24 - tag.length, '0')}`;
  const created = Math.floor(Date.now() / 1000);
  const event = structuredClone(fixture);
  const intent = event.data.object;
  event.id = `evt_${suffix}`;
  event.created = created;
  intent.id = `pi_${suffix}`;
  intent.created = created - 142;
  intent.client_secret = `pi_${suffix}_secret_x`;
  intent.latest_charge = `ch_${suffix}`;
  if (owner) {
    intent.amount = owner.amount;
    intent.amount_received = owner.amount;
    intent.currency = owner.currency;
    intent.metadata = { order_id: owner.orderId, customer_id: owner.customerId, track: owner.track, attempt: String(owner.attempt) };
  } else {
    intent.metadata = { shop_order_id: `order-${n}`, sku: 'plan_pro' };
  }
  const body = JSON.stringify(event, null, 2);
  return { body, signature: Stripe.webhooks.generateTestHeaderString({ payload: body, secret: SECRET }) };
}

const newTag = () => randomBytes(8).toString('hex').slice(0, 8);

async function send(server: Server, senders: number, next: (i: number) => ReturnType<typeof delivery> | undefined, seconds?: number) {
  const connections = new KeepAliveConnections(server.url, senders);
  try {
    const result = await closedLoop({
      concurrency: senders,
      seconds,
      next,
      call: async (worker, d) => (await connections.post(worker, '/webhooks/stripe', { 'Content-Type': 'application/json', 'Stripe-Signature': d.signature }, d.body)) === 200,
    });
    if (result.failed + result.errors > 0) throw new Error(`${result.failed} failed, ${result.errors} errors`);
    return result;
  } finally {
    connections.close();
  }
}

async function drained(server: Server, tag: string) {
  for (;;) {
    const [row] = await server.query<{ left: number }>(`select count(*)::int as left from stripe_events where id like $1 and status = 'received'`, [`evt\\_${tag}%`]);
    if (row!.left === 0) return;
    await sleep(100);
  }
}

async function forget(server: Server, tag: string) {
  await server.query('delete from stripe_events where id like $1', [`evt\\_${tag}%`]);
  await server.query(process.env.PGLITE_MEMORY_VACUUM ? 'vacuum' : 'vacuum stripe_events');
}

/** Orders of ours through the checkout SQL functions, as the benchmark makes them. */
async function createOrders(server: Server, tag: string, count: number): Promise<Owner[]> {
  const begun = await server.query<{ n: number; attempt_id: string }>(
    `select n, r->'attempt'->>'id' as attempt_id
       from (select n, checkout_begin(jsonb_build_object(
                  'scope', 'api_key:bench', 'key', $1 || '-' || n, 'operation', 'createPaymentIntent',
                  'request_hash', encode(sha256(convert_to($1 || '-' || n, 'UTF8')), 'hex'), 'kind', 'payment_intent',
                  'track', 'business_plan_builder', 'order_id', null, 'user_id', null, 'email', $1 || '-' || n || '@bench.example',
                  'email_from_sign_in', false, 'name', null, 'metadata', '{}'::jsonb, 'actor', 'bench')) as r
               from generate_series(1, $2::int) as n) as b order by n`,
    [tag, count],
  );
  const recorded = await server.query<{ order_id: string; customer_id: string; track: string; attempt: number; amount: number; currency: string }>(
    `select r->'order'->>'id' as order_id, r->'order'->>'customer_id' as customer_id, r->'order'->>'product_id' as track,
            (r->'attempt'->>'attempt')::int as attempt, (r->'order'->>'amount')::int as amount, r->'order'->>'currency' as currency
       from unnest($2::uuid[], $3::int[]) as t(attempt_id, n),
            lateral checkout_record_attempt(jsonb_build_object(
              'attempt_id', t.attempt_id, 'object_id', 'pi_' || $1 || lpad(t.n::text, 24 - length($1), '0'),
              'client_secret', 'pi_' || $1 || lpad(t.n::text, 24 - length($1), '0') || '_secret_bench',
              'scope', 'api_key:bench', 'key', $1 || '-' || t.n, 'actor', 'bench')) as r
      order by t.n`,
    [tag, begun.map((row) => row.attempt_id), begun.map((row) => row.n)],
  );
  return recorded.map((row) => ({ orderId: row.order_id, customerId: row.customer_id, track: row.track, attempt: row.attempt, amount: row.amount, currency: row.currency }));
}

const mib = (bytes: number | undefined) => (bytes === undefined ? '-' : String(Math.round(bytes / MiB)));

/** The server's CPU time and the events sent at the last report, for the CPU per event since. */
let last = { cpuMicros: 0, events: 0 };

async function report(server: Server, label: string, events: number) {
  const m = await server.call<Memory>({ op: 'memory' });
  const cpu = events > last.events ? `  cpu ${String(Math.round((m.cpuMicros - last.cpuMicros) / (events - last.events))).padStart(5)} µs/ev` : '';
  last = { cpuMicros: m.cpuMicros, events };
  console.log(
    `${label.padEnd(26)} ${String(events).padStart(5)} ev  rss ${mib(m.rss).padStart(4)} (peak ${mib(m.peakRss).padStart(4)})  heap ${mib(m.heapUsed).padStart(3)}/${mib(m.heapTotal).padStart(3)}` +
      `  arrayBuffers ${mib(m.arrayBuffers).padStart(4)}  wasm ${mib(m.wasmResident).padStart(3)}/${mib(m.wasm).padStart(3)}  malloc ${mib(m.mallocResident).padStart(3)}` +
      `  fs ${mib(m.fsFiles).padStart(3)} (wal ${mib(m.wal)}) MiB${cpu}`,
  );
}

async function main() {
  const defaults = Boolean(process.env.PGLITE_MEMORY_DEFAULTS);
  const settings = defaults ? "PGlite's own settings, initdb in the server process, no checkpointer" : 'openPglite()';
  const madeDir = process.env.PGLITE_MEMORY_DIR || process.env.PGLITE_MEMORY_IN_MEMORY ? undefined : mkdtempSync(join(tmpdir(), 'pglite-memory-'));
  const dataDir = process.env.PGLITE_MEMORY_IN_MEMORY ? '' : process.env.PGLITE_MEMORY_DIR || madeDir!;
  // npm start's malloc settings unless told otherwise (an empty GLIBC_TUNABLES is glibc's own).
  const tunables = process.env.GLIBC_TUNABLES ?? (defaults ? '' : MALLOC_TUNABLES);
  console.log(
    `PGlite ${dataDir ? `on disk at ${dataDir}` : 'in memory'}, ${settings}, GLIBC_TUNABLES=${tunables || "(glibc's own)"}` +
      `${process.env.PGLITE_MEMORY_NODE_FLAGS ? `, node ${process.env.PGLITE_MEMORY_NODE_FLAGS}` : ''}${process.env.PGLITE_MEMORY_VACUUM ? ', VACUUM after each step' : ''}; ` +
      `load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
  );
  process.once('exit', () => madeDir && rmSync(madeDir, { recursive: true, force: true }));
  const server = await Server.start({ ...process.env, PGLITE_MEMORY_DIR: dataDir, GLIBC_TUNABLES: tunables });
  let sent = 0;
  await report(server, 'started (migrated)', sent);
  // Other integrations' events, closed loop at 1, 16 and 64 senders, as the acknowledgement runs.
  for (let round = 0; round < ROUNDS; round++) {
    for (const senders of [1, 16, 64]) {
      const tag = newTag();
      const result = await send(server, senders, (i) => delivery(tag, i + 1, null), SECONDS);
      sent += result.ok;
      await drained(server, tag);
      await forget(server, tag);
    }
    await report(server, `foreign events, round ${round + 1}`, sent);
  }
  // Batches of events for orders of ours, as the applied runs.
  for (let round = 0; round < ROUNDS; round++) {
    const tag = newTag();
    const owners = await createOrders(server, tag, EVENTS);
    const deliveries = owners.map((owner, i) => delivery(tag, i + 1, owner));
    await report(server, `orders made, batch ${round + 1}`, sent);
    const result = await send(server, 16, (i) => deliveries[i]);
    sent += result.ok;
    await drained(server, tag);
    await forget(server, tag);
    await report(server, `applied, batch ${round + 1}`, sent);
  }
  await sleep(2000);
  await report(server, 'end (2 s idle)', sent);
  const largest = await server.query<{ relation: string; mib: number; dead: number | null }>(
    `select c.relname || ' ' || c.relfilenode as relation, round(pg_relation_size(c.oid) / 1048576.0, 1)::float8 as mib, s.n_dead_tup::int as dead
       from pg_class c left join pg_stat_user_tables s on s.relid = c.oid
      where c.relkind in ('r', 'i', 't') order by pg_relation_size(c.oid) desc limit 8`,
  );
  console.log(`largest files (MiB): ${(await server.call<string[]>({ op: 'files' })).join(', ')}`);
  console.log(`largest relations: ${largest.map((r) => `${r.relation} ${r.mib} MiB${r.dead === null ? '' : ` (${r.dead} dead)`}`).join(', ')}`);
  console.log(`load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  const snapshot = process.env.PGLITE_MEMORY_HEAP_SNAPSHOT;
  if (snapshot) {
    await server.call({ op: 'snapshot', path: snapshot });
    console.log(`heap snapshot: ${snapshot}\n${summarizeHeapSnapshot(snapshot)}`);
  }
  await server.call({ op: 'stop' });
}

if (process.argv.includes(SERVE_FLAG)) await serve();
else await main();
