// Security headers for every answer, by Hono's maintained middleware (hono/secure-headers), with one
// policy per kind of surface:
//
// - console: the staff console and the GraphQL explorer (HTML, JS, CSS from dist/console). It keeps a
//   bearer token in sessionStorage and has buttons that refund and replay, so its Content-Security-Policy
//   allows scripts and styles from this origin only (the Vite build has no inline script or style), and
//   network calls to this origin and the Supabase project it signs in with; no framing (clickjacking).
// - sandbox pages: the Stripe sandbox's hosted Checkout and 3-D Secure pages and the demo storefront,
//   HTML rendered by the server with an inline <style> and no script at all: scripts are refused
//   outright and inline styles allowed. No form-action: a paid Checkout redirects to the configured
//   success URL, which may be another origin, as Stripe's does.
// - api: GraphQL, webhooks, health, the sandbox's API and control routes, the Make sink: JSON. Nothing
//   in them may be sniffed into HTML or kept by a cache (`Cache-Control: no-store`): answers carry
//   orders, emails and tokens.
//
// HSTS is sent only over TLS: when the request itself is https, or when TRUST_PROXY_HOPS says a proxy
// in front terminates TLS and its X-Forwarded-Proto says https. Over plain http a browser ignores it,
// and sending it from a development server on localhost would pin https on localhost for every app.
import type { Context, MiddlewareHandler } from 'hono';
import { secureHeaders } from 'hono/secure-headers';
import type { AppEnv } from './types';

export type Surface = 'console' | 'explorer' | 'sandboxPage' | 'api';

export interface SecurityHeadersOptions {
  /** The Supabase project the console signs in with (connect-src), when configured. */
  supabaseUrl: string | undefined;
  /** Proxies in front of this server whose X-Forwarded-* headers are trusted (0: none). */
  trustProxyHops: number;
}

const SANDBOX_PAGE_PREFIXES = ['/checkout/', '/3ds/', '/sandbox/storefront'];
const API_PREFIXES = ['/webhooks/', '/v1/', '/_sandbox/', '/sandbox/make/'];
const API_PATHS = new Set(['/graphql', '/healthz', '/readyz']);

/** Which policy an answer gets, from its request alone (the explorer is GET /graphql asked for as HTML). */
export function surfaceOf(c: Context<AppEnv>): Surface {
  const path = c.req.path;
  if (path === '/graphql') return wantsExplorer(c) ? 'explorer' : 'api';
  if (API_PATHS.has(path) || API_PREFIXES.some((p) => path.startsWith(p))) return 'api';
  if (SANDBOX_PAGE_PREFIXES.some((p) => path === p || path.startsWith(p))) return 'sandboxPage';
  return 'console';
}

/** A browser opening /graphql (GET, HTML accepted, no operation in the query string) gets the explorer. */
export function wantsExplorer(c: Context<AppEnv>): boolean {
  return c.req.method === 'GET' && (c.req.header('accept') ?? '').includes('text/html') && c.req.query('query') === undefined;
}

/**
 * Whether the client reached us over TLS: this connection's own (`tls`), or, behind trusted proxies,
 * the X-Forwarded-Proto they set. Shared by the Hono middleware below and the node:http webhook
 * listener (webhookListener.ts), which must choose the same security headers.
 */
export function isHttps(request: { tls: boolean; forwardedProto: string | undefined }, trustProxyHops: number): boolean {
  if (request.tls) return true;
  if (trustProxyHops === 0) return false;
  // The proxy that terminates TLS is the one the client reached: the first value when several proxies append.
  return request.forwardedProto?.split(',')[0]?.trim().toLowerCase() === 'https';
}

function isHttpsContext(c: Context<AppEnv>, trustProxyHops: number): boolean {
  return isHttps({ tls: new URL(c.req.url).protocol === 'https:', forwardedProto: c.req.header('x-forwarded-proto') }, trustProxyHops);
}

export function securityHeaders(options: SecurityHeadersOptions): MiddlewareHandler<AppEnv> {
  // The origin only: a CSP source with a path would allow that path alone.
  const supabase = options.supabaseUrl ? [new URL(options.supabaseUrl).origin] : [];
  const consolePolicy = {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'", 'data:'],
    fontSrc: ["'self'", 'data:'],
    connectSrc: ["'self'", ...supabase],
    objectSrc: ["'none'"],
    baseUri: ["'self'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
  };
  const policies: Record<Surface, Parameters<typeof secureHeaders>[0]> = {
    console: { contentSecurityPolicy: consolePolicy, referrerPolicy: 'no-referrer', xFrameOptions: 'DENY' },
    // GraphiQL (codemirror, radix dialogs) sets style attributes and <style> elements at run time; its
    // scripts still come from this origin only. Outside production only.
    explorer: {
      contentSecurityPolicy: { ...consolePolicy, styleSrc: ["'self'", "'unsafe-inline'"], connectSrc: ["'self'"], workerSrc: ["'self'", 'blob:'] },
      referrerPolicy: 'no-referrer',
      xFrameOptions: 'DENY',
    },
    sandboxPage: {
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        styleSrc: ["'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        baseUri: ["'none'"],
        frameAncestors: ["'none'"],
      },
      referrerPolicy: 'no-referrer',
      xFrameOptions: 'DENY',
    },
    // A JSON answer opened in a browser still runs nothing.
    api: { contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] }, referrerPolicy: 'no-referrer', xFrameOptions: 'DENY' },
  };
  const build = (hsts: boolean) =>
    Object.fromEntries(
      Object.entries(policies).map(([surface, policy]) => [surface, secureHeaders({ ...policy, strictTransportSecurity: hsts ? 'max-age=31536000; includeSubDomains' : false })]),
    ) as Record<Surface, MiddlewareHandler>;
  const overTls = build(true);
  const plain = build(false);

  return async (c, next) => {
    const surface = surfaceOf(c);
    const middleware = (isHttpsContext(c, options.trustProxyHops) ? overTls : plain)[surface];
    await middleware(c, next);
    // Hashed assets are immutable (set where they are served); everything else is fetched fresh. Set
    // on the answer's headers as secureHeaders does, not through c.header(): after the handler has
    // answered, c.header() copies the answer into a new Response, turning a string body into a stream
    // that is read back to be written (about 5% of a checkout's CPU in our process, issue 23).
    if (surface !== 'console') c.res.headers.set('Cache-Control', 'no-store');
    else if (!c.res.headers.has('Cache-Control')) c.res.headers.set('Cache-Control', 'no-cache');
  };
}
