// @vitest-environment jsdom
// Disputes: the screen (open ones first as the server orders them, the evidence deadline with the time
// left, highlighted under 72 hours and past due said, amount, reason, status, the order, and the dispute
// in Stripe's dashboard where evidence is submitted), its filters, and the Overview's two tiles.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { graphql, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { pageInfo, renderConsole, searchParam, useConsoleTestServer } from './helpers';

useConsoleTestServer();

const money = (amount: number) => ({ amount, currency: 'usd', formatted: `$${(amount / 100).toFixed(2)}` });
const inHours = (hours: number) => new Date(Date.now() + hours * 3600 * 1000).toISOString();
const ORDER = (n: number) => `8000000${n}-0000-4000-8000-000000000000`;

function dispute(n: number, extra: Record<string, unknown> = {}) {
  return {
    id: `du_1Dispute000${n}`,
    orderId: ORDER(n),
    order: { id: ORDER(n), customer: { email: `buyer${n}@example.com` } },
    amount: money(9900),
    reason: 'product_not_received',
    status: 'NEEDS_RESPONSE',
    isOpen: true,
    evidenceDueBy: inHours(24 * 6),
    isChargeRefundable: false,
    createdAt: '2026-12-01T08:00:00.000Z',
    updatedAt: '2026-12-01T08:00:00.000Z',
    ...extra,
  };
}

// As the server orders them: open first, soonest evidence deadline first; then the closed ones.
const rows = [
  dispute(1, { evidenceDueBy: inHours(-3), reason: 'fraudulent' }),
  dispute(2, { evidenceDueBy: inHours(10), status: 'WARNING_NEEDS_RESPONSE', amount: money(4900) }),
  dispute(3, { evidenceDueBy: inHours(24 * 6 + 5), status: 'UNDER_REVIEW' }),
  dispute(4, { status: 'WON', isOpen: false, evidenceDueBy: '2026-11-20T00:00:00.000Z' }),
];

const stripeMode = (mode = 'SANDBOX') => graphql.query('StripeMode', () => HttpResponse.json({ data: { stripeMode: mode } }));

function listing(filters: unknown[] = [], nodes = rows) {
  return graphql.query('Disputes', ({ variables }) => {
    filters.push(variables.filter);
    return HttpResponse.json({ data: { disputes: { nodes, pageInfo: pageInfo(false, null) } } });
  });
}

