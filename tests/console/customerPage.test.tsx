// @vitest-environment jsdom
// The customer page (issue 22): totals paid, refunded and net per currency, first and last payment,
// and their orders, subscriptions, payment requests, refunds and disputes; reached by id, or by email
// from any email the console shows.
import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { graphql, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { currentUrl, pageInfo, renderConsole, useConsoleTestServer } from './helpers';

useConsoleTestServer();

const money = (amount: number, currency = 'usd') => ({ amount, currency, formatted: currency === 'usd' ? `$${(amount / 100).toFixed(2)}` : `€${(amount / 100).toFixed(2)}` });
const ORDER_ID = '20000000-0000-4000-8000-000000000000';

const customer = {
  id: 'cust-1',
  email: 'ada@example.com',
  name: 'Ada Lovelace',
  createdAt: '2026-10-01T10:00:00.000Z',
  firstPaymentAt: '2026-10-02T10:00:00.000Z',
  lastPaymentAt: '2026-11-20T10:00:00.000Z',
  totals: [
    { currency: 'usd', paid: money(19800), refunded: money(2500), net: money(17300) },
    { currency: 'eur', paid: money(5000, 'eur'), refunded: money(0, 'eur'), net: money(5000, 'eur') },
  ],
  orders: {
    nodes: [{ id: ORDER_ID, status: 'PAID', syncState: 'CONFIRMED', trackName: 'Business Plan Builder', amount: money(9900), createdAt: '2026-11-20T10:00:00.000Z' }],
    pageInfo: pageInfo(false, null),
  },
  subscriptions: [{ id: 'sub_1', status: 'ACTIVE', trackName: 'Coaching', currentPeriodEnd: '2026-12-20T10:00:00.000Z', cancelAtPeriodEnd: false, createdAt: '2026-10-20T10:00:00.000Z' }],
  paymentRequests: [{ id: 'pr-1', title: 'Team retreat', status: 'PARTIALLY_PAID', total: money(30000), membersPaid: 1, membersCount: 3, createdAt: '2026-11-01T10:00:00.000Z' }],
  refunds: [{ id: 'rf-1', stripeRefundId: 're_1', orderId: ORDER_ID, status: 'SUCCEEDED', reason: 'REQUESTED_BY_CUSTOMER', amount: money(2500), createdAt: '2026-11-21T10:00:00.000Z' }],
  disputes: [],
};

describe('customer page', () => {
  it('shows the totals per currency, first and last payment, and each kind of record linked to its page', async () => {
    const user = userEvent.setup();
    renderConsole('/customers/cust-1', {
      handlers: [
        graphql.query('Customer', ({ variables }) => HttpResponse.json({ data: { customer: variables.id === 'cust-1' ? customer : null } })),
        graphql.query('Order', () => HttpResponse.json({ data: { order: null } })),
      ],
    });
    expect(await screen.findByRole('heading', { level: 1, name: 'ada@example.com' })).toBeTruthy();
    const usd = screen.getByLabelText('Totals in USD');
    expect(within(usd).getByText('Paid').nextSibling?.textContent).toBe('$198.00');
    expect(within(usd).getByText('Refunded').nextSibling?.textContent).toBe('$25.00');
    expect(within(usd).getByText('Net').nextSibling?.textContent).toBe('$173.00');
    const eur = screen.getByLabelText('Totals in EUR');
    expect(within(eur).getByText('Net').nextSibling?.textContent).toBe('€50.00');
    expect(screen.getByText('First payment').nextSibling?.textContent).toContain('2026-10-02 10:00:00 UTC');
    expect(screen.getByText('Last payment').nextSibling?.textContent).toContain('2026-11-20 10:00:00 UTC');

    expect(screen.getByRole('link', { name: 'sub_1' }).getAttribute('href')).toBe('/subscriptions?open=sub_1');
    expect(screen.getByRole('link', { name: 'Team retreat' }).getAttribute('href')).toBe('/payment-requests?open=pr-1');
    expect(screen.getByText('1 of 3 paid · 2026-11-01 10:00:00')).toBeTruthy();
    expect(screen.getByRole('heading', { name: 'Disputes (0)' })).toBeTruthy();
    const refunds = screen.getByRole('heading', { name: 'Refunds (1)' }).closest('section')!;
    expect(within(refunds).getByText('$25.00')).toBeTruthy();

    await user.click(screen.getByRole('link', { name: `Order ${ORDER_ID}` }));
    expect(currentUrl()).toBe(`/orders/${ORDER_ID}`);
  });

  it('finds the customer by email when the link had only the email', async () => {
    const asked: unknown[] = [];
    renderConsole('/customers/Ada%40Example.com', {
      handlers: [
        graphql.query('CustomerByEmail', ({ variables }) => {
          asked.push(variables.email);
          return HttpResponse.json({ data: { customerByEmail: customer } });
        }),
      ],
    });
    expect(await screen.findByRole('heading', { level: 1, name: 'ada@example.com' })).toBeTruthy();
    expect(asked).toEqual(['Ada@Example.com']);
  });

  it('says so when no customer has the id', async () => {
    renderConsole('/customers/nobody', { handlers: [graphql.query('Customer', () => HttpResponse.json({ data: { customer: null } }))] });
    expect(await screen.findByText('No customer has the id nobody.')).toBeTruthy();
  });
});
