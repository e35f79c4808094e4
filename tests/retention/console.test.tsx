// @vitest-environment jsdom
// The console's webhook event panel after retention dropped an event's payload: it says why the
// payload is gone and offers no replay; a replay refused because the payload went meanwhile is told in words.
import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { graphql, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { pageInfo, renderConsole, useConsoleTestServer } from '../console/helpers';

useConsoleTestServer();

const event = {
  id: 'evt_1',
  type: 'payment_intent.succeeded',
  objectType: 'payment_intent',
  objectId: 'pi_1',
  created: '2026-08-22T08:00:00.000Z',
  livemode: false,
  status: 'APPLIED',
  attempts: 1,
  lastError: null,
  outcome: 'applied',
  receivedAt: '2026-08-22T08:00:01.000Z',
};
const detail = (payload: string | null) => ({
  ...event,
  apiVersion: '2025-09-30.clover',
  ignoredReason: null,
  nextAttemptAt: null,
  appliedAt: '2026-08-22T08:00:02.000Z',
  failedAt: null,
  payload,
});
const handlers = (payload: string | null) => [
  graphql.query('WebhookEvents', () => HttpResponse.json({ data: { webhookEvents: { nodes: [event], pageInfo: pageInfo(false, null) } } })),
  graphql.query('WebhookEvent', () => HttpResponse.json({ data: { webhookEvent: detail(payload) } })),
];

describe('a webhook event whose payload retention dropped', () => {
  it('shows the event with a note on the dropped payload, and no replay button even to an admin', async () => {
    renderConsole('/webhook-events?open=evt_1', { as: 'admin', handlers: handlers(null) });
    const panel = await screen.findByRole('complementary', { name: 'Event evt_1' });
    expect(await within(panel).findByText(/Dropped by retention/)).toBeTruthy();
    expect(within(panel).getByText('pi_1', { exact: false })).toBeTruthy();
    expect(screen.queryByLabelText('Raw payload')).toBeNull();
    expect(screen.queryByRole('button', { name: /Replay/ })).toBeNull();
  });

  it('tells an admin in words when a replay is refused because the payload was dropped meanwhile', async () => {
    const user = userEvent.setup();
    renderConsole('/webhook-events?open=evt_1', {
      as: 'admin',
      handlers: [
        ...handlers('{"id": "evt_1"}'),
        graphql.mutation('ReplayWebhookEvent', () =>
          HttpResponse.json({
            data: { replayWebhookEvent: { event: null, error: { code: 'WEBHOOK_EVENT_PAYLOAD_DROPPED', message: 'Webhook event evt_1 cannot be replayed' }, isRepeat: false } },
          }),
        ),
      ],
    });
    await user.click(await screen.findByRole('button', { name: 'Replay event' }));
    await user.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Replay' }));
    expect(await screen.findByText("Retention dropped this event's payload, so it cannot be replayed.")).toBeTruthy();
  });
});