describe('Disputes screen', () => {
  it('is in the navigation', async () => {
    renderConsole('/', { handlers: [graphql.query('OpsOverview', () => HttpResponse.json({ errors: [{ message: 'down' }] }))] });
    const nav = await screen.findByRole('navigation', { name: 'Console sections' });
    expect(within(nav).getByRole('link', { name: 'Disputes' }).getAttribute('href')).toBe('/disputes');
  });

  it('lists disputes in the order the server gives (open first), with time left, amount, reason, status and the order', async () => {
    renderConsole('/disputes', { handlers: [stripeMode(), listing()] });
    const table = await screen.findByRole('table');
    const bodyRows = within(table).getAllByRole('row').slice(1);
    // In the server's order: each row's dispute link is named by that dispute's full id.
    expect(bodyRows).toHaveLength(rows.length);
    bodyRows.forEach((row, i) => expect(within(row).getByRole('link', { name: `Dispute ${rows[i]!.id} in Stripe's dashboard` })).toBeTruthy());
    const [pastDue, soon, later, closed] = bodyRows as [HTMLElement, HTMLElement, HTMLElement, HTMLElement];
    expect(within(pastDue).getByText(/^past due \(3 h \d+ min ago\)$/).className).toBe('due-urgent');
    expect(within(pastDue).getByText('Fraudulent')).toBeTruthy();
    expect(within(soon).getByText(/^(9 h 59 min|10 h 0 min) left$/).className).toBe('due-urgent');
    expect(within(soon).getByText('$49.00')).toBeTruthy();
    expect(within(soon).getByText('warning needs response')).toBeTruthy();
    expect(within(later).getByText(/^6 days 5 h left$|^6 days 4 h left$/).className).toBe('muted');
    expect(within(later).getByText('Product not received')).toBeTruthy();
    expect(within(closed).getByText('closed').className).toBe('muted');
    expect(within(closed).getByText('2026-11-20 00:00:00')).toBeTruthy();
    expect(within(closed).getByText('won')).toBeTruthy();
    expect(within(soon).getByRole('link', { name: `Order ${ORDER(2)}` }).getAttribute('href')).toBe(`/orders?open=${ORDER(2)}`);
    expect(within(soon).getByText('buyer2@example.com')).toBeTruthy();
  });

  it("links each dispute to Stripe's dashboard of the mode the server runs in, where evidence is submitted", async () => {
    renderConsole('/disputes', { handlers: [stripeMode('SANDBOX'), listing([], [dispute(1)])] });
    await waitFor(() =>
      expect(screen.getByRole('link', { name: "Dispute du_1Dispute0001 in Stripe's dashboard" }).getAttribute('href')).toBe('https://dashboard.stripe.com/test/disputes/du_1Dispute0001'),
    );
  });

  it('links to the live dashboard with a live key', async () => {
    renderConsole('/disputes', { handlers: [stripeMode('LIVE'), listing([], [dispute(1)])] });
    await waitFor(() =>
      expect(screen.getByRole('link', { name: "Dispute du_1Dispute0001 in Stripe's dashboard" }).getAttribute('href')).toBe('https://dashboard.stripe.com/disputes/du_1Dispute0001'),
    );
  });

  it('filters by status, and due=soon asks for open disputes due within 72 hours of opening the screen', async () => {
    const user = userEvent.setup();
    const filters: Array<{ status?: string; evidenceDueBefore?: string } | undefined> = [];
    const before = Date.now();
    renderConsole('/disputes?due=soon', { handlers: [stripeMode(), listing(filters)] });
    await screen.findByRole('table');
    const bound = new Date(filters[0]!.evidenceDueBefore!).getTime();
    expect(bound).toBeGreaterThanOrEqual(before + 72 * 3600 * 1000);
    expect(bound).toBeLessThanOrEqual(Date.now() + 72 * 3600 * 1000);
    expect((screen.getByLabelText('Evidence due') as HTMLSelectElement).value).toBe('soon');
    await user.selectOptions(screen.getByLabelText('Status'), 'NEEDS_RESPONSE');
    await waitFor(() => expect(filters.at(-1)).toEqual({ status: 'NEEDS_RESPONSE', evidenceDueBefore: filters[0]!.evidenceDueBefore }));
    expect(searchParam('status')).toBe('NEEDS_RESPONSE');
    await user.selectOptions(screen.getByLabelText('Evidence due'), '');
    await waitFor(() => expect(filters.at(-1)).toEqual({ status: 'NEEDS_RESPONSE' }));
    expect(searchParam('due')).toBeNull();
  });

  it('opens the dispute the URL names beside the list (search and the order timeline link there), and each row opens its own', async () => {
    const user = userEvent.setup();
    renderConsole(`/disputes?open=${rows[1]!.id}`, { handlers: [stripeMode(), listing()] });
    const panel = await screen.findByRole('complementary', { name: 'Dispute' });
    expect(await within(panel).findByText('$49.00')).toBeTruthy();
    expect(within(panel).getByText('warning needs response')).toBeTruthy();
    expect(within(panel).getByRole('link', { name: `Order ${ORDER(2)}` }).getAttribute('href')).toBe(`/orders/${ORDER(2)}`);
    expect(within(panel).getByRole('link', { name: "Respond in Stripe's dashboard ↗" }).getAttribute('href')).toBe(`https://dashboard.stripe.com/test/disputes/${rows[1]!.id}`);
    const selected = screen.getAllByRole('row').filter((row) => row.getAttribute('aria-selected') === 'true');
    expect(selected).toHaveLength(1);
    expect(within(selected[0]!).getByRole('link', { name: `Dispute ${rows[1]!.id} in Stripe's dashboard` })).toBeTruthy();
    // Another row's Details opens that one; Close leaves the list alone.
    await user.click(screen.getByRole('link', { name: `Details of dispute ${rows[3]!.id}` }));
    expect(searchParam('open')).toBe(rows[3]!.id);
    expect(await within(await screen.findByRole('complementary', { name: 'Dispute' })).findByText('won')).toBeTruthy();
    await user.click(screen.getByRole('link', { name: 'Close details' }));
    expect(searchParam('open')).toBeNull();
    expect(screen.queryByRole('complementary', { name: 'Dispute' })).toBeNull();
  });

  it('reads a dispute the loaded pages do not hold by its id (its order, found by search), and says when no dispute has it', async () => {
    const older = dispute(7, { amount: money(2500), status: 'LOST', isOpen: false });
    const searched: string[] = [];
    const search = graphql.query('Search', ({ variables }) => {
      searched.push(variables.query as string);
      const matches = variables.query === older.id ? [{ kind: 'DISPUTE', id: older.id, label: 'Dispute', route: `/disputes?open=${older.id}`, orderId: ORDER(7) }] : [];
      return HttpResponse.json({ data: { search: { query: variables.query, queryKind: 'STRIPE_ID', matches } } });
    });
    const ofOrder = graphql.query('DisputesOfOrder', ({ variables }) =>
      HttpResponse.json({ data: { order: variables.orderId === ORDER(7) ? { id: ORDER(7), disputes: [dispute(8), older] } : null } }),
    );
    const { unmount } = renderConsole(`/disputes?open=${older.id}`, { handlers: [stripeMode(), listing(), search, ofOrder] });
    const panel = await screen.findByRole('complementary', { name: 'Dispute' });
    expect(await within(panel).findByText('$25.00')).toBeTruthy();
    expect(within(panel).getByText('lost')).toBeTruthy();
    expect(within(panel).getByText('closed')).toBeTruthy();
    expect(searched).toEqual([older.id]);
    unmount();
    renderConsole('/disputes?open=du_1Unknown0000', { handlers: [stripeMode(), listing(), search, ofOrder] });
    expect(await screen.findByText('No dispute has the id du_1Unknown0000.')).toBeTruthy();
  });

  it('says so when there is no dispute', async () => {
    renderConsole('/disputes', { handlers: [stripeMode(), listing([], [])] });
    expect(await screen.findByText('No disputes: no payment has been disputed.')).toBeTruthy();
  });
});

