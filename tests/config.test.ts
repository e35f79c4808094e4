import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, ConfigError, loadConfig } from '../server/config';
import { SANDBOX_VARIABLES } from '../stripe-sandbox/standaloneConfig';

// Built from parts so that no live-looking Stripe key stands in the source (secret scanners flag them).
const LIVE_SECRET = ['sk', 'live', ''].join('_');
const LIVE_RESTRICTED = ['rk', 'live', ''].join('_');

const PRODUCTION_ENV = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://app:pw@db.internal:5432/payments',
  STRIPE_SECRET_KEY: `${LIVE_SECRET}abcdefghijklmnop`,
  STRIPE_PUBLISHABLE_KEY: 'pk_live_abcdefghijklmnop',
  STRIPE_WEBHOOK_SECRET: 'whsec_abcdefghijklmnop',
  SUPABASE_JWT_SECRET: 'a-very-long-jwt-secret-of-at-least-32-chars',
  CHECKOUT_SUCCESS_URL: 'https://shop.example/checkout/details?session_id={CHECKOUT_SESSION_ID}',
  CHECKOUT_CANCEL_URL: 'https://shop.example/checkout?order={ORDER_ID}',
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('runs with no variables at all: development, PGlite under .data, Stripe sandbox, port 4000', () => {
    const config = loadConfig({});
    expect(config.nodeEnv).toBe('development');
    expect(config.port).toBe(4000);
    expect(config.database).toEqual({ kind: 'pglite', dataDir: './.data/pglite' });
    expect(config.stripe.mode).toBe('sandbox');
    expect(config.stripe.webhookSecrets).toEqual([]);
  });

  it('switches to PostgreSQL when DATABASE_URL is set', () => {
    const config = loadConfig({ DATABASE_URL: 'postgresql://u:p@localhost:5432/db', DATABASE_POOL_MAX: '5' });
    expect(config.database).toEqual({ kind: 'postgres', url: 'postgresql://u:p@localhost:5432/db', poolMax: 5 });
  });

  it('derives the Stripe mode from the secret key', () => {
    expect(loadConfig({ STRIPE_SECRET_KEY: 'sk_test_abcdefghij' }).stripe.mode).toBe('test');
    expect(loadConfig({ STRIPE_SECRET_KEY: `${LIVE_RESTRICTED}abcdefghij` }).stripe.mode).toBe('live');
  });

  it('splits comma-separated webhook secrets for rotation', () => {
    const config = loadConfig({ STRIPE_WEBHOOK_SECRET: 'whsec_oldsecret123, whsec_newsecret456' });
    expect(config.stripe.webhookSecrets).toEqual(['whsec_oldsecret123', 'whsec_newsecret456']);
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', PORT: ' ', STRIPE_SECRET_KEY: '' }).database.kind).toBe('pglite');
  });

  it.each([
    ['PORT', 'abc', 'Invalid environment variable PORT: expected an integer from 0 to 65535'],
    ['PORT', '70000', 'Invalid environment variable PORT: expected an integer from 0 to 65535'],
    ['PORT', '40.5', 'Invalid environment variable PORT: expected an integer from 0 to 65535'],
    ['NODE_ENV', 'staging', 'Invalid environment variable NODE_ENV: expected development, test or production'],
    ['LOG_LEVEL', 'loud', 'Invalid environment variable LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent'],
    ['DATABASE_URL', 'mysql://x@y/z', 'Invalid environment variable DATABASE_URL: expected a postgres:// or postgresql:// connection URL'],
    ['DATABASE_POOL_MAX', '0', 'Invalid environment variable DATABASE_POOL_MAX: expected an integer from 1 to 200'],
    ['STRIPE_SECRET_KEY', 'pk_test_abcdefghij', 'Invalid environment variable STRIPE_SECRET_KEY: expected a Stripe secret or restricted key (sk_test_…, sk_live_…, rk_test_…, rk_live_…)'],
    ['STRIPE_PUBLISHABLE_KEY', 'sk_test_abcdefghij', 'Invalid environment variable STRIPE_PUBLISHABLE_KEY: expected a Stripe publishable key (pk_test_… or pk_live_…)'],
    ['STRIPE_WEBHOOK_SECRET', 'whsec_good12345,nope', 'Invalid environment variable STRIPE_WEBHOOK_SECRET: expected one or more comma-separated secrets starting with whsec_'],
    ['SUPABASE_URL', 'not a url', 'Invalid environment variable SUPABASE_URL: expected an http:// or https:// URL'],
    ['SUPABASE_JWKS_URL', 'ftp://x/jwks', 'Invalid environment variable SUPABASE_JWKS_URL: expected an http:// or https:// URL'],
    ['SUPABASE_JWT_SECRET', 'short', 'Invalid environment variable SUPABASE_JWT_SECRET: expected the JWT secret, at least 32 characters'],
    ['SENTRY_DSN', 'nope', 'Invalid environment variable SENTRY_DSN: expected an http:// or https:// URL'],
    ['HTTP_BODY_LIMIT_BYTES', '10', 'Invalid environment variable HTTP_BODY_LIMIT_BYTES: expected an integer from 1024 to 52428800'],
    ['GRAPHQL_MAX_DEPTH', '1', 'Invalid environment variable GRAPHQL_MAX_DEPTH: expected an integer from 2 to 50'],
    ['GRAPHQL_MAX_COST', 'lots', 'Invalid environment variable GRAPHQL_MAX_COST: expected an integer from 10 to 1000000'],
    ['SHUTDOWN_TIMEOUT_MS', '-1', 'Invalid environment variable SHUTDOWN_TIMEOUT_MS: expected an integer from 0 to 600000'],
    ['JOBS_ENABLED', 'yes', 'Invalid environment variable JOBS_ENABLED: expected true or false'],
    ['DEBUG_ERRORS', '1', 'Invalid environment variable DEBUG_ERRORS: expected true or false'],
    ['WEBHOOK_MAX_ATTEMPTS', '0', 'Invalid environment variable WEBHOOK_MAX_ATTEMPTS: expected an integer from 1 to 100'],
    ['WEBHOOK_MAX_ATTEMPTS', '101', 'Invalid environment variable WEBHOOK_MAX_ATTEMPTS: expected an integer from 1 to 100'],
    ['STRIPE_MAX_NETWORK_RETRIES', '11', 'Invalid environment variable STRIPE_MAX_NETWORK_RETRIES: expected an integer from 0 to 10'],
    ['STRIPE_API_BASE', 'localhost:12111', 'Invalid environment variable STRIPE_API_BASE: expected an http:// or https:// URL'],
    [
      'CHECKOUT_SUCCESS_URL',
      'https://shop.example/thanks',
      'Invalid environment variable CHECKOUT_SUCCESS_URL: expected an http(s) URL containing {CHECKOUT_SESSION_ID}',
    ],
    ['CHECKOUT_CANCEL_URL', 'javascript:alert(1)', 'Invalid environment variable CHECKOUT_CANCEL_URL: expected an http(s) URL'],
  ])('refuses %s=%s with one line naming the variable and what was expected', (name, value, line) => {
    expect(problemsOf({ [name]: value })).toEqual([line]);
  });

  it('takes the storefront pages Checkout returns to, with their placeholders; unset outside production', () => {
    expect(loadConfig({}).checkout).toEqual({ successUrl: undefined, cancelUrl: undefined });
    const config = loadConfig({
      CHECKOUT_SUCCESS_URL: 'https://shop.example/details?session_id={CHECKOUT_SESSION_ID}&order={ORDER_ID}',
      CHECKOUT_CANCEL_URL: 'https://shop.example/purchase?order={ORDER_ID}',
    });
    expect(config.checkout).toEqual({
      successUrl: 'https://shop.example/details?session_id={CHECKOUT_SESSION_ID}&order={ORDER_ID}',
      cancelUrl: 'https://shop.example/purchase?order={ORDER_ID}',
    });
  });

  it('points the Stripe SDK at another API only outside production, where it would receive the secret key', () => {
    expect(loadConfig({ STRIPE_API_BASE: 'http://127.0.0.1:12111' }).stripe.apiBase).toBe('http://127.0.0.1:12111');
    expect(loadConfig({}).stripe.maxNetworkRetries).toBe(3);
    expect(problemsOf({ ...PRODUCTION_ENV, STRIPE_API_BASE: 'http://127.0.0.1:12111' })).toEqual([
      'Invalid environment variable STRIPE_API_BASE: expected it unset when NODE_ENV=production (the secret key is sent to it)',
    ]);
  });

  it('shows internal errors to clients only with DEBUG_ERRORS=true, and never in production', () => {
    expect(loadConfig({}).debugErrors).toBe(false);
    expect(loadConfig({ NODE_ENV: 'development', DEBUG_ERRORS: 'true' }).debugErrors).toBe(true);
    expect(problemsOf({ ...PRODUCTION_ENV, DEBUG_ERRORS: 'true' })).toEqual([
      'Invalid environment variable DEBUG_ERRORS: expected false (or unset) when NODE_ENV=production',
    ]);
  });

  it('never echoes a bad value, which may be a secret', () => {
    const problems = problemsOf({ STRIPE_SECRET_KEY: 'sk_tset_supersecretvalue' });
    expect(problems.join('\n')).not.toContain('supersecretvalue');
  });

  it('reports every bad variable at once, one line each', () => {
    expect(problemsOf({ PORT: 'x', LOG_LEVEL: 'y' })).toHaveLength(2);
  });

  it('refuses a publishable key of the other mode than the secret key', () => {
    expect(problemsOf({ STRIPE_SECRET_KEY: 'sk_test_abcdefghij', STRIPE_PUBLISHABLE_KEY: 'pk_live_abcdefghij' })).toEqual([
      'Invalid environment variable STRIPE_PUBLISHABLE_KEY: expected a key of the same mode (test or live) as STRIPE_SECRET_KEY',
    ]);
  });

  it('refuses both a JWT secret and a JWKS URL', () => {
    expect(
      problemsOf({ SUPABASE_JWT_SECRET: 'a-very-long-jwt-secret-of-at-least-32-chars', SUPABASE_JWKS_URL: 'https://x.supabase.co/auth/v1/.well-known/jwks.json' }),
    ).toHaveLength(1);
  });

  it('accepts a complete production configuration', () => {
    const config = loadConfig(PRODUCTION_ENV);
    expect(config.isProduction).toBe(true);
    expect(config.stripe.mode).toBe('live');
    expect(config.database.kind).toBe('postgres');
  });

  it.each(['DATABASE_URL', 'STRIPE_SECRET_KEY', 'STRIPE_PUBLISHABLE_KEY', 'STRIPE_WEBHOOK_SECRET', 'CHECKOUT_SUCCESS_URL', 'CHECKOUT_CANCEL_URL'])(
    'refuses to start in production without %s (no silent sandbox or embedded database)',
    (name) => {
      const env: Record<string, string> = { ...PRODUCTION_ENV };
      delete env[name];
      expect(problemsOf(env)).toEqual([`Invalid environment variable ${name}: expected a value (required when NODE_ENV=production)`]);
    },
  );

  it('refuses to start in production without staff auth settings', () => {
    const { SUPABASE_JWT_SECRET: _omitted, ...env } = PRODUCTION_ENV;
    expect(problemsOf(env)).toEqual([
      'Invalid environment variable SUPABASE_JWT_SECRET: expected SUPABASE_JWT_SECRET or SUPABASE_JWKS_URL (required when NODE_ENV=production)',
    ]);
    expect(loadConfig({ ...env, SUPABASE_JWKS_URL: 'https://p.supabase.co/auth/v1/.well-known/jwks.json' }).auth.jwksUrl).toBeDefined();
  });
});

