// @vitest-environment jsdom
// The overview: the numbers a support lead checks first, the alert banners, and the 24-hour chart.
import { screen, within } from '@testing-library/react';
import { graphql, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { renderConsole, useConsoleTestServer } from './helpers';

useConsoleTestServer();

const hourly = Array.from({ length: 24 }, (_, i) => ({ hour: new Date(Date.UTC(2026, 10, 21, 9 + i)).toISOString(), succeeded: i % 3, failed: i === 5 ? 2 : 0 }));

function overview(extra: Record<string, unknown> = {}) {
  return { paymentsToday: 17, failureRate: 0.125, syncFailureRate: 0.02, webhookBacklog: 3, webhookLagSeconds: 95, makeFailing: 1, makeDead: 2, hourly, alerts: [], ...extra };
}

describe('overview', () => {
  it('shows payments today, failure rates, webhook backlog and lag, Make failing and dead, and the chart', async () => {
    renderConsole('/', { handlers: [graphql.query('OpsOverview', () => HttpResponse.json({ data: { opsOverview: overview() } }))] });
    const tile = (label: string) => screen.getByText(label).closest('.tile') as HTMLElement;
    expect(await screen.findByText('Payments today')).toBeTruthy();
    expect(within(tile('Payments today')).getByText('17')).toBeTruthy();
    expect(within(tile('Payment failure rate')).getByText('12.5%')).toBeTruthy();
    expect(within(tile('Sync failure rate')).getByText('2.0%')).toBeTruthy();
    expect(within(tile('Webhook backlog')).getByText('3')).toBeTruthy();
    expect(within(tile('Webhook lag')).getByText('1 min 35 s')).toBeTruthy();
    expect(within(tile('Make dead')).getByText('2')).toBeTruthy();
    expect(within(tile('Make dead')).getByRole('link').getAttribute('href')).toBe('/make-deliveries?status=DEAD');
    expect(screen.getByText('No alert holds now.')).toBeTruthy();
    expect(await screen.findByText(/Payments per hour, last 24 hours \(UTC\): 26 in all/)).toBeTruthy();
  });

  it('shows each alert that holds as a banner', async () => {
    renderConsole('/', {
      handlers: [
        graphql.query('OpsOverview', () =>
          HttpResponse.json({
            data: {
              opsOverview: overview({
                syncFailureRate: 0.08,
                webhookLagSeconds: 900,
                alerts: [
                  { code: 'SYNC_FAILURE_RATE', message: '8% of orders changed in the last 24 hours failed to sync.' },
                  { code: 'WEBHOOK_LAG', message: 'The oldest waiting webhook event has waited 15 minutes.' },
                ],
              }),
            },
          }),
        ),
      ],
    });
    const alerts = await screen.findAllByRole('alert');
    expect(alerts.map((a) => a.textContent)).toEqual([
      'Sync failure rate over 5% 8% of orders changed in the last 24 hours failed to sync.',
      'Webhook lag over 10 minutes The oldest waiting webhook event has waited 15 minutes.',
    ]);
    expect(screen.queryByText('No alert holds now.')).toBeNull();
  });

  it('shows an error state when the overview cannot be loaded', async () => {
    renderConsole('/', { handlers: [graphql.query('OpsOverview', () => HttpResponse.json({ errors: [{ message: 'boom', extensions: { code: 'INTERNAL', requestId: 'r1' } }] }))] });
    expect(await screen.findByText(/Could not load the overview/)).toBeTruthy();
  });
});