describe("the Overview's dispute tiles", () => {
  it('show open disputes and those due within 72 hours, linking to the Disputes screen, never red (no alert is defined for them)', async () => {
    const user = userEvent.setup();
    const overview = {
      paymentsToday: 0, failureRate: 0, paymentsLast15Minutes: 0, failedPaymentsLast15Minutes: 0, syncFailureRate: 0,
      webhookBacklog: 0, webhookLagSeconds: null, webhookFailed: 0, makeFailing: 0, makeDead: 0, disputesOpen: 3, disputesDueSoon: 2, hourly: [], alerts: [],
    };
    renderConsole('/', { handlers: [graphql.query('OpsOverview', () => HttpResponse.json({ data: { opsOverview: overview } })), stripeMode(), listing()] });
    const tile = (label: string) => screen.getByText(label).closest('.tile') as HTMLElement;
    expect(await screen.findByText('Disputes open')).toBeTruthy();
    expect(within(tile('Disputes open')).getByText('3')).toBeTruthy();
    expect(within(tile('Disputes due soon')).getByText('2')).toBeTruthy();
    expect(within(tile('Disputes due soon')).getByText('open, evidence due within 72 hours')).toBeTruthy();
    expect(tile('Disputes open').className).toBe('tile');
    expect(tile('Disputes due soon').className).toBe('tile');
    expect(within(tile('Disputes open')).getByRole('link').getAttribute('href')).toBe('/disputes');
    await user.click(within(tile('Disputes due soon')).getByRole('link'));
    expect(await screen.findByRole('heading', { name: 'Disputes' })).toBeTruthy();
    expect(searchParam('due')).toBe('soon');
  });
});
