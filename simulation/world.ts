// The world a simulation runs in: the real server (server/compose.ts's startApp, as tests/helpers/server.ts
// starts it) in this process, its built-in Stripe sandbox, a Make receiver the simulator controls, and
// a fault-injecting decorator over the database. The server's background jobs are off: the simulator
// runs the webhook applier, the Make outbox and the reconciliation pass itself at chosen steps, so a
// seed replays the same schedule (and a fault queued "for the next call" meets the same call).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import Stripe from 'stripe';
import { WEBHOOK_PATH } from '../server/api/http/webhookRoute';
import { createApiKey } from '../server/auth/apiKeys';
import { signStaffToken } from '../server/auth/staffTokens';
import { SANDBOX_ENDPOINT_OWNER, startApp, type RunningApp } from '../server/compose';
import { loadConfig } from '../server/config';
import type { Db } from '../server/platform/db/db';
import { type FaultyDb, faultyDb } from '../server/platform/db/faultyDb';
import { createLogger } from '../server/platform/observability/logger';
import { HANDLED_EVENT_TYPES } from '../server/webhooks/translate';
import { createStripeSandbox } from '../stripe-sandbox/sandbox';
import { noWebhookFaults } from '../stripe-sandbox/webhooks';

export const JWT_SECRET = 'simulation-jwt-secret-0123456789abcdef0123';
export const MAKE_SIGNING_SECRET = 'simulation-make-signing-secret';
/** Make kinds the simulated business routes to its scenarios (the receiver below). */
/** Webhook deliveries the sandbox posts at once when the simulator flushes them (stripe-sandbox/webhooks.ts). */
export const WEBHOOK_DELIVERY_CONCURRENCY = 8;
export const MAKE_KINDS = ['add_project', 'refund_completed', 'payment_request_completed'] as const;

// ---------------------------------------------------------------------------------------------------
// Make: a local HTTP receiver answering as a Make custom webhook does, or down, or slower than the
// outbox's timeout, as the simulator sets it.

export interface MakeReceipt {
  kind: string;
  deliveryId: string;
  accepted: boolean;
  body: { type?: string; data?: { order_id?: string; refund?: { id?: string }; payment_request?: { id?: string } } & Record<string, unknown> };
}

export interface MakeReceiver {
  url: string;
  mode: 'up' | 'down' | 'slow';
  receipts: MakeReceipt[];
  close: () => Promise<void>;
}

export async function startMakeReceiver(slowMs: number): Promise<MakeReceiver> {
  const receiver = { mode: 'up', receipts: [] } as unknown as MakeReceiver;
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const kind = (request.url ?? '/').slice(1);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      const deliveryId = String(request.headers['x-delivery-id'] ?? '');
      const mode = receiver.mode;
      if (mode === 'down') {
        receiver.receipts.push({ kind, deliveryId, accepted: false, body });
        response.writeHead(503).end('Scenario is off');
        return;
      }
      const answer = () => {
        // A slow answer arrives after the outbox gave up waiting: Make queued it, the outbox does not know.
        receiver.receipts.push({ kind, deliveryId, accepted: !response.destroyed && !request.destroyed, body });
        if (!response.destroyed) response.writeHead(200).end('Accepted');
      };
      if (mode === 'slow') setTimeout(answer, slowMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}

// ---------------------------------------------------------------------------------------------------
// The server: started, and "restarted" (everything in memory dropped; the database and the sandbox
// kept, as Stripe keeps its objects while our process restarts).

/** Log lines at error level, kept for the report (the server logs what it survives). */
class ErrorLines extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void) {
    for (const line of chunk.toString('utf8').split('\n')) if (line.includes('"level":50') || line.includes('"level":60')) this.lines.push(line);
    done();
  }
}

export interface World {
  app: RunningApp;
  faults: FaultyDb;
  make: MakeReceiver;
  /** The storefront's API key and an admin's token. */
  storefrontKey: string;
  adminToken: string;
  /** The customer's browser at Stripe (Stripe.js): its own client, not the server's. */
  browser: Stripe;
  errorLines: string[];
  graphql: (query: string, variables: Record<string, unknown>, auth: 'storefront' | 'admin') => Promise<{ data?: any; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> }>;
  restart: () => Promise<void>;
  close: () => Promise<void>;
}

/**
 * The server's Stripe SDK still retries an injected 429, 500 or reset (as many times, with the same
 * idempotency key), but without its real backoff of 0.5 to 5 s a retry: simulated time does not pass
 * while the simulator sleeps, so the wait would only slow the run. The SDK reads the delays from these
 * two methods of its instance (stripe-node's RequestSender._getSleepTimeInMS); a later SDK without them
 * fails the start here rather than sleeping again unnoticed.
 */
