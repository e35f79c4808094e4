// Security headers through the real server over real HTTP: the console (and the explorer) under a
// strict Content-Security-Policy, the sandbox's server-rendered pages under one that runs no script,
// API answers never sniffed nor cached, HSTS only over TLS. The console is a small built-like
// directory the test writes (CONSOLE_DIST_DIR), so this suite does not depend on `npm run build:console`.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/server';

const SUPABASE_URL = 'https://abcdefghijklmnop.supabase.co';

let dist: string;
let server: TestServer;

beforeAll(async () => {
  dist = mkdtempSync(join(tmpdir(), 'console-dist-'));
  mkdirSync(join(dist, 'assets'));
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>Payments ops console</title><script type="module" src="/assets/console-abc.js"></script>');
  writeFileSync(join(dist, 'explorer.html'), '<!doctype html><title>GraphQL explorer · Payments ops</title><script type="module" src="/assets/explorer-abc.js"></script>');
  writeFileSync(join(dist, 'assets', 'console-abc.js'), 'console.log("console")');
  writeFileSync(join(dist, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  server = await startTestServer({ CONSOLE_DIST_DIR: dist, SUPABASE_URL, SUPABASE_ANON_KEY: 'anon-key-0123456789abcdef', JOBS_ENABLED: 'false' });
});
afterAll(async () => {
  await server?.stop();
  rmSync(dist, { recursive: true, force: true });
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${server.url}${path}`, { headers });

/** The CSP as a map from directive to its sources. */
function csp(response: Response): Map<string, string[]> {
  const header = response.headers.get('content-security-policy') ?? '';
  return new Map(
    header
      .split(';')
      .map((part) => part.trim().split(/\s+/))
      .filter((words) => words[0])
      .map(([name, ...sources]) => [name!, sources]),
  );
}

describe('the console', () => {
  it('is served with a CSP that runs scripts and styles from this origin only and connects to the API and Supabase', async () => {
    for (const path of ['/', '/orders?status=PAID']) {
      const response = await get(path, { accept: 'text/html' });
      expect(response.status).toBe(200);
      expect(await response.text()).toContain('Payments ops console');
      const policy = csp(response);
      expect(policy.get('default-src')).toEqual(["'self'"]);
      expect(policy.get('script-src')).toEqual(["'self'"]);
      expect(policy.get('style-src')).toEqual(["'self'"]);
      expect(policy.get('img-src')).toEqual(["'self'", 'data:']);
      expect(policy.get('connect-src')).toEqual(["'self'", SUPABASE_URL]);
      expect(policy.get('frame-ancestors')).toEqual(["'none'"]);
      expect(policy.get('object-src')).toEqual(["'none'"]);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
    }
  });

  it('serves its hashed assets as immutable and its favicon, with nosniff', async () => {
    const asset = await get('/assets/console-abc.js');
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('x-content-type-options')).toBe('nosniff');

    const icon = await get('/favicon.svg');
    expect(icon.status).toBe(200);
    expect(icon.headers.get('content-type')).toMatch(/image\/svg\+xml/);
  });
});

describe('HSTS', () => {
  it('is not sent over plain http, nor because an untrusted client claims https', async () => {
    expect((await get('/', { accept: 'text/html' })).headers.get('strict-transport-security')).toBeNull();
    expect((await get('/healthz', { 'x-forwarded-proto': 'https' })).headers.get('strict-transport-security')).toBeNull();
    const webhook = await fetch(`${server.url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'https' }, body: '{}' });
    expect(webhook.headers.get('strict-transport-security')).toBeNull();
  });

  it('is sent when a trusted proxy (TRUST_PROXY_HOPS) says the client used https', async () => {
    const behindProxy = await startTestServer({ CONSOLE_DIST_DIR: dist, TRUST_PROXY_HOPS: '1', JOBS_ENABLED: 'false' });
    try {
      const overTls = await fetch(`${behindProxy.url}/`, { headers: { accept: 'text/html', 'x-forwarded-proto': 'https' } });
      expect(overTls.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
      const plain = await fetch(`${behindProxy.url}/`, { headers: { accept: 'text/html', 'x-forwarded-proto': 'http' } });
      expect(plain.headers.get('strict-transport-security')).toBeNull();
      // The webhook route, served on node:http before Hono (webhookListener.ts), decides the same way.
      const webhook = (proto: string) =>
        fetch(`${behindProxy.url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-proto': proto }, body: '{}' });
      expect((await webhook('https')).headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
      expect((await webhook('http')).headers.get('strict-transport-security')).toBeNull();
    } finally {
      await behindProxy.stop();
    }
  });
});

describe('API answers', () => {
  it('carry nosniff and Cache-Control: no-store, whatever their status', async () => {
    const answers = [
      await get('/healthz'),
      await get('/readyz'),
      await fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ viewer { role } }' }) }),
      await fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' }),
      await fetch(`${server.url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
      await get('/_sandbox/dev-sign-in'),
      await get('/v1/products', { authorization: 'Bearer sk_test_sandbox' }),
    ];
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 400, 400, 200, 200]);
    for (const response of answers) {
      expect(response.headers.get('x-content-type-options'), response.url).toBe('nosniff');
      expect(response.headers.get('cache-control'), response.url).toBe('no-store');
      expect(csp(response).get('default-src'), response.url).toEqual(["'none'"]);
    }
  });
});

describe("the sandbox's server-rendered pages", () => {
  it('run no script, keep their inline styles and cannot be framed', async () => {
    const pages = [await get('/sandbox/storefront'), await get('/checkout/cs_test_unknown'), await get('/3ds/pi_unknown')];
    expect(pages[0]!.status).toBe(200);
    for (const page of pages) {
      expect(page.headers.get('content-type'), page.url).toMatch(/text\/html/);
      const policy = csp(page);
      expect(policy.get('default-src'), page.url).toEqual(["'none'"]);
      expect(policy.has('script-src'), page.url).toBe(false);
      expect(policy.get('style-src'), page.url).toEqual(["'unsafe-inline'"]);
      expect(policy.get('frame-ancestors'), page.url).toEqual(["'none'"]);
      expect(page.headers.get('x-content-type-options')).toBe('nosniff');
      expect(page.headers.get('cache-control')).toBe('no-store');
    }
  });
});

describe('the GraphQL explorer', () => {
  it('is the built GraphiQL page for a browser opening /graphql, under a CSP with scripts from this origin only', async () => {
    const response = await get('/graphql', { accept: 'text/html,application/xhtml+xml' });
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain('GraphQL explorer');
    expect(html).not.toMatch(/apollographql\.com|cdn\./);
    const policy = csp(response);
    expect(policy.get('script-src')).toEqual(["'self'"]);
    expect(policy.get('connect-src')).toEqual(["'self'"]);
    expect(policy.get('frame-ancestors')).toEqual(["'none'"]);
  });

  it('leaves GET /graphql with an operation, or asked for as JSON, to the API', async () => {
    const withQuery = await get(`/graphql?query=${encodeURIComponent('{ viewer { role } }')}`, { accept: 'text/html, application/json', 'apollo-require-preflight': 'true' });
    expect(await withQuery.json()).toEqual({ data: { viewer: { role: 'ANONYMOUS' } } });
    const json = await get('/graphql', { accept: 'application/json' });
    expect(json.headers.get('content-type')).toMatch(/application\/json/);
  });
});
