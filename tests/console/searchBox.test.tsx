// @vitest-environment jsdom
// Search anywhere (issue 22): the top bar's box, focused by / or Ctrl-K; each kind of id goes straight
// to the page the server names for its one match, and none or several are listed on the search page.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { graphql, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { currentUrl, renderConsole, useConsoleTestServer } from './helpers';

useConsoleTestServer();

const ORDER_ID = '30000000-0000-4000-8000-000000000000';

type Match = { kind: string; id: string; label: string; route: string; orderId: string | null };
const orderMatch: Match = { kind: 'ORDER', id: ORDER_ID, label: 'Order: Business Plan Builder, $99.00', route: `/orders/${ORDER_ID}`, orderId: ORDER_ID };

// What the server answers for each kind of query (server/search reads the kind from the shape).
const ANSWERS: Record<string, { queryKind: string; matches: Match[] }> = {
  [ORDER_ID]: { queryKind: 'ORDER_ID', matches: [orderMatch] },
  pi_123: { queryKind: 'PAYMENT_INTENT', matches: [orderMatch] },
  cs_test_1: { queryKind: 'CHECKOUT_SESSION', matches: [orderMatch] },
  ch_1: { queryKind: 'CHARGE', matches: [orderMatch] },
  in_1: { queryKind: 'INVOICE', matches: [{ kind: 'SUBSCRIPTION', id: 'sub_9', label: 'Subscription: Coaching', route: '/subscriptions?open=sub_9', orderId: null }] },
  re_1: { queryKind: 'REFUND', matches: [{ kind: 'REFUND', id: 're_1', label: 'Refund $25.00', route: `/orders/${ORDER_ID}`, orderId: ORDER_ID }] },
  du_1: { queryKind: 'DISPUTE', matches: [{ kind: 'DISPUTE', id: 'du_1', label: 'Dispute, needs response', route: '/disputes?open=du_1', orderId: ORDER_ID }] },
  evt_1: { queryKind: 'WEBHOOK_EVENT', matches: [{ kind: 'WEBHOOK_EVENT', id: 'evt_1', label: 'Stripe event charge.refunded, applied', route: '/webhook-events?open=evt_1', orderId: null }] },
  sub_1: { queryKind: 'SUBSCRIPTION', matches: [{ kind: 'SUBSCRIPTION', id: 'sub_1', label: 'Subscription: Coaching', route: '/subscriptions?open=sub_1', orderId: null }] },
  'ada@example.com': { queryKind: 'EMAIL', matches: [{ kind: 'CUSTOMER', id: 'cust-1', label: 'Customer: ada@example.com', route: '/customers/cust-1', orderId: null }] },
  'bo@example.com': {
    queryKind: 'EMAIL',
    matches: [
      { kind: 'CUSTOMER', id: 'cust-2', label: 'Customer: bo@example.com', route: '/customers/cust-2', orderId: null },
      { kind: 'CUSTOMER', id: 'cust-3', label: 'Customer: bo@example.com (guest)', route: '/customers/cust-3', orderId: null },
    ],
  },
  hello: { queryKind: 'UNKNOWN', matches: [] },
};

function searchHandler(asked: string[]) {
  return graphql.query('Search', ({ variables }) => {
    const query = String(variables.query);
    asked.push(query);
    if (query.length > 500) return HttpResponse.json({ errors: [{ message: 'query must be at most 500 characters', extensions: { code: 'BAD_USER_INPUT' } }] });
    const answer = ANSWERS[query] ?? { queryKind: 'UNKNOWN', matches: [] };
    return HttpResponse.json({ data: { search: { query, ...answer } } });
  });
}

