// Every environment variable the server reads is parsed and checked here, once, at start-up.
// Nothing else in the server reads process.env: the rest of the code receives a typed Config.
import { Cron } from 'croner';
import { z } from 'zod';

// The kinds of event forwarded to Make.com, each to its own scenario (a webhook URL per kind). Defined
// here, where MAKE_WEBHOOK_URLS is checked against them, so that config imports no domain; the make
// domain takes them from here. The SQL side has the same list in the check constraints of
// 20261122000600_make_outbox.sql (widened by 20261207001700_payment_requests.sql).
export const MAKE_KINDS = [
  'add_project',
  'payment_failed',
  'refund_completed',
  'dispute_opened',
  'subscription_changed',
  'payment_request_completed',
  'payment_request_reminder',
] as const;

export type MakeKind = (typeof MAKE_KINDS)[number];

export const isMakeKind = (value: string): value is MakeKind => (MAKE_KINDS as readonly string[]).includes(value);

/**
 * The signing secret of sandbox mode, when none is configured: the built-in sink checks signatures
 * with it. Not a secret (it is in the source); never used outside sandbox mode.
 */
export const SANDBOX_MAKE_SIGNING_SECRET = 'make-sandbox-signing-secret-not-for-production';

const emptyToUndefined = (value: unknown) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

const optional = <T extends z.ZodType>(schema: T) => z.preprocess(emptyToUndefined, schema.optional());
const withDefault = <T extends z.ZodType>(schema: T, fallback: z.input<T>) =>
  z.preprocess(emptyToUndefined, schema.default(fallback as never));

const integer = (min: number, max: number) =>
  z.coerce
    .number({ error: `an integer from ${min} to ${max}` })
    .int({ error: `an integer from ${min} to ${max}` })
    .min(min, { error: `an integer from ${min} to ${max}` })
    .max(max, { error: `an integer from ${min} to ${max}` });

const postgresUrl = z
  .string()
  .refine((v) => /^postgres(ql)?:\/\/[^\s]+$/.test(v) && URL.canParse(v), {
    error: 'a postgres:// or postgresql:// connection URL',
  });

const httpUrl = z.string().refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), {
  error: 'an http:// or https:// URL',
});

const webhookSecrets = z
  .string()
  .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
  .refine((list) => list.length > 0 && list.every((s) => /^whsec_[A-Za-z0-9+/=_-]{8,}$/.test(s)), {
    error: 'one or more comma-separated secrets starting with whsec_',
  });

// The storefront's pages Stripe Checkout sends the customer back to. `{ORDER_ID}` is filled in by us;
// `{CHECKOUT_SESSION_ID}` by Stripe on the success redirect, so the success URL must carry it.
const checkoutUrl = (placeholder?: string) =>
  z.string().refine(
    (v) => {
      const filled = v.replaceAll('{CHECKOUT_SESSION_ID}', 'cs').replaceAll('{ORDER_ID}', 'order');
      return URL.canParse(filled) && /^https?:$/.test(new URL(filled).protocol) && (!placeholder || v.includes(placeholder));
    },
    { error: placeholder ? `an http(s) URL containing ${placeholder}` : 'an http(s) URL' },
  );

const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

// A member's pay page (issue 20): the pay token goes where `{token}` is. The URL is checked with a token
// in place; NUL and unpaired surrogates are refused (they could not be stored or sent intact).
const payRequestUrl = z
  .string()
  .max(2000, { error: 'an http(s) URL of at most 2000 characters containing {token}' })
  .refine(
    (v) => {
      if (!v.includes('{token}') || /[\u0000-\u001f\u007f\s]/.test(v) || UNPAIRED_SURROGATE.test(v)) return false;
      const filled = v.replaceAll('{token}', 'token');
      return URL.canParse(filled) && /^https?:$/.test(new URL(filled).protocol);
    },
    { error: 'an http(s) URL of at most 2000 characters containing {token}' },
  );

// A Make.com scenario's webhook: https, or http on this machine (the sandbox sink, a local test sink).
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
const makeUrl = z.string().refine(
  (v) => URL.canParse(v) && (new URL(v).protocol === 'https:' || (new URL(v).protocol === 'http:' && LOOPBACK.has(new URL(v).hostname))),
  { error: 'an https:// URL (http:// only for localhost)' },
);

