import { useQuery } from '@tanstack/react-query';
import { Children, lazy, type ReactNode, Suspense } from 'react';
import { Link, useSearchParams } from 'react-router';
import { ErrorState, Loading } from '../../components/states';
import { formatDateTime, formatDuration, formatPercent } from '../../lib/format';
import { disputeListUrl, DUE_SOON } from '../disputes/urls';
import { makeDeliveryListUrl } from '../makeDeliveries/urls';
import { orderListUrl } from '../orders/urls';
import { paymentLogsPath } from '../paymentLogs/urls';
import { ReconciliationOverview } from '../reconciliation/views/ReconciliationOverview';
import { webhookEventListUrl } from '../webhookEvents/urls';
import { type OpsActivity, type OpsAlertCode, opsActivityQuery, opsOverviewQuery, type OpsPeriod } from './queries';

// recharts is most of the console's weight: load it with the overview's chart only.
const HourlyChart = lazy(() => import('./HourlyChart').then((m) => ({ default: m.HourlyChart })));

const PERIODS: Array<{ period: OpsPeriod; label: string; span: string }> = [
  { period: 'DAY', label: '24 hours', span: 'Last 24 hours' },
  { period: 'WEEK', label: '7 days', span: 'Last 7 days' },
  { period: 'MONTH', label: '30 days', span: 'Last 30 days' },
];

/** The chart's period, in the URL (?period=WEEK) so a link and a reload keep it; 24 hours when unset. */
function usePeriod(): [OpsPeriod, (period: OpsPeriod) => void] {
  const [params, setParams] = useSearchParams();
  const period = PERIODS.find((p) => p.period === params.get('period'))?.period ?? 'DAY';
  return [
    period,
    (next) =>
      setParams((current) => {
        const updated = new URLSearchParams(current);
        if (next === 'DAY') updated.delete('period');
        else updated.set('period', next);
        return updated;
      }),
  ];
}

export function OverviewPage() {
  const overview = useQuery(opsOverviewQuery);
  const [period, setPeriod] = usePeriod();
  const activity = useQuery(opsActivityQuery(period));
  const span = PERIODS.find((p) => p.period === period)!.span;
  const data = overview.data;
  // A tile is red when the server says its alert holds: the banner and the tiles share one definition
  // (server/ops/alerts.ts), so a figure never looks alarming while the banner says all is well.
  const holds = (code: OpsAlertCode) => data?.alerts.some((alert) => alert.code === code) ?? false;
  return (
    <section aria-labelledby="overview-heading">
      <h1 id="overview-heading">Overview</h1>
      {overview.isPending && <Loading what="the overview" />}
      {overview.isError && <ErrorState error={overview.error} what="the overview" onRetry={() => void overview.refetch()} />}
      {data && (
        <>
          {data.alerts.length > 0 && (
            <div className="alerts">
              {data.alerts.map((alert) => (
                <div key={alert.code} className="banner banner-bad" role="alert">
                  <strong>{alert.title}</strong> {alert.message}
                  {alert.since && <span className="muted"> Since {formatDateTime(alert.since)}.</span>}
                </div>
              ))}
            </div>
          )}
          {data.alerts.length === 0 && (
            <p className="banner banner-good" role="status">
              No alert holds now.
            </p>
          )}
          <Tiles>
            <Tile label="Payments today" value={String(data.paymentsToday)} hint="orders paid since midnight UTC" to={paymentLogsPath} />
            <Tile
              label="Payment failure rate"
              value={formatPercent(data.failureRate)}
              hint={`last 24 hours; last 15 min: ${data.failedPaymentsLast15Minutes} of ${data.paymentsLast15Minutes} failed`}
              bad={holds('PAYMENT_FAILURE_RATE')}
            />
            <Tile label="Sync failure rate" value={formatPercent(data.syncFailureRate)} hint="orders changed in 24 h" bad={holds('SYNC_FAILURE_RATE')} to={orderListUrl({ syncState: 'FAILED' })} />
            <Tile label="Webhook backlog" value={String(data.webhookBacklog)} hint="events waiting" to={webhookEventListUrl({ status: 'RECEIVED' })} />
            {/* "none waiting" would wrap in the big figure: say "none" there and why below it. */}
            <Tile
              label="Webhook lag"
              value={data.webhookLagSeconds === null ? 'none' : formatDuration(data.webhookLagSeconds)}
              hint={data.webhookLagSeconds === null ? 'no event waiting' : 'oldest waiting event'}
              bad={holds('WEBHOOK_LAG')}
            />
            <Tile label="Webhook failed" value={String(data.webhookFailed)} hint="events to replay" bad={holds('WEBHOOK_FAILED')} to={webhookEventListUrl({ status: 'FAILED' })} />
            {/* Retrying is the outbox doing its job, not an alert: this tile is never red. */}
            <Tile label="Make failing" value={String(data.makeFailing)} hint="pending after a failed attempt" to={makeDeliveryListUrl({ status: 'PENDING' })} />
            <Tile label="Make dead" value={String(data.makeDead)} hint="to retry or replay" bad={holds('MAKE_DEAD')} to={makeDeliveryListUrl({ status: 'DEAD' })} />
            {/* No alert is defined for disputes, so these tiles are never red; the screen highlights what is due. */}
            <Tile label="Disputes open" value={String(data.disputesOpen)} hint="evidence is submitted in Stripe" to={disputeListUrl()} />
            <Tile label="Disputes due soon" value={String(data.disputesDueSoon)} hint="open, evidence due within 72 hours" to={disputeListUrl({ due: DUE_SOON })} />
          </Tiles>
          <div className="period-head">
            <h2 id="period-heading">{span}</h2>
            <div className="period-switch" role="group" aria-label="Period">
              {PERIODS.map((p) => (
                <button key={p.period} type="button" aria-pressed={p.period === period} onClick={() => setPeriod(p.period)}>
                  {p.label}
                </button>
              ))}
            </div>
          </div>
          {/* 24 hours come with the figures (the same counts as the failure rate); 7 and 30 days with the revenue. */}
          {period === 'DAY' ? (
            <Suspense fallback={<Loading what="the chart" />}>
              <HourlyChart buckets={data.hourly.map((h) => ({ start: h.hour, succeeded: h.succeeded, failed: h.failed }))} period="DAY" />
            </Suspense>
          ) : activity.data ? (
            <Suspense fallback={<Loading what="the chart" />}>
              <HourlyChart buckets={activity.data.buckets} period={period} />
            </Suspense>
          ) : null}
          <h3>Revenue by track</h3>
          <p className="muted">
            Gross: orders paid in the period and every later subscription invoice paid in it (switches, renewals), on the subscription's current track. Refunded: refunds that succeeded in the
            period.
          </p>
          {activity.isPending && <Loading what="the revenue" />}
          {activity.isError && <ErrorState error={activity.error} what="the revenue" onRetry={() => void activity.refetch()} />}
          {activity.data && <RevenueTable activity={activity.data} span={span.toLowerCase()} />}
          <ReconciliationOverview />
        </>
      )}
    </section>
  );
}

