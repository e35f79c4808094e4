// @vitest-environment jsdom
// The orders screen: status and sync state, filters in the URL, and the detail with links to the
// payment objects in Stripe's (test-mode) dashboard.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { graphql, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { pageInfo, renderConsole, searchParam, useConsoleTestServer } from './helpers';

useConsoleTestServer();

const money = (amount: number) => ({ amount, currency: 'usd', formatted: `$${(amount / 100).toFixed(2)}` });

function order(n: number, extra: Record<string, unknown> = {}) {
  return {
    id: `${n}0000000-0000-4000-8000-000000000000`,
    status: 'PAID',
    syncState: 'PROVISIONAL',
    track: 'business_plan_builder',
    trackName: 'Business Plan Builder',
    amount: money(9900),
    customer: { id: `c${n}`, email: `buyer${n}@example.com`, name: 'Ada' },
    checkoutSessionId: `cs_test_${n}`,
    paymentIntentId: `pi_${n}`,
    payment: { paymentIntentId: `pi_${n}`, chargeId: `ch_${n}`, status: 'succeeded', amount: money(9900), amountRefunded: money(0) },
    metadata: [{ key: 'campaign', value: 'autumn' }],
    createdAt: '2026-11-22T08:00:00.000Z',
    updatedAt: '2026-11-22T08:01:00.000Z',
    ...extra,
  };
}

describe('orders', () => {
  it('lists orders with status, sync state, amount, track and customer, and filters by sync state', async () => {
    const user = userEvent.setup();
    const filters: unknown[] = [];
    renderConsole('/orders', {
      handlers: [
        graphql.query('Orders', ({ variables }) => {
          filters.push(variables.filter);
          const failedOnly = (variables.filter as { syncState?: string } | undefined)?.syncState === 'FAILED';
          const nodes = failedOnly ? [order(2, { syncState: 'FAILED', status: 'PAID' })] : [order(1), order(2, { syncState: 'FAILED' })];
          return HttpResponse.json({ data: { orders: { nodes, pageInfo: pageInfo(false, null) } } });
        }),
      ],
    });
    const row = (await screen.findByText('buyer1@example.com')).closest('tr')!;
    expect(within(row).getByText('paid')).toBeTruthy();
    expect(within(row).getByText('provisional')).toBeTruthy();
    expect(within(row).getByText('$99.00')).toBeTruthy();
    expect(within(row).getByText('Business Plan Builder')).toBeTruthy();

    await user.selectOptions(screen.getByLabelText('Sync state'), 'FAILED');
    await waitFor(() => expect(screen.queryByText('buyer1@example.com')).toBeNull());
    expect(filters.at(-1)).toEqual({ syncState: 'FAILED' });
    expect(searchParam('syncState')).toBe('FAILED');
  });

  it('opens an order with its payment ids linked to Stripe test-mode dashboard pages', async () => {
    const user = userEvent.setup();
    renderConsole('/orders', {
      handlers: [
        graphql.query('StripeMode', () => HttpResponse.json({ data: { stripeMode: 'SANDBOX' } })),
        graphql.query('Orders', () => HttpResponse.json({ data: { orders: { nodes: [order(1)], pageInfo: pageInfo(false, null) } } })),
        graphql.query('Order', ({ variables }) => HttpResponse.json({ data: { order: variables.id === order(1).id ? order(1) : null } })),
      ],
    });
    await user.click(await screen.findByRole('link', { name: `Order ${order(1).id}` }));
    expect(searchParam('open')).toBe(order(1).id);
    const panel = await screen.findByRole('complementary', { name: 'Order' });
    const pi = await within(panel).findByRole('link', { name: /pi_1/ });
    expect(pi.getAttribute('href')).toBe('https://dashboard.stripe.com/test/payments/pi_1');
    expect(within(panel).getByRole('link', { name: /cs_test_1/ }).getAttribute('href')).toBe('https://dashboard.stripe.com/test/checkout/sessions/cs_test_1');
    expect(within(panel).getByText('autumn')).toBeTruthy();
    expect(within(panel).getByRole('link', { name: 'Payment log of this order' }).getAttribute('href')).toBe(`/payment-logs?q=${order(1).id}`);
  });

  it('links to the live dashboard when the server runs with a live key', async () => {
    renderConsole(`/orders?open=${order(1).id}`, {
      handlers: [
        graphql.query('StripeMode', () => HttpResponse.json({ data: { stripeMode: 'LIVE' } })),
        graphql.query('Orders', () => HttpResponse.json({ data: { orders: { nodes: [order(1)], pageInfo: pageInfo(false, null) } } })),
        graphql.query('Order', () => HttpResponse.json({ data: { order: order(1) } })),
      ],
    });
    const panel = await screen.findByRole('complementary', { name: 'Order' });
    await waitFor(() => expect(within(panel).getByRole('link', { name: /pi_1/ }).getAttribute('href')).toBe('https://dashboard.stripe.com/payments/pi_1'));
    expect(within(panel).getByRole('link', { name: /cs_test_1/ }).getAttribute('href')).toBe('https://dashboard.stripe.com/checkout/sessions/cs_test_1');
  });

  it('says so when a shared URL names an order that does not exist', async () => {
    renderConsole('/orders?open=00000000-0000-4000-8000-00000000dead', {
      handlers: [
        graphql.query('Orders', () => HttpResponse.json({ data: { orders: { nodes: [], pageInfo: pageInfo(false, null) } } })),
        graphql.query('Order', () => HttpResponse.json({ data: { order: null } })),
      ],
    });
    expect(await screen.findByText('No order has the id 00000000-0000-4000-8000-00000000dead.')).toBeTruthy();
    expect(screen.getByText('No orders yet.')).toBeTruthy();
  });
});
