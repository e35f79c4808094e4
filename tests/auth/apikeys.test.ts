// API keys for machine clients, over real HTTP against the real server and database: scopes become
// roles, revoked and unknown keys are refused, and the database never holds a usable key.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../server/auth/apiKeys';
import { revokeApiKey } from '../../server/auth/apiKeys.sql';
import { startTestServer, type GraphQLResponse, type TestServer } from '../helpers/server';

const VIEWER = '{ viewer { role id name } }';

function expectUnauthenticated(response: GraphQLResponse, message: RegExp) {
  expect(response.status).toBe(401);
  expect(response.body.data).toBeUndefined();
  expect(response.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  expect(response.body.errors?.[0]?.message).toMatch(message);
}

describe('API keys', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  it('gives STOREFRONT to a storefront key sent as a bearer token, with the key id and name', async () => {
    const { key, row } = await createApiKey(server.testDb.db, 'Main shop', 'storefront');
    const { status, body } = await server.graphql(VIEWER, { token: key });
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data.viewer).toEqual({ role: 'STOREFRONT', id: row.id, name: 'Main shop' });
  });

  it('gives STOREFRONT to a storefront key sent in X-API-Key', async () => {
    const { key, row } = await createApiKey(server.testDb.db, 'Second shop', 'storefront');
    const { body } = await server.graphql(VIEWER, { headers: { 'x-api-key': key } });
    expect(body.data.viewer).toEqual({ role: 'STOREFRONT', id: row.id, name: 'Second shop' });
  });

  it('gives MAKE to a make key', async () => {
    const { key, row } = await createApiKey(server.testDb.db, 'Make scenario', 'make');
    expect(key).toMatch(/^pok_make_/);
    const { body } = await server.graphql(VIEWER, { headers: { 'x-api-key': key } });
    expect(body.data.viewer).toEqual({ role: 'MAKE', id: row.id, name: 'Make scenario' });
  });

  it('accepts the sandbox storefront key', async () => {
    const { body } = await server.graphql(VIEWER, { token: server.app.devCredentials!.storefrontApiKey });
    expect(body.data.viewer).toMatchObject({ role: 'STOREFRONT', name: 'sandbox storefront' });
  });

  it('refuses a revoked key with 401 and says it is not valid or revoked, in both header forms', async () => {
    const { key, row } = await createApiKey(server.testDb.db, 'Old shop', 'storefront');
    expect((await server.graphql(VIEWER, { token: key })).body.data.viewer.role).toBe('STOREFRONT');

    await revokeApiKey(server.testDb.db, row.id);

    expectUnauthenticated(await server.graphql(VIEWER, { token: key }), /not valid or has been revoked/);
    expectUnauthenticated(await server.graphql(VIEWER, { headers: { 'x-api-key': key } }), /not valid or has been revoked/);
  });

  it('treats whatever comes in X-API-Key as an API key, so a token there is refused as a key', async () => {
    const token = server.app.devCredentials!.adminToken;
    expectUnauthenticated(await server.graphql(VIEWER, { headers: { 'x-api-key': token } }), /API key is not valid/);
  });

  it('refuses a request carrying both X-API-Key and Authorization, even when both are valid', async () => {
    const { key } = await createApiKey(server.testDb.db, 'Both headers shop', 'storefront');
    const response = await server.graphql(VIEWER, { token: server.app.devCredentials!.adminToken, headers: { 'x-api-key': key } });
    expectUnauthenticated(response, /either X-API-Key or Authorization, not both/);
  });

  it('refuses a well-formed key that was never issued', async () => {
    const unknown = `pok_storefront_${randomBytes(32).toString('base64url')}`;
    expectUnauthenticated(await server.graphql(VIEWER, { token: unknown }), /API key is not valid/);
  });

  it.each([
    ['too short', 'pok_storefront_abc'],
    ['an unknown scope', `pok_admin_${randomBytes(32).toString('base64url')}`],
    ['no scope', 'pok_'],
    ['characters outside base64url', `pok_make_${'!'.repeat(43)}`],
  ])('refuses a malformed pok_ key (%s)', async (_case, key) => {
    expectUnauthenticated(await server.graphql(VIEWER, { headers: { 'x-api-key': key } }), /API key is not valid/);
  });

  it('refuses a valid key with one character changed', async () => {
    const { key } = await createApiKey(server.testDb.db, 'Typo shop', 'storefront');
    const altered = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
    expectUnauthenticated(await server.graphql(VIEWER, { token: altered }), /API key is not valid/);
  });

  it('stores only the SHA-256 of a key and a short prefix, never the key itself', async () => {
    const { key, row } = await createApiKey(server.testDb.db, 'Hashed shop', 'storefront');
    const { rows } = await server.testDb.db.query<Record<string, unknown>>('select * from api_keys where id = $1', [row.id]);
    expect(rows).toHaveLength(1);
    const stored = rows[0]!;
    expect(stored.key_hash).toBe(createHash('sha256').update(key).digest('hex'));
    expect(key.startsWith(String(stored.prefix))).toBe(true);
    expect(String(stored.prefix).length).toBeLessThan(key.length / 2);

    const secretPart = key.slice('pok_storefront_'.length);
    const everything = await server.testDb.db.query<Record<string, unknown>>('select * from api_keys');
    const dump = JSON.stringify(everything.rows);
    expect(dump).not.toContain(key);
    expect(dump).not.toContain(secretPart);
  });

  it('sets last_used_at when a key is used', async () => {
    const { key, row } = await createApiKey(server.testDb.db, 'Busy shop', 'make');
    expect(row.last_used_at).toBeNull();
    const before = Date.now();

    await server.graphql(VIEWER, { token: key });

    const { rows } = await server.testDb.db.query<{ last_used_at: Date | null }>('select last_used_at from api_keys where id = $1', [row.id]);
    expect(rows[0]!.last_used_at).toBeInstanceOf(Date);
    // Database and test clocks are the same machine; allow a little slack either way.
    expect(Math.abs(rows[0]!.last_used_at!.getTime() - before)).toBeLessThan(60_000);
  });

  it('does not set last_used_at for a revoked key that is tried', async () => {
    const { key, row } = await createApiKey(server.testDb.db, 'Revoked before use', 'storefront');
    await revokeApiKey(server.testDb.db, row.id);

    await server.graphql(VIEWER, { token: key });

    const { rows } = await server.testDb.db.query<{ last_used_at: Date | null }>('select last_used_at from api_keys where id = $1', [row.id]);
    expect(rows[0]!.last_used_at).toBeNull();
  });
});