/**
 * The tiles' grid: as many columns as fit (up to 5), but never a count that leaves one tile alone on
 * the last row (10 tiles in 3 columns would): the CSS reads --tile-cols-* per width.
 */
function Tiles({ children }: { children: ReactNode }) {
  const count = Children.toArray(children).length;
  const style = { '--tile-cols-wide': columnsFor(count, 5), '--tile-cols-mid': columnsFor(count, 4), '--tile-cols-narrow': columnsFor(count, 2) } as React.CSSProperties;
  return (
    <div className="tiles tiles-balanced" style={style}>
      {children}
    </div>
  );
}

/** The most columns, at most `max`, whose last row holds more than one tile (or is full). */
export function columnsFor(count: number, max: number): number {
  if (count <= max) return Math.max(count, 1);
  for (let columns = max; columns > 1; columns--) if (count % columns !== 1) return columns;
  return 1;
}

/** Gross, refunded and net per track in the period, one row per track and currency. */
function RevenueTable({ activity, span }: { activity: OpsActivity; span: string }) {
  if (activity.revenueByTrack.length === 0) return <p className="state">No payments or refunds in the {span}.</p>;
  return (
    <div className="table-wrap">
      <table className="revenue">
        <caption className="visually-hidden">Revenue by track, {span}</caption>
        <thead>
          <tr>
            <th scope="col">Track</th>
            <th scope="col" className="num">Gross</th>
            <th scope="col" className="num">Refunded</th>
            <th scope="col" className="num">Net</th>
          </tr>
        </thead>
        <tbody>
          {activity.revenueByTrack.map((row) => (
            <tr key={`${row.track}-${row.gross.currency}`}>
              <th scope="row">{row.trackName}</th>
              <td className="num">{row.gross.formatted}</td>
              <td className="num">{row.refunded.formatted}</td>
              <td className="num">{row.net.formatted}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Tile({ label, value, hint, bad, to }: { label: string; value: string; hint: string; bad?: boolean; to?: string }) {
  const body = (
    <>
      <span className="tile-label">{label}</span>
      <span className="tile-value">{value}</span>
      <span className="tile-hint">{hint}</span>
    </>
  );
  return (
    <div className={`tile${bad ? ' tile-bad' : ''}`}>
      {to ? (
        <Link to={to} className="tile-link">
          {body}
        </Link>
      ) : (
        body
      )}
    </div>
  );
}
