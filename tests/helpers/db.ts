// A fresh, migrated database for one test file, on the engine the suite runs against:
// in-memory PGlite by default (`npm test`), a new database on the PostgreSQL server at DATABASE_URL
// when TEST_ENGINE=postgres (`npm run test:pg`). Every test file gets its own database, so files run
// in parallel without seeing each other's rows.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { inject } from 'vitest';
import pg from 'pg';
import type { Db } from '../../server/platform/db/db';
import { migrate } from '../../server/platform/db/migrate';
import { openPglite, openPgliteWith } from '../../server/platform/db/pglite';
import { openPostgres } from '../../server/platform/db/postgres';

export const TEST_ENGINE: 'pglite' | 'postgres' = process.env.TEST_ENGINE === 'postgres' ? 'postgres' : 'pglite';

export interface TestDb {
  db: Db;
  /** The connection URL of this test's database (PostgreSQL only). */
  url: string | undefined;
  close: () => Promise<void>;
}

export function postgresServerUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('TEST_ENGINE=postgres needs DATABASE_URL pointing at a PostgreSQL server (see README: extra suites)');
  return url;
}

/** An empty database (no migrations), for tests of the migration runner itself. */
export async function createEmptyTestDb(): Promise<TestDb> {
  if (TEST_ENGINE === 'pglite') {
    const db = await openPglite();
    return { db, url: undefined, close: () => db.close() };
  }
  const serverUrl = postgresServerUrl();
  const name = `test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const db = openPostgres(url.toString(), { max: 10 });
  return {
    db,
    url: url.toString(),
    async close() {
      await db.close();
      const dropper = new pg.Client({ connectionString: serverUrl });
      await dropper.connect();
      await dropper.query(`drop database if exists ${name} with (force)`);
      await dropper.end();
    },
  };
}

export async function createTestDb(): Promise<TestDb> {
  if (TEST_ENGINE === 'pglite') {
    // A copy of the migrated template that globalSetup built once for the whole run.
    const template = new Blob([readFileSync(inject('pgliteTemplate'))]);
    const db = openPgliteWith(await PGlite.create({ loadDataDir: template }));
    await migrate(db); // a no-op on the template; keeps the "migrated" promise honest
    return { db, url: undefined, close: () => db.close() };
  }
  const testDb = await createEmptyTestDb();
  await migrate(testDb.db);
  return testDb;
}
