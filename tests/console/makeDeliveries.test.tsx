// @vitest-environment jsdom
// The Make deliveries screen: list and filters, the attempts of one delivery, and the retry now and
// replay buttons (support and admin; confirmation, one idempotency key per press, disabled in flight,
// the typed error in words).
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { graphql, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { deferred, pageInfo, renderConsole, searchParam, useConsoleTestServer } from './helpers';

useConsoleTestServer();

const ID = '11111111-2222-4333-8444-555555555555';

function delivery(extra: Record<string, unknown> = {}) {
  return {
    id: ID,
    kind: 'ADD_PROJECT',
    status: 'DEAD',
    orderId: '90000000-0000-4000-8000-000000000000',
    subjectId: null,
    attempts: 2,
    nextAttemptAt: null,
    replays: 0,
    lastStatusCode: 500,
    lastError: 'Make answered 500',
    createdAt: '2026-11-22T08:00:00.000Z',
    lastResponse: 'Scenario failed',
    updatedAt: '2026-11-22T08:05:00.000Z',
    deliveredAt: null,
    deadAt: '2026-11-22T08:05:00.000Z',
    payload: '{"delivery_id":"x","kind":"add_project"}',
    attemptLog: [
      { attempt: 1, startedAt: '2026-11-22T08:00:01.000Z', finishedAt: '2026-11-22T08:00:02.000Z', statusCode: 503, latencyMs: 120, outcome: 'RETRY', error: 'Make answered 503', response: 'busy' },
      { attempt: 2, startedAt: '2026-11-22T08:05:00.000Z', finishedAt: '2026-11-22T08:05:01.000Z', statusCode: 500, latencyMs: 95, outcome: 'DEAD', error: 'Make answered 500', response: 'Scenario failed' },
    ],
    ...extra,
  };
}

const list = (status = 'DEAD') =>
  graphql.query('MakeDeliveries', () => HttpResponse.json({ data: { makeDeliveries: { nodes: [delivery({ status })], pageInfo: pageInfo(false, null) } } }));

describe('Make deliveries', () => {
  it('lists deliveries with status, attempts and the last answer, and filters by status and kind', async () => {
    const user = userEvent.setup();
    const filters: unknown[] = [];
    renderConsole('/make-deliveries', {
      handlers: [
        graphql.query('MakeDeliveries', ({ variables }) => {
          filters.push(variables.filter);
          return HttpResponse.json({ data: { makeDeliveries: { nodes: [delivery()], pageInfo: pageInfo(false, null) } } });
        }),
      ],
    });
    const row = (await screen.findByRole('link', { name: `Delivery ${ID}` })).closest('tr')!;
    expect(within(row).getByText('dead')).toBeTruthy();
    expect(within(row).getByText('HTTP 500: Make answered 500')).toBeTruthy();
    await user.selectOptions(screen.getByLabelText('Status'), 'DEAD');
    await user.selectOptions(screen.getByLabelText('Kind'), 'ADD_PROJECT');
    await waitFor(() => expect(filters.at(-1)).toEqual({ status: 'DEAD', kind: 'ADD_PROJECT' }));
    expect(searchParam('kind')).toBe('ADD_PROJECT');
  });

  it('shows the attempts and Make\'s last answer of an open delivery', async () => {
    renderConsole(`/make-deliveries?open=${ID}`, {
      handlers: [list(), graphql.query('MakeDelivery', () => HttpResponse.json({ data: { makeDelivery: delivery() } }))],
    });
    const panel = await screen.findByRole('complementary', { name: 'Make delivery' });
    const attempts = await within(panel).findAllByRole('row');
    expect(attempts).toHaveLength(3);
    expect(within(attempts[1]!).getByText('HTTP 503: Make answered 503')).toBeTruthy();
    expect(within(panel).getByText('Scenario failed')).toBeTruthy();
  });

  it('lets support retry a dead delivery: confirm, disabled in flight with one key per press, then the list refreshes', async () => {
    const user = userEvent.setup();
    const inFlight = deferred();
    const inputs: Array<{ id: string; idempotencyKey: string }> = [];
    let retried = false;
    let listCalls = 0;
    renderConsole(`/make-deliveries?open=${ID}`, {
      as: 'support',
      handlers: [
        graphql.query('MakeDeliveries', () => {
          listCalls += 1;
          return HttpResponse.json({ data: { makeDeliveries: { nodes: [delivery({ status: retried ? 'DELIVERED' : 'DEAD' })], pageInfo: pageInfo(false, null) } } });
        }),
        graphql.query('MakeDelivery', () => HttpResponse.json({ data: { makeDelivery: delivery({ status: retried ? 'DELIVERED' : 'DEAD' }) } })),
        graphql.mutation('RetryMakeDelivery', async ({ variables }) => {
          inputs.push(variables.input as { id: string; idempotencyKey: string });
          await inFlight.promise;
          retried = true;
          return HttpResponse.json({ data: { retryMakeDelivery: { delivery: delivery({ status: 'DELIVERED', attempts: 3 }), error: null, isRepeat: false } } });
        }),
      ],
    });
    await user.click(await screen.findByRole('button', { name: 'Retry now' }));
    await user.click(within(screen.getByRole('dialog', { name: 'Retry this delivery now?' })).getByRole('button', { name: 'Retry now' }));
    expect((await screen.findByRole('button', { name: 'Retrying…' }) as HTMLButtonElement).disabled).toBe(true);
    expect(inputs).toHaveLength(1);
    expect(inputs[0]!.id).toBe(ID);
    expect(inputs[0]!.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    const before = listCalls;
    inFlight.resolve();
    expect(await screen.findByText('Sent for retry: the delivery is now delivered.')).toBeTruthy();
    await waitFor(() => expect(listCalls).toBeGreaterThan(before));
    await waitFor(() => expect(within(screen.getAllByRole('row')[1]!).getByText('delivered')).toBeTruthy());
  });

  it('uses a new idempotency key for each press', async () => {
    const user = userEvent.setup();
    const keys: string[] = [];
    renderConsole(`/make-deliveries?open=${ID}`, {
      as: 'admin',
      handlers: [
        list(),
        graphql.query('MakeDelivery', () => HttpResponse.json({ data: { makeDelivery: delivery() } })),
        graphql.mutation('ReplayMakeDelivery', ({ variables }) => {
          keys.push((variables.input as { idempotencyKey: string }).idempotencyKey);
          return HttpResponse.json({ data: { replayMakeDelivery: { delivery: delivery({ replays: keys.length }), error: null, isRepeat: false } } });
        }),
      ],
    });
    for (let press = 0; press < 2; press += 1) {
      await user.click(await screen.findByRole('button', { name: 'Replay' }));
      await user.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Replay' }));
      await screen.findByText(/Replayed: the delivery is now dead/);
    }
    expect(keys).toHaveLength(2);
    expect(keys[0]).not.toBe(keys[1]);
  });

  it('shows a wrong-state refusal in words', async () => {
    const user = userEvent.setup();
    renderConsole(`/make-deliveries?open=${ID}`, {
      handlers: [
        list(),
        graphql.query('MakeDelivery', () => HttpResponse.json({ data: { makeDelivery: delivery() } })),
        graphql.mutation('RetryMakeDelivery', () =>
          HttpResponse.json({
            data: { retryMakeDelivery: { delivery: delivery({ status: 'DELIVERING' }), error: { code: 'MAKE_DELIVERY_WRONG_STATE', message: 'wrong state' }, isRepeat: false } },
          }),
        ),
      ],
    });
    await user.click(await screen.findByRole('button', { name: 'Retry now' }));
    await user.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Retry now' }));
    expect(await screen.findByText('Only a pending or dead delivery can be retried; this one is now delivering.')).toBeTruthy();
  });

  it('offers only the actions the status allows', async () => {
    renderConsole(`/make-deliveries?open=${ID}`, {
      handlers: [list('DELIVERED'), graphql.query('MakeDelivery', () => HttpResponse.json({ data: { makeDelivery: delivery({ status: 'DELIVERED' }) } }))],
    });
    expect(await screen.findByRole('button', { name: 'Replay' })).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Retry now' })).toBeNull();
  });
});
