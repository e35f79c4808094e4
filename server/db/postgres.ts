import pg from 'pg';
import type { Db, Queryable, QueryResult, SqlParam } from './db';

// Return bigint columns (int8) as JavaScript numbers when they are safe integers, as PGlite does,
// so both adapters hand the same row shapes to the code above them. Amounts in minor units stay far
// below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => {
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : (BigInt(value) as unknown as number);
});

function wrap(client: pg.Pool | pg.PoolClient): Queryable {
  return {
    async query<Row>(sql: string, params: readonly SqlParam[] = []): Promise<QueryResult<Row>> {
      const result = await client.query(sql, params as unknown[]);
      return { rows: result.rows as Row[], rowCount: result.rowCount ?? result.rows.length };
    },
    async exec(sql: string): Promise<void> {
      await client.query(sql);
    },
  };
}

export function openPostgres(url: string, options: { max?: number; applicationName?: string } = {}): Db {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'payments-ops',
  });
  // An idle client that loses its connection emits here; without a listener Node would crash.
  pool.on('error', () => {});
  return {
    engine: 'postgres',
    ...wrap(pool),
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('begin');
        const result = await fn(wrap(client));
        // COMMIT of a transaction in which a statement failed (the error caught inside fn) rolls back
        // without raising; refuse to report it as committed, as PGlite does.
        const committed = await client.query('commit');
        if (committed.command === 'ROLLBACK') throw new Error('Transaction was rolled back instead of committed: a statement in it failed');
        return result;
      } catch (error) {
        await client.query('rollback').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}
