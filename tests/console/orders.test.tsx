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
    syncAttempts: 0,
    lastSyncAt: null,
    refundableAmount: money(9900),
    refunds: [],
    disputes: [],
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

describe('Sync with Stripe', () => {
  const syncHandlers = (answer: (n: number) => Record<string, unknown>, keys: string[]) => {
    let synced = 0;
    return [
      graphql.query('StripeMode', () => HttpResponse.json({ data: { stripeMode: 'SANDBOX' } })),
      graphql.query('Orders', () => HttpResponse.json({ data: { orders: { nodes: [order(1)], pageInfo: pageInfo(false, null) } } })),
      // After a sync the order is read again as the server now has it.
      graphql.query('Order', () => HttpResponse.json({ data: { order: synced > 0 ? (answer(synced).order ?? order(1)) : order(1) } })),
      graphql.mutation('SyncOrder', ({ variables }) => {
        const input = variables.input as { orderId: string; idempotencyKey: string };
        expect(input.orderId).toBe(order(1).id);
        keys.push(input.idempotencyKey);
        synced += 1;
        return HttpResponse.json({ data: { syncOrder: answer(synced) } });
      }),
    ];
  };

  it("shows when reconciliation last asked Stripe about the order, and how many of the janitor's checks did", async () => {
    renderConsole(`/orders?open=${order(1).id}`, {
      handlers: [
        graphql.query('StripeMode', () => HttpResponse.json({ data: { stripeMode: 'SANDBOX' } })),
        graphql.query('Orders', () => HttpResponse.json({ data: { orders: { nodes: [order(1)], pageInfo: pageInfo(false, null) } } })),
        graphql.query('Order', () => HttpResponse.json({ data: { order: order(1, { syncAttempts: 3, lastSyncAt: '2026-11-22T09:00:00.000Z' }) } })),
      ],
    });
    const panel = await screen.findByRole('complementary', { name: 'Order' });
    expect(await within(panel).findByText('last 2026-11-22 09:00:00 UTC; janitor checks: 3')).toBeTruthy();
  });

  it.each([
    ['SYNCED', { order: order(1, { status: 'PAID', syncState: 'CONFIRMED', syncAttempts: 0, lastSyncAt: '2026-11-22T10:00:00.000Z' }), outcome: 'SYNCED', error: null, isRepeat: false }, 'Stripe had news: the order is now paid.'],
    ['UNCHANGED', { order: order(1, { syncAttempts: 0, lastSyncAt: '2026-11-22T10:00:00.000Z' }), outcome: 'UNCHANGED', error: null, isRepeat: false }, 'Already in line with Stripe.'],
  ])('support syncs an order with Stripe: %s in words, and the order refreshed', async (_outcome, payload, words) => {
    const user = userEvent.setup();
    const keys: string[] = [];
    renderConsole(`/orders?open=${order(1).id}`, { as: 'support', handlers: syncHandlers(() => payload, keys) });
    const panel = await screen.findByRole('complementary', { name: 'Order' });
    expect(await within(panel).findByText('never')).toBeTruthy();
    await user.click(within(panel).getByRole('button', { name: 'Sync with Stripe' }));
    await user.click(within(screen.getByRole('dialog', { name: 'Sync this order with Stripe?' })).getByRole('button', { name: 'Sync' }));
    expect(await within(panel).findByText(words)).toBeTruthy();
    expect(await within(panel).findByText('last 2026-11-22 10:00:00 UTC; janitor checks: 0')).toBeTruthy();
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('says a sync that changed the order before Stripe went away changed it (not "nothing changed")', async () => {
    const user = userEvent.setup();
    const partly = {
      order: order(1, { status: 'PAID', syncState: 'CONFIRMED', lastSyncAt: '2026-11-22T10:00:00.000Z' }),
      outcome: 'SYNCED',
      error: { code: 'PAYMENT_PROVIDER_UNAVAILABLE', message: 'Part of the order was updated from Stripe, then Stripe could not be reached: the rest could not be asked. Sync again in a minute.' },
      isRepeat: false,
    };
    renderConsole(`/orders?open=${order(1).id}`, { as: 'support', handlers: syncHandlers(() => partly, []) });
    const panel = await screen.findByRole('complementary', { name: 'Order' });
    await user.click(await within(panel).findByRole('button', { name: 'Sync with Stripe' }));
    await user.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Sync' }));
    expect((await within(panel).findByRole('alert')).textContent).toBe(
      'Part of the order was updated from Stripe, then Stripe could not be reached: the rest could not be asked. Sync again in a minute. The order is now paid.',
    );
  });

  it('shows a failed sync with the server\'s message, and uses a new key for the next press', async () => {
    const user = userEvent.setup();
    const keys: string[] = [];
    const failed = { order: order(1), outcome: 'FAILED', error: { code: 'PAYMENT_PROVIDER_UNAVAILABLE', message: 'Stripe did not answer (503).' }, isRepeat: false };
    renderConsole(`/orders?open=${order(1).id}`, { as: 'admin', handlers: syncHandlers(() => failed, keys) });
    const panel = await screen.findByRole('complementary', { name: 'Order' });
    for (let press = 0; press < 2; press += 1) {
      await user.click(await within(panel).findByRole('button', { name: 'Sync with Stripe' }));
      await user.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Sync' }));
      await waitFor(() => expect(keys).toHaveLength(press + 1));
      expect((await within(panel).findByRole('alert')).textContent).toBe('Stripe did not answer (503). Stripe could not be reached; nothing changed. Try again in a moment.');
    }
    expect(keys[0]).not.toBe(keys[1]);
  });
});
