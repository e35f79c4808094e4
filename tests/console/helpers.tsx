// Rendering the whole console (router, auth, TanStack Query) in jsdom against msw handlers: each test
// gets a fresh QueryClient (retry off), a clean sessionStorage and its own URL.
import { cleanup, configure, render, screen } from '@testing-library/react';
import { QueryClient } from '@tanstack/react-query';
import { graphql, http, HttpResponse, type RequestHandler } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { ConsoleApp } from '../../console/src/App';
import { sessionStore } from '../../console/src/auth/session';

// Several jsdom files run at once on two cores; the first render of a file (and recharts' lazy chunk) can take seconds.
configure({ asyncUtilTimeout: 8000 });

export const server = setupServer();

/** Registers msw's server and the per-test cleanup for a console test file. */
export function useConsoleTestServer() {
  beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
  afterEach(() => {
    cleanup();
    server.resetHandlers();
    sessionStorage.clear();
    sessionStore.reload();
  });
  afterAll(() => server.close());
}

export const SUPPORT = { role: 'SUPPORT', id: '00000000-0000-4000-8000-00000000a001', name: 'support@sandbox.local' } as const;
export const ADMIN = { role: 'ADMIN', id: '00000000-0000-4000-8000-00000000a002', name: 'admin@sandbox.local' } as const;

/** The GET the sign-in page asks first: 200 in sandbox mode. */
export const sandboxMode = () => http.get('*/_sandbox/dev-sign-in', () => HttpResponse.json({ sandbox: true, roles: ['support', 'admin'] }));

export const viewerIs = (viewer: { role: string; id: string | null; name: string | null }) => graphql.query('Viewer', () => HttpResponse.json({ data: { viewer } }));

/** The janitor with nothing to show: the Overview's Reconciliation panel asks on every Overview. */
export const reconciliationIdle = () =>
  graphql.query('ReconciliationStatus', () =>
    HttpResponse.json({ data: { reconciliationStatus: { running: null, lastRun: null, schedule: null, nextScheduledAt: null, openFindings: 0, openFindingsByKind: [] } } }),
  );

/** A quiet period: the Overview's chart buckets and revenue by track (opsActivity) with nothing in them. */
export const activityQuiet = () =>
  graphql.query('OpsActivity', ({ variables }) => {
    const period = variables.period as 'DAY' | 'WEEK' | 'MONTH';
    const count = { DAY: 24, WEEK: 7, MONTH: 30 }[period];
    const step = period === 'DAY' ? 3_600_000 : 86_400_000;
    const buckets = Array.from({ length: count }, (_, i) => ({ start: new Date(Date.UTC(2026, 10, 1) + i * step).toISOString(), succeeded: 0, failed: 0 }));
    return HttpResponse.json({ data: { opsActivity: { period, buckets, revenueByTrack: [] } } });
  });

/** liveRefreshMs: lists read themselves again this often; off unless a test of live lists asks for it. */
export function renderConsole(path: string, options: { as?: 'support' | 'admin' | null; handlers?: RequestHandler[]; liveRefreshMs?: number | false } = {}) {
  const as = options.as === undefined ? 'support' : options.as;
  // The test's own handlers first: msw answers with the first that matches.
  server.use(...(options.handlers ?? []), sandboxMode(), reconciliationIdle(), activityQuiet(), ...(as ? [viewerIs(as === 'admin' ? ADMIN : SUPPORT)] : []));
  sessionStorage.clear();
  if (as) {
    sessionStorage.setItem('payments-ops.session', JSON.stringify({ token: `token-${as}`, role: as, email: `${as}@sandbox.local`, method: 'dev' }));
  }
  sessionStore.reload();
  window.history.replaceState(null, '', path);
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  const result = render(<ConsoleApp queryClient={queryClient} liveRefreshMs={options.liveRefreshMs ?? false} />);
  return { ...result, queryClient };
}

export function currentUrl(): string {
  return `${window.location.pathname}${window.location.search}`;
}

export function searchParam(name: string): string | null {
  return new URLSearchParams(window.location.search).get(name);
}

/** A promise the test settles, to hold a request in flight while asserting on the UI. */
export function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

export const pageInfo = (hasNextPage: boolean, endCursor: string | null) => ({ hasNextPage, endCursor });

export { screen };
