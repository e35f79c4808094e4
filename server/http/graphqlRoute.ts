// Apollo Server behind our HTTP layer: the body is read under the size limit, parsed here (so
// malformed JSON is a clean 400), the caller authenticated, then Apollo executes the operation.
import { type ApolloServer, HeaderMap } from '@apollo/server';
import type { Context } from 'hono';
import { authenticate, type AuthDeps } from '../auth/authenticate';
import type { Config } from '../config';
import type { Db } from '../db/db';
import { AppError } from '../errors';
import type { GraphQLContext, Services } from '../graphql/context';
import type { Logger } from '../observability/logger';
import { BodyTooLargeError, readBodyText } from './body';
import type { RateLimits } from './rateLimit';
import type { AppEnv } from './types';

export interface GraphQLRouteDeps {
  apollo: ApolloServer<GraphQLContext>;
  auth: AuthDeps;
  db: Db;
  config: Config;
  logger: Logger;
  /** A getter: the services exist once the server listens (see Services). */
  services: () => Services;
  /** Storefront and customer mutations over their limit are answered 429 before Apollo runs them. */
  rateLimits?: RateLimits;
}

const errorBody = (message: string, code: string) => ({ errors: [{ message, extensions: { code } }] });

export function graphqlRoute(deps: GraphQLRouteDeps) {
  return async (c: Context<AppEnv>) => {
    let body: unknown;
    if (c.req.method === 'POST') {
      let text: string;
      try {
        text = await readBodyText(c, deps.config.http.bodyLimitBytes);
      } catch (error) {
        if (!(error instanceof BodyTooLargeError)) throw error;
        c.header('Connection', 'close');
        return c.json(errorBody(error.message, 'BAD_USER_INPUT'), 413);
      }
      const contentType = c.req.header('content-type') ?? '';
      if (contentType.includes('application/json')) {
        try {
          body = JSON.parse(text);
        } catch {
          return c.json(errorBody('The request body is not valid JSON', 'BAD_USER_INPUT'), 400);
        }
      } else {
        body = text;
      }
    }

    let viewer;
    try {
      viewer = await authenticate(deps.auth, { authorization: c.req.header('authorization'), apiKey: c.req.header('x-api-key') });
    } catch (error) {
      if (error instanceof AppError) {
        c.header('WWW-Authenticate', 'Bearer');
        return c.json(errorBody(error.message, error.code), error.httpStatus as 401);
      }
      throw error;
    }

    const limited = await deps.rateLimits?.graphql(c, viewer, body);
    if (limited) return limited;

    const headers = new HeaderMap();
    c.req.raw.headers.forEach((value, key) => headers.set(key, value));
    const requestId = c.get('requestId');
    const result = await deps.apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: c.req.method.toUpperCase(), headers, search: new URL(c.req.url).search, body },
      context: async () => ({ viewer, db: deps.db, logger: deps.logger.child({ requestId }), requestId, config: deps.config, ...deps.services() }),
    });

    for (const [key, value] of result.headers) c.header(key, value);
    c.status((result.status ?? 200) as 200);
    if (result.body.kind === 'complete') return c.body(result.body.string);
    // Incremental delivery (@defer) is not enabled; should it be, stream the chunks as they come.
    const chunks: string[] = [];
    for await (const chunk of result.body.asyncIterator) chunks.push(chunk);
    return c.body(chunks.join(''));
  };
}
