// The composition root: builds every part from a Config and starts the HTTP server and the jobs.
// main.ts calls it for `npm start`; tests call it to run the real server on a free port.
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createServer, type RequestListener, type ServerOptions } from 'node:http';
import { serve, type ServerType } from '@hono/node-server';
import type { ApolloServer } from '@apollo/server';
import { createTokenVerifier } from './auth/staffTokens';
import type { Config } from './config';
import type { Db } from './platform/db/db';
import { migrate } from './platform/db/migrate';
import { untilDatabaseAvailable } from './platform/db/untilAvailable';
import { startingHttpHandler } from './api/http/startingHttpApp';
import { openDb } from './platform/db/open';
import { checkoutReturnUrls } from './checkout/returnUrls';
import { syncStripeCatalog } from './catalog/stripeProducts';
import type { GraphQLContext, Services } from './api/graphql/context';
import { createApolloServer } from './api/graphql/server';
import { createWebhookApplier, STRIPE_EVENTS_NOTIFY_CHANNEL, type WebhookApplier } from './webhooks/applier';
import { EventStore } from './webhooks/eventStore';
import { newWebhookCounters, WEBHOOK_PATH, type WebhookCounters } from './api/http/webhookRoute';
import { createHttpApp, createRateLimits } from './api/http/httpApp';
import { createGraphQLListener } from './api/http/graphqlListener';
import { createWebhookListener } from './api/http/webhookListener';
import { createWorkerHttpApp } from './api/http/workerHttpApp';
import { type Job, JobRunner } from './platform/jobs/runner';
import type { Logger } from './platform/observability/logger';
import { flushSentry } from './platform/observability/sentry';
import { createStripeSandbox, type StripeSandbox } from '../stripe-sandbox/sandbox';
import { createStripeClient } from './stripe/client';
import type Stripe from 'stripe';
import { type DevCredentials, ensureDevCredentials } from './sandboxMode/devCredentials';
import { confirmPayment } from './checkout/confirmPayment';
import { startPayment } from './checkout/startPayment';
import type { SandboxModeDeps } from './sandboxMode/mount';
import { storefrontShareCalls } from './sandboxMode/paymentRequestPages';
import { runSubscriptionAction } from './subscriptions/actions';
import { previewSubscriptionSwitch } from './subscriptions/preview';
import { runSubscriptionSwitch } from './subscriptions/switch';
import { syncMakeRoutes } from './make/deliveries.sql';
import { createMakeOutbox, MAKE_NOTIFY_CHANNEL, type MakeOutbox } from './make/outbox';
import { checkSandboxMayRoute, seatMakeRoutes } from './make/routes';
import { seatMakeSigningSecret } from './make/signingSecret';
import { createMakeSink, MAKE_SINK_PATH, type MakeSink, sandboxMakeRoutes } from './sandboxMode/make/sink';
import { createAlertMonitor } from './ops/alertMonitor';
import { retentionJob, seatRetentionSettings } from './retention/retention';
import { reconcileJob, type ReconcileDeps } from './reconcile/janitor';
import { createReconciliation, type Reconciliation } from './reconcile/service';
import { createRefunds } from './refunds/refundPayment';
import { createPaymentRequests } from './paymentRequests/paymentRequests';
import { paymentRequestPayUrl } from './paymentRequests/payUrl';

export interface RunningApp {
  url: string;
  db: Db;
  devCredentials: DevCredentials | undefined;
  jobs: JobRunner;
  /** The Stripe client: the real API, or the sandbox in this server when no key is configured. */
  stripe: Stripe;
  stripeSandbox: StripeSandbox | undefined;
  /** The signing secret of the endpoint the sandbox delivers this server's webhooks to (sandbox mode). */
  sandboxWebhookSecret: string | undefined;
  /** Webhook deliveries received, repeated and refused (by reason) since start. */
  webhookCounters: WebhookCounters;
  /** Applies stored Stripe events (woken by the endpoint, and on a timer). */
  webhookApplier: WebhookApplier;
  /** Posts Make deliveries (woken by NOTIFY, and on a timer). */
  makeOutbox: MakeOutbox;
  /** Sandbox mode without Make URLs: the built-in Make sink the deliveries go to. */
  makeSink: MakeSink | undefined;
  /** What a reconciliation pass runs with (server/reconcile/): the job's, and a manual pass's. */
  reconciliation: ReconcileDeps;
  /** The reconciliation service the API uses (background passes, order syncs, finding actions). */
  reconciler: Reconciliation;
  /** Drains in-flight requests, stops jobs, closes the database. Safe to call twice. */
  stop: () => Promise<void>;
  /** The Hono app alone, without the webhook listener in front of it: tests compare the two. */
  honoFetch: (request: Request) => Promise<Response>;
}

