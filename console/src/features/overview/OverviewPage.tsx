import { useQuery } from '@tanstack/react-query';
import { lazy, Suspense } from 'react';
import { Link } from 'react-router';
import { ErrorState, Loading } from '../../components/states';
import { formatDateTime, formatDuration, formatPercent } from '../../lib/format';
import { disputeListUrl, DUE_SOON } from '../disputes/urls';
import { makeDeliveryListUrl } from '../makeDeliveries/urls';
import { orderListUrl } from '../orders/urls';
import { paymentLogsPath } from '../paymentLogs/urls';
import { ReconciliationOverview } from '../reconciliation/views/ReconciliationOverview';
import { webhookEventListUrl } from '../webhookEvents/urls';
import { type OpsAlertCode, opsOverviewQuery } from './queries';

// recharts is most of the console's weight: load it with the overview's chart only.
const HourlyChart = lazy(() => import('./HourlyChart').then((m) => ({ default: m.HourlyChart })));

export function OverviewPage() {
  const overview = useQuery(opsOverviewQuery);
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
          <div className="tiles">
            <Tile label="Payments today" value={String(data.paymentsToday)} hint="succeeded since midnight UTC" to={paymentLogsPath} />
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
          </div>
          <ReconciliationOverview />
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
