// @vitest-environment jsdom
// The payment logs screen against the paymentLogs contract: filters (event type, status, customer,
// date range) and the search box in the URL, keyset "load more", a row's metadata as formatted JSON,
// and a search the server cannot read shown as what the box accepts.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { graphql, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { pageInfo, renderConsole, searchParam, useConsoleTestServer } from './helpers';

useConsoleTestServer();

function log(n: number, extra: Record<string, unknown> = {}) {
  return {
    id: `log-${n}`,
    eventType: 'payment.paid',
    status: 'succeeded',
    amount: { amount: 9900, currency: 'usd', formatted: '$99.00' },
    orderId: `0000000${n}-0000-4000-8000-000000000000`,
    customerId: `c${n}`,
    customerEmail: `buyer${n}@example.com`,
    metadata: `{"payment_intent":"pi_${n}","attempt":1}`,
    createdAt: `2026-11-22T08:0${n}:00.000Z`,
    ...extra,
  };
}

describe('payment logs', () => {
  it('lists rows, loads more after the last cursor, and sends the filters and date range from the URL', async () => {
    const user = userEvent.setup();
    const calls: Array<Record<string, unknown>> = [];
    renderConsole('/payment-logs', {
      handlers: [
        graphql.query('PaymentLogs', ({ variables }) => {
          calls.push(variables);
          if (variables.after === 'c2') return HttpResponse.json({ data: { paymentLogs: { nodes: [log(3)], pageInfo: pageInfo(false, 'c3') } } });
          return HttpResponse.json({ data: { paymentLogs: { nodes: [log(1), log(2)], pageInfo: pageInfo(true, 'c2') } } });
        }),
      ],
    });
    expect(await screen.findByText('buyer1@example.com')).toBeTruthy();
    expect(screen.getAllByText('$99.00')).toHaveLength(2);
    expect(calls[0]).toMatchObject({ first: 50 });
    expect(calls[0]!.filter).toBeUndefined();

    await user.click(screen.getByRole('button', { name: 'Load more' }));
    expect(await screen.findByText('buyer3@example.com')).toBeTruthy();
    expect(calls.at(-1)).toMatchObject({ after: 'c2' });

    await user.type(screen.getByLabelText('Event type'), 'payment.failed');
    await user.type(screen.getByLabelText('Status'), 'failed');
    // A customer by their email, in the search box (there is no customer id field to type a UUID into).
    expect(screen.queryByLabelText(/Customer id/)).toBeNull();
    await user.type(screen.getByRole('searchbox', { name: 'Search' }), 'Buyer9@example.com');
    const range = screen.getByRole('group', { name: 'Written (UTC days)' });
    await user.type(within(range).getByLabelText(/From$/), '2026-11-01');
    await user.type(within(range).getByLabelText(/To$/), '2026-11-21');
    await user.click(screen.getByRole('button', { name: 'Apply' }));
    await waitFor(() =>
      expect(calls.at(-1)!.filter).toEqual({
        eventType: 'payment.failed',
        status: 'failed',
        search: 'Buyer9@example.com',
        from: '2026-11-01T00:00:00.000Z',
        to: '2026-11-22T00:00:00.000Z',
      }),
    );
    expect(searchParam('from')).toBe('2026-11-01');
    expect(searchParam('to')).toBe('2026-11-21');
    expect(searchParam('eventType')).toBe('payment.failed');
    expect(searchParam('q')).toBe('Buyer9@example.com');
  });

  it('searches by what is typed in the box and keeps it in the URL', async () => {
    const user = userEvent.setup();
    const filters: unknown[] = [];
    renderConsole('/payment-logs', {
      handlers: [
        graphql.query('PaymentLogs', ({ variables }) => {
          filters.push(variables.filter);
          const hit = (variables.filter as { search?: string } | undefined)?.search === 'pi_2';
          return HttpResponse.json({ data: { paymentLogs: { nodes: hit ? [log(2)] : [log(1), log(2)], pageInfo: pageInfo(false, null) } } });
        }),
      ],
    });
    await screen.findByText('buyer1@example.com');
    await user.type(screen.getByRole('searchbox', { name: 'Search' }), 'pi_2{Enter}');
    await waitFor(() => expect(screen.queryByText('buyer1@example.com')).toBeNull());
    expect(filters.at(-1)).toEqual({ search: 'pi_2' });
    expect(searchParam('q')).toBe('pi_2');
  });

  it('shows what the search box accepts when the server cannot read the search', async () => {
    const user = userEvent.setup();
    renderConsole('/payment-logs', {
      handlers: [
        graphql.query('PaymentLogs', ({ variables }) =>
          (variables.filter as { search?: string } | undefined)?.search
            ? HttpResponse.json({
                errors: [{ message: 'Search for an order id, a PaymentIntent id (pi_…), a Checkout Session id (cs_…) or a customer email', extensions: { code: 'BAD_USER_INPUT' } }],
              })
            : HttpResponse.json({ data: { paymentLogs: { nodes: [log(1)], pageInfo: pageInfo(false, null) } } }),
        ),
      ],
    });
    await screen.findByText('buyer1@example.com');
    await user.type(screen.getByRole('searchbox', { name: 'Search' }), 'hello{Enter}');
    expect(await screen.findByText(/Search for an order id, a PaymentIntent id/)).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Try again' })).toBeNull();
  });

  it('opens a row with its metadata as formatted JSON, and the row id goes in the URL', async () => {
    const user = userEvent.setup();
    renderConsole('/payment-logs?eventType=payment.paid', {
      handlers: [graphql.query('PaymentLogs', () => HttpResponse.json({ data: { paymentLogs: { nodes: [log(1), log(2)], pageInfo: pageInfo(false, null) } } }))],
    });
    await user.click(await screen.findByRole('link', { name: '2026-11-22 08:02:00' }));
    expect(searchParam('open')).toBe('log-2');
    const panel = screen.getByRole('complementary', { name: 'Payment log row' });
    expect(within(panel).getByLabelText('Metadata').textContent).toBe('{\n  "payment_intent": "pi_2",\n  "attempt": 1\n}');
    expect(within(panel).getByText('buyer2@example.com')).toBeTruthy();
  });

  it('opens a shared link to a row the loaded pages do not hold by reading that row', async () => {
    const asked: string[] = [];
    renderConsole('/payment-logs?open=log-7', {
      handlers: [
        graphql.query('PaymentLogs', () => HttpResponse.json({ data: { paymentLogs: { nodes: [log(1)], pageInfo: pageInfo(true, 'c1') } } })),
        graphql.query('PaymentLog', ({ variables }) => {
          asked.push(variables.id as string);
          return HttpResponse.json({ data: { paymentLog: log(7, { id: 'log-7' }) } });
        }),
      ],
    });
    const panel = await screen.findByRole('complementary', { name: 'Payment log row' });
    expect(await within(panel).findByText('buyer7@example.com')).toBeTruthy();
    expect(within(panel).getByLabelText('Metadata').textContent).toContain('"pi_7"');
    expect(asked).toEqual(['log-7']);
  });

  it('says so when a shared link names a row that does not exist', async () => {
    renderConsole('/payment-logs?open=404', {
      handlers: [
        graphql.query('PaymentLogs', () => HttpResponse.json({ data: { paymentLogs: { nodes: [log(1)], pageInfo: pageInfo(false, null) } } })),
        graphql.query('PaymentLog', () => HttpResponse.json({ data: { paymentLog: null } })),
      ],
    });
    expect(await screen.findByText('No payment log row has the id 404.')).toBeTruthy();
  });

  it('shows the empty and loading states', async () => {
    renderConsole('/payment-logs?status=refunded', {
      handlers: [graphql.query('PaymentLogs', () => HttpResponse.json({ data: { paymentLogs: { nodes: [], pageInfo: pageInfo(false, null) } } }))],
    });
    expect(await screen.findByText('Loading payment logs…')).toBeTruthy();
    expect(await screen.findByText('No payment log rows match these filters.')).toBeTruthy();
  });
});
