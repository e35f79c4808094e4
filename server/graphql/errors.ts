// The one mapping from errors to what a GraphQL client sees. Clients get a message they can act on
// and `extensions.code` from a fixed set; internal errors get a generic message and the request id,
// and their details go to the log (and Sentry), never to the client outside development.
import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError } from 'graphql';
import { AppError, type ErrorCode } from '../errors';
import type { Logger } from '../observability/logger';
import { captureError } from '../observability/sentry';
import { currentLogScope } from '../observability/logger';

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