describe('loadConfig: Make.com forwarding', () => {
  const KINDS = 'add_project, payment_failed, refund_completed, dispute_opened, subscription_changed, payment_request_completed, payment_request_reminder';
  const HOOK = 'https://hook.eu1.make.com/abc123';

  it('defaults: sandbox mode sends every kind to the built-in sink, signed with the dev secret; 10 s timeout, 24 h horizon', () => {
    const { make } = loadConfig({});
    expect(make).toEqual({
      routes: {},
      overwriteRoutes: false,
      overwriteSigningSecret: false,
      useSandboxSink: true,
      signingSecret: expect.any(String),
      apiKey: undefined,
      timeoutMs: 10_000,
      retryHorizonMs: 24 * 3_600_000,
    });
  });

  it('routes add_project and the kinds of MAKE_WEBHOOK_URLS to their scenarios, and then uses no sink', () => {
    const { make } = loadConfig({
      MAKE_ADD_PROJECT_WEBHOOK_URL: HOOK,
      MAKE_WEBHOOK_URLS: JSON.stringify({ refund_completed: 'https://hook.eu1.make.com/refunds', dispute_opened: 'http://localhost:9000/disputes' }),
      MAKE_SIGNING_SECRET: 'a-signing-secret-0001',
      MAKE_API_KEY: 'make-api-key-1',
      MAKE_TIMEOUT_MS: '2500',
      MAKE_RETRY_HORIZON_HOURS: '72',
    });
    expect(make).toEqual({
      routes: { add_project: HOOK, refund_completed: 'https://hook.eu1.make.com/refunds', dispute_opened: 'http://localhost:9000/disputes' },
      overwriteRoutes: false,
      overwriteSigningSecret: false,
      useSandboxSink: false,
      signingSecret: 'a-signing-secret-0001',
      apiKey: 'make-api-key-1',
      timeoutMs: 2500,
      retryHorizonMs: 72 * 3_600_000,
    });
  });

  it('has no sink and no kind routed outside sandbox mode when no URL is set', () => {
    expect(loadConfig({ STRIPE_SECRET_KEY: 'sk_test_abcdefghij' }).make).toMatchObject({ routes: {}, useSandboxSink: false, signingSecret: undefined });
    expect(loadConfig(PRODUCTION_ENV).make).toMatchObject({ routes: {}, useSandboxSink: false });
  });

  it('needs MAKE_SIGNING_SECRET when a URL is set outside sandbox mode', () => {
    expect(problemsOf({ STRIPE_SECRET_KEY: 'sk_test_abcdefghij', MAKE_ADD_PROJECT_WEBHOOK_URL: HOOK })).toEqual([
      'Invalid environment variable MAKE_SIGNING_SECRET: expected a value (required when a Make webhook URL is set outside sandbox mode)',
    ]);
    expect(problemsOf({ ...PRODUCTION_ENV, MAKE_WEBHOOK_URLS: JSON.stringify({ payment_failed: HOOK }) })).toHaveLength(1);
    expect(loadConfig({ ...PRODUCTION_ENV, MAKE_ADD_PROJECT_WEBHOOK_URL: HOOK, MAKE_SIGNING_SECRET: 'a-signing-secret-0001' }).make.routes).toEqual({ add_project: HOOK });
  });

  it('refuses add_project given in both places', () => {
    expect(problemsOf({ MAKE_ADD_PROJECT_WEBHOOK_URL: HOOK, MAKE_WEBHOOK_URLS: JSON.stringify({ add_project: HOOK }) })).toEqual([
      'Invalid environment variable MAKE_WEBHOOK_URLS: expected no add_project entry when MAKE_ADD_PROJECT_WEBHOOK_URL is set (give it in one place)',
    ]);
  });

  it.each([
    ['MAKE_ADD_PROJECT_WEBHOOK_URL', 'not a url', 'expected an https:// URL (http:// only for localhost)'],
    ['MAKE_ADD_PROJECT_WEBHOOK_URL', 'http://hook.eu1.make.com/abc', 'expected an https:// URL (http:// only for localhost)'],
    ['MAKE_ADD_PROJECT_WEBHOOK_URL', 'ftp://localhost/x', 'expected an https:// URL (http:// only for localhost)'],
    ['MAKE_WEBHOOK_URLS', 'refund_completed=https://x', `expected a JSON object from event kind (${KINDS}) to webhook URL`],
    ['MAKE_WEBHOOK_URLS', '["https://x"]', `expected a JSON object from event kind (${KINDS}) to webhook URL`],
    ['MAKE_WEBHOOK_URLS', '{"order_shipped":"https://hook.eu1.make.com/x"}', `expected known event kinds only (${KINDS}); got "order_shipped"`],
    ['MAKE_WEBHOOK_URLS', '{"refund_completed":42}', 'expected an https:// URL (http:// only for localhost) for refund_completed'],
    ['MAKE_WEBHOOK_URLS', '{"refund_completed":"http://hook.eu1.make.com/x"}', 'expected an https:// URL (http:// only for localhost) for refund_completed'],
    ['MAKE_SIGNING_SECRET', 'short', 'expected a secret of at least 16 characters'],
    ['MAKE_API_KEY', 'has a space', "expected Make's API key: 1 to 500 printable characters without spaces"],
    ['MAKE_TIMEOUT_MS', '50', 'expected an integer from 100 to 120000'],
    ['MAKE_TIMEOUT_MS', 'soon', 'expected an integer from 100 to 120000'],
    ['MAKE_RETRY_HORIZON_HOURS', '0', 'expected an integer from 1 to 720'],
    ['MAKE_RETRY_HORIZON_HOURS', '1.5', 'expected an integer from 1 to 720'],
  ])('refuses %s=%s with one line naming the variable', (name, value, expected) => {
    expect(problemsOf({ [name]: value })).toEqual([`Invalid environment variable ${name}: ${expected}`]);
  });

  it('never echoes the signing secret or API key it refuses', () => {
    const problems = problemsOf({ MAKE_SIGNING_SECRET: 'tiny-secret', MAKE_API_KEY: 'secret key with spaces' }).join('\n');
    expect(problems).not.toContain('tiny-secret');
    expect(problems).not.toContain('secret key with spaces');
  });
});

