import type { Config } from '../../config';
import type { Logger } from '../observability/logger';
import type { Db } from './db';
import { openPglite } from './pglite';
import { openPostgres } from './postgres';

/** The configured database; the logger hears of connections lost outside any statement (PostgreSQL). */
export async function openDb(database: Config['database'], logger?: Logger): Promise<Db> {
  return database.kind === 'postgres' ? openPostgres(database.url, { max: database.poolMax, logger, applicationName: database.applicationName }) : openPglite(database.dataDir);
}
