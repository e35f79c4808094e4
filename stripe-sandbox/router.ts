// The API front door: authentication, injected faults, idempotency, routing, `expand[]`, and
// Stripe's error envelope. Resource modules register plain handlers that read params and return an
// object (or throw a StripeApiError).
import { createHash } from 'node:crypto';
import { apiError, invalidRequest, rateLimited, StripeApiError } from './errors';
import { newId } from './ids';
import { expandList, type Params, parseParams } from './params';
import type { SandboxCore } from './core';

export type HttpMethod = 'GET' | 'POST' | 'DELETE';

export interface RouteContext {
  core: SandboxCore;
  params: Params;
  path: Record<string, string>;
  requestId: string;
  idempotencyKey: string | null;
  /** For events: Stripe's `request` field on events caused by this API call. */
  eventRequest: { id: string; idempotency_key: string | null };
}

export interface Route {
  method: HttpMethod;
  /** e.g. `/v1/payment_intents/:intent/confirm` */
  path: string;
  handler: (ctx: RouteContext) => unknown | Promise<unknown>;
}

interface CompiledRoute extends Route {
  pattern: RegExp;
  names: string[];
}

export type ApiFault = 'rate_limit' | 'api_error' | 'connection_reset';

/**
 * Which API calls injected faults are for: a call meets them only if it matches every field given (no
 * field: any call). Faults for "the next call" go to whichever call comes first, which under
 * concurrent calls (two refunds at once, customers served together) depends on their interleaving;
 * faults for the calls a test or the simulator names meet the same calls in every interleaving. The
 * SDK's retry of a faulted call sends the same parameters, so it matches too.
 */
export interface ApiFaultMatch {
  method?: HttpMethod;
  /** The request's path: exactly (`/v1/refunds`) or by a pattern. */
  path?: string | RegExp;
  /** Parameters the call carries with these values, named as in its form: `amount`, `metadata[order_id]`. */
  params?: Record<string, string>;
}

/** Faults queued for the calls one match describes, met in order. */
export interface QueuedApiFaults {
  match: ApiFaultMatch;
  faults: ApiFault[];
}

export interface StoredIdempotentResponse {
  fingerprint: string;
  status: number;
  body: string;
  createdAt: number;
}

const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;

export class Router {
  private readonly routes: CompiledRoute[] = [];
  private readonly idempotent = new Map<string, StoredIdempotentResponse>();
  private readonly inFlight = new Set<string>();
  /** Faults to inject into API calls, each queue into the calls its match describes, oldest queue first. */
  readonly pendingFaults: QueuedApiFaults[] = [];

  constructor(private readonly core: SandboxCore) {}

  add(routes: Route[]): void {
    for (const route of routes) {
      const names: string[] = [];
      const pattern = new RegExp(
        '^' + route.path.replace(/:([a-z_]+)/g, (_m, name: string) => {
          names.push(name);
          return '([^/]+)';
        }) + '$',
      );
      this.routes.push({ ...route, pattern, names });
    }
  }

  /** The saved responses still within their 24 hours (older ones are dropped here too), for a snapshot. */
  idempotencySnapshot(): Array<[string, StoredIdempotentResponse]> {
    const horizon = this.core.clock.now() - IDEMPOTENCY_TTL_SECONDS;
    for (const [key, stored] of this.idempotent) if (stored.createdAt <= horizon) this.idempotent.delete(key);
    return [...this.idempotent];
  }

  restoreIdempotency(entries: Array<[string, StoredIdempotentResponse]>): void {
    this.idempotent.clear();
    for (const [key, stored] of entries) this.idempotent.set(key, stored);
  }

  reset(): void {
    this.idempotent.clear();
    this.inFlight.clear();
    this.pendingFaults.length = 0;
  }

  async handle(request: Request, url: URL): Promise<Response> {
    const requestId = newId('req', 14);
    const headers: Record<string, string> = { 'request-id': requestId, 'stripe-version': request.headers.get('stripe-version') ?? '2026-10-28.endive' };
    try {
      this.authenticate(request);
      const method = request.method.toUpperCase() as HttpMethod;
      const body = method === 'GET' ? '' : await request.text();
      const params = parseParams(method === 'GET' || method === 'DELETE' ? url.search.slice(1) + (body ? `&${body}` : '') : body);

      const fault = this.takeFault(method, url.pathname, params);
      if (fault === 'connection_reset') return Response.error();
      if (fault === 'rate_limit') throw rateLimited();
      if (fault === 'api_error') throw apiError();

      const { route, path } = this.match(method, url.pathname);
      const idempotencyKey = method === 'GET' ? null : request.headers.get('idempotency-key');
      const ctx: RouteContext = { core: this.core, params, path, requestId, idempotencyKey, eventRequest: { id: requestId, idempotency_key: idempotencyKey } };
      if (!idempotencyKey) return this.respond(200, await this.run(route, ctx), headers);
      return await this.runIdempotent(route, ctx, method, url.pathname, headers);
    } catch (error) {
      if (error instanceof StripeApiError) {
        return this.respond(error.status, JSON.stringify({ error: { ...error.body, request_log_url: `https://dashboard.stripe.com/test/logs/${requestId}` } }), { ...headers, ...error.headers });
      }
      this.core.log(`sandbox: unexpected error: ${(error as Error).stack ?? String(error)}`);
      return this.respond(500, JSON.stringify({ error: { type: 'api_error', message: 'An unexpected error occurred in the Stripe sandbox.' } }), headers);
    }
  }

