// The Stripe sandbox: a stateful, offline emulator of the part of Stripe's API this project uses,
// written once as a fetch-style handler. `npm start` serves it over HTTP (the official SDK reaches it
// through host/port/protocol) and tests mount the same handler under msw.
import type Stripe from 'stripe';
import { SandboxCore, type SandboxCoreOptions } from './core';
import { type ApiFault, type ApiFaultMatch, type Route, Router } from './router';
import { clockHandlers, resourceRoutes, timerHandlers } from './resources';
import { handleHostedPage, HOSTED_PAGE_PREFIX } from './resources/checkoutPage';
import { handleThreeDSecurePage } from './resources/paymentIntents';
import { THREE_D_SECURE_PREFIX } from './resources/paymentIntents.machine';
import { SandboxStateFile } from './persistence';
import type { WebhookFaults } from './webhooks';

export interface StripeSandbox {
  /** Handles one request: the Stripe API under /v1, hosted pages (checkout, 3-D Secure), and the /_sandbox control API. */
  handle: (request: Request) => Promise<Response>;
  core: SandboxCore;
  /** Registers a webhook endpoint directly and returns it with its secret. */
  addWebhookEndpoint: (url: string, enabledEvents?: string[]) => Stripe.WebhookEndpoint;
  /**
   * The one endpoint registered under this owner (as `npm start` registers the server's at each start),
   * pointed at `url`: the same endpoint and signing secret across restarts of a persisted sandbox, as
   * an endpoint configured once in Stripe's dashboard; created when there is none.
   */
  ensureWebhookEndpoint: (owner: string, url: string, enabledEvents?: string[]) => Stripe.WebhookEndpoint;
  /** Fail the next API calls, in order, with these faults (whichever calls come first). */
  failNext: (...faults: ApiFault[]) => void;
  /**
   * Fail the next API calls that match, in order, with these faults: calls named by their method,
   * path and parameters meet them in every interleaving of concurrent calls (see ApiFaultMatch).
   */
  failMatching: (match: ApiFaultMatch, ...faults: ApiFault[]) => void;
  /** How many of the faults queued (by failNext or failMatching) no call has met yet. */
  pendingFaultCount: () => number;
  /** Forgets the faults no call has met yet. */
  clearPendingFaults: () => void;
  webhookFaults: WebhookFaults;
  /** Delivers every webhook due now; resolves when all attempts are done. */
  flushWebhooks: () => Promise<void>;
  advanceClock: (seconds: number) => Promise<void>;
  reset: () => void;
  /** With a state file: writes what is pending and stops persisting (at shutdown). A no-op without one. */
  close: () => Promise<void>;
}

export interface StripeSandboxOptions extends SandboxCoreOptions {
  extraRoutes?: Route[];
  /**
   * Keep the sandbox's state in this file (`npm start`: .data/stripe-sandbox.json), restored at
   * creation and written as it changes. Without it the sandbox lives in memory only.
   */
  stateFile?: string;
  /**
   * The longest a change waits before the state file is written (200 ms). The simulator, which only
   * reads the file after a stop (which flushes it), sets it far out: each write serialises every object.
   */
  stateFileDebounceMs?: number;
}

const OWNER_METADATA_KEY = 'sandbox_owner';

export function createStripeSandbox(options: StripeSandboxOptions): StripeSandbox {
  const core = new SandboxCore(options);
  const router = new Router(core);
  router.add(resourceRoutes);
  if (options.extraRoutes) router.add(options.extraRoutes);
  const stateFile = options.stateFile ? new SandboxStateFile(core, router, { file: options.stateFile, log: core.log, debounceMs: options.stateFileDebounceMs }) : undefined;
  if (stateFile) {
    stateFile.load();
    core.onChange = () => stateFile.changed();
  }
  core.events.onTimer = () => {
    let changed = 0;
    for (const handler of timerHandlers) changed += handler(core);
    if (changed > 0) core.changed();
  };

  const sandbox: StripeSandbox = {
    core,
    async handle(request) {
      const url = new URL(request.url);
      try {
        if (url.pathname.startsWith('/v1/')) return await router.handle(request, url);
        if (url.pathname.startsWith(HOSTED_PAGE_PREFIX)) return await handleHostedPage(core, request, url);
        if (url.pathname.startsWith(THREE_D_SECURE_PREFIX)) return await handleThreeDSecurePage(core, request, url);
        if (url.pathname.startsWith('/_sandbox/')) return await control(sandbox, request, url);
        return new Response('Not found', { status: 404 });
      } finally {
        // Reads change nothing; anything else may have (API writes, paying on a hosted page, control).
        if (stateFile && request.method !== 'GET' && request.method !== 'HEAD') core.changed();
      }
    },
    addWebhookEndpoint(url, enabledEvents = ['*']) {
      const endpoint = core.events.createEndpoint(url, enabledEvents);
      core.changed();
      return endpoint;
    },
    ensureWebhookEndpoint(owner, url, enabledEvents = ['*']) {
      const owned = core.events.endpoints.newestFirst((e) => e.metadata?.[OWNER_METADATA_KEY] === owner);
      const [kept, ...extra] = owned;
      for (const endpoint of extra) core.events.deleteEndpoint(endpoint.id);
      const secret = kept && core.events.secretOf(kept.id);
      let endpoint: Stripe.WebhookEndpoint;
      if (kept && secret) {
        // The server's port may have changed since the last run: the endpoint follows it.
        kept.url = url;
        kept.enabled_events = enabledEvents as typeof kept.enabled_events;
        kept.status = 'enabled';
        endpoint = { ...kept, secret } as Stripe.WebhookEndpoint;
      } else {
        if (kept) core.events.deleteEndpoint(kept.id);
        endpoint = core.events.createEndpoint(url, enabledEvents, { metadata: { [OWNER_METADATA_KEY]: owner } });
      }
      core.changed();
      return endpoint;
    },
    failNext: (...faults) => sandbox.failMatching({}, ...faults),
    failMatching: (match, ...faults) => {
      if (faults.length > 0) router.pendingFaults.push({ match, faults: [...faults] });
    },
    pendingFaultCount: () => router.pendingFaults.reduce((n, queued) => n + queued.faults.length, 0),
    clearPendingFaults: () => void (router.pendingFaults.length = 0),
    webhookFaults: core.events.faults,
    flushWebhooks: () => core.events.flush(),
    async advanceClock(seconds) {
      core.clock.advance(seconds);
      await onClockAdvanced(core);
      await core.events.flush();
      core.changed();
    },
    reset() {
      core.reset();
      router.reset();
      core.changed();
    },
    close: async () => stateFile?.close(),
  };
  return sandbox;
}

