// Apollo Server behind our HTTP layer: the body is read under the size limit, parsed here (so
// malformed JSON is a clean 400), the caller authenticated, then Apollo executes the operation.
import { type ApolloServer, HeaderMap } from '@apollo/server';
import type { Context } from 'hono';
import { Kind, parse, type ValueNode, visit } from 'graphql';
import { authenticate, type AuthDeps } from '../../auth/authenticate';
import type { Config } from '../../config';
import type { Db } from '../../platform/db/db';
import { AppError } from '../../platform/errors';
import type { GraphQLContext, Services } from '../graphql/context';
import { createLoaders } from '../graphql/loaders';
import type { Logger } from '../../platform/observability/logger';
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

// Text PostgreSQL cannot hold: a NUL (text and jsonb refuse it: 22021, 22P05) or an unpaired
// surrogate (jsonb refuses it, 22P02; a text parameter silently becomes U+FFFD). Refused here, for
// every string of every operation, before authentication or any resolver: nothing can be written.
const UNSTORABLE_CHARACTER = /[\u0000\p{Cs}]/u;

interface TextRefusal {
  field: string;
  message: string;
}

function refuseText(text: string, path: string): TextRefusal | null {
  const found = UNSTORABLE_CHARACTER.exec(text)?.[0];
  if (found === undefined) return null;
  // The path is the client's own keys: cut short, so a huge key is not echoed whole.
  const field = path.length > 200 ? `${path.slice(0, 200)}…` : path;
  const what = found === '\u0000' ? 'a NUL character (\\u0000)' : 'an unpaired surrogate (\\ud800-\\udfff)';
  return { field, message: `${field} holds ${what}, which is not valid text` };
}

/** The first unstorable string among the variables (keys too), with its path: `input.metadata[0].value`. */
function checkVariables(variables: unknown): TextRefusal | null {
  const stack: Array<{ value: unknown; path: string }> = [{ value: variables, path: '' }];
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (typeof value === 'string') {
      const refusal = refuseText(value, path || 'variables');
      if (refusal) return refusal;
    } else if (Array.isArray(value)) {
      value.forEach((item, index) => stack.push({ value: item, path: `${path}[${index}]` }));
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) {
        const at = path ? `${path}.${key}` : key;
        const refusal = refuseText(key, JSON.stringify(at));
        if (refusal) return refusal;
        stack.push({ value: item, path: at });
      }
    }
  }
  return null;
}

/**
 * A string literal of the document holding a NUL, named by its path like a variable's. GraphQL spells
 * a NUL only as an escape (\u0000 or \u{0}); an unpaired surrogate escape, or a raw control
 * character, is already a syntax error. A document without `\u` is not parsed here (Apollo parses it).
 */
function checkLiterals(query: unknown): TextRefusal | null {
  if (typeof query !== 'string' || !query.includes('\\u')) return null;
  let document;
  try {
    document = parse(query);
  } catch {
    return null; // Apollo answers the syntax error.
  }
  let refusal: TextRefusal | null = null;
  visit(document, {
    // Field and directive arguments, and variables' default values: every literal there is.
    Argument(node) {
      refusal ??= checkLiteral(node.value, node.name.value);
      return false;
    },
    VariableDefinition(node) {
      if (node.defaultValue) refusal ??= checkLiteral(node.defaultValue, node.variable.name.value);
      return false;
    },
  });
  return refusal;
}

function checkLiteral(value: ValueNode, name: string): TextRefusal | null {
  const stack: Array<{ node: ValueNode; path: string }> = [{ node: value, path: name }];
  while (stack.length > 0) {
    const { node, path } = stack.pop()!;
    if (node.kind === Kind.STRING) {
      const refusal = refuseText(node.value, path);
      if (refusal) return refusal;
    } else if (node.kind === Kind.LIST) {
      node.values.forEach((item, index) => stack.push({ node: item, path: `${path}[${index}]` }));
    } else if (node.kind === Kind.OBJECT) {
      for (const field of node.fields) stack.push({ node: field.value, path: `${path}.${field.name.value}` });
    }
  }
  return null;
}

/** The request's operations (POST body, or GET's query string), checked for text the database cannot hold. */
function checkText(body: unknown, search: URLSearchParams): TextRefusal | null {
  const requests = operationsOf(body, search);
  for (const request of requests) {
    const refusal = checkVariables(request.variables) ?? checkLiterals(request.query);
    if (refusal) return refusal;
  }
  return null;
}

function operationsOf(body: unknown, search: URLSearchParams): Array<{ query: unknown; variables: unknown }> {
  if (body !== undefined) {
    // An array is a batch, which Apollo refuses; each element is checked all the same.
    const list = Array.isArray(body) ? body : [body];
    return list.filter((item): item is Record<string, unknown> => item !== null && typeof item === 'object').map((item) => ({ query: item.query, variables: item.variables }));
  }
  let variables: unknown;
  try {
    variables = JSON.parse(search.get('variables') ?? 'null');
  } catch {
    variables = null; // Apollo answers the malformed variables.
  }
  return [{ query: search.get('query'), variables }];
}