// {"refund_completed": "https://hook.eu1.make.com/…", …}: one scenario per kind.
const makeUrlMap = z
  .string()
  .transform((v, ctx) => {
    try {
      return JSON.parse(v) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: `a JSON object from event kind (${MAKE_KINDS.join(', ')}) to webhook URL` });
      return z.NEVER;
    }
  })
  .pipe(
    z.record(z.string(), z.unknown(), { error: `a JSON object from event kind (${MAKE_KINDS.join(', ')}) to webhook URL` }).superRefine((map, ctx) => {
      for (const [kind, url] of Object.entries(map)) {
        if (!isMakeKind(kind)) ctx.addIssue({ code: 'custom', message: `known event kinds only (${MAKE_KINDS.join(', ')}); got "${kind.slice(0, 40)}"` });
        else if (!makeUrl.safeParse(url).success) ctx.addIssue({ code: 'custom', message: `an https:// URL (http:// only for localhost) for ${kind}` });
      }
    }),
  )
  .transform((map) => map as Partial<Record<MakeKind, string>>);

// When the retention job runs: a cron pattern (croner syntax, the server's local time) or `off` (for
// a deployment where pg_cron runs it in the database instead). croner itself decides what is valid.
const retentionSchedule = z
  .string()
  .trim()
  .refine((v) => v === 'off' || isCronPattern(v), { error: 'a cron pattern such as "17 3 * * *", or off' });

// When the janitor passes: a cron pattern, or `off` for a process that must not run it.
const reconcileInterval = z
  .string()
  .trim()
  .refine((v) => v === 'off' || isCronPattern(v), { error: 'a cron pattern such as "*/5 * * * *", or off' });

function isCronPattern(pattern: string): boolean {
  try {
    new Cron(pattern, { paused: true }).stop();
    return true;
  } catch {
    return false;
  }
}