export interface StartOptions {
  /** Use this database instead of opening one from config (tests). Migrations still run. */
  db?: Db;
  /** Where sandbox mode keeps its dev credentials; undefined keeps them in memory only. */
  devCredentialsFile?: string;
  /** Where sandbox mode keeps the Stripe sandbox's state across restarts; undefined keeps it in memory only. */
  stripeSandboxFile?: string;
  /** How long a change to the sandbox waits before that file is written (the sandbox's default: 200 ms). */
  stripeSandboxFileDebounceMs?: number;
  /**
   * Sandbox mode: serve this sandbox (its objects, clock and queued webhooks as they are) instead of
   * making one. The simulator restarts the server around the same sandbox, as Stripe outlives our
   * process, rather than writing and reading back every object at each restart.
   */
  stripeSandbox?: StripeSandbox;
  jobs?: Job[];
  /** Aborted when the process is told to stop before its start is over (SIGTERM while it waits for the database). */
  signal?: AbortSignal;
}

export const DEFAULT_DEV_CREDENTIALS_FILE = join('.data', 'dev-credentials.json');
export const DEFAULT_STRIPE_SANDBOX_FILE = join('.data', 'stripe-sandbox.json');
/** Who owns the sandbox's webhook endpoint for this server (sandbox mode registers it at each start). */
export const SANDBOX_ENDPOINT_OWNER = 'payments-ops-server';

export async function startApp(config: Config, logger: Logger, options: StartOptions = {}): Promise<RunningApp> {
  const db = options.db ?? (await openDb(config.database, logger));
  // The port is taken first and answers as a starting process (/healthz 200, /readyz 503), so that a
  // process waiting for its database is seen as alive and not ready; its app is served once started.
  const http = await listenWhileStarting(config).catch(async (error: unknown) => {
    if (!options.db) await db.close();
    throw error;
  });
  try {
    return await startOnPort(config, logger, options, db, http);
  } catch (error) {
    await http.close();
    // Closed before the error goes up, a start abandoned on a signal included: the process exits right
    // after, and an on-disk PGlite cut off there is left mid-write, as a crash leaves it (close waits
    // for the statement in flight, then shuts Postgres down). On PostgreSQL a connection still being
    // attempted holds this up to its connect timeout (10 s), within main.ts's shutdown watchdog.
    if (!options.db) await db.close().catch(() => undefined);
    throw error;
  }
}

interface StartingHttp {
  server: ServerType;
  url: string;
  /**
   * Serves the started app in place of the starting answers: its fetch, and optionally a node:http
   * listener in front of it, given the listener that runs the fetch.
   */
  serveApp: (fetch: FetchHandler, inFront?: (honoListener: RequestListener) => RequestListener) => void;
  close: () => Promise<void>;
}

type FetchHandler = Parameters<typeof serve>[0]['fetch'];