describe('PAYMENT_REQUEST_PAY_URL', () => {
  const LINE = 'Invalid environment variable PAYMENT_REQUEST_PAY_URL: expected an http(s) URL of at most 2000 characters containing {token}';

  it('is unset by default (the server starts; sandbox mode uses the demo pay page) and taken as given', () => {
    expect(loadConfig({}).paymentRequests).toEqual({ payUrl: undefined });
    expect(loadConfig({ PAYMENT_REQUEST_PAY_URL: 'https://shop.example/pay?token={token}' }).paymentRequests).toEqual({ payUrl: 'https://shop.example/pay?token={token}' });
    expect(loadConfig({ PAYMENT_REQUEST_PAY_URL: 'http://localhost:3000/pay/{token}' }).paymentRequests.payUrl).toBe('http://localhost:3000/pay/{token}');
  });

  it.each([
    ['no {token} placeholder', 'https://shop.example/pay'],
    ['an ftp: URL', 'ftp://shop.example/pay?token={token}'],
    ['a javascript: URL', 'javascript:alert("{token}")'],
    ['not a URL', 'shop.example/pay?token={token}'],
    ['NUL', 'https://shop.example/pay\u0000?token={token}'],
    ['a lone surrogate', 'https://shop.example/p\ud800ay?token={token}'],
    ['a space', 'https://shop.example/pay now?token={token}'],
    ['over 2000 characters', `https://shop.example/${'p'.repeat(2000)}?token={token}`],
  ])('refuses %s with one line naming the variable', (_name, value) => {
    expect(problemsOf({ PAYMENT_REQUEST_PAY_URL: value })).toEqual([LINE]);
  });
});