const envSchema = z.object({
  NODE_ENV: withDefault(z.enum(['development', 'test', 'production'], { error: 'development, test or production' }), 'development'),
  HOST: withDefault(z.string().regex(/^[A-Za-z0-9.:_-]+$/, { error: 'a host name or IP address' }), '127.0.0.1'),
  PORT: withDefault(integer(0, 65535), 4000),
  LOG_LEVEL: withDefault(
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'one of fatal, error, warn, info, debug, trace, silent',
    }),
    'info',
  ),
  DATABASE_URL: optional(postgresUrl),
  DATABASE_POOL_MAX: withDefault(integer(1, 200), 10),
  PGLITE_DATA_DIR: withDefault(z.string().min(1), './.data/pglite'),
  STRIPE_SECRET_KEY: optional(
    z.string().regex(/^(sk|rk)_(test|live)_[A-Za-z0-9]{8,}$/, {
      error: 'a Stripe secret or restricted key (sk_test_…, sk_live_…, rk_test_…, rk_live_…)',
    }),
  ),
  STRIPE_PUBLISHABLE_KEY: optional(
    z.string().regex(/^pk_(test|live)_[A-Za-z0-9]{8,}$/, { error: 'a Stripe publishable key (pk_test_… or pk_live_…)' }),
  ),
  STRIPE_WEBHOOK_SECRET: optional(webhookSecrets),
  STRIPE_MAX_NETWORK_RETRIES: withDefault(integer(0, 10), 3),
  STRIPE_API_BASE: optional(httpUrl),
  CHECKOUT_SUCCESS_URL: optional(checkoutUrl('{CHECKOUT_SESSION_ID}')),
  CHECKOUT_CANCEL_URL: optional(checkoutUrl()),
  PAYMENT_REQUEST_PAY_URL: optional(payRequestUrl),
  SUPABASE_URL: optional(httpUrl),
  SUPABASE_ANON_KEY: optional(z.string().min(20, { error: 'the project anon (publishable) key' })),
  SUPABASE_JWT_SECRET: optional(z.string().min(32, { error: 'the JWT secret, at least 32 characters' })),
  SUPABASE_JWKS_URL: optional(httpUrl),
  AUTH_JWT_AUDIENCE: withDefault(z.string().min(1), 'authenticated'),
  AUTH_JWT_ISSUER: optional(z.string().min(1)),
  SENTRY_DSN: optional(httpUrl),
  SENTRY_ENVIRONMENT: optional(z.string().min(1)),
  DEBUG_ERRORS: withDefault(z.enum(['true', 'false'], { error: 'true or false' }), 'false'),
  HTTP_BODY_LIMIT_BYTES: withDefault(integer(1024, 50 * 1024 * 1024), 1024 * 1024),
  GRAPHQL_MAX_DEPTH: withDefault(integer(2, 50), 10),
  GRAPHQL_MAX_COST: withDefault(integer(10, 1_000_000), 5000),
  GRAPHQL_MAX_ALIASES: withDefault(integer(1, 1000), 30),
  SHUTDOWN_TIMEOUT_MS: withDefault(integer(0, 600_000), 10_000),
  JOBS_ENABLED: withDefault(z.enum(['true', 'false'], { error: 'true or false' }), 'true'),
  // all: HTTP and jobs (npm start); web: HTTP only (npm run start:web); worker: jobs only, with a
  // health endpoint of its own (npm run start:worker). Any number of each on one PostgreSQL database.
  PROCESS_ROLE: withDefault(z.enum(['all', 'web', 'worker'], { error: 'all, web or worker' }), 'all'),
  WEBHOOK_MAX_ATTEMPTS: withDefault(integer(1, 100), 10),
  // The applier's poll: the safety net behind the wake after a store (and NOTIFY from other processes).
  WEBHOOK_POLL_SECONDS: withDefault(integer(1, 3600), 5),
  CONSOLE_DIST_DIR: withDefault(z.string().min(1), './dist/console'),
  // Proxies in front of the server whose X-Forwarded-For/-Proto are believed (server/api/http/clientAddress.ts).
  TRUST_PROXY_HOPS: withDefault(integer(0, 10), 0),
  // Per minute; 0 turns a limit off (server/api/http/rateLimit.ts).
  RATE_LIMIT_API_KEY_PER_MINUTE: withDefault(integer(0, 1_000_000), 1200),
  RATE_LIMIT_CUSTOMER_PER_MINUTE: withDefault(integer(0, 1_000_000), 30),
  RATE_LIMIT_WEBHOOK_UNVERIFIED_PER_MINUTE: withDefault(integer(0, 1_000_000), 60),
  RATE_LIMIT_DEV_SIGN_IN_PER_MINUTE: withDefault(integer(0, 1_000_000), 20),
  MAKE_ADD_PROJECT_WEBHOOK_URL: optional(makeUrl),
  MAKE_WEBHOOK_URLS: optional(makeUrlMap),
  // Every process must route Make deliveries alike: one whose routes differ from the database's refuses
  // to start, unless this is true (then its routes replace the database's: set it once, on one process).
  MAKE_ROUTES_OVERWRITE: withDefault(z.enum(['true', 'false'], { error: 'true or false' }), 'false'),
  // The same for MAKE_SIGNING_SECRET, compared by a fingerprint the database keeps (never the secret):
  // true replaces it (a rotation: set it once, on one process).
  MAKE_SIGNING_SECRET_OVERWRITE: withDefault(z.enum(['true', 'false'], { error: 'true or false' }), 'false'),
  MAKE_SIGNING_SECRET: optional(z.string().min(16, { error: 'a secret of at least 16 characters' }).max(500, { error: 'a secret of at most 500 characters' })),
  MAKE_API_KEY: optional(z.string().regex(/^[\x21-\x7e]{1,500}$/, { error: "Make's API key: 1 to 500 printable characters without spaces" })),
  MAKE_TIMEOUT_MS: withDefault(integer(100, 120_000), 10_000),
  // Unset: 20 POSTs in flight per worker on PostgreSQL, 5 on PGlite (whose queries run on the server's thread).
  MAKE_CONCURRENCY: optional(integer(1, 200)),
  MAKE_RETRY_HORIZON_HOURS: withDefault(integer(1, 720), 24),
  RETENTION_PAYMENT_LOGS_DAYS: withDefault(integer(1, 36_500), 730),
  // At least a day: Stripe keeps a request's idempotency key for 24 hours, so must we.
  RETENTION_IDEMPOTENCY_KEYS_DAYS: withDefault(integer(1, 3650), 7),
  RETENTION_WEBHOOK_PAYLOAD_DAYS: withDefault(integer(1, 36_500), 90),
  RETENTION_MAKE_ATTEMPTS_DAYS: withDefault(integer(1, 36_500), 90),
  RETENTION_BATCH_SIZE: withDefault(integer(1, 100_000), 1000),
  RETENTION_SCHEDULE: withDefault(retentionSchedule, '17 3 * * *'),
  // The limits pg_cron's run reads are the first job process's: one whose RETENTION_* differ refuses to
  // start, unless this is true (then its limits replace the database's: set it once, on one process).
  RETENTION_SETTINGS_OVERWRITE: withDefault(z.enum(['true', 'false'], { error: 'true or false' }), 'false'),
  // The janitor (server/reconcile/): when it passes, when a provisional order is first asked about, and
  // how long an open PaymentIntent or Session we have no record of waits before it is cancelled (0: never).
  RECONCILE_INTERVAL: withDefault(reconcileInterval, '*/5 * * * *'),
  RECONCILE_PROVISIONAL_AFTER_SECONDS: withDefault(integer(10, 86_400), 120),
  RECONCILE_CANCEL_OPEN_ORPHANS_AFTER_HOURS: withDefault(integer(0, 720), 24),
});

