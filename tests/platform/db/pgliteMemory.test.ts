// The embedded database's memory (issue 23): openPglite() starts PGlite's Postgres with a smaller
// buffer pool and, in memory, without recycled WAL segments or full-page images; and, since Postgres
// in single-user mode has no checkpointer, the checkpointer (pgliteCheckpointer.ts) checkpoints once
// enough WAL was written, after which the WAL segments a checkpoint no longer needs are gone.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PGlite, type PGliteOptions } from '@electric-sql/pglite';
import type { Db } from '../../../server/platform/db/db';
import { MALLOC_TUNABLES, openPglite, openPgliteWith, pgliteStartParams } from '../../../server/platform/db/pglite';
import { startPgliteCheckpointer } from '../../../server/platform/db/pgliteCheckpointer';
import { TEST_ENGINE } from '../../helpers/db';

// PGlite's own settings: nothing of the PostgreSQL suite's engine to test here.
const runsHere = TEST_ENGINE !== 'postgres';

const setting = async (db: Pick<Db, 'query'>, name: string) => (await db.query<{ setting: string }>('select current_setting($1) as setting', [name])).rows[0]!.setting;

/** About `mib` MiB of WAL: rows of incompressible text, inserted and deleted. */
async function writeWal(db: Pick<Db, 'query'>, mib: number) {
  await db.query('create table if not exists wal_filler (body text)');
  for (let i = 0; i < mib; i++) {
    await db.query(`insert into wal_filler select string_agg(md5(random()::text), '') from generate_series(1, 32) cross join generate_series(1, 1000) as n group by n`);
    await db.query('delete from wal_filler');
  }
}

const walSinceCheckpoint = async (db: Pick<Db, 'query'>) =>
  (await db.query<{ bytes: number }>('select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), redo_lsn)::float8 as bytes from pg_control_checkpoint()')).rows[0]!.bytes;
const walFiles = async (db: Pick<Db, 'query'>) => (await db.query<{ n: number }>('select count(*)::int as n from pg_ls_waldir()')).rows[0]!.n;

describe.runIf(runsHere)('openPglite in memory', () => {
  let db: Db;
  let closed = false;
  beforeAll(async () => {
    db = await openPglite();
  }, 120_000);
  afterAll(async () => {
    if (!closed) await db?.close();
  });

  it('runs with a 32 MB buffer pool, no recycled WAL segments and no full-page images', async () => {
    expect(await setting(db, 'shared_buffers')).toBe('32MB');
    expect(await setting(db, 'wal_recycle')).toBe('off');
    expect(await setting(db, 'wal_init_zero')).toBe('off');
    expect(await setting(db, 'full_page_writes')).toBe('off');
  });

  it('closes with its checkpointer stopped, and stays closed', async () => {
    closed = true;
    await db.close();
    await expect(db.query('select 1')).rejects.toThrow();
  });
});

describe('the malloc settings of the embedded default', () => {
  it("npm start gives the server process glibc's malloc settings (they must be set before node starts)", () => {
    const { scripts } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
    expect(scripts.start).toContain(`&& GLIBC_TUNABLES=${MALLOC_TUNABLES} node dist/server/main.js`);
    // The web and worker processes too, in the same sh syntax (npm runs scripts with sh on Linux).
    expect(scripts['start:web']).toContain(`&& PROCESS_ROLE=web GLIBC_TUNABLES=${MALLOC_TUNABLES} node dist/server/main.js`);
    expect(scripts['start:worker']).toContain(`&& PROCESS_ROLE=worker GLIBC_TUNABLES=${MALLOC_TUNABLES} node dist/server/main.js`);
  });

  it('npm run dev starts its server with them, unless the environment has its own', () => {
    const dev = readFileSync(new URL('../../../scripts/dev.ts', import.meta.url), 'utf8');
    expect(dev).toMatch(/spawn\(process\.execPath, \[tsx, 'watch', 'server\/main\.ts'\], \{[^}]*env: \{ GLIBC_TUNABLES: MALLOC_TUNABLES, \.\.\.process\.env \}/);
  });
});

describe.runIf(runsHere)('on disk', () => {
  it("makes a new directory in a child process (initdb's freed memory is the child's) and opens it in this one", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pglite-initdb-'));
    const create = PGlite.create.bind(PGlite);
    const found: boolean[] = [];
    // Whether the directory was already made when this process's PGlite opened it.
    (PGlite as unknown as { create: unknown }).create = (options: PGliteOptions) => {
      found.push(existsSync(join(options.dataDir ?? '', 'PG_VERSION')));
      return create(options);
    };
    try {
      const db = await openPglite(dataDir);
      try {
        expect((await db.query<{ n: number }>('select 1 as n')).rows).toEqual([{ n: 1 }]);
      } finally {
        await db.close();
      }
      expect(found).toEqual([true]);
    } finally {
      (PGlite as unknown as { create: unknown }).create = create;
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);


  it('keeps the WAL safe for crash recovery: full-page images on, segments recycled', () => {
    const params = pgliteStartParams(false);
    expect(params).toEqual(expect.arrayContaining(['shared_buffers=32MB']));
    expect(params).not.toContain('full_page_writes=off');
    expect(params).not.toContain('wal_recycle=off');
    // PGlite's own start parameters come first: single-user mode must be the first argument.
    expect(params.slice(0, PGlite.defaultStartParams.length)).toEqual(PGlite.defaultStartParams);
  });
});

describe.runIf(runsHere)('the checkpointer', () => {
  let pg: PGlite;
  let db: Db;
  beforeAll(async () => {
    pg = await PGlite.create({ startParams: pgliteStartParams(true) });
    db = openPgliteWith(pg);
  }, 120_000);
  afterAll(async () => {
    await pg?.close();
  });

  it('checkpoints once the WAL since the last checkpoint passes its limit, and the segments before it are deleted', async () => {
    // A timer that never fires during the test: checks are made by hand.
    const checkpointer = startPgliteCheckpointer(pg, { walBytes: 8 * 1024 * 1024, everyMs: 3_600_000 });
    try {
      await pg.exec('checkpoint');
      expect(await checkpointer.check()).toBe(false);

      await writeWal(db, 24);
      const written = await walSinceCheckpoint(db);
      expect(written).toBeGreaterThan(8 * 1024 * 1024);
      const filesBefore = await walFiles(db);
      expect(filesBefore).toBeGreaterThan(2);

      expect(await checkpointer.check()).toBe(true);
      expect(await walSinceCheckpoint(db)).toBeLessThan(written);
      // Not recycled (wal_recycle off): only the current segment and the one holding the redo point are left.
      expect(await walFiles(db)).toBeLessThanOrEqual(2);
      expect(await checkpointer.check()).toBe(false);
    } finally {
      await checkpointer.stop();
    }
  }, 120_000);

  it('stops: no check runs after stop()', async () => {
    const checkpointer = startPgliteCheckpointer(pg, { walBytes: 1, everyMs: 3_600_000 });
    await checkpointer.stop();
    await writeWal(db, 1);
    expect(await checkpointer.check()).toBe(false);
  }, 120_000);
});
