// Sentry reporting with the real @sentry/node SDK; only Sentry's ingest endpoint, outside our system, is
// served by msw. Sentry is a process-wide singleton, so it lives in this file alone and is closed at the end.
import { syncBuiltinESMExports } from 'node:module';
import { gunzipSync } from 'node:zlib';
import * as Sentry from '@sentry/node';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureError, flushSentry, initSentry } from '../../server/observability/sentry';
import { startTestServer, type TestServer } from '../helpers/server';

// What must never reach Sentry, spelled here so that the lines around the capture (which Sentry sends
// as source context) do not contain them unscrubbed by accident.
const CARD_SPACED = ['4242', '4242', '4242', '4242'].join(' ');
const CARD_DIGITS = '4242'.repeat(4);
const STRIPE_KEY = ['sk', 'test', 'abcdefghijkl'].join('_');
const BEARER = ['Bearer', 'xyz'].join(' ');

interface SentryEvent {
  event_id: string;
  environment?: string;
  exception?: { values: Array<{ type: string; value: string }> };
  extra?: Record<string, unknown>;
}

/** One envelope as Sentry's ingest receives it: its raw text and the event items it carries. */
interface Envelope {
  text: string;
  events: SentryEvent[];
}

function parseEnvelope(text: string): Envelope {
  const lines = text.split('\n').filter(Boolean);
  const events: SentryEvent[] = [];
  // Header line, then (item header, item payload) pairs.
  for (let i = 1; i + 1 < lines.length; i += 2) {
    const itemHeader = JSON.parse(lines[i]!) as { type: string };
    if (itemHeader.type === 'event') events.push(JSON.parse(lines[i + 1]!));
  }
  return { text, events };
}

describe('Sentry', () => {
  const DSN = 'https://publickey@o123.ingest.sentry.io/456';
  const INGEST_URL = 'https://o123.ingest.sentry.io/api/456/envelope/';
  const envelopes: Envelope[] = [];
  let ingestAuth: string | null = null;
  const sentryIngest = setupServer(
    http.post(INGEST_URL, async ({ request }) => {
      const raw = Buffer.from(await request.arrayBuffer());
      const text = request.headers.get('content-encoding') === 'gzip' ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
      ingestAuth = request.headers.get('x-sentry-auth') ?? new URL(request.url).searchParams.get('sentry_key');
      envelopes.push(parseEnvelope(text));
      return HttpResponse.json({ id: 'ok' });
    }),
  );
  let server: TestServer;

  const eventsWith = (message: string) => envelopes.flatMap((e) => e.events).filter((e) => e.exception?.values.some((v) => v.value.includes(message)));

  beforeAll(async () => {
    sentryIngest.listen({ onUnhandledRequest: 'bypass' });
    // @sentry/node's ESM build sends with `import * as https from 'node:https'`; msw patches the CommonJS
    // exports of node:https, which an ESM namespace sees only once the builtin bindings are synced.
    syncBuiltinESMExports();
    expect(initSentry({ dsn: DSN, environment: 'test' })).toBe(true);
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.stop();
    await flushSentry();
    sentryIngest.close();
    syncBuiltinESMExports();
  });

  it('is off without a DSN', () => {
    expect(initSentry({ dsn: undefined, environment: 'test' })).toBe(false);
  });

  it('sends a captured error to the ingest endpoint of the DSN', async () => {
    captureError(new Error('job failed for order 42'), { orderId: 'order_42' });
    expect(await Sentry.flush(5000)).toBe(true);

    const [event] = eventsWith('job failed for order 42');
    expect(event).toBeDefined();
    expect(event!.environment).toBe('test');
    expect(event!.extra).toMatchObject({ orderId: 'order_42' });
    expect(ingestAuth).toContain('publickey');
  });

  it('scrubs the card number, the Stripe key and the bearer token before the event leaves the process', async () => {
    captureError(new Error('charge failed for card 4242 4242 4242 4242 with key sk_test_abcdefghijkl'), { authorization: 'Bearer xyz', note: 'retry with Bearer xyz' });
    expect(await Sentry.flush(5000)).toBe(true);

    const [event] = eventsWith('charge failed for card');
    expect(event).toBeDefined();
    expect(event!.exception!.values[0]!.value).toBe('charge failed for card [card] with key [redacted]');
    expect(event!.extra).toMatchObject({ authorization: '[redacted]', note: 'retry with [redacted]' });

    const everything = envelopes.map((e) => e.text).join('\n');
    expect(everything).not.toContain(CARD_SPACED);
    expect(everything).not.toContain(CARD_DIGITS);
    expect(everything).not.toContain(STRIPE_KEY);
    expect(everything).not.toContain(BEARER);
  });

  it('reports an unexpected resolver error with the request id, and never the caller credentials', async () => {
    const token = server.app.devCredentials!.adminToken;
    await server.testDb.db.query('drop table prices cascade');

    const { body, headers } = await server.graphql('{ pricing { id } }', { token });
    expect(body.errors?.[0]?.extensions?.code).toBe('INTERNAL');
    expect(await Sentry.flush(5000)).toBe(true);

    const [event] = envelopes.flatMap((e) => e.events).filter((e) => e.extra?.requestId === headers.get('x-request-id'));
    expect(event).toBeDefined();
    expect(event!.exception!.values[0]!.value).toMatch(/prices/);
    expect(event!.extra).toMatchObject({ path: ['pricing'] });
    const everything = envelopes.map((e) => e.text).join('\n');
    expect(everything).not.toContain(token);
    expect(everything).not.toContain(server.app.devCredentials!.storefrontApiKey);
  });
});
