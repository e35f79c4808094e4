// The Db port: the only way the server talks to Postgres. Two adapters implement it (PGlite for the
// embedded default, node-postgres for PostgreSQL and Supabase), and everything above it is written
// once against this interface, so the same SQL runs on both engines.

export type SqlParam = string | number | bigint | boolean | null | Date | Uint8Array | unknown[] | Record<string, unknown>;

export interface QueryResult<Row> {
  rows: Row[];
  rowCount: number;
}

export interface Queryable {
  /** One statement with bound parameters ($1, $2, …); never concatenate values into SQL. */
  query<Row = Record<string, unknown>>(sql: string, params?: readonly SqlParam[]): Promise<QueryResult<Row>>;
  /** A script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Db extends Queryable {
  readonly engine: 'pglite' | 'postgres';
  /** Runs fn in one transaction: committed if fn resolves, rolled back if it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * LISTEN on a channel: onNotify runs for each NOTIFY committed on it (PostgreSQL: on a connection of
   * its own, reconnected when lost, with one call after each reconnect for what was missed). Resolves
   * with a function that stops listening. Optional: a Db without it is polled only.
   */
  listen?(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** A LISTEN channel is an identifier, not a bound value: only plain lower-case names are accepted. */
export function assertChannel(channel: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new Error(`not a plain channel name: ${channel}`);
  return channel;
}
