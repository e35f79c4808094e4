// Logs: every line written while serving a request carries its request id, and credentials never reach
// a log line. Over real HTTP against the real server, reading the JSON lines it wrote.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../../server/auth/apiKeys';
import { createLogger, withLogScope } from '../../../server/platform/observability/logger';
import { LogCapture, startTestServer, type TestServer } from '../../helpers/server';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('request logs', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  const accessLogFor = (requestId: string | null) => server.logs.lines.filter((line) => line.msg === 'request' && line.requestId === requestId);

  it('writes one access log line whose requestId is the X-Request-Id the response carries', async () => {
    const { status, headers } = await server.graphql('{ viewer { role } }');
    const requestId = headers.get('x-request-id');

    expect(status).toBe(200);
    expect(requestId).toMatch(UUID);
    const lines = accessLogFor(requestId);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ method: 'POST', path: '/graphql', status: 200, service: 'payments-ops' });
    expect(typeof lines[0]!.ms).toBe('number');
  });

  it("keeps a caller's well-formed X-Request-Id and replaces a malformed one", async () => {
    const mine = await server.graphql('{ viewer { role } }', { headers: { 'x-request-id': 'shop-req-12345' } });
    expect(mine.headers.get('x-request-id')).toBe('shop-req-12345');
    expect(accessLogFor('shop-req-12345')).toHaveLength(1);

    const malformed = await server.graphql('{ viewer { role } }', { headers: { 'x-request-id': 'bad id with spaces' } });
    const replaced = malformed.headers.get('x-request-id');
    expect(replaced).toMatch(UUID);
    expect(accessLogFor(replaced)).toHaveLength(1);
    expect(server.logs.text).not.toContain('bad id with spaces');
  });

  it('gives the error line and the access line of one failing request the same requestId', async () => {
    await server.testDb.db.query('alter table products rename to products_gone');
    try {
      const { body, headers } = await server.graphql('{ pricing { id } }');
      const requestId = headers.get('x-request-id');
      expect(body.errors?.[0]?.extensions).toEqual({ code: 'INTERNAL', requestId });

      const lines = server.logs.lines.filter((line) => line.requestId === requestId);
      expect(lines.map((line) => line.msg)).toEqual(['unexpected error while resolving a GraphQL request', 'request']);
    } finally {
      await server.testDb.db.query('alter table products_gone rename to products');
    }
  });

  it('never logs a bearer token or an API key, whether accepted or refused', async () => {
    const { key } = await createApiKey(server.testDb.db, 'Logged shop', 'storefront');
    const adminToken = server.app.devCredentials!.adminToken;
    const unknownKey = `pok_make_${randomBytes(32).toString('base64url')}`;
    const garbage = `Bearer ${randomBytes(24).toString('hex')}`;

    await server.graphql('{ viewer { role } }', { token: adminToken });
    await server.graphql('{ viewer { role } }', { token: key });
    await server.graphql('{ viewer { role } }', { headers: { 'x-api-key': key } });
    await server.graphql('{ viewer { role } }', { headers: { 'x-api-key': unknownKey } });
    await server.graphql('{ viewer { role } }', { headers: { authorization: garbage } });
    await server.graphql('{ nope }', { token: adminToken });

    const text = server.logs.text;
    expect(text).not.toContain(adminToken);
    expect(text).not.toContain(adminToken.split('.')[2]);
    expect(text).not.toContain(key);
    expect(text).not.toContain(unknownKey);
    expect(text).not.toContain(garbage.slice('Bearer '.length));
    expect(text).not.toContain(server.app.devCredentials!.storefrontApiKey);
    expect(text).not.toContain(server.app.devCredentials!.jwtSecret);
  });
});

describe('logger', () => {
  it('adds the ids of the current scope to every line, and only inside the scope', async () => {
    const capture = new LogCapture();
    const logger = createLogger({ level: 'info', destination: capture });

    await withLogScope({ requestId: 'req-1' }, async () => {
      logger.info('first');
      await Promise.resolve();
      await withLogScope({ eventId: 'evt_1' }, async () => logger.child({ job: 'webhooks' }).info('nested'));
    });
    logger.info('outside');

    expect(capture.lines.map(({ msg, requestId, eventId }) => ({ msg, requestId, eventId }))).toEqual([
      { msg: 'first', requestId: 'req-1', eventId: undefined },
      { msg: 'nested', requestId: 'req-1', eventId: 'evt_1' },
      { msg: 'outside', requestId: undefined, eventId: undefined },
    ]);
  });

  it('redacts credential fields a caller might log by mistake', () => {
    const capture = new LogCapture();
    const logger = createLogger({ level: 'info', destination: capture });

    logger.info({ headers: { authorization: 'Bearer abc', 'x-api-key': 'pok_make_x' }, apiKey: 'pok_storefront_y', user: { password: 'hunter2', token: 't' } }, 'oops');

    expect(capture.lines[0]).toMatchObject({
      headers: { authorization: '[redacted]', 'x-api-key': '[redacted]' },
      apiKey: '[redacted]',
      user: { password: '[redacted]', token: '[redacted]' },
    });
    expect(capture.text).not.toMatch(/Bearer abc|pok_make_x|pok_storefront_y|hunter2/);
  });
});
