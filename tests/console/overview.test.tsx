// @vitest-environment jsdom
// The overview: the numbers a support lead checks first, the alert banners, and the 24-hour chart. The
// alerts come from the server, which alone defines them: the tiles are red for those, and only those.
import { screen, within } from '@testing-library/react';
import { graphql, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { renderConsole, useConsoleTestServer } from './helpers';

useConsoleTestServer();

const hourly = Array.from({ length: 24 }, (_, i) => ({ hour: new Date(Date.UTC(2026, 10, 21, 9 + i)).toISOString(), succeeded: i % 3, failed: i === 5 ? 2 : 0 }));

function overview(extra: Record<string, unknown> = {}) {
  return {
    paymentsToday: 17,
    failureRate: 0.125,
    paymentsLast15Minutes: 4,
    failedPaymentsLast15Minutes: 1,
    syncFailureRate: 0.02,
    webhookBacklog: 3,
    webhookLagSeconds: 95,
    webhookFailed: 0,
    makeFailing: 1,
    makeDead: 2,
    disputesOpen: 0,
    disputesDueSoon: 0,
    hourly,
    alerts: [],
    ...extra,
  };
}

describe('overview', () => {
  it('shows payments today, failure rates, webhook backlog and lag, Make failing and dead, and the chart', async () => {
    renderConsole('/', { handlers: [graphql.query('OpsOverview', () => HttpResponse.json({ data: { opsOverview: overview() } }))] });
    const tile = (label: string) => screen.getByText(label).closest('.tile') as HTMLElement;
    expect(await screen.findByText('Payments today')).toBeTruthy();
    expect(within(tile('Payments today')).getByText('17')).toBeTruthy();
    expect(within(tile('Payment failure rate')).getByText('12.5%')).toBeTruthy();
    expect(within(tile('Payment failure rate')).getByText('last 24 hours; last 15 min: 1 of 4 failed')).toBeTruthy();
    expect(within(tile('Webhook failed')).getByRole('link').getAttribute('href')).toBe('/webhook-events?status=FAILED');
    expect(within(tile('Sync failure rate')).getByText('2.0%')).toBeTruthy();
    expect(within(tile('Webhook backlog')).getByText('3')).toBeTruthy();
    expect(within(tile('Webhook lag')).getByText('1 min 35 s')).toBeTruthy();
    expect(within(tile('Make dead')).getByText('2')).toBeTruthy();
    expect(within(tile('Make dead')).getByRole('link').getAttribute('href')).toBe('/make-deliveries?status=DEAD');
    expect(screen.getByText('No alert holds now.')).toBeTruthy();
    expect(await screen.findByText(/Payments per hour, last 24 hours \(UTC\): 26 in all/)).toBeTruthy();
  });

  it('shows each alert that holds as a banner, with the title and figures the server gives and its onset', async () => {
    renderConsole('/', {
      handlers: [
        graphql.query('OpsOverview', () =>
          HttpResponse.json({
            data: {
              opsOverview: overview({
                syncFailureRate: 0.08,
                webhookLagSeconds: 900,
                alerts: [
                  { code: 'SYNC_FAILURE_RATE', title: 'Sync failure rate over 5%', message: '8% of orders changed in the last 24 hours failed to sync.', since: '2026-11-22T09:01:00.000Z' },
                  { code: 'WEBHOOK_LAG', title: 'Webhook lag over 10 minutes', message: 'The oldest waiting webhook event has waited 15 minutes.', since: null },
                ],
              }),
            },
          }),
        ),
      ],
    });
    const alerts = await screen.findAllByRole('alert');
    expect(alerts.map((a) => a.textContent)).toEqual([
      'Sync failure rate over 5% 8% of orders changed in the last 24 hours failed to sync. Since 2026-11-22 09:01:00 UTC.',
      'Webhook lag over 10 minutes The oldest waiting webhook event has waited 15 minutes.',
    ]);
    expect(screen.queryByText('No alert holds now.')).toBeNull();
  });

  // Issue 14, defect 9c: a 50% failure rate of 2 payments was red beside "No alert holds now".
  it('colours no tile while no alert holds, however high a figure looks', async () => {
    renderConsole('/', {
      handlers: [
        graphql.query('OpsOverview', () =>
          HttpResponse.json({ data: { opsOverview: overview({ failureRate: 0.5, paymentsLast15Minutes: 2, failedPaymentsLast15Minutes: 1, syncFailureRate: 0.5, webhookLagSeconds: 3600, makeFailing: 4 }) } }),
        ),
      ],
    });
    expect(await screen.findByText('No alert holds now.')).toBeTruthy();
    expect(document.querySelectorAll('.tile-bad')).toHaveLength(0);
  });

  it('colours the tile of each alert the server says holds, and no other', async () => {
    const alert = (code: string) => ({ code, title: code, message: `${code} holds.`, since: null });
    renderConsole('/', {
      handlers: [
        graphql.query('OpsOverview', () =>
          HttpResponse.json({
            data: { opsOverview: overview({ webhookFailed: 1, alerts: ['PAYMENT_FAILURE_RATE', 'SYNC_FAILURE_RATE', 'WEBHOOK_LAG', 'WEBHOOK_FAILED', 'MAKE_DEAD'].map(alert) }) },
          }),
        ),
      ],
    });
    await screen.findAllByRole('alert');
    const red = [...document.querySelectorAll('.tile-bad .tile-label')].map((label) => label.textContent);
    expect(red).toEqual(['Payment failure rate', 'Sync failure rate', 'Webhook lag', 'Webhook failed', 'Make dead']);
  });

  it('shows an error state when the overview cannot be loaded', async () => {
    renderConsole('/', { handlers: [graphql.query('OpsOverview', () => HttpResponse.json({ errors: [{ message: 'boom', extensions: { code: 'INTERNAL', requestId: 'r1' } }] }))] });
    expect(await screen.findByText(/Could not load the overview/)).toBeTruthy();
  });
});

describe('overview: period, revenue by track, tiles', () => {
  it('switches the chart to 7 and 30 days (kept in the URL) and shows gross, refunded and net by track for the period', async () => {
    const { default: userEvent } = await import('@testing-library/user-event');
    const user = userEvent.setup();
    const periods: unknown[] = [];
    const money = (amount: number) => ({ amount, currency: 'usd', formatted: `$${(amount / 100).toFixed(2)}` });
    renderConsole('/', {
      handlers: [
        graphql.query('OpsOverview', () => HttpResponse.json({ data: { opsOverview: overview() } })),
        graphql.query('OpsActivity', ({ variables }) => {
          periods.push(variables.period);
          const days = variables.period === 'WEEK' ? 7 : variables.period === 'MONTH' ? 30 : 24;
          const buckets = Array.from({ length: days }, (_, i) => ({ start: new Date(Date.UTC(2026, 10, 1 + i)).toISOString(), succeeded: 1, failed: 0 }));
          const revenueByTrack = [{ track: 'business_plan_builder', trackName: 'Business Plan Builder', gross: money(19800), refunded: money(2000), net: money(17800) }];
          return HttpResponse.json({ data: { opsActivity: { period: variables.period, buckets, revenueByTrack } } });
        }),
      ],
    });
    const row = await screen.findByRole('row', { name: /Business Plan Builder/ });
    expect(within(row).getAllByRole('cell').map((c) => c.textContent)).toEqual(['$198.00', '$20.00', '$178.00']);
    expect(screen.getByRole('button', { name: '24 hours' }).getAttribute('aria-pressed')).toBe('true');
    await user.click(screen.getByRole('button', { name: '7 days' }));
    expect(await screen.findByText(/Payments per day, last 7 days \(UTC\): 7 in all/)).toBeTruthy();
    expect(screen.getByRole('heading', { name: 'Last 7 days' })).toBeTruthy();
    expect(new URLSearchParams(window.location.search).get('period')).toBe('WEEK');
    await user.click(screen.getByRole('button', { name: '30 days' }));
    expect(await screen.findByText(/Payments per day, last 30 days \(UTC\): 30 in all/)).toBeTruthy();
    expect(periods).toEqual(expect.arrayContaining(['DAY', 'WEEK', 'MONTH']));
  });

  it('never leaves one tile alone on a row: the column counts skip those that would', async () => {
    const { columnsFor } = await import('../../console/src/features/overview/OverviewPage');
    // The Overview's 10 tiles: 5 (two full rows), 4 (4, 4, 2), never 3 (3, 3, 3, 1), 2 on a phone.
    expect([columnsFor(10, 5), columnsFor(10, 4), columnsFor(10, 3), columnsFor(10, 2)]).toEqual([5, 4, 2, 2]);
    for (let count = 2; count <= 20; count++) {
      for (let max = 2; max <= 6; max++) expect(count % columnsFor(count, max), `${count} tiles, up to ${max} columns`).not.toBe(1);
    }
    renderConsole('/', { handlers: [graphql.query('OpsOverview', () => HttpResponse.json({ data: { opsOverview: overview() } }))] });
    await screen.findByText('Payments today');
    const grid = document.querySelector('.tiles') as HTMLElement;
    expect([grid.style.getPropertyValue('--tile-cols-wide'), grid.style.getPropertyValue('--tile-cols-mid'), grid.style.getPropertyValue('--tile-cols-narrow')]).toEqual(['5', '4', '2']);
  });
});