/** Time-driven work (expiring sessions, rolling subscription periods), in resource order. */
async function onClockAdvanced(core: SandboxCore) {
  for (const handler of clockHandlers) await handler(core);
}

/** The control API's `match` ({"method", "path", "params"}, each optional): the match, or what is wrong with it. */
function readFaultMatch(value: unknown): ApiFaultMatch | string {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'match must be an object with method, path and params';
  const { method, path, params, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0) return `match has unknown fields: ${Object.keys(rest).join(', ')}`;
  if (method !== undefined && !['GET', 'POST', 'DELETE'].includes(method as string)) return 'match.method must be GET, POST or DELETE';
  if (path !== undefined && (typeof path !== 'string' || !path.startsWith('/'))) return 'match.path must be a path starting with /';
  if (params !== undefined && (params === null || typeof params !== 'object' || Array.isArray(params) || !Object.values(params).every((v) => typeof v === 'string'))) {
    return 'match.params must map parameter names to string values';
  }
  return { ...(method ? { method: method as ApiFaultMatch['method'] } : {}), ...(path ? { path: path as string } : {}), ...(params ? { params: params as Record<string, string> } : {}) };
}

/** The control API for tests and people driving the sandbox over HTTP (never part of Stripe's API). */
async function control(sandbox: StripeSandbox, request: Request, url: URL): Promise<Response> {
  const json = (body: unknown, status = 200) => Response.json(body, { status });
  if (request.method !== 'POST') return json({ error: 'POST only' }, 405);
  const body = (await request.json().catch(() => ({}))) as Record<string, unknown>;
  switch (url.pathname) {
    case '/_sandbox/reset':
      sandbox.reset();
      return json({ ok: true });
    case '/_sandbox/clock/advance': {
      const seconds = Number(body.seconds);
      if (!Number.isInteger(seconds) || seconds < 0) return json({ error: 'seconds must be a non-negative integer' }, 400);
      await sandbox.advanceClock(seconds);
      return json({ now: sandbox.core.clock.now() });
    }
    case '/_sandbox/faults/api': {
      const faults = body.faults;
      if (!Array.isArray(faults) || !faults.every((f) => ['rate_limit', 'api_error', 'connection_reset'].includes(f))) {
        return json({ error: 'faults must be a list of rate_limit, api_error, connection_reset' }, 400);
      }
      const match = readFaultMatch(body.match);
      if (typeof match === 'string') return json({ error: match }, 400);
      sandbox.failMatching(match, ...(faults as ApiFault[]));
      return json({ ok: true });
    }
    case '/_sandbox/faults/webhooks': {
      const faults = sandbox.webhookFaults;
      if (body.dropNext !== undefined) faults.dropNext = Number(body.dropNext);
      if (body.duplicateNext !== undefined) faults.duplicateNext = Number(body.duplicateNext);
      if (body.reorder !== undefined) faults.reorder = Boolean(body.reorder);
      if (body.delaySeconds !== undefined) faults.delaySeconds = Number(body.delaySeconds);
      return json(faults);
    }
    case '/_sandbox/webhooks/flush':
      await sandbox.flushWebhooks();
      return json({ ok: true, pending: sandbox.core.events.pendingDeliveries() });
    default:
      return json({ error: `unknown control route ${url.pathname}` }, 404);
  }
}
