// POST /webhooks/stripe on node:http, in front of Hono: Stripe's deliveries are the one route served
// at a rate where the framework's share shows. Through @hono/node-server each delivery is wrapped as
// a Web Request and its answer unwrapped from a Web Response, then passes three middlewares; here the
// body is read once from the socket and the answer written with one writeHead/end. Measured with 16
// keep-alive senders on PostgreSQL (a web process, no applier; CPU of the server process from /proc,
// per acknowledged event): see docs/benchmarks.md and the commit that added this file.
//
// It answers exactly as the Hono route does (webhookRoute.ts shares the handler): the same request id,
// security headers (read once from the same middleware, securityHeaders.ts), rate limit on unverified
// deliveries (rateLimit.ts), body limit, request log line, 500 on an unexpected error, and
// `Connection: close` while the process drains. Every other method and path goes to Hono.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { Hono } from 'hono';
import type { Config } from '../../config';
import { type Logger, withLogScope } from '../../platform/observability/logger';
import { captureError } from '../../platform/observability/sentry';
import { BodyTooLargeError, readIncomingText } from './body';
import { clientAddressOf } from './clientAddress';
import { isUnverifiedReason, type RateLimits, WEBHOOK_RATE_LIMITED } from './rateLimit';
import { isHttps, securityHeaders } from './securityHeaders';
import { WEBHOOK_PATH, type WebhookAnswer, webhookHandler, type WebhookEndpointDeps } from './webhookRoute';
import { REQUEST_ID } from './httpApp';

export interface WebhookListenerDeps extends WebhookEndpointDeps {
  config: Config;
  logger: Logger;
  rateLimits: RateLimits;
  /** False while the process drains for shutdown: each answer then closes its connection. */
  isAcceptingTraffic: () => boolean;
}

type Headers = Record<string, string>;

/** Wraps Hono's listener: POST /webhooks/stripe is answered here, everything else by `fallback`. */
export async function createWebhookListener(deps: WebhookListenerDeps, fallback: RequestListener): Promise<RequestListener> {
  const handle = webhookHandler(deps);
  const headers = await apiSecurityHeaders(deps.config);
  const { trustProxyHops } = deps.config.http;
  return (req, res) => {
    if (req.method !== 'POST' || pathOf(req.url) !== WEBHOOK_PATH) return fallback(req, res);
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    const started = performance.now();
    const tls = (req.socket as TLSSocket).encrypted === true;
    const security = isHttps({ tls, forwardedProto: header(req, 'x-forwarded-proto') }, trustProxyHops) ? headers.overTls : headers.plain;
    void withLogScope({ requestId }, async () => {
      let status: number;
      try {
        status = await serve(req, res, requestId, security);
      } catch (error) {
        // As Hono's onError in httpApp.ts.
        deps.logger.error({ err: error }, 'unhandled error while serving a request');
        captureError(error, { requestId });
        status = 500;
        if (!res.headersSent) write(res, 500, { error: 'internal', message: 'Internal server error', requestId }, { ...security, 'x-request-id': requestId });
        else res.destroy();
      }
      const ms = Math.round((performance.now() - started) * 10) / 10;
      deps.logger.info({ method: 'POST', path: WEBHOOK_PATH, status, ms }, 'request');
    });
  };

  async function serve(req: IncomingMessage, res: ServerResponse, requestId: string, security: Headers): Promise<number> {
    let raw: string | BodyTooLargeError;
    try {
      raw = await readIncomingText(req, deps.config.http.bodyLimitBytes);
    } catch (error) {
      if (!(error instanceof BodyTooLargeError)) throw error;
      raw = error;
    }
    const answer = await handle(raw, header(req, 'stripe-signature'));
    const extra: Headers = { ...security, 'x-request-id': requestId };
    if (answer.closeConnection || !deps.isAcceptingTraffic()) extra.connection = 'close';
    const limited = await rateLimited(req, answer);
    if (limited !== undefined) {
      write(res, 429, WEBHOOK_RATE_LIMITED, { ...extra, 'retry-after': String(limited) });
      return 429;
    }
    write(res, answer.status, answer.body, extra);
    return answer.status;
  }

  /** As RateLimits.webhook() around the Hono route: a refusal for an unverified delivery counts against its address. */
  async function rateLimited(req: IncomingMessage, answer: WebhookAnswer): Promise<number | undefined> {
    if (answer.status !== 400 || !('error' in answer.body) || !isUnverifiedReason(answer.body.error)) return undefined;
    return deps.rateLimits.webhookRefused(clientAddressOf(req.socket.remoteAddress, header(req, 'x-forwarded-for'), trustProxyHops));
  }
}

function write(res: ServerResponse, status: number, body: unknown, headers: Headers) {
  const json = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(json)) });
  res.end(json);
}

/**
 * The security headers Hono's middleware gives an API answer (a POST to `path`), over plain HTTP and
 * over TLS (HSTS). Also read by the GraphQL listener (graphqlListener.ts).
 */
export async function apiSecurityHeaders(config: Config, path = WEBHOOK_PATH): Promise<{ plain: Headers; overTls: Headers }> {
  const probe = new Hono();
  probe.use('*', securityHeaders({ supabaseUrl: config.auth.supabaseUrl, trustProxyHops: 0 }));
  probe.post(path, (c) => c.body(null, 200));
  const read = async (origin: string) => {
    const response = await probe.request(`${origin}${path}`, { method: 'POST' });
    return Object.fromEntries([...response.headers].filter(([name]) => name !== 'content-type' && name !== 'content-length'));
  };
  return { plain: await read('http://localhost'), overTls: await read('https://localhost') };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

export function pathOf(url: string | undefined): string {
  if (!url) return '';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}