// The pages one match leads to, answered emptily: this test is about getting there.
const landing = [
  graphql.query('Order', () => HttpResponse.json({ data: { order: null } })),
  graphql.query('Customer', () => HttpResponse.json({ data: { customer: null } })),
  graphql.query('Subscriptions', () => HttpResponse.json({ data: { subscriptions: { nodes: [], pageInfo: { hasNextPage: false, endCursor: null } } } })),
  graphql.query('SubscriptionTracks', () => HttpResponse.json({ data: { pricing: [] } })),
  graphql.query('Subscription', () => HttpResponse.json({ data: { subscription: null } })),
  graphql.query('Disputes', () => HttpResponse.json({ data: { disputes: { nodes: [], pageInfo: { hasNextPage: false, endCursor: null } } } })),
  graphql.query('DisputesOfOrder', () => HttpResponse.json({ data: { order: null } })),
  graphql.query('WebhookEvents', () => HttpResponse.json({ data: { webhookEvents: { nodes: [], pageInfo: { hasNextPage: false, endCursor: null } } } })),
  graphql.query('WebhookEvent', () => HttpResponse.json({ data: { webhookEvent: null } })),
  graphql.query('StripeMode', () => HttpResponse.json({ data: { stripeMode: 'SANDBOX' } })),
  graphql.query('OpsOverview', () => HttpResponse.json({ errors: [{ message: 'not in this test', extensions: { code: 'INTERNAL' } }] })),
];

describe('search box', () => {
  it('takes each kind of id to the page of its one match', async () => {
    const user = userEvent.setup();
    const asked: string[] = [];
    renderConsole('/payment-requests', { handlers: [searchHandler(asked), ...landing, graphql.query('PaymentRequests', () => HttpResponse.json({ data: { paymentRequests: { nodes: [], pageInfo: { hasNextPage: false, endCursor: null } } } }))] });
    const box = await screen.findByRole('searchbox', { name: 'Find by order id, email or Stripe id' });
    for (const query of Object.keys(ANSWERS).filter((q) => ANSWERS[q]!.matches.length === 1)) {
      await user.clear(box);
      await user.type(box, `  ${query} {Enter}`);
      await waitFor(() => expect(currentUrl()).toBe(ANSWERS[query]!.matches[0]!.route));
    }
    expect(asked).toEqual(Object.keys(ANSWERS).filter((q) => ANSWERS[q]!.matches.length === 1));
  });

  it('lists several matches, and says what it takes when nothing matches', async () => {
    const user = userEvent.setup();
    renderConsole('/payment-requests', { handlers: [searchHandler([]), ...landing, graphql.query('PaymentRequests', () => HttpResponse.json({ data: { paymentRequests: { nodes: [], pageInfo: { hasNextPage: false, endCursor: null } } } }))] });
    const box = await screen.findByRole('searchbox', { name: 'Find by order id, email or Stripe id' });
    await user.type(box, 'bo@example.com{Enter}');
    await waitFor(() => expect(currentUrl()).toBe('/search?q=bo%40example.com'));
    const matches = await screen.findByRole('list', { name: 'Matches' });
    expect(within(matches).getAllByRole('listitem')).toHaveLength(2);
    expect(screen.getByText(/read as an email/)).toBeTruthy();
    expect(within(matches).getByRole('link', { name: 'Customer: bo@example.com (guest)' }).getAttribute('href')).toBe('/customers/cust-3');

    await user.clear(box);
    await user.type(box, 'hello{Enter}');
    await waitFor(() => expect(currentUrl()).toBe('/search?q=hello'));
    expect(await screen.findByText(/Nothing matches\. Search takes an order id, a customer email, or a Stripe id/)).toBeTruthy();
  });

  it('is focused by / (not while typing in a field) and by Ctrl-K', async () => {
    const user = userEvent.setup();
    renderConsole('/payment-logs', { handlers: [searchHandler([]), graphql.query('PaymentLogs', () => HttpResponse.json({ data: { paymentLogs: { nodes: [], pageInfo: { hasNextPage: false, endCursor: null } } } }))] });
    const box = await screen.findByRole('searchbox', { name: 'Find by order id, email or Stripe id' });
    const filter = await screen.findByLabelText('Event type');
    await user.click(filter);
    await user.keyboard('/');
    expect(document.activeElement).toBe(filter);
    expect((filter as HTMLInputElement).value).toBe('/');
    await user.click(document.body);
    await user.keyboard('/');
    expect(document.activeElement).toBe(box);
    expect((box as HTMLInputElement).value).toBe('');
    await user.click(filter);
    await user.keyboard('{Control>}k{/Control}');
    expect(document.activeElement).toBe(box);
  });
});
