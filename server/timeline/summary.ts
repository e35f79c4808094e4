// A timeline row in words: what happened, who or what did it, what it is about and where the console
// shows it. Each source's fields are those timeline.sql.ts puts in `data`.
import { formatMoney } from '../catalog/money';
import type { TimelineRow, TimelineSource } from './timeline.sql';

export type ActorKind = 'STAFF' | 'CUSTOMER' | 'API_KEY' | 'CLI' | 'STRIPE' | 'MAKE' | 'SYSTEM';

export interface TimelineEntryValue {
  id: string;
  at: string;
  kind: TimelineSource;
  summary: string;
  status: string | null;
  amount: { amount: number; currency: string } | null;
  actor: { kind: ActorKind; name: string | null };
  subjectId: string | null;
  link: { route: string | null; stripeObjectId: string | null };
}

type Data = Record<string, unknown>;
const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);
const moneyOf = (data: Data) => {
  const amount = data.amount;
  const currency = text(data.currency);
  if (amount === null || amount === undefined || currency === null) return null;
  return { amount: Number(amount), currency };
};
/**
 * What a payment log row is about in money: a refund's or a dispute's own amount (the row's amount is
 * the order's, as payment_log_for_order writes every row), else the order's.
 */
function paymentLogAmount(data: Data) {
  const own = data.refund_amount ?? data.dispute_amount;
  const order = moneyOf(data);
  if (own === null || own === undefined || order === null) return order;
  return { amount: Number(own), currency: order.currency };
}
const inWords = (money: { amount: number; currency: string } | null) => (money ? ` of ${formatMoney(money)}` : '');
const spaced = (value: string) => value.replaceAll('_', ' ');

/**
 * The payment log's and audit log's actor texts: staff:<id>, customer, cli:<user>@<host>, janitor …
 * A staff member is named by `name` (their email, as the audit row recorded it) or not at all: a bare
 * Supabase user id says nothing to support staff.
 */
export function actorOf(actor: string | null, fallback: ActorKind = 'SYSTEM', name: string | null = null): { kind: ActorKind; name: string | null } {
  if (actor === null) return { kind: fallback, name: null };
  if (actor === 'staff' || actor.startsWith('staff:')) return { kind: 'STAFF', name };
  if (actor.startsWith('cli:')) return { kind: 'CLI', name: actor };
  if (actor === 'customer' || actor.startsWith('customer:')) return { kind: 'CUSTOMER', name: name ?? (actor.startsWith('customer:') ? actor.slice(9) : null) };
  if (actor === 'storefront' || actor.startsWith('api_key:')) return { kind: 'API_KEY', name: name ?? (actor.startsWith('api_key:') ? actor.slice(8) : actor) };
  if (actor === 'webhook' || actor === 'stripe' || actor.startsWith('stripe:')) return { kind: 'STRIPE', name: null };
  return { kind: 'SYSTEM', name: actor };
}

/** Who acted, in words for a summary: "ada@shop.test", "a staff member", "API key Partner shop" … */
export function actorInWords(actor: { kind: ActorKind; name: string | null }): string {
  switch (actor.kind) {
    case 'STAFF':
      return actor.name ?? 'a staff member';
    case 'CUSTOMER':
      return 'the customer';
    case 'API_KEY':
      return actor.name ? `API key ${actor.name}` : 'an API key';
    case 'CLI':
      return actor.name ? `${actor.name} at the admin CLI` : 'the admin CLI';
    case 'STRIPE':
      return 'Stripe';
    case 'MAKE':
      return 'Make';
    case 'SYSTEM':
      return 'this server';
  }
}

/** The audit log's actions on an order and what hangs off it, in words; others are spelled out. */
const AUDIT_ACTION_WORDS: Record<string, string> = {
  'refund.create': 'Refund',
  'reconciliation.sync_order': 'Sync with Stripe',
  'reconciliation.resolve_finding': 'Reconciliation finding resolved',
  'make_delivery.retry': 'Make delivery retry',
  'make_delivery.replay': 'Make delivery replay',
  'webhook_event.replay': 'Stripe event replay',
  'order.change_track': 'Track change',
};

function auditActionInWords(action: string): string {
  const words = AUDIT_ACTION_WORDS[action];
  if (words) return words;
  const spelled = spaced(action.replace('.', ' '));
  return spelled.charAt(0).toUpperCase() + spelled.slice(1);
}

const AUDIT_ACTOR_KINDS: Record<string, ActorKind> = { staff: 'STAFF', api_key: 'API_KEY', system: 'SYSTEM', customer: 'CUSTOMER', cli: 'CLI' };

/** The console's routes (console/src/features/<screen>/urls.ts). */
export const consoleRoutes = {
  order: (id: string) => `/orders/${id}`,
  customer: (id: string) => `/customers/${id}`,
  paymentLog: (id: string) => `/payment-logs?open=${encodeURIComponent(id)}`,
  webhookEvent: (id: string) => `/webhook-events?open=${encodeURIComponent(id)}`,
  makeDelivery: (id: string) => `/make-deliveries?open=${encodeURIComponent(id)}`,
  dispute: (id: string) => `/disputes?open=${encodeURIComponent(id)}`,
  subscription: (id: string) => `/subscriptions?open=${encodeURIComponent(id)}`,
};

