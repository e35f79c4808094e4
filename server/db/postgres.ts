import pg from 'pg';
import { assertChannel, type Db, type Queryable, type QueryResult, type SqlParam } from './db';

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

const RELISTEN_DELAY_MS = 1000;

/**
 * LISTEN on a client of its own (a pooled one would be handed to other queries). When the connection
 * is lost it reconnects after a second and calls onNotify once, for anything sent meanwhile.
 */
async function listenOn(url: string, applicationName: string, channel: string, onNotify: () => void, open: Set<() => Promise<void>>) {
  assertChannel(channel);
  let client: pg.Client | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const connect = async () => {
    const next = new pg.Client({ connectionString: url, application_name: `${applicationName}:listen` });
    next.on('notification', (message) => {
      if (message.channel === channel) onNotify();
    });
    const lost = () => {
      if (stopped || client !== next) return;
      client = undefined;
      next.end().catch(() => {});
      timer = setTimeout(() => void reconnect(), RELISTEN_DELAY_MS);
    };
    next.on('error', lost);
    next.on('end', lost);
    try {
      await next.connect();
      await next.query(`listen ${channel}`);
    } catch (error) {
      await next.end().catch(() => {});
      throw error;
    }
    client = next;
  };
  const reconnect = async () => {
    if (stopped) return;
    try {
      await connect();
      onNotify();
    } catch {
      timer = setTimeout(() => void reconnect(), RELISTEN_DELAY_MS);
    }
  };
  await connect();
  const unlisten = async () => {
    stopped = true;
    clearTimeout(timer);
    open.delete(unlisten);
    await client?.end().catch(() => {});
    client = undefined;
  };
  open.add(unlisten);
  return unlisten;
}

export function openPostgres(url: string, options: { max?: number; applicationName?: string } = {}): Db {
  const applicationName = options.applicationName ?? 'payments-ops';
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: applicationName,
  });
  const listeners = new Set<() => Promise<void>>();
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
    listen: (channel, onNotify) => listenOn(url, applicationName, channel, onNotify, listeners),
    async close() {
      await Promise.all([...listeners].map((unlisten) => unlisten()));
      await pool.end();
    },
  };
}
