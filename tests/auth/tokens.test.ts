// Staff and customer bearer tokens (Supabase Auth JWTs), checked over real HTTP against the real server:
// HS256 with the project's JWT secret, RS256/ES256 through a JWKS, and the sandbox's own dev tokens.
// Only the JWKS host is outside our system, so only it is served by msw.
import { createPublicKey, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signStaffToken } from '../../server/auth/staffTokens';
import { DEV_ADMIN_USER, DEV_SUPPORT_USER } from '../../server/sandboxMode/devCredentials';
import { startTestServer, type GraphQLResponse, type TestServer } from '../helpers/server';

const JWT_SECRET = 'test-jwt-secret-0123456789-abcdefghijklmnop';
const AUDIENCE = 'authenticated';
const VIEWER = '{ viewer { role id name } }';

const nowSeconds = () => Math.floor(Date.now() / 1000);
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function expectUnauthenticated(response: GraphQLResponse, message?: RegExp) {
  expect(response.status).toBe(401);
  expect(response.headers.get('www-authenticate')).toBe('Bearer');
  expect(response.body.data).toBeUndefined();
  expect(response.body.errors).toHaveLength(1);
  expect(response.body.errors![0]!.extensions?.code).toBe('UNAUTHENTICATED');
  if (message) expect(response.body.errors![0]!.message).toMatch(message);
}

