// @vitest-environment jsdom
// Every list screen's loading, empty and error states, the same way: "Loading …" while the first page
// is on its way, a sentence when nothing is there, and a failure named with the server's request id
// and a "Try again" that asks again.
import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { graphql, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { pageInfo, renderConsole, useConsoleTestServer } from './helpers';

useConsoleTestServer();

const SCREENS = [
  { path: '/payment-logs', operation: 'PaymentLogs', field: 'paymentLogs', what: 'payment logs', empty: 'No payment log rows yet.' },
  { path: '/orders', operation: 'Orders', field: 'orders', what: 'orders', empty: 'No orders yet.' },
  { path: '/webhook-events', operation: 'WebhookEvents', field: 'webhookEvents', what: 'webhook events', empty: 'No webhook events have been received yet.' },
  { path: '/make-deliveries', operation: 'MakeDeliveries', field: 'makeDeliveries', what: 'Make deliveries', empty: 'Nothing has been sent to Make yet.' },
];

describe.each(SCREENS)('$path', ({ path, operation, field, what, empty }) => {
  it('shows loading, then says the list is empty', async () => {
    renderConsole(path, { handlers: [graphql.query(operation, () => HttpResponse.json({ data: { [field]: { nodes: [], pageInfo: pageInfo(false, null) } } }))] });
    expect(await screen.findByText(`Loading ${what}…`)).toBeTruthy();
    expect(await screen.findByText(empty)).toBeTruthy();
  });

  it('names a failure with its request id, and "Try again" asks again', async () => {
    const user = userEvent.setup();
    let calls = 0;
    renderConsole(path, {
      handlers: [
        graphql.query(operation, () => {
          calls += 1;
          return calls === 1
            ? HttpResponse.json({ errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL', requestId: 'req-7' } }] })
            : HttpResponse.json({ data: { [field]: { nodes: [], pageInfo: pageInfo(false, null) } } });
        }),
      ],
    });
    expect(await screen.findByText(new RegExp(`Could not load ${what}: .*request id req-7`))).toBeTruthy();
    await user.click(screen.getByRole('button', { name: 'Try again' }));
    expect(await screen.findByText(empty)).toBeTruthy();
    expect(calls).toBe(2);
  });
});
