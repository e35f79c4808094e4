// @vitest-environment jsdom
// Staff sign-in with Supabase Auth (email and password) when the console is built with a Supabase
// project: the access token Supabase returns is what the console sends to the GraphQL API.
import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { graphql, http, HttpResponse } from 'msw';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { setSupabaseConfigForTests } from '../../console/src/auth/supabase';
import { currentUrl, pageInfo, renderConsole, SUPPORT, useConsoleTestServer } from './helpers';

useConsoleTestServer();

const SUPABASE = 'https://project.supabase.test';
const notSandbox = http.get('*/_sandbox/dev-sign-in', () => HttpResponse.json({ error: 'not_found' }, { status: 404 }));

beforeEach(() => setSupabaseConfigForTests({ url: SUPABASE, anonKey: 'anon-key' }));
afterEach(() => setSupabaseConfigForTests(undefined));

function tokenResponse(accessToken: string) {
  const now = Math.floor(Date.now() / 1000);
  return {
    access_token: accessToken,
    token_type: 'bearer',
    expires_in: 3600,
    expires_at: now + 3600,
    refresh_token: 'refresh-1',
    user: { id: SUPPORT.id, aud: 'authenticated', role: 'authenticated', email: SUPPORT.name, app_metadata: { role: 'support' }, user_metadata: {}, created_at: '2026-01-01T00:00:00Z' },
  };
}

describe('Supabase sign-in', () => {
  it('signs in with email and password and sends Supabase\'s access token to the API', async () => {
    const user = userEvent.setup();
    let authorization: string | null = null;
    let body: unknown;
    renderConsole('/webhook-events?status=FAILED', {
      as: null,
      handlers: [
        notSandbox,
        http.post(`${SUPABASE}/auth/v1/token`, async ({ request }) => {
          body = await request.json();
          return HttpResponse.json(tokenResponse('supabase-access-token'));
        }),
        graphql.query('Viewer', ({ request }) => {
          authorization = request.headers.get('authorization');
          return HttpResponse.json({ data: { viewer: SUPPORT } });
        }),
        graphql.query('WebhookEvents', () => HttpResponse.json({ data: { webhookEvents: { nodes: [], pageInfo: pageInfo(false, null) } } })),
      ],
    });
    await user.type(await screen.findByLabelText('Email'), SUPPORT.name);
    await user.type(screen.getByLabelText('Password'), 'correct horse');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));

    expect(await screen.findByText('No webhook events match these filters.')).toBeTruthy();
    expect(currentUrl()).toBe('/webhook-events?status=FAILED');
    expect(authorization).toBe('Bearer supabase-access-token');
    expect(body).toMatchObject({ email: SUPPORT.name, password: 'correct horse' });
    expect(within(screen.getByLabelText('Signed-in user')).getByLabelText('Role: support')).toBeTruthy();
    expect(screen.queryByRole('button', { name: /Sign in as/ })).toBeNull();
  });

  it('says the email or password is wrong when Supabase refuses them', async () => {
    const user = userEvent.setup();
    renderConsole('/', {
      as: null,
      handlers: [
        notSandbox,
        http.post(`${SUPABASE}/auth/v1/token`, () =>
          HttpResponse.json({ code: 400, error_code: 'invalid_credentials', msg: 'Invalid login credentials' }, { status: 400 }),
        ),
      ],
    });
    await user.type(await screen.findByLabelText('Email'), 'ada@example.com');
    await user.type(screen.getByLabelText('Password'), 'wrong');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByText('The email or password is wrong.')).toBeTruthy();
    expect(sessionStorage.getItem('payments-ops.session')).toBeNull();
  });
});
