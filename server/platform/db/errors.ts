// What the Db port throws when the database cannot be reached (PostgreSQL stopped or restarting, the
// network gone, the pool unable to connect): one typed error, so every edge answers an outage the same
// way (GraphQL: SERVICE_UNAVAILABLE with HTTP 503; the webhook endpoint: 5xx, so Stripe retries) and the
// jobs can tell "the database is away" from "this row is wrong". The driver's own error is the cause,
// for the logs only: its message may name hosts and ports.
import { AppError } from '../errors';

/** How long a client is told to wait before trying again (Retry-After), in seconds. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

export class DatabaseUnavailableError extends AppError {
  override name = 'DatabaseUnavailableError';
  /**
   * Read by Apollo (GraphQLError takes its original error's extensions): the HTTP status and headers of
   * a GraphQL response that failed on it. A plain Map stands in for Apollo's HeaderMap (both iterate as
   * [name, value] pairs), so that this layer does not import the GraphQL server.
   */
  readonly extensions = { http: { status: 503, headers: new Map([['retry-after', String(DATABASE_RETRY_AFTER_SECONDS)]]) } };
  constructor(cause: unknown) {
    super('SERVICE_UNAVAILABLE', 'The database is unavailable at the moment: try again shortly');
    this.cause = cause;
  }
}

// SQLSTATE classes and codes that mean the connection, not the statement, failed: class 08 (connection
// exception), 57P01-57P03 (the server is shutting down, crashed, or not accepting connections yet),
// 53300 (too many connections).
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[123]|53300)$/;
// Socket errors (Node's errno codes) on the way to the server.
const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN']);
// node-postgres's own errors for a lost connection or a pool that could not connect in time.
const UNAVAILABLE_MESSAGE = /^(Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect|Connection terminated due to connection timeout)/;

/** Whether the error says the database could not be reached (rather than that a statement failed). */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof DatabaseUnavailableError) return true;
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_ERRNO.has(code))) return true;
  // An AggregateError (every address of a host refused) carries the errno on its parts.
  if (error instanceof AggregateError && error.errors.some((part) => isDatabaseUnavailable(part))) return true;
  return UNAVAILABLE_MESSAGE.test(error.message);
}

/** The error as the Db port throws it: a DatabaseUnavailableError for an outage, the driver's error otherwise. */
export function toDatabaseError(error: unknown): unknown {
  return error instanceof DatabaseUnavailableError || !isDatabaseUnavailable(error) ? error : new DatabaseUnavailableError(error);
}