function withoutRetryDelays(stripe: Stripe): void {
  const delays = stripe as unknown as { getInitialNetworkRetryDelay?: () => number; getMaxNetworkRetryDelay?: () => number };
  if (typeof delays.getInitialNetworkRetryDelay !== 'function' || typeof delays.getMaxNetworkRetryDelay !== 'function') {
    throw new Error('the Stripe SDK no longer reads its retry delays from getInitialNetworkRetryDelay/getMaxNetworkRetryDelay: see simulation/world.ts');
  }
  delays.getInitialNetworkRetryDelay = () => 0;
  delays.getMaxNetworkRetryDelay = () => 0;
}

export interface WorldOptions {
  db: Db;
  /** Stripe SDK retries of the server (a 429 or 500 the SDK absorbs below this many in a row). */
  stripeRetries: number;
  makeTimeoutMs: number;
}

export async function startWorld(options: WorldOptions): Promise<World> {
  const faults = faultyDb(options.db);
  const make = await startMakeReceiver(options.makeTimeoutMs + 200);
  const errors = new ErrorLines();
  const logger = createLogger({ level: 'error', destination: errors });
  const routes = Object.fromEntries(MAKE_KINDS.filter((k) => k !== 'add_project').map((k) => [k, `${make.url}/${k}`]));
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    CONSOLE_DIST_DIR: './dist/console',
    RECONCILE_INTERVAL: 'off',
    JOBS_ENABLED: 'false',
    SUPABASE_JWT_SECRET: JWT_SECRET,
    STRIPE_MAX_NETWORK_RETRIES: String(options.stripeRetries),
    SHUTDOWN_TIMEOUT_MS: '2000',
    MAKE_SIGNING_SECRET,
    MAKE_TIMEOUT_MS: String(options.makeTimeoutMs),
    MAKE_ADD_PROJECT_WEBHOOK_URL: `${make.url}/add_project`,
    MAKE_WEBHOOK_URLS: JSON.stringify(routes),
    RATE_LIMIT_API_KEY_PER_MINUTE: '0',
  });
  // Stripe (the sandbox) outlives our server: a restart stops the server and starts a new one on the
  // same database and the same sandbox, its objects, clock and queued deliveries as they are. Through
  // the sandbox's state file, as `npm start` keeps it, each restart serialised and parsed every object
  // the sandbox holds, a cost growing with the run: at 1,000 payments a day, a sixth of the process's
  // CPU by day 2 and most of it by the month's end (docs/simulation.md, "Figures so far").
  const sandbox = createStripeSandbox({ publicUrl: 'http://127.0.0.1', log: (line) => logger.error(line) });
  const start = async () => {
    const app = await startApp(config, logger, { db: faults.db, stripeSandbox: sandbox });
    // Deliveries go out when the simulator flushes them, not on the sandbox's real-time timer.
    app.stripeSandbox!.core.events.stopAutoDelivery();
    // A batch of customers' deliveries go out 8 at a time (each object's still in order), as Stripe
    // sends them, rather than one POST after another while the process waits on each answer.
    app.stripeSandbox!.core.events.deliveryConcurrency = WEBHOOK_DELIVERY_CONCURRENCY;
    // The endpoint takes the event types the server applies, as production's is registered
    // (`npm run stripe:events`, docs/deploy.md), not every type: sandbox mode's '*' doubled the
    // deliveries (payment_intent.created, charge.succeeded, invoice.created...), each stored as ignored.
    app.stripeSandbox!.ensureWebhookEndpoint(SANDBOX_ENDPOINT_OWNER, `${app.url}${WEBHOOK_PATH}`, [...HANDLED_EVENT_TYPES]);
    withoutRetryDelays(app.stripe);
    return app;
  };
  const app = await start();
  const { key } = await createApiKey(options.db, 'simulated storefront', 'storefront');
  const adminToken = await signStaffToken(JWT_SECRET, { userId: '00000000-0000-4000-a000-00000000ad01', email: 'admin@simulated.test', staffRole: 'admin', audience: config.auth.audience, issuer: config.auth.issuer, expiresIn: '24h' });
  const browserFor = (url: string) => {
    const u = new URL(url);
    return new Stripe('sk_test_simulated_browser', { host: u.hostname, port: Number(u.port), protocol: 'http', maxNetworkRetries: 0 });
  };
  const world: World = {
    app,
    faults,
    make,
    storefrontKey: key,
    adminToken,
    browser: browserFor(app.url),
    errorLines: errors.lines,
    async graphql(query, variables, auth) {
      const response = await fetch(`${world.app.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth === 'admin' ? { authorization: `Bearer ${adminToken}` } : { 'x-api-key': key }) },
        body: JSON.stringify({ query, variables }),
      });
      return (await response.json()) as never;
    },
    async restart() {
      await world.app.stop();
      // What a new sandbox read from its state file did not have, and so what a restart has always
      // dropped: API faults queued for the next call and the webhook faults not met yet.
      sandbox.clearPendingFaults();
      Object.assign(sandbox.webhookFaults, noWebhookFaults());
      world.app = await start();
      world.browser = browserFor(world.app.url);
    },
    async close() {
      await world.app.stop();
      await make.close();
    },
  };
  return world;
}
