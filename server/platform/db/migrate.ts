// Applies supabase/migrations/*.sql in order, each once, and records them where the Supabase CLI
// records its own (supabase_migrations.schema_migrations), so `supabase db push` and this runner can
// manage the same database. Files are forward-only and immutable once applied: the runner keeps a
// SHA-256 of each applied file and refuses to run if one was edited.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from './db';
import { isDatabaseUnavailable } from './errors';

export const DEFAULT_MIGRATIONS_DIR = new URL('../../../supabase/migrations/', import.meta.url).pathname;

/** Same file-name rule as the Supabase CLI: `<version>_<name>.sql`, the version being digits. */
const MIGRATION_FILE = /^(\d+)_(.+)\.sql$/;

// An arbitrary constant: the advisory lock that serialises migration runs across processes.
const MIGRATION_LOCK_KEY = 7_311_002;

export interface MigrationFile {
  version: string;
  name: string;
  sql: string;
  checksum: string;
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

export async function readMigrations(dir: string = DEFAULT_MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const migrations: MigrationFile[] = [];
  for (const file of files) {
    const match = MIGRATION_FILE.exec(file);
    if (!match) throw new MigrationError(`Migration file ${file} is not named <version>_<name>.sql`);
    const sql = await readFile(join(dir, file), 'utf8');
    migrations.push({ version: match[1]!, name: match[2]!, sql, checksum: sha256(sql) });
  }
  const versions = new Set<string>();
  for (const m of migrations) {
    if (versions.has(m.version)) throw new MigrationError(`Two migration files share the version ${m.version}`);
    versions.add(m.version);
  }
  return migrations;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

// The CLI's own table, created the way the CLI creates it, plus a side table of checksums (the CLI's
// table has no column for one, and adding a column to a table the CLI owns could break it).
const BOOKKEEPING_SQL = `
  create schema if not exists supabase_migrations;
  create table if not exists supabase_migrations.schema_migrations (
    version text primary key,
    statements text[],
    name text
  );
  create table if not exists supabase_migrations.migration_checksums (
    version text primary key,
    sha256 text not null,
    applied_at timestamptz not null default now()
  );
`;

export interface MigrateResult {
  applied: string[];
  alreadyApplied: number;
}

export async function migrate(db: Db, dir: string = DEFAULT_MIGRATIONS_DIR): Promise<MigrateResult> {
  const migrations = await readMigrations(dir);
  return db.transaction(async (tx) => {
    // One runner at a time across processes; the lock is released when this transaction ends.
    await tx.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.exec(BOOKKEEPING_SQL);
    const { rows } = await tx.query<{ version: string; sha256: string | null }>(
      `select m.version, c.sha256
         from supabase_migrations.schema_migrations m
         left join supabase_migrations.migration_checksums c using (version)`,
    );
    const applied = new Map(rows.map((r) => [r.version, r.sha256]));

    for (const m of migrations) {
      if (!applied.has(m.version)) continue;
      const recorded = applied.get(m.version);
      if (recorded === null || recorded === undefined) {
        // Applied by the Supabase CLI, which keeps no checksum: adopt the file as it is now.
        await tx.query('insert into supabase_migrations.migration_checksums (version, sha256) values ($1, $2)', [m.version, m.checksum]);
      } else if (recorded !== m.checksum) {
        throw new MigrationError(
          `Migration ${m.version}_${m.name}.sql was edited after it was applied; migrations are immutable, add a new file instead`,
        );
      }
    }

    const result: MigrateResult = { applied: [], alreadyApplied: applied.size };
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      try {
        await tx.exec(m.sql);
      } catch (error) {
        // The database gone mid-migration is no fault of the file: the transaction rolls back, and the
        // start retries (untilAvailable.ts) once it is back.
        if (isDatabaseUnavailable(error)) throw error;
        throw new MigrationError(`Migration ${m.version}_${m.name}.sql failed: ${(error as Error).message}`);
      }
      await tx.query('insert into supabase_migrations.schema_migrations (version, name, statements) values ($1, $2, $3)', [
        m.version,
        m.name,
        [m.sql],
      ]);
      await tx.query('insert into supabase_migrations.migration_checksums (version, sha256) values ($1, $2)', [m.version, m.checksum]);
      result.applied.push(`${m.version}_${m.name}`);
    }
    return result;
  });
}
