// POST /webhooks/stripe is answered by a node:http listener in front of Hono (webhookListener.ts).
// Over real HTTP (the listener) and through the Hono app alone (honoFetch), each kind of delivery gets
// the same status, body and headers: request id, security headers, body limit with the connection
// closed, the rate limit on unverified deliveries; every other method goes on to Hono.
import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/server';

const SECRET = 'whsec_listenerTestSecret0001';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ STRIPE_WEBHOOK_SECRET: SECRET, HTTP_BODY_LIMIT_BYTES: '4096', JOBS_ENABLED: 'false', RATE_LIMIT_WEBHOOK_UNVERIFIED_PER_MINUTE: '2' });
  server.app.stripeSandbox!.core.events.stopAutoDelivery();
});
afterAll(() => server?.stop());

function eventBody(padding = ''): string {
  const event = {
    id: `evt_${randomBytes(12).toString('hex')}`,
    object: 'event',
    api_version: '2026-10-28.endive',
    created: Math.floor(Date.now() / 1000),
    data: { object: { id: `pi_${randomBytes(12).toString('hex')}`, object: 'payment_intent', amount: 9900, currency: 'usd', status: 'succeeded', metadata: {}, padding } },
    livemode: false,
    type: 'payment_intent.succeeded',
  };
  return JSON.stringify(event, null, 2);
}

const sign = (payload: string) => Stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET });

type Via = 'listener' | 'hono';
interface Answer {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

/** Headers that differ between two answers by nature: the date, a fresh request id, node's own keep-alive. */
const PER_ANSWER = new Set(['date', 'x-request-id', 'keep-alive', 'content-length']);

async function post(via: Via, body: string, headers: Record<string, string>, path = '/webhooks/stripe'): Promise<Answer> {
  const init = { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body };
  const response = via === 'listener' ? await fetch(`${server.url}${path}`, init) : await server.app.honoFetch(new Request(`http://localhost${path}`, init));
  const all = Object.fromEntries(response.headers);
  return { status: response.status, body: await response.json(), headers: all };
}

/** What must be the same either way: status, body, and every header but those that differ by nature. */
const comparable = ({ status, body, headers }: Answer) => ({
  status,
  body,
  // fetch hides `connection` from an answer read over HTTP (it is the transport's): compared apart.
  headers: Object.fromEntries(Object.entries(headers).filter(([name]) => !PER_ANSWER.has(name) && name !== 'connection')),
});

describe('the webhook listener answers as the Hono route does', () => {
  it('acknowledges a signed event, then its repeat, with the same headers as Hono', async () => {
    const first = eventBody();
    const second = eventBody();
    const [viaListener, viaHono] = [await post('listener', first, { 'stripe-signature': sign(first) }), await post('hono', second, { 'stripe-signature': sign(second) })];
    expect(viaListener.status).toBe(200);
    expect(viaListener.body).toEqual({ received: true });
    expect(comparable(viaListener)).toEqual(comparable(viaHono));
    expect(viaListener.headers['cache-control']).toBe('no-store');
    expect(viaListener.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");

    const [repeatListener, repeatHono] = [await post('listener', second, { 'stripe-signature': sign(second) }), await post('hono', first, { 'stripe-signature': sign(first) })];
    expect(repeatListener.body).toEqual({ received: true, duplicate: true });
    expect(comparable(repeatListener)).toEqual(comparable(repeatHono));
    const { rows } = await server.app.db.query<{ n: number }>('select count(*)::int as n from stripe_events where id = any($1::text[])', [[JSON.parse(first).id, JSON.parse(second).id]]);
    expect(rows[0]!.n).toBe(2);
  });

  it('keeps a well-formed X-Request-Id, and makes one for a malformed one', async () => {
    const body = eventBody();
    const kept = await post('listener', body, { 'stripe-signature': sign(body), 'x-request-id': 'stripe-delivery.42' });
    expect(kept.headers['x-request-id']).toBe('stripe-delivery.42');
    const made = await post('listener', body, { 'stripe-signature': sign(body), 'x-request-id': 'not one; at all' });
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers a delivery with a query string as the route itself, and other methods and paths through Hono', async () => {
    const body = eventBody();
    expect((await post('listener', body, { 'stripe-signature': sign(body) }, '/webhooks/stripe?attempt=2')).body).toEqual({ received: true });
    const trailing = await post('listener', body, { 'stripe-signature': sign(body) }, '/webhooks/stripe/');
    expect(trailing.status).toBe(404);
    const get = await fetch(`${server.url}/webhooks/stripe`);
    expect(get.status).toBe(404);
    expect(await get.json()).toEqual({ error: 'not_found', message: 'No route for GET /webhooks/stripe' });
  });

  it('refuses a body over the limit with the same 400 and closes the connection', async () => {
    const body = eventBody('x'.repeat(5000));
    const viaListener = await post('listener', body, { 'stripe-signature': sign(body) });
    const viaHono = await post('hono', body, { 'stripe-signature': sign(body) });
    expect(viaListener.status).toBe(400);
    expect(viaListener.body).toEqual({ error: 'body_too_large', message: 'The request body is larger than 4096 bytes' });
    expect(comparable(viaListener)).toEqual(comparable(viaHono));
    expect(viaHono.headers.connection).toBe('close');
  });

  it('counts unverified deliveries per address as the Hono route does: 429 with Retry-After past the limit', async () => {
    // Each path has its own bucket here (the listener sees 127.0.0.1, app.fetch no socket at all), which
    // the body-too-large test above may have counted in already: sent until the first 429.
    for (const via of ['listener', 'hono'] as const) {
      const answers: Answer[] = [];
      while (answers.length < 3 && answers.at(-1)?.status !== 429) answers.push(await post(via, eventBody(), { 'stripe-signature': 't=1,v1=00' }));
      const limited = answers.pop()!;
      expect(limited.status).toBe(429);
      expect(limited.body).toEqual({ error: 'rate_limited', message: 'Too many refused deliveries from this address' });
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(limited.headers['cache-control']).toBe('no-store');
      for (const refused of answers) expect(refused).toMatchObject({ status: 400, body: { error: 'bad_signature' } });
    }
  });
});
