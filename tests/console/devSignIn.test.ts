// The sandbox's dev sign-in route, through the real server: it hands out staff tokens that the real
// verifier accepts with the chosen role, and it does not exist outside sandbox mode.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server';

describe('dev sign-in in sandbox mode', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  it('answers GET so the console knows to offer it', async () => {
    const response = await fetch(`${server.url}/_sandbox/dev-sign-in`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ sandbox: true, roles: ['support', 'admin'] });
  });

  it.each([
    ['support', 'SUPPORT', 'support@sandbox.local'],
    ['admin', 'ADMIN', 'admin@sandbox.local'],
  ])('signs a one-hour %s token the GraphQL API accepts with that role', async (role, viewerRole, email) => {
    const response = await fetch(`${server.url}/_sandbox/dev-sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ role }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { token: string; role: string; email: string; expiresAt: string };
    expect(body).toMatchObject({ role, email });
    const ttl = Date.parse(body.expiresAt) - Date.now();
    expect(ttl).toBeGreaterThan(3500_000);
    expect(ttl).toBeLessThanOrEqual(3600_000);

    const viewer = await server.graphql('{ viewer { role name } }', { token: body.token });
    expect(viewer.body.data.viewer).toEqual({ role: viewerRole, name: email });
  });

  it('refuses a role other than support or admin with a 400', async () => {
    for (const body of ['{"role":"customer"}', '{}', 'not json']) {
      const response = await fetch(`${server.url}/_sandbox/dev-sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(response.status).toBe(400);
    }
  });
});

describe('dev sign-in with real Stripe keys', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ STRIPE_SECRET_KEY: 'sk_test_realkeyconfigured', STRIPE_WEBHOOK_SECRET: 'whsec_configuredsecret', SUPABASE_JWT_SECRET: 'a-real-projects-secret-of-some-length' });
  });
  afterAll(() => server.stop());

  it('is not mounted: GET and POST answer 404', async () => {
    expect((await fetch(`${server.url}/_sandbox/dev-sign-in`)).status).toBe(404);
    const post = await fetch(`${server.url}/_sandbox/dev-sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"role":"admin"}' });
    expect(post.status).toBe(404);
  });
});