/**
 * A GraphQL request as the handler needs it, from Hono's context (graphqlRoute below) or straight from
 * node:http (graphqlListener.ts, which answers POST /graphql without Web Request wrapping).
 */
export interface GraphQLHttpRequest {
  method: string;
  /** A request header by its lower-case name; several values joined with ', ' as Web Headers does. */
  header: (name: string) => string | undefined;
  /** Every request header, for Apollo. */
  headers: () => Iterable<[string, string]>;
  /** The query string with its '?', or ''. */
  search: string;
  /** POST only: the body as text under the limit; rejects with BodyTooLargeError over it. */
  readBody: () => Promise<string>;
  requestId: string;
}

/** The answer, before the request id, the security headers and the log line every answer gets. */
export interface GraphQLHttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The body was over the limit and is left unread: the connection cannot be reused. */
  closeConnection?: boolean;
}

const JSON_CONTENT = { 'content-type': 'application/json' };
const jsonAnswer = (status: number, body: unknown, headers: Record<string, string> = {}): GraphQLHttpAnswer => ({
  status,
  headers: { ...JSON_CONTENT, ...headers },
  body: JSON.stringify(body),
});

/** The GraphQL endpoint's work for one request, the same whichever way it arrived. */
export function graphqlHandler(deps: GraphQLRouteDeps): (request: GraphQLHttpRequest) => Promise<GraphQLHttpAnswer> {
  return async (request) => {
    let body: unknown;
    if (request.method === 'POST') {
      let text: string;
      try {
        text = await request.readBody();
      } catch (error) {
        if (!(error instanceof BodyTooLargeError)) throw error;
        return { ...jsonAnswer(413, errorBody(error.message, 'BAD_USER_INPUT')), closeConnection: true };
      }
      const contentType = request.header('content-type') ?? '';
      if (contentType.includes('application/json')) {
        try {
          body = JSON.parse(text);
        } catch {
          return jsonAnswer(400, errorBody('The request body is not valid JSON', 'BAD_USER_INPUT'));
        }
      } else {
        body = text;
      }
    }

    const badText = checkText(body, new URLSearchParams(request.search));
    if (badText) {
      return jsonAnswer(400, { errors: [{ message: badText.message, extensions: { code: 'BAD_USER_INPUT', reason: 'INVALID_TEXT', field: badText.field } }] });
    }

    let viewer;
    try {
      viewer = await authenticate(deps.auth, { authorization: request.header('authorization'), apiKey: request.header('x-api-key') });
    } catch (error) {
      if (error instanceof AppError) return jsonAnswer(error.httpStatus, errorBody(error.message, error.code), { 'WWW-Authenticate': 'Bearer' });
      throw error;
    }

    const limited = await deps.rateLimits?.graphql(viewer, body);
    if (limited) return jsonAnswer(429, limited.body, { 'Retry-After': String(limited.retryAfterSeconds) });

    const headers = new HeaderMap();
    for (const [key, value] of request.headers()) headers.set(key, value);
    const { requestId } = request;
    const result = await deps.apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: request.method.toUpperCase(), headers, search: request.search, body },
      context: async () => ({ viewer, db: deps.db, logger: deps.logger.child({ requestId }), requestId, config: deps.config, loaders: createLoaders(deps.db), ...deps.services() }),
    });

    const answerHeaders: Record<string, string> = {};
    for (const [key, value] of result.headers) answerHeaders[key] = value;
    const status = result.status ?? 200;
    if (result.body.kind === 'complete') return { status, headers: answerHeaders, body: result.body.string };
    // Incremental delivery (@defer) is not enabled; should it be, stream the chunks as they come.
    const chunks: string[] = [];
    for await (const chunk of result.body.asyncIterator) chunks.push(chunk);
    return { status, headers: answerHeaders, body: chunks.join('') };
  };
}

/** The endpoint in Hono: every GET, and a POST that reaches Hono without the node:http listener (app.fetch). */
export function graphqlRoute(deps: GraphQLRouteDeps) {
  const handle = graphqlHandler(deps);
  return async (c: Context<AppEnv>) => {
    const answer = await handle({
      method: c.req.method,
      header: (name) => c.req.header(name),
      headers: () => c.req.raw.headers.entries(),
      search: new URL(c.req.url).search,
      readBody: () => readBodyText(c, deps.config.http.bodyLimitBytes),
      requestId: c.get('requestId'),
    });
    for (const [key, value] of Object.entries(answer.headers)) c.header(key, value);
    if (answer.closeConnection) c.header('Connection', 'close');
    return c.body(answer.body, answer.status as 200);
  };
}