describe('reconciliation settings', () => {
  it('defaults: a pass every 5 minutes, provisional orders asked about after 120 s, open orphans cancelled after 24 h', () => {
    expect(loadConfig({}).reconcile).toEqual({ schedule: '*/5 * * * *', provisionalAfterSeconds: 120, cancelOpenOrphansAfterHours: 24 });
  });

  it('turns the janitor off with RECONCILE_INTERVAL=off and never cancels open orphans with 0 hours', () => {
    expect(loadConfig({ RECONCILE_INTERVAL: 'off', RECONCILE_CANCEL_OPEN_ORPHANS_AFTER_HOURS: '0' }).reconcile).toMatchObject({ schedule: undefined, cancelOpenOrphansAfterHours: 0 });
  });

  it.each([
    ['RECONCILE_INTERVAL', 'every five minutes', 'expected a cron pattern such as "*/5 * * * *", or off'],
    ['RECONCILE_PROVISIONAL_AFTER_SECONDS', '5', 'expected an integer from 10 to 86400'],
    ['RECONCILE_CANCEL_OPEN_ORPHANS_AFTER_HOURS', '-1', 'expected an integer from 0 to 720'],
  ])('refuses %s=%s with one line naming the variable', (name, value, expected) => {
    expect(problemsOf({ [name]: value })).toEqual([`Invalid environment variable ${name}: ${expected}`]);
  });
});

describe('.env.example', () => {
  const example = parseEnv(readFileSync(new URL('../.env.example', import.meta.url), 'utf8'));

  it('names every variable the server and the standalone Stripe sandbox read, and nothing else', () => {
    expect(Object.keys(example).sort()).toEqual([...CONFIG_VARIABLES, ...SANDBOX_VARIABLES].sort());
  });

  it('loads as it stands, copied to .env', () => {
    expect(() => loadConfig(example as NodeJS.ProcessEnv)).not.toThrow();
  });
});

describe('npm start with a bad variable', () => {
  it('stops before doing anything, printing one line that names the variable', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      env: { PATH: process.env.PATH, PORT: 'not-a-port' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe('Invalid environment variable PORT: expected an integer from 0 to 65535');
    expect(result.stdout).toBe('');
  });
});
