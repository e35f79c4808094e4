// A worker process's HTTP (PROCESS_ROLE=worker): its health checks and nothing else. It serves no
// GraphQL, no webhooks and no console, so a balancer's health check can reach it on its own port
// without it ever taking the traffic of a web process.
import { Hono } from 'hono';
import type { Db } from '../../platform/db/db';
import type { Logger } from '../../platform/observability/logger';

export interface WorkerHttpAppDeps {
  db: Db;
  logger: Logger;
  /** False while the worker drains for shutdown: /readyz answers 503. */
  isAcceptingTraffic: () => boolean;
}

const READY_TIMEOUT_MS = 2000;

export function createWorkerHttpApp(deps: WorkerHttpAppDeps): Hono {
  const app = new Hono();
  // Alive: the process answers.
  app.get('/healthz', (c) => c.json({ status: 'ok', role: 'worker' }));
  // Ready: not draining, and the database the jobs work on answers.
  app.get('/readyz', async (c) => {
    if (!deps.isAcceptingTraffic()) return c.json({ status: 'draining', role: 'worker' }, 503);
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS)));
      await Promise.race([deps.db.query('select 1'), timeout]);
      return c.json({ status: 'ready', role: 'worker', database: deps.db.engine });
    } catch (error) {
      deps.logger.warn({ err: error }, 'readiness check failed: database unreachable');
      return c.json({ status: 'unavailable', role: 'worker', reason: 'database unreachable' }, 503);
    } finally {
      clearTimeout(timer);
    }
  });
  app.notFound((c) => c.json({ error: 'not found: a worker serves /healthz and /readyz only' }, 404));
  app.onError((error, c) => {
    deps.logger.error({ err: error }, 'worker health endpoint failed');
    return c.json({ error: 'internal error' }, 500);
  });
  return app;
}