async function listenWhileStarting(config: Config): Promise<StartingHttp> {
  let handler: FetchHandler = startingHttpHandler(config.role);
  let honoListener: RequestListener = () => {};
  let listener: RequestListener = (req, res) => honoListener(req, res);
  const server = serve({
    fetch: (request, env) => handler(request, env),
    port: config.port,
    hostname: config.host,
    createServer: ((serverOptions: ServerOptions, hono: RequestListener) => {
      honoListener = hono;
      return createServer(serverOptions, (req, res) => listener(req, res));
    }) as typeof createServer,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${host === '0.0.0.0' || host === '[::]' ? 'localhost' : host}:${address.port}`,
    serveApp: (fetch, inFront) => {
      handler = fetch;
      if (inFront) listener = inFront(honoListener);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ('closeAllConnections' in server) server.closeAllConnections();
      }),
  };
}

/**
 * The start-up steps that need the database, each retried while it cannot be reached (a process
 * started during an outage waits for it, saying so), with the checks every process must pass against
 * the others: migrations applied once (under their lock), Make routes and retention limits agreed.
 */
async function seatSharedState(config: Config, logger: Logger, options: StartOptions, db: Db, url: string): Promise<void> {
  const untilAvailable = <T>(step: string, run: () => Promise<T>) => untilDatabaseAvailable(step, run, { logger, signal: options.signal });
  const migrated = await untilAvailable('migrations', () => migrate(db));
  if (migrated.applied.length > 0) logger.info({ applied: migrated.applied }, 'migrations applied');
  // Before anything is served: a process routing Make otherwise than the others refuses to start.
  const isSandboxRoute = (route: string) => URL.canParse(route) && new URL(route).pathname.startsWith(`${MAKE_SINK_PATH}/`);
  if (!config.make.useSandboxSink) {
    const seated = await untilAvailable('make routes', () => seatMakeRoutes(db, config.make.routes, { overwrite: config.make.overwriteRoutes, isSandboxRoute }));
    if (seated.outcome === 'overwritten') logger.warn({ kinds: seated.kinds }, 'Make routes replaced (MAKE_ROUTES_OVERWRITE=true): unset it, and give every process these routes');
    // The secret its deliveries are signed with, beside the routes: compared by fingerprint.
    const secret = config.make.signingSecret;
    if (secret) {
      const seatedSecret = await untilAvailable('make signing secret', () => seatMakeSigningSecret(db, secret, { overwrite: config.make.overwriteSigningSecret }));
      if (seatedSecret === 'overwritten') logger.warn('Make signing secret replaced (MAKE_SIGNING_SECRET_OVERWRITE=true): unset it, and give every process this MAKE_SIGNING_SECRET');
    }
  } else {
    // Sandbox mode routes to its own sink, at this process's URL: never over configured routes.
    await untilAvailable('make routes', async () => {
      await checkSandboxMayRoute(db, isSandboxRoute);
      if (config.make.signingSecret) await syncMakeRoutes(db, sandboxMakeRoutes(url));
    });
  }

  // The retention limits pg_cron's run reads (where pg_cron schedules it): seated by the processes that
  // run jobs, which must agree (a web process's RETENTION_* are not its business: it writes nothing).
  if (config.jobsEnabled) {
    const seated = await untilAvailable('retention settings', () => seatRetentionSettings(db, config.retention, { overwrite: config.retention.overwriteSettings }));
    if (seated === 'overwritten') logger.warn('retention settings replaced (RETENTION_SETTINGS_OVERWRITE=true): unset it, and give every job process these RETENTION_* values');
  }
}

async function startOnPort(config: Config, logger: Logger, options: StartOptions, db: Db, http: StartingHttp): Promise<RunningApp> {
  const { server, url } = http;
  await seatSharedState(config, logger, options, db, url);

  // Dev tokens are HS256, so they are made only where HS256 tokens are accepted (not with a JWKS).
  const devCredentials =
    config.stripe.mode === 'sandbox' && !config.isProduction && !config.auth.jwksUrl
      ? await untilDatabaseAvailable(
          'dev credentials',
          () =>
            ensureDevCredentials(db, {
              file: options.devCredentialsFile,
              jwtSecret: config.auth.jwtSecret,
              audience: config.auth.audience,
              issuer: config.auth.issuer,
            }),
          { logger, signal: options.signal },
        )
      : undefined;
  const verifyToken = createTokenVerifier({
    jwtSecret: config.auth.jwtSecret ?? devCredentials?.jwtSecret,
    jwksUrl: config.auth.jwksUrl,
    audience: config.auth.audience,
    issuer: config.auth.issuer,
  });

  // A worker serves its health checks only: no GraphQL, no webhooks, no console.
  const apollo: ApolloServer<GraphQLContext> | undefined = config.role === 'worker' ? undefined : await createApolloServer(config, logger);
  let accepting = true;
  // Sandbox mode: the Stripe emulator lives in this server; its public URL is known after listen.
  const stripeSandbox =
    config.stripe.mode === 'sandbox' && !config.isProduction
      ? options.stripeSandbox ?? createStripeSandbox({ publicUrl: 'http://127.0.0.1', log: (line) => logger.error(line), stateFile: options.stripeSandboxFile, stateFileDebounceMs: options.stripeSandboxFileDebounceMs })
      : undefined;
  // In sandbox mode the Stripe client and Checkout's return pages point at this server: they are made
  // once the port is known, before the first request is served.
  let services: Services | undefined;
  const getServices = () => {
    if (!services) throw new Error('the server is still starting');
    return services;
  };
  const webhookApplier = createWebhookApplier({
    db,
    stripe: () => getServices().stripe,
    logger,
    expectLive: config.stripe.mode === 'live',
    maxAttempts: config.webhooks.maxAttempts,
  });
  // A process without jobs only stores events; a process with jobs applies them.
  const webhooks = { store: new EventStore(db, config.jobsEnabled ? () => webhookApplier.wake() : undefined), counters: newWebhookCounters() };
  const makeSink = config.make.useSandboxSink && config.make.signingSecret ? createMakeSink({ signingSecret: config.make.signingSecret }) : undefined;
  // Sandbox mode's extras, each given what it needs; the HTTP app mounts them in one place.
  const checkoutDeps = () => ({ db, logger, ...getServices() });
  const sandboxMode: SandboxModeDeps | undefined = stripeSandbox && {
    stripeSandbox,
    devSignIn: devCredentials && { jwtSecret: devCredentials.jwtSecret, audience: config.auth.audience, issuer: config.auth.issuer },
    makeSink,
    storefront: {
      db,
      startCheckout: (viewer, input, mode) => startPayment(checkoutDeps(), 'checkout_session', viewer, input, mode),
      confirmPayment: (viewer, input) => confirmPayment(checkoutDeps(), viewer, input),
      paymentRequests: { service: () => getServices().paymentRequests, ...storefrontShareCalls(() => getServices().stripe) },
      // The demo customer sign-in signs with the HS256 secret the verifier accepts: none with a JWKS.
      customers: (() => {
        const jwtSecret = config.auth.jwksUrl ? undefined : (config.auth.jwtSecret ?? devCredentials?.jwtSecret);
        if (!jwtSecret) return undefined;
        const { stripe, stripeNow } = { stripe: () => getServices().stripe, stripeNow: () => (getServices().stripeNow ?? Date.now)() };
        return {
          session: { jwtSecret, audience: config.auth.audience, issuer: config.auth.issuer, verifyToken },
          previewSwitch: (request) => previewSubscriptionSwitch({ db, stripe: stripe() }, { ...request, nowMs: stripeNow() }),
          switchSubscription: (request) => runSubscriptionSwitch({ db, stripe: stripe(), logger, now: stripeNow }, request),
          subscriptionAction: (request) => runSubscriptionAction({ db, stripe: stripe(), logger }, request),
        };
      })(),
    },
  };
  const rateLimits = createRateLimits(config);
  const app = apollo
    ? createHttpApp({
    rateLimits,
    apollo,
    auth: { db, verifyToken },
    db,
    config,
    logger,
    isAcceptingTraffic: () => accepting,
    sandboxMode,
    services: getServices,
    webhooks,
  })
    : createWorkerHttpApp({ db, logger, isAcceptingTraffic: () => accepting });
  // Stripe's deliveries and POST /graphql are answered by node:http listeners in front of Hono
  // (webhookListener.ts, graphqlListener.ts): the routes served at a rate where the framework's share shows.
  const graphqlListener = apollo
    ? await createGraphQLListener(
        { rateLimits, apollo, auth: { db, verifyToken }, db, config, logger, isAcceptingTraffic: () => accepting, services: getServices },
        (req, res) => honoListener(req, res),
      )
    : undefined;
  const webhookListener = apollo
    ? await createWebhookListener(
        { config, logger, rateLimits, isAcceptingTraffic: () => accepting, ...webhooks, secrets: () => getServices().webhookSecrets },
        (req, res) => (graphqlListener ?? honoListener)(req, res),
      )
    : undefined;
  let honoListener: RequestListener = () => {};
  // The port has been answering since the start (listenWhileStarting); once the database is seated
  // and the app built, its routes replace the starting answers (/readyz now checks the database).
  // Before the catalog sync below: in sandbox mode the Stripe API the sync calls is this port.
  http.serveApp(app.fetch, (listener) => {
    honoListener = listener;
    return webhookListener ?? listener;
  });

  // The sandbox delivers events to this server's webhook endpoint, as Stripe would once the
  // endpoint is registered in its dashboard; its signing secret is accepted alongside any configured.
  const sandboxWebhookEndpoint = stripeSandbox ? registerSandboxWebhook(stripeSandbox, url) : undefined;
  const stripe = createStripeClient(config.stripe, url);
  // The janitor reads Stripe's times: in sandbox mode the sandbox's clock, which tests move forward.
  const reconciliation: ReconcileDeps = {
    db,
    stripe,
    logger,
    settings: config.reconcile,
    eventStore: webhooks.store,
    expectLive: config.stripe.mode === 'live',
    now: stripeSandbox ? () => new Date(stripeSandbox.core.clock.now() * 1000) : undefined,
    schedulesJobs: config.jobsEnabled,
  };
  const reconciler = createReconciliation(reconciliation);
  services = {
    stripe,
    checkoutUrls: checkoutReturnUrls(config.checkout, stripeSandbox ? url : undefined),
    webhookSecrets: [...config.stripe.webhookSecrets, ...(sandboxWebhookEndpoint?.secret ? [sandboxWebhookEndpoint.secret] : [])],
    webhookApplier,
    reconciliation: reconciler,
    refunds: createRefunds({ db, stripe, logger }),
    paymentRequests: createPaymentRequests({
      db,
      stripe,
      logger,
      payUrl: paymentRequestPayUrl(config.paymentRequests.payUrl, stripeSandbox ? url : undefined),
      now: stripeSandbox ? () => stripeSandbox.core.clock.now() * 1000 : () => Date.now(),
    }),
    // Stripe's now in milliseconds, as the janitor reads it: the switch preview's proration date and
    // switchSubscription's check of it agree with the sandbox when tests move its clock.
    stripeNow: stripeSandbox ? () => stripeSandbox.core.clock.now() * 1000 : () => Date.now(),
  };
  // The catalog's products at Stripe, made once here rather than by every checkout. Not awaited with
  // Stripe itself: one that cannot be reached must not hold up or fail the start (checkouts then
  // sync on demand). The sandbox is this process: waiting for it, and for the delivery of the events
  // it sends, leaves nothing of the start in flight.
  const catalogSynced = syncStripeCatalog({ db, stripe: services.stripe, logger });
  if (stripeSandbox) await catalogSynced.then(() => stripeSandbox.flushWebhooks());

  const makeOutbox = createMakeOutbox({ db, config: config.make, logger, wakeForRetries: config.jobsEnabled });
  let stopListening: (() => Promise<void>) | undefined;

  const jobs = new JobRunner(logger);
  if (config.jobsEnabled) {
    // The timer is the safety net behind NOTIFY: a retry that became due, a lease that ended.
    jobs.start([{ name: 'make-outbox', schedule: '*/3 * * * * *', run: () => makeOutbox.drain().then(() => undefined) }]);
    stopListening = await db.listen?.(MAKE_NOTIFY_CHANNEL, () => makeOutbox.wake()).catch((error: unknown) => {
      logger.warn({ err: error }, 'could not LISTEN for Make deliveries: the outbox polls every 3 seconds');
      return undefined;
    });
    makeOutbox.wake(); // what an earlier process enqueued and did not deliver
    // Events a web process stored (its EventStore wakes no applier of this process): the insert's
    // trigger NOTIFYs at commit (migration 20261207002100). PostgreSQL only: PGlite is one process,
    // whose own EventStore wakes its applier.
    const stopListeningForEvents =
      db.engine === 'postgres'
        ? await db.listen?.(STRIPE_EVENTS_NOTIFY_CHANNEL, () => webhookApplier.wake()).catch((error: unknown) => {
            logger.warn({ err: error }, 'could not LISTEN for stored Stripe events: the applier polls every WEBHOOK_POLL_SECONDS');
            return undefined;
          })
        : undefined;
    const stopListeningForMake = stopListening;
    stopListening = async () => {
      await Promise.all([stopListeningForMake?.(), stopListeningForEvents?.()]);
    };
    // The safety net behind the wake after each stored batch: events whose wake was lost (a crash,
    // another process holding them), whose retry is due, or that were stored by a process without jobs.
    jobs.start([{ name: 'webhook-applier', schedule: config.webhooks.pollSeconds * 1000, run: () => webhookApplier.drain().then(() => undefined) }, ...(options.jobs ?? [])]);
    webhookApplier.wake(); // what an earlier process acknowledged and did not apply
    // The alert conditions, every minute, and once now so that a restart does not wait a minute to
    // notice (and send) what holds; onsets are recorded in the database, so a restart never re-sends.
    const alertMonitor = createAlertMonitor({ db, logger });
    jobs.start([alertMonitor.job]);
    await jobs.runOnce(alertMonitor.job);
    // Daily by default; off (RETENTION_SCHEDULE=off) where pg_cron runs it in the database instead.
    const retention = retentionJob({ db, settings: config.retention, logger });
    if (retention) jobs.start([retention]);
    // Every 5 minutes by default; one pass at a time across processes (a running row in the database).
    const janitor = reconcileJob(reconciliation);
    if (janitor) jobs.start([janitor]);
  }

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      accepting = false;
      const timeoutMs = config.http.shutdownTimeoutMs;
      // Stop accepting connections; requests in flight finish, idle keep-alive sockets close.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      if ('closeIdleConnections' in server) server.closeIdleConnections();
      // The sandbox sends its webhooks to this server, which takes no new connection now.
      stripeSandbox?.core.events.stopAutoDelivery();
      // Requests and jobs drain together, under one SHUTDOWN_TIMEOUT_MS: no job run starts any more,
      // and the runs in flight (an applier batch, a Make POST) finish and record what they did, so the
      // next process neither repeats nor loses them.
      // A pass started from the API stops between items (its run fails, the cursors stay).
      const parts = { requests: closed, jobs: jobs.stop(timeoutMs), reconciliation: reconciler.stop(), webhookApplier: webhookApplier.stop(), makeOutbox: makeOutbox.stop({ deadlineMs: Math.max(0, timeoutMs - 1000) }) };
      const pending = new Set(Object.keys(parts));
      const drained = Promise.all(Object.entries(parts).map(([name, part]) => part.then(() => pending.delete(name))));
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([drained.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs)))]);
      clearTimeout(timer);
      if (timedOut) {
        logger.warn({ timeoutMs, stillRunning: [...pending] }, 'shutdown timeout: closing the connections still open');
        if ('closeAllConnections' in server) server.closeAllConnections();
      }
      // Nothing reaches the sandbox any more: what it holds is written for the next start.
      await stripeSandbox?.close();
      await stopListening?.();
      await apollo?.stop();
      if (!options.db) await db.close();
      await flushSentry();
    })());

  return { url, db, devCredentials, jobs, stripe: services.stripe, stripeSandbox, sandboxWebhookSecret: sandboxWebhookEndpoint?.secret, webhookCounters: webhooks.counters, webhookApplier, makeOutbox, makeSink, reconciliation, reconciler, stop, honoFetch: async (request) => app.fetch(request) };
}

function registerSandboxWebhook(sandbox: StripeSandbox, serverUrl: string) {
  sandbox.core.publicUrl = serverUrl;
  // One endpoint for this server, kept (with its secret) across restarts of a persisted sandbox.
  const endpoint = sandbox.ensureWebhookEndpoint(SANDBOX_ENDPOINT_OWNER, `${serverUrl}${WEBHOOK_PATH}`, ['*']);
  sandbox.core.events.startAutoDelivery();
  return endpoint;
}
