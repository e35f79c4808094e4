// The one definition of each alert condition of DESIGN.md decision 12: its threshold, the figures it
// is computed from, when it holds and what it says. The alert job (alertMonitor.ts), the GraphQL
// opsOverview (its alerts and, through them, the console's tiles and banner) all evaluate these, so
// that a tile is red exactly when the banner above it shows an alert and Sentry was told of it.
import type { Queryable } from '../platform/db/db';

export const SYNC_FAILURE_RATE_ALERT = 0.05;
export const WEBHOOK_LAG_ALERT_SECONDS = 600;
export const PAYMENT_FAILURE_RATE_ALERT = 0.05;
export const PAYMENT_FAILURE_WINDOW_MINUTES = 15;
/** Below this many outcomes in the window a rate says little (2 of 4 is not an outage). */
export const PAYMENT_FAILURE_MIN_PAYMENTS = 20;

export const ALERT_CODES = ['SYNC_FAILURE_RATE', 'WEBHOOK_LAG', 'PAYMENT_FAILURE_RATE', 'MAKE_DEAD', 'WEBHOOK_FAILED', 'ORPHANED_PAYMENTS', 'PAYMENT_FINDINGS', 'SHARE_PAID_ON_CLOSED_REQUEST'] as const;
export type AlertCode = (typeof ALERT_CODES)[number];

/** What the conditions are computed from, read in one query (alertFigures). */
export interface AlertFigures {
  /** Orders whose sync state changed in the last 24 hours, and those of them whose sync failed. */
  syncedOrders24h: number;
  syncFailedOrders24h: number;
  webhookBacklog: number;
  /** Seconds the oldest waiting Stripe event has waited; null when none waits. */
  webhookLagSeconds: number | null;
  /** Payment outcomes (payment.paid and payment.failed logs) in the last 15 minutes, and the failed ones. */
  payments15m: number;
  failedPayments15m: number;
  makeDead: number;
  webhookFailed: number;
  /**
   * Open orphaned payments (a PaymentIntent or Checkout Session without its order, or the reverse):
   * the open findings of reconciliation. null: not tracked (the alert is then not evaluated).
   */
  openOrphanedPayments: number | null;
  /** Payments that pay for nothing we fulfil (an amount mismatch, a duplicate) and still hold money: staff must refund them. */
  openPaymentFindings: number;
  /**
   * Payment request shares paid after their request was canceled or expired (logged
   * payment_request.share_paid_on_closed_request) whose order still holds the money: staff refund them.
   */
  sharesPaidOnClosedRequests: number;
}

export interface AlertDefinition {
  code: AlertCode;
  /** The headline, with the threshold: what the console's banner shows in bold. */
  title: string;
  /** true: holds; false: does not; null: cannot be evaluated (its figures are not tracked yet). */
  holds: (f: AlertFigures) => boolean | null;
  /** The sentence with the figures, for the banner, the log and Sentry. */
  message: (f: AlertFigures) => string;
  /** The figures behind it, for the log line and Sentry's extra data. */
  figures: (f: AlertFigures) => Record<string, number | null>;
}

export interface AlertEvaluation {
  code: AlertCode;
  title: string;
  holding: boolean;
  message: string;
  figures: Record<string, number | null>;
}

