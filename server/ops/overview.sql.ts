// The numbers a support lead checks first (the console's Overview), and the alerts that hold now.
// The alert conditions and the figures they are computed from are defined once, in alerts.ts, and the
// Overview shows those very figures: its tiles and banner cannot disagree with the alert job.
// Payments are counted from payment_logs (`payment.paid` and `payment.failed`, written by the one
// SQL path every payment change takes), through its (event_type, created_at) index.
import { disputeCounts } from '../disputes/read.sql';
import type { Queryable } from '../platform/db/db';
import { type AlertCode, alertFigures, evaluateAlerts, ratio } from './alerts';

export interface HourlyCounts {
  /** The hour's start. */
  hour: Date;
  succeeded: number;
  failed: number;
}

export interface HoldingAlert {
  code: AlertCode;
  title: string;
  message: string;
  /** When the alert job recorded its onset; null when no job has seen it hold yet. */
  since: Date | null;
}

export interface OverviewFigures {
  /** Payments that succeeded since midnight UTC. */
  paymentsToday: number;
  /** Failed over succeeded and failed payments in the last 24 hours (0 when there were none). */
  failureRate: number;
  /** Payment outcomes in the payment failure alert's window (15 minutes), and the failed ones. */
  paymentsLast15Minutes: number;
  failedPaymentsLast15Minutes: number;
  /** Orders whose sync failed over orders with a sync state changed in the last 24 hours. */
  syncFailureRate: number;
  webhookBacklog: number;
  /** Seconds the oldest waiting webhook event has waited; null when none waits. */
  webhookLagSeconds: number | null;
  /** Stripe events that could not be applied. */
  webhookFailed: number;
  /** Make deliveries waiting for a retry after a failed attempt. */
  makeFailing: number;
  /** Make deliveries that gave up. */
  makeDead: number;
  /** Disputes still open (a response needed, or under review). */
  disputesOpen: number;
  /** Open disputes whose evidence is due within 72 hours and not yet past. */
  disputesDueSoon: number;
  /** 24 hours, oldest first, the current hour last. */
  hourly: HourlyCounts[];
  /** The alerts that hold now, in the order of their definitions. */
  alerts: HoldingAlert[];
}

export async function opsOverview(db: Queryable): Promise<OverviewFigures> {
  const { rows } = await db.query<{
    payments_today: number;
    paid_24h: number;
    failed_24h: number;
    make_failing: number;
    hourly: Array<{ hour: string; succeeded: number; failed: number }>;
  }>(
    `with outcomes as (
       select event_type, created_at from payment_logs
        where event_type in ('payment.paid', 'payment.failed') and created_at >= date_trunc('hour', now()) - interval '23 hours'
     )
     select (select count(*)::int from payment_logs
              where event_type = 'payment.paid' and created_at >= date_trunc('day', now() at time zone 'UTC') at time zone 'UTC') as payments_today,
            (select count(*)::int from outcomes where event_type = 'payment.paid' and created_at >= now() - interval '24 hours') as paid_24h,
            (select count(*)::int from outcomes where event_type = 'payment.failed' and created_at >= now() - interval '24 hours') as failed_24h,
            (select count(*)::int from make_deliveries where status = 'pending' and attempts > 0) as make_failing,
            (select jsonb_agg(jsonb_build_object('hour', h.hour, 'succeeded', coalesce(c.succeeded, 0), 'failed', coalesce(c.failed, 0)) order by h.hour)
               from generate_series(date_trunc('hour', now()) - interval '23 hours', date_trunc('hour', now()), interval '1 hour') as h(hour)
               left join (select date_trunc('hour', created_at) as hour,
                                 count(*) filter (where event_type = 'payment.paid')::int as succeeded,
                                 count(*) filter (where event_type = 'payment.failed')::int as failed
                            from outcomes group by 1) as c on c.hour = h.hour) as hourly`,
  );
  const row = rows[0]!;
  const figures = await alertFigures(db);
  const disputes = await disputeCounts(db);
  const holding = evaluateAlerts(figures).filter((a) => a.holding);
  // The onsets the alert job recorded, for "since when"; the list itself is evaluated now, so that it
  // is current even where no process runs the jobs (JOBS_ENABLED=false everywhere) or between runs.
  const onsets = holding.length === 0 ? [] : (await db.query<{ code: string; since: Date }>('select code, since from ops_alerts where holding')).rows;
  const since = new Map(onsets.map((o) => [o.code, new Date(o.since)]));
  return {
    paymentsToday: row.payments_today,
    failureRate: ratio(row.failed_24h, row.paid_24h + row.failed_24h),
    paymentsLast15Minutes: figures.payments15m,
    failedPaymentsLast15Minutes: figures.failedPayments15m,
    syncFailureRate: ratio(figures.syncFailedOrders24h, figures.syncedOrders24h),
    webhookBacklog: figures.webhookBacklog,
    webhookLagSeconds: figures.webhookLagSeconds,
    webhookFailed: figures.webhookFailed,
    makeFailing: row.make_failing,
    makeDead: figures.makeDead,
    disputesOpen: disputes.open,
    disputesDueSoon: disputes.dueSoon,
    hourly: row.hourly.map((h) => ({ hour: new Date(h.hour), succeeded: h.succeeded, failed: h.failed })),
    alerts: holding.map((a) => ({ code: a.code, title: a.title, message: a.message, since: since.get(a.code) ?? null })),
  };
}
