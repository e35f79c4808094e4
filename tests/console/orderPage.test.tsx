// @vitest-environment jsdom
// The order page (issue 22): the header (status, sync state, amount, track, the customer linked to
// their page, the role's actions) and one timeline newest first, each source's entry in words with its
// time, its actor and its links, and "Load more" after the last cursor.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { graphql, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { currentUrl, pageInfo, renderConsole, useConsoleTestServer } from './helpers';

useConsoleTestServer();

const ORDER_ID = '10000000-0000-4000-8000-000000000000';
const money = (amount: number) => ({ amount, currency: 'usd', formatted: `$${(amount / 100).toFixed(2)}` });

function order(extra: Record<string, unknown> = {}) {
  return {
    id: ORDER_ID,
    status: 'PARTIALLY_REFUNDED',
    syncState: 'CONFIRMED',
    track: 'business_plan_builder',
    trackName: 'Business Plan Builder',
    amount: money(9900),
    customer: { id: 'cust-1', email: 'ada@example.com', name: 'Ada' },
    checkoutSessionId: null,
    paymentIntentId: 'pi_1',
    payment: { paymentIntentId: 'pi_1', chargeId: 'ch_1', status: 'succeeded', amount: money(9900), amountRefunded: money(2500) },
    metadata: [],
    createdAt: '2026-11-22T08:00:00.000Z',
    updatedAt: '2026-11-22T09:00:00.000Z',
    syncAttempts: 0,
    lastSyncAt: null,
    refundableAmount: money(7400),
    refunds: [],
    disputes: [],
    ...extra,
  };
}

type Entry = Record<string, unknown>;
const entry = (id: string, at: string, kind: string, summary: string, extra: Partial<Entry> = {}): Entry => ({
  id,
  at,
  kind,
  summary,
  status: null,
  amount: null,
  actor: { kind: 'SYSTEM', name: null },
  subjectId: null,
  link: { route: null, stripeObjectId: null },
  ...extra,
});

// Newest first, as the server merges them: one entry of each source.
const FIRST_PAGE: Entry[] = [
  entry('audit:7', '2026-11-22T09:05:00.000Z', 'AUDIT', 'Refunded $25.00: requested by customer', { actor: { kind: 'STAFF', name: 'admin@shop.test' }, amount: money(2500) }),
  entry('refund:re_1', '2026-11-22T09:04:00.000Z', 'REFUND', 'Refund of $25.00 succeeded', {
    status: 'succeeded',
    amount: money(2500),
    actor: { kind: 'STAFF', name: 'admin@shop.test' },
    link: { route: `/orders/${ORDER_ID}`, stripeObjectId: 're_1' },
  }),
  entry('make_attempt:d1:1', '2026-11-22T09:03:00.000Z', 'MAKE_DELIVERY_ATTEMPT', 'Make answered 200 on try 1', {
    status: 'delivered',
    actor: { kind: 'MAKE', name: null },
    link: { route: '/make-deliveries?open=d1', stripeObjectId: null },
  }),
  entry('make:d1', '2026-11-22T09:02:00.000Z', 'MAKE_DELIVERY', 'Make delivery add_project enqueued', { link: { route: '/make-deliveries?open=d1', stripeObjectId: null } }),
  entry('event:evt_1', '2026-11-22T09:01:00.000Z', 'WEBHOOK_EVENT', 'Stripe said payment_intent.succeeded', {
    status: 'applied',
    actor: { kind: 'STRIPE', name: null },
    link: { route: '/webhook-events?open=evt_1', stripeObjectId: 'evt_1' },
  }),
];
const SECOND_PAGE: Entry[] = [
  entry('log:42', '2026-11-22T09:00:30.000Z', 'PAYMENT_LOG', 'Payment of $99.00 succeeded', {
    status: 'succeeded',
    amount: money(9900),
    actor: { kind: 'CUSTOMER', name: 'ada@example.com' },
    link: { route: '/payment-logs?open=42', stripeObjectId: 'pi_1' },
  }),
  entry('attempt:pi_1', '2026-11-22T08:00:10.000Z', 'PAYMENT_ATTEMPT', 'PaymentIntent pi_1 made for $99.00', {
    status: 'succeeded',
    actor: { kind: 'API_KEY', name: 'storefront' },
    link: { route: null, stripeObjectId: 'pi_1' },
  }),
  entry('dispute:du_1', '2026-11-22T08:00:05.000Z', 'DISPUTE', 'Dispute opened: fraudulent', { actor: { kind: 'STRIPE', name: null }, link: { route: '/disputes?open=du_1', stripeObjectId: 'du_1' } }),
];

const DISPUTE = { id: 'du_1', status: 'NEEDS_RESPONSE', isOpen: true, amount: money(9900), reason: 'fraudulent', evidenceDueBy: '2026-12-01T23:59:59.000Z', isChargeRefundable: false };

function handlers(timelineCalls: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}) {
  return [
    graphql.query('StripeMode', () => HttpResponse.json({ data: { stripeMode: 'SANDBOX' } })),
    // The customer link's page (its own test is customerPage.test.tsx).
    graphql.query('Customer', () => HttpResponse.json({ data: { customer: null } })),
    graphql.query('Order', ({ variables }) => HttpResponse.json({ data: { order: variables.id === ORDER_ID ? order(extra) : null } })),
    graphql.query('OrderTimeline', ({ variables }) => {
      timelineCalls.push(variables);
      const second = variables.after === 'cursor-1';
      return HttpResponse.json({
        data: { order: { id: ORDER_ID, timeline: second ? { nodes: SECOND_PAGE, pageInfo: pageInfo(false, 'cursor-2') } : { nodes: FIRST_PAGE, pageInfo: pageInfo(true, 'cursor-1') } } },
      });
    }),
  ];
}

