// @vitest-environment jsdom
// Export CSV (issue 22): the Orders and Payment logs screens download the server's export of the list
// as filtered, with the staff bearer token; a refusal is said in words.
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { graphql, http, HttpResponse } from 'msw';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pageInfo, renderConsole, useConsoleTestServer } from './helpers';

useConsoleTestServer();

// jsdom has no object URLs; the download is a click on a link to one.
const saved: Array<{ name: string; text: Promise<string> }> = [];
const objects = new Map<string, Blob>();
const clicked: string[] = [];
beforeEach(() => {
  saved.length = 0;
  clicked.length = 0;
  URL.createObjectURL = (blob: Blob) => {
    const href = `blob:test/${objects.size}`;
    objects.set(href, blob);
    return href;
  };
  URL.revokeObjectURL = (href: string) => void objects.delete(href);
  HTMLAnchorElement.prototype.click = function click(this: HTMLAnchorElement) {
    clicked.push(this.download);
    const blob = objects.get(this.href);
    if (blob) saved.push({ name: this.download, text: blob.text() });
  };
});
afterEach(() => objects.clear());

const emptyOrders = graphql.query('Orders', () => HttpResponse.json({ data: { orders: { nodes: [], pageInfo: pageInfo(false, null) } } }));

describe('export CSV', () => {
  it('downloads the orders export with the filters of the screen and the bearer token', async () => {
    const user = userEvent.setup();
    const asked: Array<{ url: URL; auth: string | null }> = [];
    renderConsole('/orders?status=PAID&q=ada%40example.com', {
      handlers: [
        emptyOrders,
        http.get('*/export/orders.csv', ({ request }) => {
          asked.push({ url: new URL(request.url), auth: request.headers.get('authorization') });
          return new HttpResponse('id,status\r\no1,paid\r\n', { headers: { 'content-type': 'text/csv', 'content-disposition': 'attachment; filename="orders-2026-12-07T10-00-00Z.csv"' } });
        }),
      ],
    });
    await user.click(await screen.findByRole('button', { name: 'Export CSV' }));
    expect(await screen.findByText('Saved orders-2026-12-07T10-00-00Z.csv')).toBeTruthy();
    expect(asked).toHaveLength(1);
    expect(Object.fromEntries(asked[0]!.url.searchParams)).toEqual({ status: 'PAID', search: 'ada@example.com' });
    expect(asked[0]!.auth).toBe('Bearer token-support');
    expect(saved.map((s) => s.name)).toEqual(['orders-2026-12-07T10-00-00Z.csv']);
    expect(await saved[0]!.text).toBe('id,status\r\no1,paid\r\n');
  });

  it("says the server's refusal in words and saves nothing", async () => {
    const user = userEvent.setup();
    renderConsole('/payment-logs?from=2026-11-01', {
      handlers: [
        graphql.query('PaymentLogs', () => HttpResponse.json({ data: { paymentLogs: { nodes: [], pageInfo: pageInfo(false, null) } } })),
        http.get('*/export/payment-logs.csv', () => HttpResponse.json({ error: 'bad_user_input', code: 'BAD_USER_INPUT', message: 'from must be an ISO 8601 date', field: 'from' }, { status: 400 })),
      ],
    });
    await user.click(await screen.findByRole('button', { name: 'Export CSV' }));
    expect((await screen.findByRole('alert')).textContent).toBe('Could not export: from must be an ISO 8601 date');
    await waitFor(() => expect(screen.getByRole('button', { name: 'Export CSV' }).hasAttribute('disabled')).toBe(false));
    expect(clicked).toEqual([]);
  });
});
