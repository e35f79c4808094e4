// @vitest-environment jsdom
// The webhook events screen: newest-first list with filters in the URL, keyset "load more", the detail
// panel, and the admin-only replay button.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { graphql, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { deferred, pageInfo, renderConsole, searchParam, useConsoleTestServer } from './helpers';

useConsoleTestServer();

function event(n: number, extra: Record<string, unknown> = {}) {
  return {
    id: `evt_${n}`,
    type: 'payment_intent.succeeded',
    objectType: 'payment_intent',
    objectId: `pi_${n}`,
    created: `2026-11-22T08:${String(59 - n).padStart(2, '0')}:00.000Z`,
    livemode: false,
    status: 'APPLIED',
    attempts: 1,
    lastError: null,
    outcome: 'applied',
    receivedAt: '2026-11-22T08:00:01.000Z',
    ...extra,
  };
}

function detail(n: number, extra: Record<string, unknown> = {}) {
  return {
    ...event(n, extra),
    apiVersion: '2025-09-30.clover',
    ignoredReason: null,
    nextAttemptAt: null,
    appliedAt: '2026-11-22T08:00:02.000Z',
    failedAt: null,
    payload: JSON.stringify({ id: `evt_${n}`, object: 'event', data: { object: { id: `pi_${n}` } } }, null, 2),
    ...extra,
  };
}

