import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';
import type { Db } from '../../platform/db/db';
import { mountSandboxMode, type SandboxModeDeps } from '../../sandboxMode/mount';
import type { EventStore } from '../../webhooks/eventStore';
import { WEBHOOK_PATH, type WebhookCounters, webhookRoute } from './webhookRoute';
import type { Logger } from '../../platform/observability/logger';
import { withLogScope } from '../../platform/observability/logger';
import { captureError } from '../../platform/observability/sentry';
import { EXPORT_PATH, exportRoute } from './export/route';
import { mountExplorer } from './explorer';
import { graphqlRoute, type GraphQLRouteDeps } from './graphqlRoute';
import { RateLimits } from './rateLimit';
import { securityHeaders } from './securityHeaders';
import type { AppEnv } from './types';

export interface HttpAppDeps extends GraphQLRouteDeps {
  db: Db;
  logger: Logger;
  /** False while the process drains for shutdown: /readyz then answers 503 so balancers move away. */
  isAcceptingTraffic: () => boolean;
  /** Sandbox mode only: the Stripe emulator, the dev sign-in, the demo storefront and the Make sink. */
  sandboxMode?: SandboxModeDeps;
  webhooks: { store: EventStore; counters: WebhookCounters };
  /** Shared with the webhook listener in front of Hono (webhookListener.ts); made here when not given. */
  rateLimits?: RateLimits;
}

/** The limits per client this process keeps (in memory): one instance for Hono and the webhook listener. */
export const createRateLimits = (config: HttpAppDeps['config']) => new RateLimits({ ...config.rateLimits, trustProxyHops: config.http.trustProxyHops });

/** An X-Request-Id a client sends is kept when it looks like one (webhookListener.ts checks it too). */
export const REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;

const CONSOLE_PLACEHOLDER = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Payments ops console</title></head>
<body><main><h1>Payments ops console</h1><p>The console has not been built. Run <code>npm run build:console</code> (npm start does it for you).</p></main></body></html>`;

export function createHttpApp(deps: HttpAppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { logger } = deps;

  // A request id on every response and every log line written while serving the request.
  app.use('*', async (c, next) => {
    const incoming = c.req.header('x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    c.set('requestId', requestId);
    c.header('X-Request-Id', requestId);
    const started = performance.now();
    await withLogScope({ requestId }, async () => {
      await next();
      // While draining, close each connection once its response is sent: an idle keep-alive socket
      // would otherwise hold shutdown open until its keep-alive timeout.
      if (!deps.isAcceptingTraffic()) c.header('Connection', 'close');
      const ms = Math.round((performance.now() - started) * 10) / 10;
      if (c.req.path !== '/healthz') logger.info({ method: c.req.method, path: c.req.path, status: c.res.status, ms }, 'request');
    });
  });

  app.use('*', securityHeaders({ supabaseUrl: deps.config.auth.supabaseUrl, trustProxyHops: deps.config.http.trustProxyHops }));
  const rateLimits = deps.rateLimits ?? createRateLimits(deps.config);

  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  app.get('/readyz', async (c) => {
    if (!deps.isAcceptingTraffic()) return c.json({ status: 'draining' }, 503);
    try {
      await withTimeout(deps.db.query('select 1'), 2000);
      return c.json({ status: 'ready', database: deps.db.engine });
    } catch (error) {
      logger.warn({ err: error }, 'readiness check failed: database unreachable');
      return c.json({ status: 'unavailable', reason: 'database unreachable' }, 503);
    }
  });

  app.post(
    WEBHOOK_PATH,
    rateLimits.webhook(),
    webhookRoute({ config: deps.config, logger, ...deps.webhooks, secrets: () => deps.services().webhookSecrets }),
  );

  // The body size limit is enforced while reading the body (server/api/http/body.ts).
  // Outside production a browser opening /graphql gets the offline explorer (GraphiQL, built with the console).
  if (!deps.config.isProduction) mountExplorer(app, deps.config.http.consoleDistDir);
  app.on(['GET', 'POST'], '/graphql', graphqlRoute({ ...deps, rateLimits }));
  app.all('/graphql', (c) => c.json({ errors: [{ message: 'Use GET or POST for /graphql', extensions: { code: 'BAD_USER_INPUT' } }] }, 405));
  // Staff lists as CSV files, streamed (issue 22).
  app.get(EXPORT_PATH, exportRoute({ db: deps.db, auth: deps.auth, logger }));

  // Never mounted when real Stripe keys are configured (startApp passes no sandbox mode then). Before
  // the console, whose catch-all would take the sandbox's GETs.
  if (deps.sandboxMode) mountSandboxMode(app, deps.sandboxMode, { devSignInLimit: rateLimits.devSignInLimit() });

  mountConsole(app, deps.config.http.consoleDistDir);

  app.notFound((c) => c.json({ error: 'not_found', message: `No route for ${c.req.method} ${c.req.path}` }, 404));
  app.onError((error, c) => {
    logger.error({ err: error }, 'unhandled error while serving a request');
    captureError(error, { requestId: c.get('requestId') });
    return c.json({ error: 'internal', message: 'Internal server error', requestId: c.get('requestId') }, 500);
  });
  return app;
}

/** The built console (Vite's output) at `/`, with index.html for client-side routes; a placeholder when not built. */
function mountConsole(app: Hono<AppEnv>, distDir: string) {
  const root = resolve(distDir);
  const indexPath = join(root, 'index.html');
  if (!existsSync(indexPath)) {
    app.get('/', (c) => c.html(CONSOLE_PLACEHOLDER));
    return;
  }
  const indexHtml = readFileSync(indexPath, 'utf8');
  app.use('/assets/*', serveStatic({ root, onFound: (_path, c) => c.header('Cache-Control', 'public, max-age=31536000, immutable') }));
  app.use('/*', serveStatic({ root }));
  app.get('*', (c, next) => (c.req.header('accept')?.includes('text/html') || c.req.path === '/' ? c.html(indexHtml) : next()));
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
