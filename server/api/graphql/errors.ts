// The one mapping from errors to what a GraphQL client sees. Clients get a message they can act on
// and `extensions.code` from a fixed set; internal errors get a generic message and the request id,
// and their details go to the log (and Sentry), never to the client unless DEBUG_ERRORS=true.
import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError } from 'graphql';
import { AppError, type ErrorCode } from '../../platform/errors';
import type { Logger } from '../../platform/observability/logger';
import { captureError } from '../../platform/observability/sentry';
import { currentLogScope } from '../../platform/observability/logger';

// Apollo's own codes for requests that are wrong, all of which are the client's input to fix.
const APOLLO_INPUT_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'OPERATION_RESOLUTION_FAILURE',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

const OUR_CODES = new Set<string>(['UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT', 'CONFLICT', 'NOT_FOUND', 'INTERNAL']);

// What PostgreSQL says when a value the client sent cannot be stored or read. graphqlRoute.ts refuses
// text with a NUL or an unpaired surrogate before anything runs; this is the backstop for a value that
// still reaches the database: the client's input to fix, not an internal error. Each answer is ours
// (the database's own message may quote the value or name columns).
const REFUSED_VALUES: Record<string, { reason: string; message: string }> = {
  '22P05': { reason: 'INVALID_TEXT', message: 'A text value holds a character that cannot be stored (a NUL character or an unpaired surrogate)' },
  '22021': { reason: 'INVALID_TEXT', message: 'A text value holds a character that cannot be stored (a NUL character or an unpaired surrogate)' },
  '22P02': { reason: 'INVALID_VALUE', message: 'A value is not in the form expected (malformed text, number or id)' },
  '22003': { reason: 'NUMBER_OUT_OF_RANGE', message: 'A number is out of range' },
  '22008': { reason: 'DATE_OUT_OF_RANGE', message: 'A date or time is out of range' },
};

/** The SQLSTATE of a database error, looked for through a few causes (a wrapped driver error). */
function sqlStateOf(error: unknown): string | undefined {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth += 1) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

export function createErrorFormatter(options: { logger: Logger; exposeInternals: boolean }) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    const base = { message: formatted.message, locations: formatted.locations, path: formatted.path };

    if (original instanceof AppError) {
      return { ...base, message: original.message, extensions: { ...original.details, code: original.code } };
    }
    const apolloCode = formatted.extensions?.code;
    if (typeof apolloCode === 'string' && APOLLO_INPUT_CODES.has(apolloCode)) {
      return { ...base, extensions: { code: 'BAD_USER_INPUT' satisfies ErrorCode, reason: apolloCode } };
    }
    if (typeof apolloCode === 'string' && OUR_CODES.has(apolloCode) && apolloCode !== 'INTERNAL') {
      return { ...base, extensions: { code: apolloCode } };
    }

    const sqlState = sqlStateOf(original);
    const refused = sqlState ? REFUSED_VALUES[sqlState] : undefined;
    if (refused) {
      // A warning: the request was wrong, but the check at the edge let it through, which is worth a look.
      options.logger.warn({ err: original, path: formatted.path, sqlState }, 'the database refused a value of a GraphQL request');
      return { ...base, message: refused.message, extensions: { code: 'BAD_USER_INPUT' satisfies ErrorCode, reason: refused.reason } };
    }

    const { requestId } = currentLogScope();
    options.logger.error({ err: original, path: formatted.path }, 'unexpected error while resolving a GraphQL request');
    captureError(original, { path: formatted.path, requestId });
    return {
      message: options.exposeInternals && original instanceof Error ? original.message : 'Internal server error',
      locations: formatted.locations,
      path: formatted.path,
      extensions: {
        code: 'INTERNAL' satisfies ErrorCode,
        requestId,
        ...(options.exposeInternals && original instanceof Error ? { stacktrace: original.stack?.split('\n') } : {}),
      },
    };
  };
}
