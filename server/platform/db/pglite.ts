import { mkdirSync } from 'node:fs';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { assertChannel, type Db, type Queryable, type QueryResult, type SqlParam } from './db';
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

/**
 * Embedded Postgres (WASM). `dataDir` undefined keeps the database in memory (tests); a path keeps it
 * on disk (`npm start`). PGlite has a single connection and serialises transactions itself, so a
 * transaction here blocks other queries until it ends, as a table lock would on PostgreSQL.
 */
export async function openPglite(dataDir?: string): Promise<Db> {
  if (!dataDir) return openPgliteWith(await PGlite.create({}));
  mkdirSync(dataDir, { recursive: true });
  // A directory on disk is one process's at a time (pgliteLock.ts): the server's, or the CLI's.
  const lock = lockPgliteDir(dataDir);
  let db: Db;
  try {
    db = openPgliteWith(await PGlite.create({ dataDir }));
  } catch (error) {
    lock.release();
    throw error;
  }
  return { ...db, close: () => db.close().finally(lock.release) };
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
