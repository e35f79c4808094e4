// @vitest-environment jsdom
// Sign-in (the sandbox's dev sign-in), the role shown from the server's viewer, sign out, and an
// expired session returning to sign-in and then to the page the user was on.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { graphql, http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { ADMIN, currentUrl, pageInfo, renderConsole, SUPPORT, useConsoleTestServer } from './helpers';

useConsoleTestServer();

const emptyEvents = graphql.query('WebhookEvents', () => HttpResponse.json({ data: { webhookEvents: { nodes: [], pageInfo: pageInfo(false, null) } } }));

describe('sign-in', () => {
  it('offers support and admin in sandbox mode, and shows the user and role the server reports', async () => {
    const user = userEvent.setup();
    let signedInAs: unknown;
    let authorization: string | null = null;
    renderConsole('/webhook-events', {
      as: null,
      handlers: [
        http.post('*/_sandbox/dev-sign-in', async ({ request }) => {
          signedInAs = await request.json();
          return HttpResponse.json({ token: 'dev-admin-token', role: 'admin', email: 'admin@sandbox.local', expiresAt: '2030-01-01T00:00:00.000Z' });
        }),
        graphql.query('Viewer', ({ request }) => {
          authorization = request.headers.get('authorization');
          return HttpResponse.json({ data: { viewer: ADMIN } });
        }),
        emptyEvents,
      ],
    });

    expect(await screen.findByRole('button', { name: 'Sign in as support' })).toBeTruthy();
    expect(currentUrl()).toBe(`/sign-in?next=${encodeURIComponent('/webhook-events')}`);
    await user.click(screen.getByRole('button', { name: 'Sign in as admin' }));

    expect(await screen.findByRole('heading', { name: 'Webhook events' })).toBeTruthy();
    const who = screen.getByLabelText('Signed-in user');
    expect(await within(who).findByText('admin@sandbox.local')).toBeTruthy();
    expect(within(who).getByLabelText('Role: admin')).toBeTruthy();
    expect(signedInAs).toEqual({ role: 'admin' });
    expect(authorization).toBe('Bearer dev-admin-token');
    expect(JSON.parse(sessionStorage.getItem('payments-ops.session')!)).toMatchObject({ token: 'dev-admin-token' });
    expect(currentUrl()).toBe('/webhook-events');
  });

  it('shows the support role for a support user', async () => {
    renderConsole('/webhook-events', { as: 'support', handlers: [emptyEvents] });
    const who = screen.getByLabelText('Signed-in user');
    expect(await within(who).findByText(SUPPORT.name)).toBeTruthy();
    expect(within(who).getByLabelText('Role: support')).toBeTruthy();
  });

  it('does not offer the dev sign-in outside sandbox mode', async () => {
    renderConsole('/', { as: null, handlers: [http.get('*/_sandbox/dev-sign-in', () => HttpResponse.json({ error: 'not_found' }, { status: 404 }))] });
    expect(await screen.findByRole('heading', { name: 'Staff sign-in' })).toBeTruthy();
    expect(screen.queryByRole('button', { name: /Sign in as/ })).toBeNull();
  });

  it('signs out: the token is gone and the sign-in page shows', async () => {
    const user = userEvent.setup();
    renderConsole('/webhook-events', { as: 'support', handlers: [emptyEvents] });
    await screen.findByText(SUPPORT.name);
    await user.click(screen.getByRole('button', { name: 'Sign out' }));
    expect(await screen.findByRole('button', { name: 'Sign in as admin' })).toBeTruthy();
    expect(sessionStorage.getItem('payments-ops.session')).toBeNull();
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('tells a signed-in user without a staff role that they have none', async () => {
    renderConsole('/', { as: 'support', handlers: [graphql.query('Viewer', () => HttpResponse.json({ data: { viewer: { role: 'CUSTOMER', id: 'x', name: 'ada@example.com' } } }))] });
    expect(await screen.findByText(/which has no staff role/)).toBeTruthy();
  });
});

describe('an expired session', () => {
  it('returns to sign-in, and after signing in again to the page and filters the user was on', async () => {
    const user = userEvent.setup();
    let validToken = 'fresh-token';
    const seenFilters: unknown[] = [];
    renderConsole('/webhook-events?status=FAILED&open=evt_1', {
      as: 'support',
      handlers: [
        http.post('*/_sandbox/dev-sign-in', () => HttpResponse.json({ token: validToken, role: 'support', email: SUPPORT.name, expiresAt: '2030-01-01T00:00:00.000Z' })),
        graphql.query('Viewer', ({ request }) =>
          request.headers.get('authorization') === `Bearer ${validToken}`
            ? HttpResponse.json({ data: { viewer: SUPPORT } })
            : HttpResponse.json({ errors: [{ message: 'The bearer token has expired', extensions: { code: 'UNAUTHENTICATED' } }] }, { status: 401 }),
        ),
        graphql.query('WebhookEvents', ({ request, variables }) => {
          if (request.headers.get('authorization') !== `Bearer ${validToken}`) {
            return HttpResponse.json({ errors: [{ message: 'The bearer token has expired', extensions: { code: 'UNAUTHENTICATED' } }] }, { status: 401 });
          }
          seenFilters.push(variables.filter);
          return HttpResponse.json({ data: { webhookEvents: { nodes: [], pageInfo: pageInfo(false, null) } } });
        }),
        graphql.query('WebhookEvent', () => HttpResponse.json({ data: { webhookEvent: null } })),
      ],
    });

    expect(await screen.findByText(/Your session has expired/)).toBeTruthy();
    expect(currentUrl()).toBe(`/sign-in?next=${encodeURIComponent('/webhook-events?status=FAILED&open=evt_1')}`);
    expect(sessionStorage.getItem('payments-ops.session')).toBeNull();

    await user.click(await screen.findByRole('button', { name: 'Sign in as support' }));
    expect(await screen.findByText('No webhook events match these filters.')).toBeTruthy();
    expect(currentUrl()).toBe('/webhook-events?status=FAILED&open=evt_1');
    expect(seenFilters).toContainEqual({ status: 'FAILED' });
    validToken = 'unused';
  });

  it('ignores an unsafe next parameter and goes to the overview', async () => {
    const user = userEvent.setup();
    renderConsole('/sign-in?next=//evil.example/x', {
      as: null,
      handlers: [
        http.post('*/_sandbox/dev-sign-in', () => HttpResponse.json({ token: 't', role: 'support', email: SUPPORT.name, expiresAt: '2030-01-01T00:00:00.000Z' })),
        graphql.query('Viewer', () => HttpResponse.json({ data: { viewer: SUPPORT } })),
        graphql.query('OpsOverview', () => HttpResponse.json({ errors: [{ message: 'not yet', extensions: { code: 'INTERNAL' } }] })),
      ],
    });
    await user.click(await screen.findByRole('button', { name: 'Sign in as support' }));
    await waitFor(() => expect(currentUrl()).toBe('/'));
  });
});