function describe(row: TimelineRow, orderId: string): Omit<TimelineEntryValue, 'id' | 'at' | 'kind'> {
  const data = row.data;
  switch (row.kind) {
    case 'PAYMENT_LOG': {
      const amount = paymentLogAmount(data);
      const object = text(data.stripe_object_id);
      return {
        summary: `Payment log: ${data.event_type} (${data.status})${inWords(amount)}`,
        status: text(data.status),
        amount,
        actor: actorOf(text(data.actor), text(data.source) === 'webhook' ? 'STRIPE' : 'SYSTEM', text(data.actor_name)),
        subjectId: String(data.id),
        link: { route: consoleRoutes.paymentLog(String(data.id)), stripeObjectId: object },
      };
    }
    case 'PAYMENT_ATTEMPT': {
      const what = data.attempt_kind === 'checkout_session' ? 'Checkout Session' : 'PaymentIntent';
      const object = text(data.stripe_object_id);
      const stripeState = text(data.stripe_state);
      const error = text(data.last_error);
      return {
        summary: `Attempt ${data.attempt}: ${what}${object ? ` ${object}` : ''} ${spaced(String(data.status))}${stripeState ? `; Stripe says ${stripeState}` : ''}${error ? ` (${error})` : ''}`,
        status: text(data.status),
        amount: null,
        actor: { kind: 'SYSTEM', name: null },
        subjectId: object,
        link: { route: null, stripeObjectId: object },
      };
    }
    case 'WEBHOOK_EVENT': {
      const outcome = text(data.outcome) ?? text(data.ignored_reason);
      return {
        summary: `Stripe event ${data.type} ${data.status}${outcome ? `: ${outcome}` : ''}${data.source === 'backfill' ? ' (caught up by the janitor)' : ''}`,
        status: text(data.status),
        amount: null,
        actor: { kind: 'STRIPE', name: null },
        subjectId: String(data.id),
        link: { route: consoleRoutes.webhookEvent(String(data.id)), stripeObjectId: String(data.id) },
      };
    }
    case 'REFUND': {
      const amount = moneyOf(data);
      const failure = text(data.failure_reason);
      const requestedBy = text(data.requested_by);
      return {
        summary: `Refund${inWords(amount)} ${spaced(String(data.status))}${data.reason ? ` (${spaced(String(data.reason))})` : ''}${failure ? `: ${failure}` : ''}${requestedBy ? '' : ', made at Stripe'}`,
        status: text(data.status),
        amount,
        actor: requestedBy ? actorOf(requestedBy, 'SYSTEM', text(data.requested_by_name)) : { kind: 'STRIPE', name: null },
        subjectId: text(data.stripe_refund_id) ?? String(data.id),
        link: { route: consoleRoutes.order(orderId), stripeObjectId: text(data.stripe_refund_id) },
      };
    }
    case 'DISPUTE': {
      const amount = moneyOf(data);
      return {
        summary: `Dispute${inWords(amount)} opened${data.reason ? ` (${spaced(String(data.reason))})` : ''}, now ${spaced(String(data.status))}`,
        status: text(data.status),
        amount,
        actor: { kind: 'STRIPE', name: null },
        subjectId: String(data.id),
        link: { route: consoleRoutes.dispute(String(data.id)), stripeObjectId: String(data.id) },
      };
    }
    case 'MAKE_DELIVERY':
      return {
        summary: `Make delivery ${data.make_kind} enqueued; now ${data.status} after ${data.attempts} attempt${data.attempts === 1 ? '' : 's'}${Number(data.replays) > 0 ? `, replayed ${data.replays}×` : ''}`,
        status: text(data.status),
        amount: null,
        actor: { kind: 'SYSTEM', name: null },
        subjectId: String(data.id),
        link: { route: consoleRoutes.makeDelivery(String(data.id)), stripeObjectId: null },
      };
    case 'MAKE_DELIVERY_ATTEMPT': {
      const error = text(data.error);
      return {
        summary: `Make delivery ${data.make_kind}, attempt ${data.attempt}: ${spaced(String(data.outcome))}${data.status_code ? ` (HTTP ${data.status_code})` : ''}${error ? `: ${error}` : ''}`,
        status: text(data.outcome),
        amount: null,
        actor: { kind: 'MAKE', name: null },
        subjectId: String(data.delivery_id),
        link: { route: consoleRoutes.makeDelivery(String(data.delivery_id)), stripeObjectId: null },
      };
    }
    case 'AUDIT': {
      const amount = moneyOf(data);
      const kind = AUDIT_ACTOR_KINDS[String(data.actor_type)] ?? 'SYSTEM';
      const target = String(data.target_id);
      const route =
        data.target_type === 'make_delivery' ? consoleRoutes.makeDelivery(target) : data.target_type === 'stripe_event' ? consoleRoutes.webhookEvent(target) : consoleRoutes.order(orderId);
      // The name the row recorded (staffAction.ts, from 2026-12-07 on); older staff rows hold only an id.
      const name = text(data.actor_name);
      const actor = kind === 'STAFF' ? { kind, name } : { kind, name: name ?? actorOf(String(data.actor_id)).name ?? String(data.actor_id) };
      const outcome = text(data.outcome);
      return {
        summary: `${auditActionInWords(String(data.action))}${inWords(amount)} requested by ${actorInWords(actor)}${data.reason ? ` (reason: ${spaced(String(data.reason))})` : ''}${outcome ? `: ${spaced(outcome)}` : ''}`,
        status: null,
        amount,
        actor,
        subjectId: text(data.refund_id) ?? target,
        link: { route, stripeObjectId: data.target_type === 'stripe_event' ? target : null },
      };
    }
  }
}

/** A timeline row as the API's TimelineEntry. */
export function timelineEntry(row: TimelineRow, orderId: string): TimelineEntryValue {
  return { id: row.entry_id, at: row.at, kind: row.kind, ...describe(row, orderId) };
}
