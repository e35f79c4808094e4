// The database a command-line run uses: in-memory PGlite, or a throwaway database on the PostgreSQL
// server at DATABASE_URL, dropped at the end. (Tests pass their own: tests/helpers/db.ts.)
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Db } from '../server/platform/db/db';
import { openPglite } from '../server/platform/db/pglite';
import { openPostgres } from '../server/platform/db/postgres';

export async function openDatabase(engine: 'pglite' | 'postgres'): Promise<{ db: Db; close: () => Promise<void> }> {
  if (engine === 'pglite') {
    const db = await openPglite();
    return { db, close: () => db.close() };
  }
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) throw new Error('--engine postgres needs DATABASE_URL (a PostgreSQL server the simulation may create a database on)');
  const name = `simulate_${randomBytes(5).toString('hex')}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const db = openPostgres(url.toString(), { max: 10 });
  return {
    db,
    async close() {
      await db.close();
      await admin(`drop database if exists ${name} with (force)`);
    },
  };
}