const summaries = (timeline: HTMLElement) => within(timeline).getAllByRole('listitem').map((item) => item.querySelector('.timeline-summary')?.textContent);

describe('order page', () => {
  it('shows the header and the timeline newest first, each entry in words with its actor and links, and loads more after the cursor', async () => {
    const user = userEvent.setup();
    const calls: Array<Record<string, unknown>> = [];
    renderConsole(`/orders/${ORDER_ID}`, { as: 'admin', handlers: handlers(calls) });
    const heading = await screen.findByRole('heading', { level: 1, name: `Order ${ORDER_ID}` });
    const header = heading.closest('header')!;
    expect(within(header).getByText('partially refunded')).toBeTruthy();
    expect(within(header).getByText('confirmed')).toBeTruthy();
    expect(within(header).getByText('$99.00')).toBeTruthy();
    expect(within(header).getByText('Business Plan Builder')).toBeTruthy();
    expect(within(header).getByRole('link', { name: 'ada@example.com' }).getAttribute('href')).toBe('/customers/cust-1');
    expect(within(header).getByRole('button', { name: 'Sync with Stripe' })).toBeTruthy();
    expect(within(header).getByRole('button', { name: /Refund/ })).toBeTruthy();
    expect(within(header).getByRole('link', { name: /Open in Stripe/ }).getAttribute('href')).toBe('https://dashboard.stripe.com/test/payments/pi_1');

    const timeline = await screen.findByRole('list', { name: 'Timeline, newest first' });
    expect(summaries(timeline)).toEqual(FIRST_PAGE.map((e) => e.summary));
    expect(calls[0]).toMatchObject({ id: ORDER_ID, first: 50 });
    expect(calls[0]!.after).toBeUndefined();

    const audit = within(timeline).getAllByRole('listitem')[0]!;
    expect(within(audit).getByText('Staff action')).toBeTruthy();
    expect(within(audit).getByText('by admin@shop.test (staff)')).toBeTruthy();
    expect(within(audit).getByText('2026-11-22 09:05:00 UTC')).toBeTruthy();
    expect(within(audit).getByText(/ago$/).getAttribute('datetime')).toBe('2026-11-22T09:05:00.000Z');
    // A refund's route is this page: no link to where we are, but its Stripe object.
    const refund = within(timeline).getAllByRole('listitem')[1]!;
    expect(within(refund).queryByRole('link', { name: /Refund →/ })).toBeNull();
    expect(within(refund).getByRole('link', { name: 're_1 in Stripe\'s dashboard' }).getAttribute('href')).toBe('https://dashboard.stripe.com/test/payments/re_1');
    const attempt = within(timeline).getAllByRole('listitem')[2]!;
    expect(within(attempt).getByText('by Make')).toBeTruthy();
    expect(within(attempt).getByRole('link', { name: 'Make delivery →' }).getAttribute('href')).toBe('/make-deliveries?open=d1');
    const event = within(timeline).getAllByRole('listitem')[4]!;
    expect(within(event).getByText('by Stripe')).toBeTruthy();
    expect(within(event).getByText('applied')).toBeTruthy();
    expect(within(event).getByRole('link', { name: 'Webhook event →' }).getAttribute('href')).toBe('/webhook-events?open=evt_1');

    await user.click(screen.getByRole('button', { name: 'Load more' }));
    await waitFor(() => expect(summaries(timeline)).toEqual([...FIRST_PAGE, ...SECOND_PAGE].map((e) => e.summary)));
    expect(calls.at(-1)).toMatchObject({ id: ORDER_ID, after: 'cursor-1' });
    expect(screen.getByText('End of the list')).toBeTruthy();
    const log = within(timeline).getAllByRole('listitem')[5]!;
    expect(within(log).getByText('by the customer (ada@example.com)')).toBeTruthy();
    expect(within(log).getByRole('link', { name: 'Payment log row →' }).getAttribute('href')).toBe('/payment-logs?open=42');
    const piAttempt = within(timeline).getAllByRole('listitem')[6]!;
    expect(within(piAttempt).getByText('by API key storefront')).toBeTruthy();
    expect(within(timeline).getAllByRole('listitem')[7]!.querySelector('.timeline-kind')?.textContent).toBe('Dispute');

    await user.click(within(header).getByRole('link', { name: 'ada@example.com' }));
    expect(currentUrl()).toBe('/customers/cust-1');
    expect(await screen.findByText('No customer has the id cust-1.')).toBeTruthy();
  });

  it('offers support Sync with Stripe but not Refund…, and lists the disputes beside the timeline', async () => {
    renderConsole(`/orders/${ORDER_ID}`, { as: 'support', handlers: handlers([], { disputes: [DISPUTE] }) });
    const header = (await screen.findByRole('heading', { level: 1, name: `Order ${ORDER_ID}` })).closest('header')!;
    await screen.findByRole('list', { name: 'Timeline, newest first' });
    expect(within(header).getByRole('button', { name: 'Sync with Stripe' })).toBeTruthy();
    expect(within(header).queryByRole('button', { name: /Refund/ })).toBeNull();
    const disputes = screen.getByRole('list', { name: 'Disputes' });
    expect(within(disputes).getByText('needs response')).toBeTruthy();
    expect(within(disputes).getByRole('link', { name: /respond in Stripe's dashboard/ }).getAttribute('href')).toBe('https://dashboard.stripe.com/test/disputes/du_1');
  });

  it('says so when no order has the id', async () => {
    renderConsole('/orders/00000000-0000-4000-8000-00000000dead', { handlers: handlers([]) });
    expect(await screen.findByText('No order has the id 00000000-0000-4000-8000-00000000dead.')).toBeTruthy();
  });
});
