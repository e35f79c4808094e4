import pg from 'pg';
import type { Logger } from '../observability/logger';
import { assertChannel, type Db, type Queryable, type QueryResult, type SqlParam } from './db';
import { toDatabaseError } from './errors';

// Return bigint columns (int8) as JavaScript numbers when they are safe integers, as PGlite does,
// so both adapters hand the same row shapes to the code above them. Amounts in minor units stay far
// below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => {
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : (BigInt(value) as unknown as number);
});

// Without a connect timeout node-postgres waits for ever on a host that does not answer (a network
// partition, a half-dead server), and so would every request behind it; a dead peer of an open
// connection is found by TCP keep-alive rather than by the next statement hanging.
const CONNECT_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_DELAY_MS = 10_000;
// An idle pooled connection is kept for five minutes, not node-postgres's default 10 s. A connection is
// costly to make again, and more so than its fork: each backend compiles the plpgsql functions it calls
// and plans their statements afresh (custom plans for the first five calls of each), about 12 ms of
// database CPU before its checkouts cost their steady 1.5 ms (issue 23). At 10 s a shop whose traffic
// pauses for ten seconds paid that on every burst. The pool's max still bounds what is held.
const IDLE_TIMEOUT_MS = 5 * 60_000;

function wrap(client: pg.Pool | pg.PoolClient): Queryable {
  return {
    async query<Row>(sql: string, params: readonly SqlParam[] = []): Promise<QueryResult<Row>> {
      try {
        const result = await client.query(sql, params as unknown[]);
        return { rows: result.rows as Row[], rowCount: result.rowCount ?? result.rows.length };
      } catch (error) {
        throw toDatabaseError(error);
      }
    },
    async exec(sql: string): Promise<void> {
      try {
        await client.query(sql);
      } catch (error) {
        throw toDatabaseError(error);
      }
    },
  };
}

// The LISTEN connection retries after a second, then backs off to every ten seconds while the database
// stays away (the outbox's timer covers the gap: it polls every few seconds anyway).
const RELISTEN_DELAY_MS = 1000;
const RELISTEN_MAX_DELAY_MS = 10_000;

export interface PostgresOptions {
  max?: number;
  applicationName?: string;
  /** Told about connections lost outside any statement (idle pooled clients, the LISTEN connection). */
  logger?: Pick<Logger, 'warn' | 'info'>;
}

/**
 * LISTEN on a client of its own (a pooled one would be handed to other queries). When the connection
 * is lost it reconnects (after a second, then less often while it keeps failing), LISTENs again and
 * calls onNotify once, for anything sent meanwhile.
 */
async function listenOn(url: string, options: Required<Pick<PostgresOptions, 'applicationName'>> & PostgresOptions, channel: string, onNotify: () => void, open: Set<() => Promise<void>>) {
  assertChannel(channel);
  let client: pg.Client | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;
  const retryLater = () => {
    const delay = Math.min(RELISTEN_DELAY_MS * 2 ** failures, RELISTEN_MAX_DELAY_MS);
    failures += 1;
    timer = setTimeout(() => void reconnect(), delay);
  };
  const connect = async () => {
    const next = new pg.Client({
      connectionString: url,
      application_name: `${options.applicationName}:listen`,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEP_ALIVE_DELAY_MS,
    });
    next.on('notification', (message) => {
      if (message.channel === channel) onNotify();
    });
    // Both 'error' and 'end' come for one loss; only the first, on the current client, counts. The
    // listener stays on for the client's life: an 'error' without one would crash the process.
    const lost = (error?: Error) => {
      if (stopped || client !== next) return;
      client = undefined;
      options.logger?.warn({ err: error, channel }, 'database LISTEN connection lost: reconnecting');
      next.end().catch(() => {});
      retryLater();
    };
    next.on('error', lost);
    next.on('end', () => lost());
    try {
      await next.connect();
      await next.query(`listen ${channel}`);
    } catch (error) {
      await next.end().catch(() => {});
      throw error;
    }
    // unlisten() ran while this connection was being made: nobody would ever end it.
    if (stopped) {
      await next.end().catch(() => {});
      return;
    }
    client = next;
  };
  const reconnect = async () => {
    if (stopped) return;
    try {
      await connect();
    } catch {
      if (!stopped) retryLater();
      return;
    }
    if (stopped) return;
    failures = 0;
    options.logger?.info({ channel }, 'database LISTEN connection back: listening again');
    onNotify();
  };
  // A database away at start is no reason never to listen: the first failure is retried as a lost
  // connection is (the caller goes on polling meanwhile), and unlisten still stops the retries.
  try {
    await connect();
  } catch (error) {
    options.logger?.warn({ err: error, channel }, 'database LISTEN connection failed: retrying');
    retryLater();
  }
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

export function openPostgres(url: string, options: PostgresOptions = {}): Db {
  const applicationName = options.applicationName ?? 'payments-ops';
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: applicationName,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEP_ALIVE_DELAY_MS,
    idleTimeoutMillis: IDLE_TIMEOUT_MS,
  });
  const listeners = new Set<() => Promise<void>>();
  // An idle client that loses its connection (the server restarting, 57P01) emits here; the pool
  // drops it and connects afresh on the next query. Without a listener Node would crash.
  pool.on('error', (error) => options.logger?.warn({ err: error }, 'idle database connection lost: the pool replaces it'));
  return {
    engine: 'postgres',
    ...wrap(pool),
    async transaction(fn) {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw toDatabaseError(error);
      }
      // A checked-out client has no listener of the pool's: the connection lost while it is out (the
      // server shutting down, 57P01, between two statements of fn) is emitted as 'error' on it, and
      // unheard that crashes the process. Heard here, it fails the transaction's next statement, and
      // the client is destroyed on release rather than handed to the next caller.
      let broken: Error | undefined;
      const onError = (error: Error) => {
        broken ??= error;
      };
      client.on('error', onError);
      try {
        await client.query('begin');
        const result = await fn(wrap(client));
        // COMMIT of a transaction in which a statement failed (the error caught inside fn) rolls back
        // without raising; refuse to report it as committed, as PGlite does.
        const committed = await client.query('commit');
        if (committed.command === 'ROLLBACK') throw new Error('Transaction was rolled back instead of committed: a statement in it failed');
        return result;
      } catch (error) {
        // A rollback that fails leaves the connection in an unknown state: it is not reused either.
        if (!broken) await client.query('rollback').catch((rollbackError: Error) => (broken ??= rollbackError));
        throw toDatabaseError(error);
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
    },
    listen: (channel, onNotify) => listenOn(url, { ...options, applicationName }, channel, onNotify, listeners),
    async close() {
      await Promise.all([...listeners].map((unlisten) => unlisten()));
      await pool.end();
    },
  };
}
