// Sentry reporting with the real @sentry/node SDK; only Sentry's ingest endpoint, outside our system, is
// served by msw (sentryIngest). Sentry is a process-wide singleton, so it is started once in this file
// and closed at the end.
import * as Sentry from '@sentry/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureError, initSentry } from '../../../server/platform/observability/sentry';
import { startTestServer, type TestServer } from '../../helpers/server';
import { sentryIngest } from './sentryIngest';

// What must never reach Sentry, spelled here so that the lines around the capture (which Sentry sends
// as source context) do not contain them unscrubbed by accident.
const CARD_SPACED = ['4242', '4242', '4242', '4242'].join(' ');
const CARD_DIGITS = '4242'.repeat(4);
const STRIPE_KEY = ['sk', 'test', 'abcdefghijkl'].join('_');
const BEARER = ['Bearer', 'xyz'].join(' ');

describe('Sentry', () => {
  const ingest = sentryIngest();
  const envelopes = ingest.envelopes;
  let server: TestServer;

  const eventsWith = (message: string) => envelopes.flatMap((e) => e.events).filter((e) => e.exception?.values.some((v) => v.value.includes(message)));

  beforeAll(async () => {
    expect(ingest.start()).toBe(true);
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.stop();
    await ingest.stop();
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
    expect(ingest.lastAuth).toContain('publickey');
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
