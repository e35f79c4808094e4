// @vitest-environment jsdom
// Live lists (issue 22): a visible list reads itself again on its own, so a new payment appears
// without a reload, and the pages loaded, the open row and the table (so the scroll position) stay.
// The interval is made short here (renderConsole's liveRefreshMs); what is asserted is the outcome.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { graphql, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { pageInfo, renderConsole, searchParam, useConsoleTestServer } from './helpers';

useConsoleTestServer();

function log(n: number) {
  return {
    id: `log-${n}`,
    eventType: 'payment.paid',
    status: 'succeeded',
    amount: { amount: 9900, currency: 'usd', formatted: '$99.00' },
    orderId: `0000000${n}-0000-4000-8000-000000000000`,
    customerId: `c${n}`,
    customerEmail: `buyer${n}@example.com`,
    metadata: '{}',
    createdAt: `2026-11-22T08:0${n}:00.000Z`,
  };
}

/** Newest first, two rows a page, cursors "c<id>" after the page's last row, as the server pages. */
function pagedLogs(rows: () => ReturnType<typeof log>[], calls: Array<string | null>) {
  return graphql.query('PaymentLogs', ({ variables }) => {
    const after = (variables.after as string | undefined) ?? null;
    calls.push(after);
    const all = rows();
    const start = after === null ? 0 : all.findIndex((row) => `c${row.id}` === after) + 1;
    const nodes = all.slice(start, start + 2);
    const more = start + 2 < all.length;
    return HttpResponse.json({ data: { paymentLogs: { nodes, pageInfo: pageInfo(more, `c${nodes.at(-1)!.id}`) } } });
  });
}

describe('live lists', () => {
  it('shows a new payment at the top by itself, keeping the pages loaded, the open row and the table', async () => {
    const user = userEvent.setup();
    let rows = [log(4), log(3), log(2), log(1)];
    const calls: Array<string | null> = [];
    // The open row is read by id while the first page does not hold it.
    const logById = graphql.query('PaymentLog', ({ variables }) => HttpResponse.json({ data: { paymentLog: rows.find((row) => row.id === variables.id) ?? null } }));
    renderConsole('/payment-logs?open=log-2', { handlers: [pagedLogs(() => rows, calls), logById], liveRefreshMs: 100 });
    await screen.findByText('buyer4@example.com');
    await user.click(screen.getByRole('button', { name: 'Load more' }));
    await screen.findByText('buyer1@example.com');
    const table = screen.getByRole('table');
    const openRow = within(table).getByText('buyer2@example.com').closest('tr')!;
    expect(openRow.getAttribute('aria-selected')).toBe('true');

    rows = [log(5), ...rows];
    expect(await screen.findByText('buyer5@example.com')).toBeTruthy();
    // Both pages were read again from the top, with the cursors of the pages as they are now: two
    // pages still, so the oldest row moved to the page after them, which Load more brings.
    await waitFor(() => expect(within(table).queryByText('buyer1@example.com')).toBeNull());
    const refreshed = within(table).getAllByRole('row').slice(1).map((row) => within(row).getByText(/buyer\d@/).textContent);
    expect(refreshed).toEqual(['buyer5@example.com', 'buyer4@example.com', 'buyer3@example.com', 'buyer2@example.com']);
    expect(calls.slice(-2)).toEqual([null, 'clog-4']);
    // The same table and rows, updated in place (nothing unmounted: the scroll position stays), the row still open.
    expect(screen.getByRole('table')).toBe(table);
    expect(within(table).getByText('buyer2@example.com').closest('tr')).toBe(openRow);
    expect(openRow.getAttribute('aria-selected')).toBe('true');
    expect(searchParam('open')).toBe('log-2');
    expect(screen.getByRole('complementary', { name: 'Payment log row' })).toBeTruthy();
    await user.click(screen.getByRole('button', { name: 'Load more' }));
    expect(await within(table).findByText('buyer1@example.com')).toBeTruthy();
  });

  it('asks nothing while the tab is hidden, and reads the list again when it is shown', async () => {
    let rows = [log(2), log(1)];
    const calls: Array<string | null> = [];
    renderConsole('/payment-logs', { handlers: [pagedLogs(() => rows, calls)], liveRefreshMs: 50 });
    await screen.findByText('buyer2@example.com');
    const visibility = Object.getOwnPropertyDescriptor(Document.prototype, 'visibilityState')!;
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    try {
      window.dispatchEvent(new Event('visibilitychange'));
      document.dispatchEvent(new Event('visibilitychange'));
      // Whatever was in flight when the tab was hidden has landed; from here on nothing is asked.
      const settled = calls.length;
      rows = [log(3), ...rows];
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(calls.length).toBeLessThanOrEqual(settled + 1);
      expect(screen.queryByText('buyer3@example.com')).toBeNull();
    } finally {
      Object.defineProperty(document, 'visibilityState', visibility);
      delete (document as { visibilityState?: string }).visibilityState;
    }
    document.dispatchEvent(new Event('visibilitychange'));
    expect(await screen.findByText('buyer3@example.com')).toBeTruthy();
  });
});