describe('HS256 tokens (SUPABASE_JWT_SECRET)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ SUPABASE_JWT_SECRET: JWT_SECRET });
  });
  afterAll(() => server.stop());

  const sign = (claims: { staffRole?: 'admin' | 'support'; userId?: string; audience?: string; expiresIn?: string | number; secret?: string }) =>
    signStaffToken(claims.secret ?? JWT_SECRET, {
      userId: claims.userId ?? randomUUID(),
      email: 'person@example.com',
      staffRole: claims.staffRole,
      audience: claims.audience ?? AUDIENCE,
      expiresIn: claims.expiresIn ?? '1h',
    });

  it('gives ADMIN to a token whose app_metadata.role is admin, with the user id and email', async () => {
    const userId = randomUUID();
    const { status, body } = await server.graphql(VIEWER, { token: await sign({ staffRole: 'admin', userId }) });
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data.viewer).toEqual({ role: 'ADMIN', id: userId, name: 'person@example.com' });
  });

  it('gives SUPPORT to a token whose app_metadata.role is support', async () => {
    const { body } = await server.graphql(VIEWER, { token: await sign({ staffRole: 'support' }) });
    expect(body.data.viewer.role).toBe('SUPPORT');
  });

  it('gives CUSTOMER to a valid token without a staff role', async () => {
    const { body } = await server.graphql(VIEWER, { token: await sign({}) });
    expect(body.data.viewer.role).toBe('CUSTOMER');
  });

  it('reads the staff role from a user_role claim added by an access token hook', async () => {
    const token = await new SignJWT({ email: 'hook@example.com', role: 'authenticated', user_role: 'support' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(randomUUID())
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(JWT_SECRET));
    const { body } = await server.graphql(VIEWER, { token });
    expect(body.data.viewer).toMatchObject({ role: 'SUPPORT', name: 'hook@example.com' });
  });

  it('gives CUSTOMER when the role is only in user_metadata, which users can edit themselves', async () => {
    const token = await new SignJWT({ role: 'authenticated', user_metadata: { role: 'admin' } })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(randomUUID())
      .setAudience(AUDIENCE)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(JWT_SECRET));
    const { body } = await server.graphql(VIEWER, { token });
    expect(body.data.viewer.role).toBe('CUSTOMER');
  });

  it('accepts the sandbox dev tokens, signed with the configured secret through the same verifier', async () => {
    const credentials = server.app.devCredentials!;
    expect(credentials.jwtSecret).toBe(JWT_SECRET);
    const admin = await server.graphql(VIEWER, { token: credentials.adminToken });
    const support = await server.graphql(VIEWER, { token: credentials.supportToken });
    expect(admin.body.data.viewer).toEqual({ role: 'ADMIN', id: DEV_ADMIN_USER.id, name: DEV_ADMIN_USER.email });
    expect(support.body.data.viewer).toEqual({ role: 'SUPPORT', id: DEV_SUPPORT_USER.id, name: DEV_SUPPORT_USER.email });
  });

  it('treats a request without credentials as ANONYMOUS', async () => {
    const { status, body } = await server.graphql(VIEWER);
    expect(status).toBe(200);
    expect(body.data.viewer).toEqual({ role: 'ANONYMOUS', id: null, name: null });
  });

  it('refuses an expired token with 401 saying it has expired', async () => {
    const response = await server.graphql(VIEWER, { token: await sign({ staffRole: 'admin', expiresIn: nowSeconds() - 60 }) });
    expectUnauthenticated(response, /expired/);
  });

  it('refuses a token signed with another secret', async () => {
    const response = await server.graphql(VIEWER, { token: await sign({ staffRole: 'admin', secret: 'another-secret-0123456789-abcdefghijklmnop' }) });
    expectUnauthenticated(response, /not valid/);
  });

  it('refuses a token whose payload was altered after signing', async () => {
    const [header, , signature] = (await sign({})).split('.');
    const forged = b64url({ sub: randomUUID(), aud: AUDIENCE, exp: nowSeconds() + 3600, app_metadata: { role: 'admin' } });
    expectUnauthenticated(await server.graphql(VIEWER, { token: `${header}.${forged}.${signature}` }), /not valid/);
  });

  it('refuses a token for another audience', async () => {
    expectUnauthenticated(await server.graphql(VIEWER, { token: await sign({ staffRole: 'admin', audience: 'anon' }) }), /not valid/);
  });

  it('refuses an unsigned token (alg: none)', async () => {
    const token = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: randomUUID(), aud: AUDIENCE, exp: nowSeconds() + 3600, app_metadata: { role: 'admin' } })}.`;
    expectUnauthenticated(await server.graphql(VIEWER, { token }), /not valid/);
  });

  it('refuses a token without a subject', async () => {
    const token = await new SignJWT({ app_metadata: { role: 'admin' } })
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience(AUDIENCE)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(JWT_SECRET));
    expectUnauthenticated(await server.graphql(VIEWER, { token }), /no user id/);
  });

  it('refuses a token whose subject is not a user id', async () => {
    expectUnauthenticated(await server.graphql(VIEWER, { token: await sign({ userId: 'service_role' }) }), /no user id/);
  });

  it('refuses a token without an expiry', async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(randomUUID())
      .setAudience(AUDIENCE)
      .sign(new TextEncoder().encode(JWT_SECRET));
    expectUnauthenticated(await server.graphql(VIEWER, { token }), /no expiry/);
  });

  it('refuses a Basic Authorization header with a message naming the expected form', async () => {
    expectUnauthenticated(await server.graphql(VIEWER, { headers: { authorization: 'Basic x' } }), /Bearer <token or API key>/);
  });

  it('refuses "Bearer" without a token', async () => {
    expectUnauthenticated(await server.graphql(VIEWER, { headers: { authorization: 'Bearer' } }), /Bearer <token or API key>/);
  });

  it('refuses a token that is not a JWT at all', async () => {
    expectUnauthenticated(await server.graphql(VIEWER, { token: 'not-a-jwt' }), /not valid/);
  });

  it('refuses a 10 kB Authorization header with 401 and keeps serving', async () => {
    expectUnauthenticated(await server.graphql(VIEWER, { headers: { authorization: `Bearer ${'a'.repeat(10_000)}` } }), /Bearer <token or API key>/);
    expectUnauthenticated(await server.graphql(VIEWER, { headers: { authorization: 'x'.repeat(10_000) } }), /Bearer <token or API key>/);
    const after = await server.graphql(VIEWER);
    expect(after.status).toBe(200);
    expect(after.body.data.viewer.role).toBe('ANONYMOUS');
  });

  it('never downgrades wrong credentials to anonymous, even for a public field', async () => {
    const response = await server.graphql('{ pricing { id } }', { token: await sign({ secret: 'another-secret-0123456789-abcdefghijklmnop' }) });
    expectUnauthenticated(response);
  });
});

describe('sandbox dev tokens without a configured secret', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  it('verifies the dev admin and support tokens against the generated dev secret', async () => {
    const credentials = server.app.devCredentials!;
    expect(credentials.jwtSecret.length).toBeGreaterThanOrEqual(32);
    const admin = await server.graphql(VIEWER, { token: credentials.adminToken });
    const support = await server.graphql(VIEWER, { token: credentials.supportToken });
    expect(admin.body.data.viewer).toEqual({ role: 'ADMIN', id: DEV_ADMIN_USER.id, name: DEV_ADMIN_USER.email });
    expect(support.body.data.viewer).toEqual({ role: 'SUPPORT', id: DEV_SUPPORT_USER.id, name: DEV_SUPPORT_USER.email });
  });

  it('refuses a token signed with any other secret', async () => {
    const token = await signStaffToken(JWT_SECRET, { userId: randomUUID(), email: 'a@example.com', staffRole: 'admin', audience: AUDIENCE, expiresIn: '1h' });
    expectUnauthenticated(await server.graphql(VIEWER, { token }), /not valid/);
  });
});

describe('RS256 and ES256 tokens through a JWKS (SUPABASE_JWKS_URL)', () => {
  const JWKS_URL = 'https://project.supabase.co/auth/v1/.well-known/jwks.json';
  let server: TestServer;
  let rsa: Awaited<ReturnType<typeof generateKeyPair>>;
  let ec: Awaited<ReturnType<typeof generateKeyPair>>;
  let stranger: Awaited<ReturnType<typeof generateKeyPair>>;
  let jwks: { keys: JWK[] };
  let jwksRequests = 0;
  const supabaseAuth = setupServer(
    http.get(JWKS_URL, () => {
      jwksRequests++;
      return HttpResponse.json(jwks);
    }),
  );

  beforeAll(async () => {
    [rsa, ec, stranger] = await Promise.all([generateKeyPair('RS256'), generateKeyPair('ES256'), generateKeyPair('RS256')]);
    jwks = {
      keys: [
        { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-key', alg: 'RS256', use: 'sig' },
        { ...(await exportJWK(ec.publicKey)), kid: 'ec-key', alg: 'ES256', use: 'sig' },
      ],
    };
    // Only the JWKS host is faked; requests to our own server on localhost go through untouched.
    supabaseAuth.listen({ onUnhandledRequest: 'bypass' });
    server = await startTestServer({ SUPABASE_JWKS_URL: JWKS_URL });
  });
  afterAll(async () => {
    await server.stop();
    supabaseAuth.close();
  });

  const signWith = (privateKey: CryptoKey, header: { alg: string; kid?: string }, claims: Record<string, unknown> = {}) =>
    new SignJWT({ email: 'staff@example.com', role: 'authenticated', ...claims })
      .setProtectedHeader({ typ: 'JWT', ...header })
      .setSubject(randomUUID())
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey);

  it('verifies an RS256 token signed by a key in the JWKS', async () => {
    const token = await signWith(rsa.privateKey, { alg: 'RS256', kid: 'rsa-key' }, { app_metadata: { role: 'admin' } });
    const { status, body } = await server.graphql(VIEWER, { token });
    expect(status).toBe(200);
    expect(body.data.viewer).toMatchObject({ role: 'ADMIN', name: 'staff@example.com' });
    expect(jwksRequests).toBeGreaterThan(0);
  });

  it('verifies an ES256 token signed by a key in the JWKS', async () => {
    const token = await signWith(ec.privateKey, { alg: 'ES256', kid: 'ec-key' }, { app_metadata: { role: 'support' } });
    const { body } = await server.graphql(VIEWER, { token });
    expect(body.data.viewer.role).toBe('SUPPORT');
  });

  it('refuses a token signed by a key that is not in the JWKS', async () => {
    const token = await signWith(stranger.privateKey, { alg: 'RS256', kid: 'rsa-key' }, { app_metadata: { role: 'admin' } });
    expectUnauthenticated(await server.graphql(VIEWER, { token }), /not valid/);
  });

  it('refuses a token naming a key id the JWKS does not have', async () => {
    const token = await signWith(stranger.privateKey, { alg: 'RS256', kid: 'unknown-key' }, { app_metadata: { role: 'admin' } });
    expectUnauthenticated(await server.graphql(VIEWER, { token }), /not valid/);
  });

  it('refuses an HS256 token signed with the public key (algorithm confusion)', async () => {
    const publicPem = createPublicKey({ key: jwks.keys[0] as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    const token = await new SignJWT({ app_metadata: { role: 'admin' } })
      .setProtectedHeader({ alg: 'HS256', kid: 'rsa-key' })
      .setSubject(randomUUID())
      .setAudience(AUDIENCE)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(String(publicPem)));
    expectUnauthenticated(await server.graphql(VIEWER, { token }), /not valid/);
  });

  it('refuses an HS256 token signed with a shared secret', async () => {
    const token = await signStaffToken(JWT_SECRET, { userId: randomUUID(), email: 'a@example.com', staffRole: 'admin', audience: AUDIENCE, expiresIn: '1h' });
    expectUnauthenticated(await server.graphql(VIEWER, { token }), /not valid/);
  });

  it('refuses an unsigned token (alg: none)', async () => {
    const token = `${b64url({ alg: 'none', kid: 'rsa-key' })}.${b64url({ sub: randomUUID(), aud: AUDIENCE, exp: nowSeconds() + 3600, app_metadata: { role: 'admin' } })}.`;
    expectUnauthenticated(await server.graphql(VIEWER, { token }), /not valid/);
  });

  it('refuses an expired RS256 token saying it has expired', async () => {
    const token = await new SignJWT({ app_metadata: { role: 'admin' } })
      .setProtectedHeader({ alg: 'RS256', kid: 'rsa-key' })
      .setSubject(randomUUID())
      .setAudience(AUDIENCE)
      .setExpirationTime(nowSeconds() - 60)
      .sign(rsa.privateKey);
    expectUnauthenticated(await server.graphql(VIEWER, { token }), /expired/);
  });

  it('refuses an RS256 token for another audience', async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: 'rsa-key' })
      .setSubject(randomUUID())
      .setAudience('anon')
      .setExpirationTime('1h')
      .sign(rsa.privateKey);
    expectUnauthenticated(await server.graphql(VIEWER, { token }), /not valid/);
  });
});