export const ratio = (part: number, whole: number) => (whole === 0 ? 0 : part / whole);
const percent = (value: number) => `${(value * 100).toFixed(value < 0.1 ? 1 : 0)}%`;
/** A threshold as people write it: 5%, not 5.0%. */
const limit = (value: number) => `${Math.round(value * 1000) / 10}%`;
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export const ALERTS: readonly AlertDefinition[] = [
  {
    code: 'SYNC_FAILURE_RATE',
    title: `Sync failure rate over ${limit(SYNC_FAILURE_RATE_ALERT)}`,
    holds: (f) => ratio(f.syncFailedOrders24h, f.syncedOrders24h) > SYNC_FAILURE_RATE_ALERT,
    message: (f) =>
      `${percent(ratio(f.syncFailedOrders24h, f.syncedOrders24h))} of the orders synced in the last 24 hours failed to sync (${f.syncFailedOrders24h} of ${f.syncedOrders24h}); the alert is over ${limit(SYNC_FAILURE_RATE_ALERT)}.`,
    figures: (f) => ({ syncFailedOrders24h: f.syncFailedOrders24h, syncedOrders24h: f.syncedOrders24h }),
  },
  {
    code: 'WEBHOOK_LAG',
    title: `Webhook lag over ${WEBHOOK_LAG_ALERT_SECONDS / 60} minutes`,
    holds: (f) => f.webhookLagSeconds !== null && f.webhookLagSeconds > WEBHOOK_LAG_ALERT_SECONDS,
    message: (f) =>
      `The oldest Stripe event waiting to be applied has waited ${Math.floor((f.webhookLagSeconds ?? 0) / 60)} minutes (${f.webhookBacklog} waiting); the alert is over ${WEBHOOK_LAG_ALERT_SECONDS / 60} minutes.`,
    figures: (f) => ({ webhookLagSeconds: f.webhookLagSeconds, webhookBacklog: f.webhookBacklog }),
  },
  {
    code: 'PAYMENT_FAILURE_RATE',
    title: `Payment failure rate over ${limit(PAYMENT_FAILURE_RATE_ALERT)} in ${PAYMENT_FAILURE_WINDOW_MINUTES} minutes`,
    holds: (f) => f.payments15m >= PAYMENT_FAILURE_MIN_PAYMENTS && ratio(f.failedPayments15m, f.payments15m) > PAYMENT_FAILURE_RATE_ALERT,
    message: (f) =>
      `${percent(ratio(f.failedPayments15m, f.payments15m))} of the payments in the last ${PAYMENT_FAILURE_WINDOW_MINUTES} minutes failed (${f.failedPayments15m} of ${f.payments15m}); the alert is over ${limit(PAYMENT_FAILURE_RATE_ALERT)} with at least ${PAYMENT_FAILURE_MIN_PAYMENTS} payments.`,
    figures: (f) => ({ failedPayments15m: f.failedPayments15m, payments15m: f.payments15m }),
  },
  {
    code: 'MAKE_DEAD',
    title: 'Make deliveries dead',
    holds: (f) => f.makeDead > 0,
    message: (f) => `${plural(f.makeDead, 'Make delivery', 'Make deliveries')} gave up and wait${f.makeDead === 1 ? 's' : ''} to be retried or replayed.`,
    figures: (f) => ({ makeDead: f.makeDead }),
  },
  {
    code: 'WEBHOOK_FAILED',
    title: 'Webhook events failed',
    holds: (f) => f.webhookFailed > 0,
    message: (f) => `${plural(f.webhookFailed, 'Stripe event')} could not be applied and wait${f.webhookFailed === 1 ? 's' : ''} to be replayed.`,
    figures: (f) => ({ webhookFailed: f.webhookFailed }),
  },
  {
    code: 'ORPHANED_PAYMENTS',
    title: 'Orphaned payments open',
    holds: (f) => (f.openOrphanedPayments === null ? null : f.openOrphanedPayments > 0),
    message: (f) => `${plural(f.openOrphanedPayments ?? 0, 'orphaned payment')} found by reconciliation ${f.openOrphanedPayments === 1 ? 'is' : 'are'} open.`,
    figures: (f) => ({ openOrphanedPayments: f.openOrphanedPayments }),
  },
  {
    code: 'PAYMENT_FINDINGS',
    title: 'Payments to refund: amount mismatches or duplicates',
    holds: (f) => f.openPaymentFindings > 0,
    message: (f) =>
      `${plural(f.openPaymentFindings, 'payment')} that pay${f.openPaymentFindings === 1 ? 's' : ''} for nothing we fulfil (not the order's price, or an order already paid) still hold${f.openPaymentFindings === 1 ? 's' : ''} the customer's money.`,
    figures: (f) => ({ openPaymentFindings: f.openPaymentFindings }),
  },
  {
    code: 'SHARE_PAID_ON_CLOSED_REQUEST',
    title: 'Payment request shares paid after the request closed',
    holds: (f) => f.sharesPaidOnClosedRequests > 0,
    message: (f) =>
      `${plural(f.sharesPaidOnClosedRequests, 'payment request share')} paid after ${f.sharesPaidOnClosedRequests === 1 ? 'its request was' : 'their requests were'} canceled or expired still hold${f.sharesPaidOnClosedRequests === 1 ? 's' : ''} the member's money: refund ${f.sharesPaidOnClosedRequests === 1 ? 'it' : 'them'} from the share's order.`,
    figures: (f) => ({ sharesPaidOnClosedRequests: f.sharesPaidOnClosedRequests }),
  },
];