/** Every variable the server reads (.env.example documents each). */
export const CONFIG_VARIABLES = Object.keys(envSchema.shape);

export type StripeMode = 'sandbox' | 'test' | 'live';

/** What a process runs: everything, HTTP only, or the jobs only (docs/scaling.md). */
export type ProcessRole = 'all' | 'web' | 'worker';

export interface Config {
  nodeEnv: 'development' | 'test' | 'production';
  isProduction: boolean;
  host: string;
  port: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /**
   * applicationName: what pg_stat_activity shows for this process's connections; a web or worker
   * process says which (payments-ops:web, payments-ops:worker), so that the database's work can be
   * told apart by process (the checkout benchmark counts the web process's backends alone).
   */
  database: { kind: 'postgres'; url: string; poolMax: number; applicationName?: string } | { kind: 'pglite'; dataDir: string };
  stripe: {
    mode: StripeMode;
    secretKey: string | undefined;
    publishableKey: string | undefined;
    webhookSecrets: string[];
    /** The SDK retries connection errors, 409, 429 and 5xx this many times, with the same idempotency key. */
    maxNetworkRetries: number;
    /** A Stripe-compatible API to use instead of api.stripe.com (a separate sandbox, stripe-mock); never in production. */
    apiBase: string | undefined;
  };
  /** Unset: the sandbox's demo storefront pages in sandbox mode, a local storefront otherwise (server/checkout/returnUrls.ts). */
  checkout: {
    /** Where Stripe Checkout returns a customer who paid; `{CHECKOUT_SESSION_ID}` and `{ORDER_ID}` are filled in. */
    successUrl: string | undefined;
    /** Where it returns one who cancelled; `{ORDER_ID}` is filled in. */
    cancelUrl: string | undefined;
  };
  paymentRequests: {
    /**
     * A member's pay page with `{token}` where the pay token goes. Unset: the demo storefront's pay
     * page in sandbox mode; outside it, createPaymentRequest is refused (the server still starts).
     */
    payUrl: string | undefined;
  };
  auth: {
    supabaseUrl: string | undefined;
    supabaseAnonKey: string | undefined;
    jwtSecret: string | undefined;
    jwksUrl: string | undefined;
    audience: string;
    issuer: string | undefined;
  };
  sentry: { dsn: string | undefined; environment: string };
  /** GraphQL answers show an internal error's message and stack trace (never in production). */
  debugErrors: boolean;
  http: {
    bodyLimitBytes: number;
    shutdownTimeoutMs: number;
    consoleDistDir: string;
    /** Proxies in front whose X-Forwarded-For (client address) and X-Forwarded-Proto (HSTS) are trusted. */
    trustProxyHops: number;
  };
  /** Requests per minute; 0 is no limit (server/api/http/rateLimit.ts). */
  rateLimits: { apiKeyPerMinute: number; customerPerMinute: number; webhookUnverifiedPerMinute: number; devSignInPerMinute: number };
  graphql: { maxDepth: number; maxCost: number; maxAliases: number };
  /** all: HTTP and jobs; web: HTTP only; worker: the jobs, and only /healthz and /readyz over HTTP. */
  role: ProcessRole;
  /** false: this process serves HTTP only; the background jobs (webhook applier, …) run in another. */
  jobsEnabled: boolean;
  webhooks: {
    /** After this many failed attempts an event is `failed`, for staff to replay. */
    maxAttempts: number;
    /** How often a process with jobs looks for events to apply that no wake or NOTIFY announced. */
    pollSeconds: number;
  };
  make: {
    /** The scenario's webhook URL per event kind; a kind without one is not forwarded. */
    routes: Partial<Record<MakeKind, string>>;
    /** Replace the routes the database holds when they differ from these (MAKE_ROUTES_OVERWRITE). */
    overwriteRoutes: boolean;
    /** Replace the signing secret's fingerprint the database holds when it differs (MAKE_SIGNING_SECRET_OVERWRITE). */
    overwriteSigningSecret: boolean;
    /** Sandbox mode without configured URLs: every kind goes to the Make sink this server serves. */
    useSandboxSink: boolean;
    /** Signs every delivery (X-Signature); sandbox mode has a fixed dev secret. Never logged. */
    signingSecret: string | undefined;
    /** Sent as x-make-apikey when set. */
    apiKey: string | undefined;
    timeoutMs: number;
    /** POSTs in flight per outbox worker; undefined: the engine's default (server/make/outbox.ts). */
    concurrency: number | undefined;
    /** A delivery still failing this long after it was enqueued (or retried by staff) is dead. */
    retryHorizonMs: number;
  };
  /** How long rows are kept (server/retention/, supabase/migrations/20261207000300_retention.sql). */
  retention: {
    paymentLogsDays: number;
    idempotencyKeysDays: number;
    webhookPayloadDays: number;
    makeAttemptsDays: number;
    /** Rows per batch: each batch is its own short transaction. */
    batchSize: number;
    /** A cron pattern; undefined (RETENTION_SCHEDULE=off): this process does not run the job. */
    schedule: string | undefined;
    /** Replace the limits the database holds when they differ from these (RETENTION_SETTINGS_OVERWRITE). */
    overwriteSettings: boolean;
  };
  /** The janitor (server/reconcile/, issue 17). */
  reconcile: {
    /** A cron pattern; undefined (RECONCILE_INTERVAL=off): this process does not run the janitor. */
    schedule: string | undefined;
    provisionalAfterSeconds: number;
    /** 0: open orphans are never cancelled automatically. */
    cancelOpenOrphansAfterHours: number;
  };
}

