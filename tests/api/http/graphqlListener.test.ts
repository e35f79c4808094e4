// POST /graphql is answered by a node:http listener in front of Hono (graphqlListener.ts). Over real
// HTTP (the listener) and through the Hono app alone (honoFetch), each kind of request gets the same
// status, body and headers: request id, security headers, body limit with the connection closed, bad
// JSON, unstorable text, a refused credential, the storefront's rate limit; GET goes on to Hono.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../../server/auth/apiKeys';
import { startTestServer, type TestServer } from '../../helpers/server';

let server: TestServer;
let storefrontKey: string;
beforeAll(async () => {
  server = await startTestServer({ HTTP_BODY_LIMIT_BYTES: '4096', JOBS_ENABLED: 'false', RATE_LIMIT_API_KEY_PER_MINUTE: '2' });
  storefrontKey = (await createApiKey(server.app.db, 'listener test', 'storefront')).key;
});
afterAll(() => server?.stop());

type Via = 'listener' | 'hono';
interface Answer {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

/** Headers that differ between two answers by nature: the date, a fresh request id, node's own keep-alive. */
const PER_ANSWER = new Set(['date', 'x-request-id', 'keep-alive', 'content-length']);

async function post(via: Via, body: string, headers: Record<string, string> = {}, path = '/graphql'): Promise<Answer> {
  const init = { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body };
  const response = via === 'listener' ? await fetch(`${server.url}${path}`, init) : await server.app.honoFetch(new Request(`http://localhost${path}`, init));
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // compared as text
  }
  return { status: response.status, body: parsed, headers: Object.fromEntries(response.headers) };
}

/** What must be the same either way: status, body, and every header but those that differ by nature. */
const comparable = ({ status, body, headers }: Answer) => ({
  status,
  body,
  // fetch hides `connection` from an answer read over HTTP (it is the transport's): compared apart.
  headers: Object.fromEntries(Object.entries(headers).filter(([name]) => !PER_ANSWER.has(name) && name !== 'connection')),
});

const both = async (body: string, headers: Record<string, string> = {}, path?: string) => {
  const viaListener = await post('listener', body, headers, path);
  const viaHono = await post('hono', body, headers, path);
  expect(comparable(viaListener)).toEqual(comparable(viaHono));
  return viaListener;
};

const PRICING = JSON.stringify({ query: '{ pricing { name } viewer { role } }' });

describe('the GraphQL listener answers as the Hono route does', () => {
  it('answers a query with the same headers as Hono: security headers, no-store, a request id', async () => {
    const answer = await both(PRICING);
    expect(answer.status).toBe(200);
    expect((answer.body as { data: { viewer: { role: string } } }).data.viewer.role).toBe('ANONYMOUS');
    expect(answer.headers['cache-control']).toBe('no-store');
    expect(answer.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(answer.headers['content-type']).toMatch(/^application\/json/);
    expect(answer.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect((await post('listener', PRICING, { 'x-request-id': 'shop-checkout.7' })).headers['x-request-id']).toBe('shop-checkout.7');
    expect((await post('listener', PRICING, { 'x-request-id': 'not one; at all' })).headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers with a query string, and the API key caller, as the route itself', async () => {
    const answer = await both(PRICING, { 'x-api-key': storefrontKey }, '/graphql?from=shop');
    expect((answer.body as { data: { viewer: { role: string } } }).data.viewer.role).toBe('STOREFRONT');
  });

  it('refuses malformed JSON, unstorable text and a wrong credential with the same answers', async () => {
    expect((await both('{"query": ')).status).toBe(400);
    const nul = await both(JSON.stringify({ query: 'query ($e: String) { pricing { name } }', variables: { e: 'a\u0000b' } }));
    expect(nul).toMatchObject({ status: 400, body: { errors: [{ extensions: { code: 'BAD_USER_INPUT', reason: 'INVALID_TEXT', field: 'e' } }] } });
    const wrong = await both(PRICING, { 'x-api-key': 'pok_not_a_real_key_at_all_0000000000' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers['www-authenticate']).toBe('Bearer');
    // Two credentials are refused, never one of them picked.
    const twice = await both(PRICING, { authorization: 'Bearer a.b.c', 'x-api-key': storefrontKey });
    expect(twice.status).toBe(401);
  });

  it('refuses a body over the limit with the same 413 and closes the connection', async () => {
    const body = JSON.stringify({ query: `{ pricing { name } } # ${'x'.repeat(5000)}` });
    const viaListener = await post('listener', body);
    const viaHono = await post('hono', body);
    expect(viaListener.status).toBe(413);
    expect(comparable(viaListener)).toEqual(comparable(viaHono));
    expect(viaHono.headers.connection).toBe('close');
  });

  it('limits a storefront key’s mutations with the same 429 and Retry-After', async () => {
    // One bucket per key in this process, shared by both ways in: the third mutation is refused.
    const mutation = JSON.stringify({ query: 'mutation ($k: String!) { createPaymentIntent(input: { idempotencyKey: $k, track: "nope", email: "a@example.com" }) { isRepeat } }', variables: { k: 'listener-limit' } });
    const answers = [await post('listener', mutation, { 'x-api-key': storefrontKey }), await post('hono', mutation, { 'x-api-key': storefrontKey })];
    for (const answer of answers) expect(answer.status).not.toBe(429);
    const [viaListener, viaHono] = [await post('listener', mutation, { 'x-api-key': storefrontKey }), await post('hono', mutation, { 'x-api-key': storefrontKey })];
    expect(viaListener.status).toBe(429);
    expect(Number(viaListener.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(viaListener.body).toMatchObject({ errors: [{ extensions: { code: 'RATE_LIMITED' } }] });
    expect(comparable(viaListener)).toEqual({ ...comparable(viaHono), headers: { ...comparable(viaHono).headers, 'retry-after': viaListener.headers['retry-after'] } });
  });

  it('leaves GET /graphql and other methods to Hono', async () => {
    const get = await fetch(`${server.url}/graphql?query=${encodeURIComponent('{ viewer { role } }')}`, { headers: { 'apollo-require-preflight': 'true' } });
    expect(get.status).toBe(200);
    expect(await get.json()).toEqual({ data: { viewer: { role: 'ANONYMOUS' } } });
    const put = await fetch(`${server.url}/graphql`, { method: 'PUT' });
    expect(put.status).toBe(405);
    expect((await post('listener', PRICING, {}, '/graphql/')).status).toBe(404);
  });
});