/** Every alert that can be evaluated, holding or not; an alert whose figures are not tracked is left out. */
export function evaluateAlerts(f: AlertFigures): AlertEvaluation[] {
  const evaluations: AlertEvaluation[] = [];
  for (const alert of ALERTS) {
    const holds = alert.holds(f);
    if (holds === null) continue;
    evaluations.push({ code: alert.code, title: alert.title, holding: holds, message: alert.message(f), figures: alert.figures(f) });
  }
  return evaluations;
}

/** The figures of every condition, in one statement (one snapshot). */
export async function alertFigures(db: Queryable): Promise<AlertFigures> {
  const { rows } = await db.query<{
    synced_24h: number;
    sync_failed_24h: number;
    webhook_backlog: number;
    webhook_lag_seconds: number | null;
    payments_15m: number;
    failed_15m: number;
    make_dead: number;
    webhook_failed: number;
    payment_findings: number;
    shares_paid_on_closed: number;
  }>(
    `select (select count(*)::int from orders where sync_state is not null and updated_at >= now() - interval '24 hours') as synced_24h,
            (select count(*)::int from orders where sync_state = 'failed' and updated_at >= now() - interval '24 hours') as sync_failed_24h,
            (select count(*)::int from stripe_events where status = 'received') as webhook_backlog,
            (select floor(extract(epoch from now() - min(received_at)))::int from stripe_events where status = 'received') as webhook_lag_seconds,
            (select count(*)::int from payment_logs
              where event_type in ('payment.paid', 'payment.failed') and created_at >= now() - make_interval(mins => $1)) as payments_15m,
            (select count(*)::int from payment_logs
              where event_type = 'payment.failed' and created_at >= now() - make_interval(mins => $1)) as failed_15m,
            (select count(*)::int from make_deliveries where status = 'dead') as make_dead,
            (select count(*)::int from stripe_events where status = 'failed') as webhook_failed,
            (select count(*)::int from payments
              where finding is not null and status in ('succeeded', 'processing') and amount_refunded < amount) as payment_findings,
            (select count(distinct l.order_id)::int from payment_logs l join orders o on o.id = l.order_id
              where l.event_type = 'payment_request.share_paid_on_closed_request'
                and o.status in ('paid', 'partially_refunded', 'disputed')) as shares_paid_on_closed`,
    [PAYMENT_FAILURE_WINDOW_MINUTES],
  );
  const row = rows[0]!;
  return {
    syncedOrders24h: row.synced_24h,
    syncFailedOrders24h: row.sync_failed_24h,
    webhookBacklog: row.webhook_backlog,
    webhookLagSeconds: row.webhook_lag_seconds,
    payments15m: row.payments_15m,
    failedPayments15m: row.failed_15m,
    makeDead: row.make_dead,
    webhookFailed: row.webhook_failed,
    openPaymentFindings: row.payment_findings,
    sharesPaidOnClosedRequests: row.shares_paid_on_closed,
    openOrphanedPayments: await openOrphanedPayments(db),
  };
}

/** The orphaned-payments alert's figure: the open findings of reconciliation (server/reconcile/). */
export async function openOrphanedPayments(db: Queryable): Promise<number | null> {
  const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from reconciliation_findings where status = 'open'`);
  return rows[0]!.n;
}