/** Start-up fails with one line per bad variable: its name and what was expected. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'environment');
      // Never echo the value: it may be a secret.
      const expected = issue.code === 'invalid_type' && env[name] === undefined ? 'a value (it is required)' : issue.message;
      return `Invalid environment variable ${name}: expected ${expected}`;
    });
    throw new ConfigError(problems);
  }
  const e = parsed.data;
  const stripeMode: StripeMode = !e.STRIPE_SECRET_KEY ? 'sandbox' : e.STRIPE_SECRET_KEY.includes('_live_') ? 'live' : 'test';

  const problems: string[] = [];
  if (e.STRIPE_PUBLISHABLE_KEY && e.STRIPE_SECRET_KEY && stripeMode !== (e.STRIPE_PUBLISHABLE_KEY.includes('_live_') ? 'live' : 'test')) {
    problems.push('Invalid environment variable STRIPE_PUBLISHABLE_KEY: expected a key of the same mode (test or live) as STRIPE_SECRET_KEY');
  }
  if (e.SUPABASE_JWT_SECRET && e.SUPABASE_JWKS_URL) {
    problems.push('Invalid environment variable SUPABASE_JWKS_URL: expected either SUPABASE_JWT_SECRET or SUPABASE_JWKS_URL, not both');
  }
  if (e.NODE_ENV === 'production' && e.DEBUG_ERRORS === 'true') {
    // Internal messages carry SQL, row values and file paths: never shown to a production client.
    problems.push('Invalid environment variable DEBUG_ERRORS: expected false (or unset) when NODE_ENV=production');
  }
  if (e.NODE_ENV === 'production' && e.STRIPE_API_BASE) {
    // The secret key would be sent to that host.
    problems.push('Invalid environment variable STRIPE_API_BASE: expected it unset when NODE_ENV=production (the secret key is sent to it)');
  }
  if (e.NODE_ENV === 'production') {
    // No silent sandbox in production: every real dependency must be configured explicitly.
    const required: Array<[string, unknown]> = [
      ['DATABASE_URL', e.DATABASE_URL],
      ['STRIPE_SECRET_KEY', e.STRIPE_SECRET_KEY],
      ['STRIPE_PUBLISHABLE_KEY', e.STRIPE_PUBLISHABLE_KEY],
      ['STRIPE_WEBHOOK_SECRET', e.STRIPE_WEBHOOK_SECRET],
      // The defaults point at a local storefront: a real shop must say where its pages are.
      ['CHECKOUT_SUCCESS_URL', e.CHECKOUT_SUCCESS_URL],
      ['CHECKOUT_CANCEL_URL', e.CHECKOUT_CANCEL_URL],
    ];
    for (const [name, value] of required) {
      if (value === undefined) problems.push(`Invalid environment variable ${name}: expected a value (required when NODE_ENV=production)`);
    }
    if (!e.SUPABASE_JWT_SECRET && !e.SUPABASE_JWKS_URL) {
      problems.push(
        'Invalid environment variable SUPABASE_JWT_SECRET: expected SUPABASE_JWT_SECRET or SUPABASE_JWKS_URL (required when NODE_ENV=production)',
      );
    }
  }
  const makeRoutes: Partial<Record<MakeKind, string>> = { ...e.MAKE_WEBHOOK_URLS };
  if (e.MAKE_ADD_PROJECT_WEBHOOK_URL) {
    if (makeRoutes.add_project) {
      problems.push('Invalid environment variable MAKE_WEBHOOK_URLS: expected no add_project entry when MAKE_ADD_PROJECT_WEBHOOK_URL is set (give it in one place)');
    }
    makeRoutes.add_project = e.MAKE_ADD_PROJECT_WEBHOOK_URL;
  }
  const makeRouted = Object.keys(makeRoutes).length > 0;
  const useSandboxSink = stripeMode === 'sandbox' && e.NODE_ENV !== 'production' && !makeRouted;
  if (makeRouted && !e.MAKE_SIGNING_SECRET && stripeMode !== 'sandbox') {
    problems.push('Invalid environment variable MAKE_SIGNING_SECRET: expected a value (required when a Make webhook URL is set outside sandbox mode)');
  }
  problems.push(...roleProblems(e.PROCESS_ROLE, { postgres: e.DATABASE_URL !== undefined, stripeMode, jobsEnabled: e.JOBS_ENABLED === 'true' }));
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    nodeEnv: e.NODE_ENV,
    isProduction: e.NODE_ENV === 'production',
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    database: e.DATABASE_URL
      ? { kind: 'postgres', url: e.DATABASE_URL, poolMax: e.DATABASE_POOL_MAX, ...(e.PROCESS_ROLE === 'all' ? {} : { applicationName: `payments-ops:${e.PROCESS_ROLE}` }) }
      : { kind: 'pglite', dataDir: e.PGLITE_DATA_DIR },
    stripe: {
      mode: stripeMode,
      secretKey: e.STRIPE_SECRET_KEY,
      publishableKey: e.STRIPE_PUBLISHABLE_KEY,
      webhookSecrets: e.STRIPE_WEBHOOK_SECRET ?? [],
      maxNetworkRetries: e.STRIPE_MAX_NETWORK_RETRIES,
      apiBase: e.STRIPE_API_BASE,
    },
    checkout: { successUrl: e.CHECKOUT_SUCCESS_URL, cancelUrl: e.CHECKOUT_CANCEL_URL },
    paymentRequests: { payUrl: e.PAYMENT_REQUEST_PAY_URL },
    auth: {
      supabaseUrl: e.SUPABASE_URL,
      supabaseAnonKey: e.SUPABASE_ANON_KEY,
      jwtSecret: e.SUPABASE_JWT_SECRET,
      jwksUrl: e.SUPABASE_JWKS_URL,
      audience: e.AUTH_JWT_AUDIENCE,
      issuer: e.AUTH_JWT_ISSUER,
    },
    sentry: { dsn: e.SENTRY_DSN, environment: e.SENTRY_ENVIRONMENT ?? e.NODE_ENV },
    debugErrors: e.DEBUG_ERRORS === 'true',
    http: {
      bodyLimitBytes: e.HTTP_BODY_LIMIT_BYTES,
      shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
      consoleDistDir: e.CONSOLE_DIST_DIR,
      trustProxyHops: e.TRUST_PROXY_HOPS,
    },
    rateLimits: {
      apiKeyPerMinute: e.RATE_LIMIT_API_KEY_PER_MINUTE,
      customerPerMinute: e.RATE_LIMIT_CUSTOMER_PER_MINUTE,
      webhookUnverifiedPerMinute: e.RATE_LIMIT_WEBHOOK_UNVERIFIED_PER_MINUTE,
      devSignInPerMinute: e.RATE_LIMIT_DEV_SIGN_IN_PER_MINUTE,
    },
    graphql: { maxDepth: e.GRAPHQL_MAX_DEPTH, maxCost: e.GRAPHQL_MAX_COST, maxAliases: e.GRAPHQL_MAX_ALIASES },
    role: e.PROCESS_ROLE,
    // A web process never runs jobs, whatever JOBS_ENABLED says (it defaults to true).
    jobsEnabled: e.PROCESS_ROLE !== 'web' && e.JOBS_ENABLED === 'true',
    webhooks: { maxAttempts: e.WEBHOOK_MAX_ATTEMPTS, pollSeconds: e.WEBHOOK_POLL_SECONDS },
    make: {
      routes: makeRoutes,
      overwriteRoutes: e.MAKE_ROUTES_OVERWRITE === 'true',
      overwriteSigningSecret: e.MAKE_SIGNING_SECRET_OVERWRITE === 'true',
      useSandboxSink,
      signingSecret: e.MAKE_SIGNING_SECRET ?? (stripeMode === 'sandbox' ? SANDBOX_MAKE_SIGNING_SECRET : undefined),
      apiKey: e.MAKE_API_KEY,
      timeoutMs: e.MAKE_TIMEOUT_MS,
      concurrency: e.MAKE_CONCURRENCY,
      retryHorizonMs: e.MAKE_RETRY_HORIZON_HOURS * 3_600_000,
    },
    retention: {
      paymentLogsDays: e.RETENTION_PAYMENT_LOGS_DAYS,
      idempotencyKeysDays: e.RETENTION_IDEMPOTENCY_KEYS_DAYS,
      webhookPayloadDays: e.RETENTION_WEBHOOK_PAYLOAD_DAYS,
      makeAttemptsDays: e.RETENTION_MAKE_ATTEMPTS_DAYS,
      batchSize: e.RETENTION_BATCH_SIZE,
      schedule: e.RETENTION_SCHEDULE === 'off' ? undefined : e.RETENTION_SCHEDULE,
      overwriteSettings: e.RETENTION_SETTINGS_OVERWRITE === 'true',
    },
    reconcile: {
      schedule: e.RECONCILE_INTERVAL === 'off' ? undefined : e.RECONCILE_INTERVAL,
      provisionalAfterSeconds: e.RECONCILE_PROVISIONAL_AFTER_SECONDS,
      cancelOpenOrphansAfterHours: e.RECONCILE_CANCEL_OPEN_ORPHANS_AFTER_HOURS,
    },
  };
}

/**
 * Separate web and worker processes share one database and one Stripe: an embedded PGlite directory
 * is one process's, and sandbox mode's Stripe lives inside the one process that serves it.
 */
function roleProblems(role: ProcessRole, setup: { postgres: boolean; stripeMode: StripeMode; jobsEnabled: boolean }): string[] {
  if (role === 'all') return [];
  const problems: string[] = [];
  if (!setup.postgres) {
    problems.push(`Invalid environment variable PROCESS_ROLE: expected all without DATABASE_URL (the embedded PGlite database is one process's; ${role} processes share a PostgreSQL database)`);
  }
  if (setup.stripeMode === 'sandbox') {
    problems.push(
      `Invalid environment variable PROCESS_ROLE: expected all without STRIPE_SECRET_KEY (sandbox mode's Stripe lives inside one process; run \`npm run sandbox\` and point every process at it with STRIPE_SECRET_KEY and STRIPE_API_BASE)`,
    );
  }
  if (role === 'worker' && !setup.jobsEnabled) problems.push('Invalid environment variable JOBS_ENABLED: expected true (or unset) when PROCESS_ROLE=worker');
  return problems;
}
