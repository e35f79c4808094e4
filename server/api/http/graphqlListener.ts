// POST /graphql on node:http, in front of Hono, as the webhook listener does for Stripe's deliveries:
// every storefront checkout and every console call is one. Through @hono/node-server a request is
// wrapped as a Web Request, its answer built as a Web Response and unwrapped again, and it passes the
// request-id and security-header middlewares; here the body is read once from the socket and the
// answer written with one writeHead/end (issue 23: checkout's CPU per request).
//
// It answers exactly as the Hono route does (graphqlRoute.ts shares the handler): the same request id,
// the API's security headers (read once from the same middleware, securityHeaders.ts), body limit with
// the connection closed, rate limits, request log line, 500 on an unexpected error, and
// `Connection: close` while the process drains. Every other method and path goes on to `fallback`
// (GET /graphql, the explorer, is Hono's).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { type Logger, withLogScope } from '../../platform/observability/logger';
import { captureError } from '../../platform/observability/sentry';
import { readIncomingText } from './body';
import { graphqlHandler, type GraphQLRouteDeps } from './graphqlRoute';
import { REQUEST_ID } from './httpApp';
import { isHttps } from './securityHeaders';
import { apiSecurityHeaders, pathOf } from './webhookListener';

export const GRAPHQL_PATH = '/graphql';

export interface GraphQLListenerDeps extends GraphQLRouteDeps {
  logger: Logger;
  /** False while the process drains for shutdown: each answer then closes its connection. */
  isAcceptingTraffic: () => boolean;
}

type Headers = Record<string, string>;

/** A request header as Web Headers gives it to the Hono route: every value, joined with ', '. */
const header = (req: IncomingMessage, name: string): string | undefined => req.headersDistinct[name]?.join(', ');

/** Wraps a listener: POST /graphql is answered here, everything else by `fallback`. */
export async function createGraphQLListener(deps: GraphQLListenerDeps, fallback: RequestListener): Promise<RequestListener> {
  const handle = graphqlHandler(deps);
  const security = await apiSecurityHeaders(deps.config, GRAPHQL_PATH);
  const { trustProxyHops, bodyLimitBytes } = deps.config.http;
  return (req, res) => {
    if (req.method !== 'POST' || pathOf(req.url) !== GRAPHQL_PATH) return fallback(req, res);
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    const started = performance.now();
    const tls = (req.socket as TLSSocket).encrypted === true;
    const securityHeaders = isHttps({ tls, forwardedProto: header(req, 'x-forwarded-proto') }, trustProxyHops) ? security.overTls : security.plain;
    void withLogScope({ requestId }, async () => {
      let status: number;
      try {
        status = await serve(req, res, requestId, securityHeaders);
      } catch (error) {
        // As Hono's onError in httpApp.ts.
        deps.logger.error({ err: error }, 'unhandled error while serving a request');
        captureError(error, { requestId });
        status = 500;
        if (!res.headersSent) write(res, 500, JSON.stringify({ error: 'internal', message: 'Internal server error', requestId }), { 'content-type': 'application/json', ...securityHeaders, 'x-request-id': requestId });
        else res.destroy();
      }
      const ms = Math.round((performance.now() - started) * 10) / 10;
      deps.logger.info({ method: 'POST', path: GRAPHQL_PATH, status, ms }, 'request');
    });
  };

  async function serve(req: IncomingMessage, res: ServerResponse, requestId: string, securityHeaders: Headers): Promise<number> {
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const answer = await handle({
      method: 'POST',
      header: (name) => header(req, name),
      headers: () => headerEntries(req),
      search: query === -1 ? '' : url.slice(query),
      readBody: () => readIncomingText(req, bodyLimitBytes),
      requestId,
    });
    // The answer's own headers first, the security headers over them (Hono's middleware sets them on
    // the answer after the route, so Cache-Control: no-store wins there too).
    const headers: Headers = { ...answer.headers, ...securityHeaders, 'x-request-id': requestId };
    if (answer.closeConnection || !deps.isAcceptingTraffic()) headers.connection = 'close';
    write(res, answer.status, answer.body, headers);
    return answer.status;
  }
}

/** Every header as Web Headers gives it to the Hono route: lower-case names, repeated values joined with ', '. */
function* headerEntries(req: IncomingMessage): Iterable<[string, string]> {
  for (const [name, values] of Object.entries(req.headersDistinct)) if (values) yield [name, values.join(', ')];
}

function write(res: ServerResponse, status: number, body: string, headers: Headers) {
  res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}
