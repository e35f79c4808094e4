// A web or a worker process names its PostgreSQL connections after its role, so that pg_stat_activity
// tells them apart (an operator's view of one database shared by many processes, and the checkout
// benchmark, which counts the web process's backends alone); a process running everything keeps the
// plain name.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../server/config';
import { openDb } from '../../../server/platform/db/open';
import { createEmptyTestDb, TEST_ENGINE, type TestDb } from '../../helpers/db';

const URL_ENV = { DATABASE_URL: 'postgresql://u:p@localhost:5432/db', STRIPE_SECRET_KEY: 'sk_test_applicationName' };

describe('the application name of a process’s connections', () => {
  it('is payments-ops:web or payments-ops:worker by role, and unset (payments-ops) for a process running everything', () => {
    const name = (role?: string) => {
      const { database } = loadConfig({ ...URL_ENV, ...(role ? { PROCESS_ROLE: role } : {}) });
      return database.kind === 'postgres' ? database.applicationName : 'pglite';
    };
    expect(name('web')).toBe('payments-ops:web');
    expect(name('worker')).toBe('payments-ops:worker');
    expect(name()).toBeUndefined();
    expect(name('all')).toBeUndefined();
  });
});

describe.skipIf(TEST_ENGINE !== 'postgres')('the application name in pg_stat_activity (PostgreSQL)', () => {
  let testDb: TestDb;
  beforeAll(async () => {
    testDb = await createEmptyTestDb();
  });
  afterAll(async () => {
    await testDb?.close();
  });

  it('shows a web process’s pool as payments-ops:web', async () => {
    const config = loadConfig({ ...URL_ENV, DATABASE_URL: testDb.url!, PROCESS_ROLE: 'web' });
    const db = await openDb(config.database);
    try {
      const { rows } = await db.query<{ name: string }>('select application_name as name from pg_stat_activity where pid = pg_backend_pid()');
      expect(rows[0]!.name).toBe('payments-ops:web');
    } finally {
      await db.close();
    }
  });
});
