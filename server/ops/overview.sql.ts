// The numbers a support lead checks first (the console's Overview), and the alert conditions of
// DESIGN.md decision 12 computed from them: sync failure rate over 5%, webhook lag over 10 minutes.
// Payments are counted from payment_logs (`payment.paid` and `payment.failed`, written by the one
// SQL path every payment change takes), through its (event_type, created_at) index.
import type { Queryable } from '../db/db';

export const SYNC_FAILURE_RATE_ALERT = 0.05;
export const WEBHOOK_LAG_ALERT_SECONDS = 600;

export interface HourlyCounts {
  /** The hour's start. */
  hour: Date;
  succeeded: number;
  failed: number;
}

export interface OpsAlert {
  code: 'SYNC_FAILURE_RATE' | 'WEBHOOK_LAG';
  message: string;
}

export interface OverviewFigures {
  /** Payments that succeeded since midnight UTC. */
  paymentsToday: number;
  /** Failed over succeeded and failed payments in the last 24 hours (0 when there were none). */
  failureRate: number;
  /** Orders whose sync failed over orders with a sync state changed in the last 24 hours. */
  syncFailureRate: number;
  webhookBacklog: number;
  /** Seconds the oldest waiting webhook event has waited; null when none waits. */
  webhookLagSeconds: number | null;
  /** Make deliveries waiting for a retry after a failed attempt. */
  makeFailing: number;
  /** Make deliveries that gave up. */
  makeDead: number;
  /** 24 hours, oldest first, the current hour last. */
  hourly: HourlyCounts[];
  alerts: OpsAlert[];
}

export async function opsOverview(db: Queryable): Promise<OverviewFigures> {
  const { rows } = await db.query<{
    payments_today: number;
    paid_24h: number;
    failed_24h: number;
    synced_24h: number;
    sync_failed_24h: number;
    webhook_backlog: number;
    webhook_lag_seconds: number | null;
    make_failing: number;
    make_dead: number;
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
            (select count(*)::int from orders where sync_state is not null and updated_at >= now() - interval '24 hours') as synced_24h,
            (select count(*)::int from orders where sync_state = 'failed' and updated_at >= now() - interval '24 hours') as sync_failed_24h,
            (select count(*)::int from stripe_events where status = 'received') as webhook_backlog,
            (select floor(extract(epoch from now() - min(received_at)))::int from stripe_events where status = 'received') as webhook_lag_seconds,
            (select count(*)::int from make_deliveries where status = 'pending' and attempts > 0) as make_failing,
            (select count(*)::int from make_deliveries where status = 'dead') as make_dead,
            (select jsonb_agg(jsonb_build_object('hour', h.hour, 'succeeded', coalesce(c.succeeded, 0), 'failed', coalesce(c.failed, 0)) order by h.hour)
               from generate_series(date_trunc('hour', now()) - interval '23 hours', date_trunc('hour', now()), interval '1 hour') as h(hour)
               left join (select date_trunc('hour', created_at) as hour,
                                 count(*) filter (where event_type = 'payment.paid')::int as succeeded,
                                 count(*) filter (where event_type = 'payment.failed')::int as failed
                            from outcomes group by 1) as c on c.hour = h.hour) as hourly`,
  );
  const row = rows[0]!;
  const failureRate = ratio(row.failed_24h, row.paid_24h + row.failed_24h);
  const syncFailureRate = ratio(row.sync_failed_24h, row.synced_24h);
  const alerts: OpsAlert[] = [];
  if (syncFailureRate > SYNC_FAILURE_RATE_ALERT) {
    alerts.push({
      code: 'SYNC_FAILURE_RATE',
      message: `${percent(syncFailureRate)} of the orders synced in the last 24 hours failed to sync (${row.sync_failed_24h} of ${row.synced_24h}); the alert is over ${percent(SYNC_FAILURE_RATE_ALERT)}.`,
    });
  }
  if (row.webhook_lag_seconds !== null && row.webhook_lag_seconds > WEBHOOK_LAG_ALERT_SECONDS) {
    alerts.push({
      code: 'WEBHOOK_LAG',
      message: `The oldest Stripe event waiting to be applied has waited ${Math.floor(row.webhook_lag_seconds / 60)} minutes (${row.webhook_backlog} waiting); the alert is over ${WEBHOOK_LAG_ALERT_SECONDS / 60} minutes.`,
    });
  }
  return {
    paymentsToday: row.payments_today,
    failureRate,
    syncFailureRate,
    webhookBacklog: row.webhook_backlog,
    webhookLagSeconds: row.webhook_lag_seconds,
    makeFailing: row.make_failing,
    makeDead: row.make_dead,
    hourly: row.hourly.map((h) => ({ hour: new Date(h.hour), succeeded: h.succeeded, failed: h.failed })),
    alerts,
  };
}

const ratio = (part: number, whole: number) => (whole === 0 ? 0 : part / whole);
const percent = (value: number) => `${(value * 100).toFixed(value < 0.1 ? 1 : 0)}%`;
