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
  close(): Promise<void>;
}
