// The numbers a support lead checks first (the console's Overview), and the alerts that hold now.
// The alert conditions and the figures they are computed from are defined once, in alerts.ts, and the
// Overview shows those very figures: its tiles and banner cannot disagree with the alert job.
// Payments are counted from payment_logs (`payment.paid` and `payment.failed`, written by the one
// SQL path every payment change takes), through its (event_type, created_at) index.
import type { MoneyValue } from '../catalog/money';
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

export type OpsPeriod = 'DAY' | 'WEEK' | 'MONTH';

/** Each period's buckets: how many, of which unit. The window ends with the current hour or UTC day. */
const PERIODS: Record<OpsPeriod, { unit: 'hour' | 'day'; count: number }> = {
  DAY: { unit: 'hour', count: 24 },
  WEEK: { unit: 'day', count: 7 },
  MONTH: { unit: 'day', count: 30 },
};

export interface PaymentBucketRow {
  start: Date;
  succeeded: number;
  failed: number;
}

export interface TrackRevenueRow {
  track: string;
  trackName: string;
  gross: MoneyValue;
  refunded: MoneyValue;
  net: MoneyValue;
}

export interface ActivityFigures {
  period: OpsPeriod;
  buckets: PaymentBucketRow[];
  revenueByTrack: TrackRevenueRow[];
}

/**
 * The Overview's chart and revenue by track for a period. Payments are the payment log's outcomes (as
 * opsOverview's hourly counts): orders' payments, a subscription's first invoice among them, not its
 * later invoices. Gross is the amount of each order paid in the period, counted once however many
 * payment.paid rows it has, plus every subscription invoice paid in the period after the first (a
 * switch invoiced at once, a renewal), on the track of the price it billed (the subscription's price
 * for a row recorded without one); refunded is the
 * refunds that succeeded in the period (all of them orders': invoices after the first are not refunded
 * through us).
 */
export async function opsActivity(db: Queryable, period: OpsPeriod): Promise<ActivityFigures> {
  const spec = PERIODS[period];
  if (!spec) throw new Error(`unknown period ${String(period)}`);
  // The window's first bucket: the current hour or UTC day, less count - 1 units.
  const first = `date_trunc('${spec.unit}', now() at time zone 'UTC') at time zone 'UTC' - interval '${spec.count - 1} ${spec.unit}s'`;
  const { rows } = await db.query<{
    buckets: Array<{ start: string; succeeded: number; failed: number }>;
    revenue: Array<{ track: string; track_name: string; currency: string; gross: string | number; refunded: string | number }> | null;
  }>(
    `with outcomes as (
       select event_type, order_id, created_at from payment_logs
        where event_type in ('payment.paid', 'payment.failed') and created_at >= ${first}
     ),
     gross as (
       select o.product_id, o.currency, sum(o.amount) as amount
         from orders o where o.id in (select order_id from outcomes where event_type = 'payment.paid' and order_id is not null)
        group by 1, 2
     ),
     -- Every paid subscription invoice, by when it was paid, on the track of the price it billed
     -- (20261207003600: a renewal paid before a switch stays on the old track), or for a row without one
     -- (recorded before, or no line named a price) of the subscription's price now; except the one that
     -- paid the subscription's order (its first; 20261207001900): that payment is counted above, as its
     -- order's amount, once the order has a payment.paid row. A first invoice whose order is not paid
     -- (an amount mismatch, or no order of ours) counts here instead.
     invoiced as (
       select p.product_id, i.currency, sum(i.amount_paid) as amount
         from subscription_invoices i
         join subscriptions s on s.id = i.subscription_id
         join stripe_prices sp on sp.stripe_price_id = coalesce(i.stripe_price_id, s.stripe_price_id)
         join prices p on p.id = sp.price_id
        where i.status = 'paid' and i.paid_at >= ${first}
          and not (s.order_id is not null
                   and i.id = (select f.id from subscription_invoices f where f.subscription_id = i.subscription_id order by f.stripe_created, f.seq limit 1)
                   and exists (select 1 from payment_logs l where l.order_id = s.order_id and l.event_type = 'payment.paid'))
        group by 1, 2
     ),
     earned as (
       select product_id, currency, sum(amount) as amount from (select * from gross union all select * from invoiced) as x group by 1, 2
     ),
     refunded as (
       select o.product_id, r.currency, sum(r.amount) as amount
         from refunds r join orders o on o.id = r.order_id
        where r.status = 'succeeded' and r.updated_at >= ${first}
        group by 1, 2
     )
     select (select jsonb_agg(jsonb_build_object('start', b.start, 'succeeded', coalesce(c.succeeded, 0), 'failed', coalesce(c.failed, 0)) order by b.start)
               from generate_series(${first}, ${first} + interval '${spec.count - 1} ${spec.unit}s', interval '1 ${spec.unit}') as b(start)
               left join (select date_trunc('${spec.unit}', created_at at time zone 'UTC') at time zone 'UTC' as start,
                                 count(*) filter (where event_type = 'payment.paid')::int as succeeded,
                                 count(*) filter (where event_type = 'payment.failed')::int as failed
                            from outcomes group by 1) as c on c.start = b.start) as buckets,
            (select jsonb_agg(jsonb_build_object('track', t.product_id, 'track_name', p.name, 'currency', t.currency, 'gross', t.gross, 'refunded', t.refunded)
                              order by t.gross desc, t.product_id, t.currency)
               from (select coalesce(g.product_id, r.product_id) as product_id, coalesce(g.currency, r.currency) as currency,
                            coalesce(g.amount, 0) as gross, coalesce(r.amount, 0) as refunded
                       from earned g full join refunded r on r.product_id = g.product_id and r.currency = g.currency) as t
               join products p on p.id = t.product_id) as revenue`,
  );
  const row = rows[0]!;
  return {
    period,
    buckets: row.buckets.map((b) => ({ start: new Date(b.start), succeeded: b.succeeded, failed: b.failed })),
    revenueByTrack: (row.revenue ?? []).map((r) => {
      const gross = Number(r.gross);
      const refunded = Number(r.refunded);
      return {
        track: r.track,
        trackName: r.track_name,
        gross: { amount: gross, currency: r.currency },
        refunded: { amount: refunded, currency: r.currency },
        net: { amount: gross - refunded, currency: r.currency },
      };
    }),
  };
}
