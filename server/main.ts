import { existsSync } from 'node:fs';
// `npm start`: read the configuration, start everything, print one banner, stop cleanly on a signal.
// Only the configuration's modules are loaded before it is read: the app's (compose.ts, Sentry's SDK)
// come after, so that a bad variable is reported at once, not after seconds of loading them (about
// 2.5 s of CPU on this machine, most of npm start's time to fail, and of tests/config.test.ts's).
import type { RunningApp } from './compose';
import { SANDBOX_STOREFRONT_PATH } from './checkout/returnUrls';
import { type Config, ConfigError, loadConfig } from './config';
import { createLogger } from './platform/observability/logger';
import { StartAbortedError } from './platform/db/untilAvailable';

/** Beyond SHUTDOWN_TIMEOUT_MS: time to close the database and flush Sentry once the drain has ended. */
const SHUTDOWN_GRACE_MS = 5000;

function banner(config: Config, app: RunningApp): string {
  const database = config.database.kind === 'postgres' ? `PostgreSQL (${redactUrl(config.database.url)})` : `embedded PGlite (${config.database.dataDir})`;
  const stripe = { sandbox: 'sandbox (offline emulator, no Stripe key set)', test: 'Stripe test mode', live: 'Stripe LIVE mode' }[config.stripe.mode];
  const role = {
    all: '',
    web: ' as a web process (HTTP only: the jobs run in worker processes)',
    worker: ' as a worker (the jobs only: the webhook applier, the Make outbox, reconciliation, retention, alerts)',
  }[config.role];
  const lines = [
    '',
    `  Payments ops is running (${config.nodeEnv})${role}`,
    ...(config.role === 'worker' ? [] : [`  Console   ${app.url}/`, `  GraphQL   ${app.url}/graphql`]),
    `  Health    ${app.url}/healthz  ${app.url}/readyz`,
    `  Database  ${database}`,
    `  Stripe    ${stripe}`,
  ];
  if (app.stripeSandbox) {
    lines.push(`  Sandbox   Stripe API at ${app.url}/v1 (any sk_test_ key); hosted checkout pages at ${app.url}/checkout/…`);
    lines.push(`  Shop      a demo storefront to buy through hosted Checkout: ${app.url}${SANDBOX_STOREFRONT_PATH}`);
  }
  if (app.devCredentials) {
    lines.push(
      '',
      '  Sandbox credentials (kept in .data/, valid for this sandbox only):',
      `  Storefront API key  ${app.devCredentials.storefrontApiKey}`,
      `  Support token       ${app.devCredentials.supportToken}`,
      `  Admin token         ${app.devCredentials.adminToken}`,
      `  Try: curl -s ${app.url}/graphql -H 'content-type: application/json' \\`,
      `         -H 'authorization: Bearer ${app.devCredentials.storefrontApiKey}' \\`,
      `         -d '{"query":"{ pricing { name prices { unitAmount { formatted } } } viewer { role } }"}'`,
    );
  }
  return lines.join('\n') + '\n';
}

function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

async function main() {
  let config: Config;
  try {
    // A .env file in the working directory, if any; variables already set in the environment win.
    if (existsSync('.env')) process.loadEnvFile('.env');
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger({ level: config.logLevel });
  const [{ initSentry }, { startApp, DEFAULT_DEV_CREDENTIALS_FILE, DEFAULT_STRIPE_SANDBOX_FILE }] = await Promise.all([
    import('./platform/observability/sentry'),
    import('./compose'),
  ]);
  initSentry(config.sentry);

  // The first SIGTERM or SIGINT starts the drain (app.stop(): stop accepting, finish the requests and
  // job runs in flight within SHUTDOWN_TIMEOUT_MS, close the database), then the process exits 0. A
  // repeated signal does not cut the drain short: one Ctrl-C under `npm start` can reach this process
  // twice (from the terminal and relayed by npm and tsx), and SIGTERM is often repeated by supervisors
  // that escalate to SIGKILL on their own. The listeners stay on (not `once`): with none left, Node,
  // or tsx's own handler, would end the process at the second signal. The drain is bounded anyway, and
  // a watchdog exits (1) should closing something hang past it.
  // The listeners are on from the start: a process still starting (waiting for its database, say) is
  // stopped at once, with exit code 0, as a supervisor expects of SIGTERM.
  let app: RunningApp | undefined;
  const starting = new AbortController();
  let draining = false;
  const drain = (signal: NodeJS.Signals, running: RunningApp) => {
    logger.info({ signal, timeoutMs: config.http.shutdownTimeoutMs }, 'shutting down: draining requests and stopping jobs');
    running.stop().then(
      () => {
        logger.info({ signal }, 'shut down cleanly');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  const shutdown = (signal: NodeJS.Signals) => {
    if (draining) {
      logger.warn({ signal }, 'already shutting down: the drain ends within SHUTDOWN_TIMEOUT_MS');
      return;
    }
    draining = true;
    setTimeout(() => {
      logger.error({ signal }, 'shutdown did not finish in time: exiting without it');
      process.exit(1);
    }, config.http.shutdownTimeoutMs + SHUTDOWN_GRACE_MS).unref();
    if (app) return drain(signal, app);
    logger.info({ signal }, 'shutting down while starting: the start is abandoned');
    starting.abort();
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  try {
    app = await startApp(config, logger, { devCredentialsFile: DEFAULT_DEV_CREDENTIALS_FILE, stripeSandboxFile: DEFAULT_STRIPE_SANDBOX_FILE, signal: starting.signal });
  } catch (error) {
    if (error instanceof StartAbortedError) {
      logger.info('stopped before the start was over');
      process.exit(0);
    }
    throw error;
  }
  // A signal that came after the last step that heeds it: the start is over, so it drains as usual.
  if (starting.signal.aborted) return drain('SIGTERM', app);
  process.stdout.write(banner(config, app));
}

main().catch((error) => {
  process.stderr.write(`Start-up failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
