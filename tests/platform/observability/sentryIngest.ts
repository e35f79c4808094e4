// Sentry's ingest endpoint, outside our system, served by msw: every envelope the real @sentry/node SDK
// sends is kept, decoded, for assertions. Sentry is a process-wide singleton, so a test file that uses
// this starts Sentry once (start) and closes it at the end (stop); vitest runs each file in its own worker.
import { syncBuiltinESMExports } from 'node:module';
import { gunzipSync } from 'node:zlib';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { flushSentry, initSentry } from '../../../server/platform/observability/sentry';

export interface SentryEvent {
  event_id: string;
  environment?: string;
  level?: string;
  /** A captured message: a string, or { formatted } when the SDK parameterised it. */
  message?: string | { formatted?: string; message?: string };
  logentry?: { formatted?: string; message?: string };
  fingerprint?: string[];
  tags?: Record<string, string>;
  exception?: { values: Array<{ type: string; value: string }> };
  extra?: Record<string, unknown>;
}

/** One envelope as Sentry's ingest receives it: its raw text and the event items it carries. */
export interface Envelope {
  text: string;
  events: SentryEvent[];
}

export const TEST_DSN = 'https://publickey@o123.ingest.sentry.io/456';
const INGEST_URL = 'https://o123.ingest.sentry.io/api/456/envelope/';

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

/** The text of a captured message, whichever shape the SDK sent it in. */
export function messageOf(event: SentryEvent): string | undefined {
  if (typeof event.message === 'string') return event.message;
  return event.message?.formatted ?? event.message?.message ?? event.logentry?.formatted ?? event.logentry?.message;
}

export function sentryIngest() {
  const envelopes: Envelope[] = [];
  let lastAuth: string | null = null;
  const server = setupServer(
    http.post(INGEST_URL, async ({ request }) => {
      const raw = Buffer.from(await request.arrayBuffer());
      const text = request.headers.get('content-encoding') === 'gzip' ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
      lastAuth = request.headers.get('x-sentry-auth') ?? new URL(request.url).searchParams.get('sentry_key');
      envelopes.push(parseEnvelope(text));
      return HttpResponse.json({ id: 'ok' });
    }),
  );
  return {
    envelopes,
    get lastAuth() {
      return lastAuth;
    },
    events: () => envelopes.flatMap((e) => e.events),
    /** Starts msw and Sentry with TEST_DSN. */
    start() {
      server.listen({ onUnhandledRequest: 'bypass' });
      // @sentry/node's ESM build sends with `import * as https from 'node:https'`; msw patches the CommonJS
      // exports of node:https, which an ESM namespace sees only once the builtin bindings are synced.
      syncBuiltinESMExports();
      return initSentry({ dsn: TEST_DSN, environment: 'test' });
    },
    async stop() {
      await flushSentry();
      server.close();
      syncBuiltinESMExports();
    },
  };
}
