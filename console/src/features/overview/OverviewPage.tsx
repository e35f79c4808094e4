import { useQuery } from '@tanstack/react-query';
import { lazy, Suspense } from 'react';
import { Link } from 'react-router';
import { ErrorState, Loading } from '../../components/states';
import { formatDuration, formatPercent } from '../../lib/format';
import { opsOverviewQuery } from './queries';

// recharts is most of the console's weight: load it with the overview's chart only.
const HourlyChart = lazy(() => import('./HourlyChart').then((m) => ({ default: m.HourlyChart })));

const ALERT_TITLES: Record<string, string> = {
  SYNC_FAILURE_RATE: 'Sync failure rate over 5%',
  WEBHOOK_LAG: 'Webhook lag over 10 minutes',
};

export function OverviewPage() {
  const overview = useQuery(opsOverviewQuery);
  const data = overview.data;
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
                  <strong>{ALERT_TITLES[alert.code] ?? alert.code}</strong> {alert.message}
                </div>
              ))}
            </div>
          )}
          {data.alerts.length === 0 && (
            <p className="banner banner-good" role="status">
              No alert holds now.
            </p>
          )}
          <div className="tiles">
            <Tile label="Payments today" value={String(data.paymentsToday)} hint="succeeded since midnight UTC" to="/payment-logs" />
            <Tile label="Payment failure rate" value={formatPercent(data.failureRate)} hint="last 24 hours" bad={data.failureRate > 0.05} />
            <Tile label="Sync failure rate" value={formatPercent(data.syncFailureRate)} hint="orders changed in 24 h" bad={data.syncFailureRate > 0.05} to="/orders?syncState=FAILED" />
            <Tile label="Webhook backlog" value={String(data.webhookBacklog)} hint="events waiting" to="/webhook-events?status=RECEIVED" />
            {/* "none waiting" would wrap in the big figure: say "none" there and why below it. */}
            <Tile
              label="Webhook lag"
              value={data.webhookLagSeconds === null ? 'none' : formatDuration(data.webhookLagSeconds)}
              hint={data.webhookLagSeconds === null ? 'no event waiting' : 'oldest waiting event'}
              bad={(data.webhookLagSeconds ?? 0) > 600}
            />
            <Tile label="Make failing" value={String(data.makeFailing)} hint="pending after a failed attempt" bad={data.makeFailing > 0} to="/make-deliveries?status=PENDING" />
            <Tile label="Make dead" value={String(data.makeDead)} hint="to retry or replay" bad={data.makeDead > 0} to="/make-deliveries?status=DEAD" />
          </div>
          <h2>Last 24 hours</h2>
          <Suspense fallback={<Loading what="the chart" />}>
            <HourlyChart hourly={data.hourly} />
          </Suspense>
        </>
      )}
    </section>
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
