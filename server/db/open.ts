import type { Config } from '../config';
import type { Db } from './db';
import { openPglite } from './pglite';
import { openPostgres } from './postgres';

export async function openDb(database: Config['database']): Promise<Db> {
  return database.kind === 'postgres' ? openPostgres(database.url, { max: database.poolMax }) : openPglite(database.dataDir);
}