  /** The first fault queued for a call like this one, taken off its queue; undefined when none is. */
  private takeFault(method: HttpMethod, pathname: string, params: Params): ApiFault | undefined {
    const index = this.pendingFaults.findIndex((queued) => queued.faults.length > 0 && faultMatches(queued.match, method, pathname, params));
    if (index < 0) return undefined;
    const queued = this.pendingFaults[index]!;
    const fault = queued.faults.shift();
    if (queued.faults.length === 0) this.pendingFaults.splice(index, 1);
    return fault;
  }

  private authenticate(request: Request): void {
    const header = request.headers.get('authorization') ?? '';
    let key = '';
    if (/^bearer /i.test(header)) key = header.slice(7).trim();
    else if (/^basic /i.test(header)) key = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8').split(':')[0] ?? '';
    if (!key) {
      throw new StripeApiError(401, {
        type: 'invalid_request_error',
        message: 'You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. \'Authorization: Bearer YOUR_SECRET_KEY\').',
      });
    }
    if (!/^(sk|rk)_test_[A-Za-z0-9_]+$/.test(key)) {
      throw new StripeApiError(401, {
        type: 'invalid_request_error',
        code: 'api_key_invalid',
        message: `Invalid API Key provided: ${key.slice(0, 8)}${'*'.repeat(Math.max(0, key.length - 12))}${key.slice(-4)}`,
      });
    }
  }

  private match(method: HttpMethod, pathname: string): { route: CompiledRoute; path: Record<string, string> } {
    let pathMatched = false;
    for (const route of this.routes) {
      const m = route.pattern.exec(pathname);
      if (!m) continue;
      pathMatched = true;
      if (route.method !== method) continue;
      const path: Record<string, string> = {};
      route.names.forEach((name, i) => (path[name] = decodeURIComponent(m[i + 1]!)));
      return { route, path };
    }
    throw new StripeApiError(404, {
      type: 'invalid_request_error',
      message: pathMatched ? `Unrecognized request URL (${method}: ${pathname}).` : `Unrecognized request URL (${method}: ${pathname}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
    });
  }

  private async run(route: CompiledRoute, ctx: RouteContext): Promise<string> {
    const result = await route.handler(ctx);
    // expand[] replaces ids in place, so it works on a copy; without it the stored object is
    // serialised as it is, rather than copied for nothing on every answer.
    const paths = expandList(ctx.params);
    return JSON.stringify(paths.length > 0 ? this.core.expand(structuredClone(result), paths) : result, null, 2);
  }

  /**
   * Same key and same parameters: the first response again, with `Idempotent-Replayed: true`.
   * Different parameters: an idempotency_error. A request still running with the same key: 409
   * `idempotency_key_in_use` (which the SDK retries). Keys expire after 24 hours of sandbox time.
   * As at Stripe, a result is saved only once the endpoint ran: requests refused for bad
   * parameters or by injected faults can be retried with the same key.
   */
  private async runIdempotent(route: CompiledRoute, ctx: RouteContext, method: string, pathname: string, headers: Record<string, string>): Promise<Response> {
    const key = ctx.idempotencyKey!;
    if (key.length > 255) throw invalidRequest('Idempotency keys can be at most 255 characters long.', undefined, 'idempotency_key_too_long');
    const fingerprint = createHash('sha256').update(`${method} ${pathname}\n${canonical(ctx.params)}`).digest('hex');
    const now = this.core.clock.now();
    const stored = this.idempotent.get(key);
    if (stored && now - stored.createdAt < IDEMPOTENCY_TTL_SECONDS) {
      if (stored.fingerprint !== fingerprint) {
        throw new StripeApiError(400, {
          type: 'idempotency_error',
          message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
        });
      }
      return this.respond(stored.status, stored.body, { ...headers, 'idempotency-key': key, 'idempotent-replayed': 'true' });
    }
    if (this.inFlight.has(key)) {
      throw new StripeApiError(409, {
        type: 'invalid_request_error',
        code: 'idempotency_key_in_use',
        message: 'There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): ' + key + '. Please try again later.',
      });
    }
    this.inFlight.add(key);
    try {
      let status = 200;
      let text: string;
      try {
        text = await this.run(route, ctx);
      } catch (error) {
        // Card errors and state errors happen after the endpoint started: saved, like successes.
        if (!(error instanceof StripeApiError) || error.status === 400 || error.status === 404 || error.status >= 500) throw error;
        status = error.status;
        text = JSON.stringify({ error: error.body });
      }
      this.idempotent.set(key, { fingerprint, status, body: text, createdAt: now });
      return this.respond(status, text, { ...headers, 'idempotency-key': key });
    } finally {
      this.inFlight.delete(key);
    }
  }

  private respond(status: number, body: string, headers: Record<string, string>): Response {
    return new Response(body, { status, headers: { ...headers, 'content-type': 'application/json' } });
  }
}

function faultMatches(match: ApiFaultMatch, method: HttpMethod, pathname: string, params: Params): boolean {
  if (match.method && match.method !== method) return false;
  if (match.path !== undefined && !(typeof match.path === 'string' ? match.path === pathname : match.path.test(pathname))) return false;
  for (const [name, value] of Object.entries(match.params ?? {})) {
    // `metadata[order_id]` names params.metadata.order_id, as the form's brackets nest it.
    let found: unknown = params;
    for (const part of name.split(/[[\]]+/).filter(Boolean)) found = found !== null && typeof found === 'object' ? (found as Record<string, unknown>)[part] : undefined;
    if (found !== value) return false;
  }
  return true;
}

/** Parameters in a canonical order, so key order in the form does not count as a difference. */
function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  return `{${Object.keys(value)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
    .join(',')}}`;
}