describe('webhook events list', () => {
  it('lists events, filters by status, type and object id through the URL (focus stays put), and loads more with the cursor', async () => {
    const user = userEvent.setup();
    const calls: Array<{ filter: unknown; after: unknown; first: unknown }> = [];
    renderConsole('/webhook-events', {
      handlers: [
        graphql.query('WebhookEvents', ({ variables }) => {
          calls.push({ filter: variables.filter, after: variables.after, first: variables.first });
          if (variables.after === 'cursor-2') {
            return HttpResponse.json({ data: { webhookEvents: { nodes: [event(3)], pageInfo: pageInfo(false, 'cursor-3') } } });
          }
          return HttpResponse.json({ data: { webhookEvents: { nodes: [event(1), event(2)], pageInfo: pageInfo(true, 'cursor-2') } } });
        }),
      ],
    });

    expect(await screen.findByRole('link', { name: 'evt_1' })).toBeTruthy();
    const rows = screen.getAllByRole('row').slice(1);
    // The first cell is the event's id (ShortId: its link, and a copy button).
    expect(rows.map((row) => within(within(row).getAllByRole('cell')[0]!).getByRole('link').textContent)).toEqual(['evt_1', 'evt_2']);

    await user.click(screen.getByRole('button', { name: 'Load more' }));
    expect(await screen.findByRole('link', { name: 'evt_3' })).toBeTruthy();
    expect(calls.at(-1)).toMatchObject({ after: 'cursor-2' });
    expect(screen.getByText('End of the list')).toBeTruthy();

    await user.selectOptions(screen.getByLabelText('Status'), 'FAILED');
    await waitFor(() => expect(searchParam('status')).toBe('FAILED'));
    await user.type(screen.getByLabelText('Event type'), 'charge.refunded');
    await user.type(screen.getByLabelText('Object id'), 'ch_1{Enter}');
    await waitFor(() => expect(calls.at(-1)?.filter).toEqual({ status: 'FAILED', type: 'charge.refunded', objectId: 'ch_1' }));
    expect(searchParam('type')).toBe('charge.refunded');
    expect(searchParam('objectId')).toBe('ch_1');
    expect(document.activeElement).toBe(screen.getByLabelText('Object id'));
    expect(calls.at(-1)?.after).toBeUndefined();
  });

  it('shows the empty state, and an error state that can be retried', async () => {
    const user = userEvent.setup();
    let fail = true;
    renderConsole('/webhook-events?status=IGNORED', {
      handlers: [
        graphql.query('WebhookEvents', () =>
          fail
            ? HttpResponse.json({ errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL', requestId: 'req-42' } }] })
            : HttpResponse.json({ data: { webhookEvents: { nodes: [], pageInfo: pageInfo(false, null) } } }),
        ),
      ],
    });
    expect(await screen.findByText(/Could not load webhook events: The server failed while answering \(request id req-42\)/)).toBeTruthy();
    fail = false;
    await user.click(screen.getByRole('button', { name: 'Try again' }));
    expect(await screen.findByText('No webhook events match these filters.')).toBeTruthy();
    expect((screen.getByLabelText('Status') as HTMLSelectElement).value).toBe('IGNORED');
  });

  it('opens a row from a shared URL with its attempts, last error, outcome and raw payload', async () => {
    renderConsole('/webhook-events?status=FAILED&open=evt_7', {
      handlers: [
        graphql.query('WebhookEvents', () => HttpResponse.json({ data: { webhookEvents: { nodes: [event(7, { status: 'FAILED' })], pageInfo: pageInfo(false, null) } } })),
        graphql.query('WebhookEvent', ({ variables }) =>
          HttpResponse.json({
            data: { webhookEvent: detail(Number(String(variables.id).slice(4)), { status: 'FAILED', attempts: 10, lastError: 'amount mismatch: 9900 != 4900', outcome: null, failedAt: '2026-11-22T09:00:00.000Z' }) },
          }),
        ),
      ],
    });
    const panel = await screen.findByRole('complementary', { name: 'Event evt_7' });
    expect(await within(panel).findByText('amount mismatch: 9900 != 4900')).toBeTruthy();
    expect(within(panel).getByText('10')).toBeTruthy();
    expect(within(panel).getByLabelText('Raw payload').textContent).toContain('"object": "event"');
    expect((screen.getByLabelText('Status') as HTMLSelectElement).value).toBe('FAILED');
  });

  it('opening a row puts it in the URL, and closing removes it', async () => {
    const user = userEvent.setup();
    renderConsole('/webhook-events?type=payment_intent.succeeded', {
      handlers: [
        graphql.query('WebhookEvents', () => HttpResponse.json({ data: { webhookEvents: { nodes: [event(1)], pageInfo: pageInfo(false, null) } } })),
        graphql.query('WebhookEvent', () => HttpResponse.json({ data: { webhookEvent: detail(1) } })),
      ],
    });
    await user.click(await screen.findByRole('link', { name: 'evt_1' }));
    expect(searchParam('open')).toBe('evt_1');
    expect(searchParam('type')).toBe('payment_intent.succeeded');
    expect(await screen.findByLabelText('Raw payload')).toBeTruthy();
    await user.click(screen.getByRole('link', { name: 'Close details' }));
    expect(searchParam('open')).toBeNull();
    expect(screen.queryByLabelText('Raw payload')).toBeNull();
  });
});

describe('replaying a webhook event', () => {
  const listAndDetail = (status = 'FAILED') => [
    graphql.query('WebhookEvents', () => HttpResponse.json({ data: { webhookEvents: { nodes: [event(1, { status })], pageInfo: pageInfo(false, null) } } })),
    graphql.query('WebhookEvent', () => HttpResponse.json({ data: { webhookEvent: detail(1, { status }) } })),
  ];

  it('is not offered to support', async () => {
    renderConsole('/webhook-events?open=evt_1', { as: 'support', handlers: listAndDetail() });
    expect(await screen.findByLabelText('Raw payload')).toBeTruthy();
    expect(screen.queryByRole('button', { name: /Replay/ })).toBeNull();
  });

  it('asks an admin to confirm, is disabled while in flight, then refreshes the list and the event', async () => {
    const user = userEvent.setup();
    const inFlight = deferred();
    let replayed = false;
    let listCalls = 0;
    const inputs: Array<{ id: string; idempotencyKey: string }> = [];
    renderConsole('/webhook-events?open=evt_1', {
      as: 'admin',
      handlers: [
        graphql.query('WebhookEvents', () => {
          listCalls += 1;
          return HttpResponse.json({ data: { webhookEvents: { nodes: [event(1, { status: replayed ? 'APPLIED' : 'FAILED' })], pageInfo: pageInfo(false, null) } } });
        }),
        graphql.query('WebhookEvent', () => HttpResponse.json({ data: { webhookEvent: detail(1, { status: replayed ? 'APPLIED' : 'FAILED' }) } })),
        graphql.mutation('ReplayWebhookEvent', async ({ variables }) => {
          inputs.push(variables.input as { id: string; idempotencyKey: string });
          await inFlight.promise;
          replayed = true;
          return HttpResponse.json({ data: { replayWebhookEvent: { event: detail(1, { status: 'APPLIED' }), error: null, isRepeat: false } } });
        }),
      ],
    });

    await user.click(await screen.findByRole('button', { name: 'Replay event' }));
    const dialog = screen.getByRole('dialog', { name: 'Replay this event?' });
    await user.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByRole('dialog')).toBeNull();

    await user.click(screen.getByRole('button', { name: 'Replay event' }));
    await user.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Replay' }));
    const busy = await screen.findByRole('button', { name: 'Replaying…' });
    expect((busy as HTMLButtonElement).disabled).toBe(true);
    expect(inputs).toEqual([{ id: 'evt_1', idempotencyKey: expect.stringMatching(/^[0-9a-f-]{36}$/) }]);
    const callsBefore = listCalls;

    inFlight.resolve();
    expect(await screen.findByText('Replayed: the event is now applied.')).toBeTruthy();
    await waitFor(() => expect(listCalls).toBeGreaterThan(callsBefore));
    const row = screen.getAllByRole('row')[1]!;
    await waitFor(() => expect(within(row).getByText('applied')).toBeTruthy());
  });

  it('shows the typed error in words', async () => {
    const user = userEvent.setup();
    renderConsole('/webhook-events?open=evt_1', {
      as: 'admin',
      handlers: [
        ...listAndDetail(),
        graphql.mutation('ReplayWebhookEvent', () =>
          HttpResponse.json({ data: { replayWebhookEvent: { event: null, error: { code: 'WEBHOOK_EVENT_NOT_FOUND', message: 'No stored event evt_1' }, isRepeat: false } } }),
        ),
      ],
    });
    await user.click(await screen.findByRole('button', { name: 'Replay event' }));
    await user.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Replay' }));
    expect(await screen.findByText('No stored event has this id any more, so there is nothing to replay.')).toBeTruthy();
    expect((screen.getByRole('button', { name: 'Replay event' }) as HTMLButtonElement).disabled).toBe(false);
  });

  it('says so when the server refuses the role', async () => {
    const user = userEvent.setup();
    renderConsole('/webhook-events?open=evt_1', {
      as: 'admin',
      handlers: [
        ...listAndDetail(),
        graphql.mutation('ReplayWebhookEvent', () => HttpResponse.json({ errors: [{ message: 'Forbidden', extensions: { code: 'FORBIDDEN' } }] })),
      ],
    });
    await user.click(await screen.findByRole('button', { name: 'Replay event' }));
    await user.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Replay' }));
    expect(await screen.findByText('Your role may not do this.')).toBeTruthy();
  });
});

describe('the confirmation dialog', () => {
  it('is keyboard operable: focus starts on confirm, Tab stays inside, Escape cancels and returns focus', async () => {
    const user = userEvent.setup();
    renderConsole('/webhook-events?open=evt_1', {
      as: 'admin',
      handlers: [
        graphql.query('WebhookEvents', () => HttpResponse.json({ data: { webhookEvents: { nodes: [event(1)], pageInfo: pageInfo(false, null) } } })),
        graphql.query('WebhookEvent', () => HttpResponse.json({ data: { webhookEvent: detail(1) } })),
      ],
    });
    const trigger = await screen.findByRole('button', { name: 'Replay event' });
    trigger.focus();
    await user.keyboard('{Enter}');
    const dialog = screen.getByRole('dialog');
    expect(document.activeElement).toBe(within(dialog).getByRole('button', { name: 'Replay' }));
    await user.tab();
    expect(document.activeElement).toBe(within(dialog).getByRole('button', { name: 'Cancel' }));
    await user.tab();
    expect(document.activeElement).toBe(within(dialog).getByRole('button', { name: 'Replay' }));
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(document.activeElement).toBe(trigger);
  });
});
