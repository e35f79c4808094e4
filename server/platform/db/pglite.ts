import { mkdirSync } from 'node:fs';
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
    db = openTuned(await PGlite.create({ dataDir, startParams: pgliteStartParams(false) }), CHECKPOINT_WAL_BYTES.onDisk);
  } catch (error) {
    lock.release();
    throw error;
  }
  return { ...db, close: () => db.close().finally(lock.release) };
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
