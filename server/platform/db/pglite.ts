import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { assertChannel, type Db, type Queryable, type QueryResult, type SqlParam } from './db';
import { startPgliteCheckpointer } from './pgliteCheckpointer';
import { lockPgliteDir } from './pgliteLock';

function wrap(target: PGlite | Transaction): Queryable {
  return {
    async query<Row>(sql: string, params: readonly SqlParam[] = []): Promise<QueryResult<Row>> {
      const result = await target.query<Row>(sql, params as unknown[]);
      // PGlite reports affectedRows 0 for a SELECT; node-postgres's rowCount is then the rows returned.
      return { rows: result.rows, rowCount: Math.max(result.affectedRows ?? 0, result.rows.length) };
    },
    async exec(sql: string): Promise<void> {
      await target.exec(sql);
    },
  };
}

const MiB = 1024 * 1024;

/**
 * Postgres settings for the embedded database, on top of PGlite's own start parameters (each `-c`
 * wins over the postgresql.conf that PGlite's initdb wrote, so existing directories get them too).
 * They keep the process's memory down (issue 23: the webhook benchmark ended at 900 MiB RSS):
 * - shared_buffers 32MB, not initdb's 128MB: PGlite's Postgres touches its whole buffer pool in the
 *   WebAssembly heap, which never shrinks (about 120 MiB of RSS from the start). The data files are
 *   in this process's memory or the OS page cache anyway, so a smaller pool costs a copy on a miss,
 *   never a disk read.
 * In memory only, where WAL segments are ArrayBuffers of this process and nothing survives a crash:
 * - wal_recycle off: a segment a checkpoint no longer needs is deleted, not kept (16 MiB each) for reuse;
 * - wal_init_zero off: a new segment is made at its size at once, not grown by 8 KB writes of zeros,
 *   each growth a larger copy of its ArrayBuffer left for the allocator to keep;
 * - full_page_writes off: page images guard against torn writes during a crash recovery that an
 *   in-memory database never has; without them it writes about half the WAL.
 */
export function pgliteStartParams(inMemory: boolean): string[] {
  const settings = ['shared_buffers=32MB', ...(inMemory ? ['wal_recycle=off', 'wal_init_zero=off', 'full_page_writes=off'] : [])];
  return [...PGlite.defaultStartParams, ...settings.flatMap((setting) => ['-c', setting])];
}

/**
 * glibc malloc settings for the process running the embedded database, which `npm start` puts in the
 * environment (package.json: glibc reads them once, before node starts; other C libraries ignore them),
 * as do `npm run dev` (scripts/dev.ts) and, for one way of starting the server, `start:web` and
 * `start:worker`, whose processes run on PostgreSQL, where big short-lived blocks are rarer.
 * Much of what PGlite's process allocates is big and short-lived (V8's background WebAssembly compiles,
 * PGlite's copies of its files and messages); with glibc's defaults, freed memory stayed with malloc
 * for the process's life (issue 23: about 60 MiB of RSS under the webhook benchmark's load):
 * - mmap_threshold 128 KiB, fixed: blocks from 128 KiB are mapped apart and unmapped when freed; by
 *   default the threshold rises after each such free (up to 32 MiB), and freed big blocks then stay;
 * - trim_threshold 128 KiB, fixed: free memory at the top of a heap above that is given back at once.
 * Tried and not kept: arena_max=2 (the brk heap grew by more than the arenas shrank).
 */
export const MALLOC_TUNABLES = 'glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072';

/**
 * When the checkpointer (pgliteCheckpointer.ts) checkpoints: in memory, after 32 MiB of WAL, which
 * bounds the WAL held in memory to about that and a segment; on disk, after 256 MiB (a quarter of
 * Postgres's max_wal_size), where the WAL costs disk space and recovery time, not memory.
 */
const CHECKPOINT_WAL_BYTES = { inMemory: 32 * MiB, onDisk: 256 * MiB };
const CHECKPOINT_CHECK_MS = 1000;

/**
 * Embedded Postgres (WASM). `dataDir` undefined keeps the database in memory (tests); a path keeps it
 * on disk (`npm start`). PGlite has a single connection and serialises transactions itself, so a
 * transaction here blocks other queries until it ends, as a table lock would on PostgreSQL.
 */
export async function openPglite(dataDir?: string): Promise<Db> {
  if (!dataDir) return openTuned(await PGlite.create({ startParams: pgliteStartParams(true) }), CHECKPOINT_WAL_BYTES.inMemory);
  mkdirSync(dataDir, { recursive: true });
  // A directory on disk is one process's at a time (pgliteLock.ts): the server's, or the CLI's.
  const lock = lockPgliteDir(dataDir);
  let db: Db;
  try {
    if (!existsSync(join(dataDir, 'PG_VERSION'))) await initdbInChild(dataDir);
    db = openTuned(await PGlite.create({ dataDir, startParams: pgliteStartParams(false) }), CHECKPOINT_WAL_BYTES.onDisk);
  } catch (error) {
    lock.release();
    throw error;
  }
  return { ...db, close: () => db.close().finally(lock.release) };
}

/**
 * Makes a new data directory in a short-lived child process (PGlite's initdb), so that the server opens
 * an existing one. PGlite's initdb runs a second Postgres instance beside the first, in memory of this
 * process; what it frees stays with glibc's malloc (about 100 MiB of RSS for the server's life, issue
 * 23), whereas a child's memory goes back to the system when it exits. A directory with PG_VERSION is
 * complete: PGlite writes the data files first, and an interrupted initdb leaves a directory that a
 * second attempt finishes (PGlite tolerates a non-empty directory) or reports.
 */
async function initdbInChild(dataDir: string): Promise<void> {
  // CommonJS and the package's resolved path, so the child needs no loader and no working directory.
  const pglite = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  const script =
    'const { PGlite } = require(process.argv[1]);' +
    'PGlite.create({ dataDir: process.argv[2] }).then((pg) => pg.close()).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });';
  try {
    await promisify(execFile)(process.execPath, ['-e', script, pglite, dataDir], { maxBuffer: 16 * MiB });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`Could not create the PGlite data directory ${dataDir}${stderr ? `: ${stderr}` : ''}`, { cause: error });
  }
}

/** The Db port over a PGlite this module started, with the checkpoints single-user mode never makes. */
function openTuned(pg: PGlite, checkpointWalBytes: number): Db {
  const db = openPgliteWith(pg);
  const checkpointer = startPgliteCheckpointer(pg, { walBytes: checkpointWalBytes, everyMs: CHECKPOINT_CHECK_MS });
  return { ...db, close: () => checkpointer.stop().then(db.close) };
}

/** The Db port over a PGlite instance made elsewhere (e.g. loaded from a data-directory tarball). */
export function openPgliteWith(pg: PGlite): Db {
  return {
    engine: 'pglite',
    ...wrap(pg),
    transaction: (fn) => pg.transaction((tx) => fn(wrap(tx))),
    async listen(channel, onNotify) {
      return pg.listen(assertChannel(channel), () => onNotify());
    },
    close: () => pg.close(),
  };
}
