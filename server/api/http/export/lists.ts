// The staff lists that export as CSV (payment logs, orders, refunds): each list's filter, read from
// the URL's query with the very parser its GraphQL field uses, and its rows read in keyset batches of
// EXPORT_BATCH_SIZE through the list's own SQL, so an export holds one batch in memory however many
// rows it has (PGlite has no server-side cursor; a keyset batch is as cheap and works on both).
import { type OrderFilterInput, parseOrderFilter } from '../../../orders/filters';
import { listOrders } from '../../../orders/orders.sql';
import { parsePaymentLogFilter } from '../../../paymentLogs/filter';
import { listPaymentLogs } from '../../../paymentLogs/paymentLogs.sql';
import type { Queryable } from '../../../platform/db/db';
import type { ListKey } from '../../../platform/db/keysetList';
import { BadUserInputError } from '../../../platform/errors';
import { parseRefundFilter, type RefundFilterInput } from '../../../refunds/arguments';
import { listRefunds } from '../../../refunds/read.sql';
import type { CsvValue } from './csv';

export const EXPORT_BATCH_SIZE = 1000;

export interface ExportBatch {
  rows: CsvValue[][];
  /** Where the next batch starts; null after the last. */
  next: ListKey | null;
}

export interface ExportList {
  /** The file's name before .csv, and the audit entry's target. */
  name: 'payment-logs' | 'orders' | 'refunds';
  /** The URL query parameters it takes: the GraphQL filter's fields. */
  params: readonly string[];
  header: readonly string[];
  /** Checks the filter (BAD_USER_INPUT naming the parameter) and returns the batch reader for it. */
  prepare(query: Record<string, string>): (db: Queryable, after: ListKey | null, size: number) => Promise<ExportBatch>;
}

const iso = (value: Date | string | null) => (value === null ? null : new Date(value).toISOString());

/** An enum parameter given as the schema spells it (PAID) or as stored (paid); anything else is refused. */
function enumParam<T extends string>(value: string | undefined, allowed: readonly T[], field: string): T | null {
  if (value === undefined) return null;
  const upper = value.toUpperCase() as T;
  if (!allowed.includes(upper)) throw new BadUserInputError(`${field} must be one of ${allowed.join(', ')}`, { reason: 'INVALID_FILTER', field });
  return upper;
}

type OrderStatus = NonNullable<OrderFilterInput['status']>;
type SyncState = NonNullable<OrderFilterInput['syncState']>;
type RefundStatus = NonNullable<RefundFilterInput['status']>;

const ORDER_STATUSES: readonly OrderStatus[] = ['PENDING', 'REQUIRES_ACTION', 'PROCESSING', 'PAID', 'FAILED', 'CANCELED', 'REFUNDED', 'PARTIALLY_REFUNDED', 'DISPUTED'];
const SYNC_STATES: readonly SyncState[] = ['PROVISIONAL', 'CONFIRMED', 'FAILED'];
const REFUND_STATUSES: readonly RefundStatus[] = ['CREATING', 'PENDING', 'REQUIRES_ACTION', 'SUCCEEDED', 'FAILED', 'CANCELED'];

// Errors name the URL's parameter, not the GraphQL filter's field.
function asParameterError<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof BadUserInputError) {
      const field = typeof error.details?.field === 'string' ? error.details.field.replace(/^filter\./, '') : undefined;
      throw new BadUserInputError(error.message.replace(/filter\./g, ''), { ...error.details, ...(field ? { field } : {}) });
    }
    throw error;
  }
}

const paymentLogs: ExportList = {
  name: 'payment-logs',
  params: ['eventType', 'status', 'customerId', 'from', 'to', 'search'],
  header: ['id', 'created_at', 'event_type', 'status', 'amount', 'currency', 'order_id', 'customer_id', 'customer_email', 'metadata'],
  prepare(query) {
    const filter = asParameterError(() => parsePaymentLogFilter(query));
    return async (db, after, size) => {
      const page = await listPaymentLogs(db, { filter, first: size, after });
      const last = page.rows.at(-1);
      return {
        rows: page.rows.map((r) => [r.id, iso(r.created_at), r.event_type, r.status, r.amount, r.currency, r.order_id, r.customer_id, r.customer_email, JSON.stringify(r.metadata)]),
        next: page.hasNextPage && last ? { createdUs: last.created_us, id: last.id } : null,
      };
    };
  },
};

const orders: ExportList = {
  name: 'orders',
  params: ['status', 'syncState', 'search'],
  header: [
    'id', 'created_at', 'updated_at', 'status', 'sync_state', 'track', 'track_name', 'amount', 'currency', 'customer_id', 'customer_email',
    'payment_intent_id', 'checkout_session_id', 'charge_id', 'amount_refunded',
  ],
  prepare(query) {
    const filter = asParameterError(() =>
      parseOrderFilter({ status: enumParam(query.status, ORDER_STATUSES, 'status'), syncState: enumParam(query.syncState, SYNC_STATES, 'syncState'), search: query.search }),
    );
    return async (db, after, size) => {
      const page = await listOrders(db, { filter, first: size, after });
      const last = page.rows.at(-1);
      return {
        rows: page.rows.map(({ order: o }) => [
          o.id, iso(o.created_at), iso(o.updated_at), o.status, o.sync_state, o.product_id, o.product_name, o.amount, o.currency, o.customer_id, o.customer_email,
          o.payment_intent_id, o.checkout_session_id, o.payment?.charge_id ?? null, o.payment?.amount_refunded ?? null,
        ]),
        next: page.hasNextPage && last ? { createdUs: last.created_us, id: last.order.id } : null,
      };
    };
  },
};

const refunds: ExportList = {
  name: 'refunds',
  params: ['status', 'orderId'],
  header: ['id', 'stripe_refund_id', 'created_at', 'updated_at', 'order_id', 'amount', 'currency', 'status', 'reason', 'failure_reason', 'requested_by'],
  prepare(query) {
    const filter = asParameterError(() => parseRefundFilter({ status: enumParam(query.status, REFUND_STATUSES, 'status'), orderId: query.orderId }));
    return async (db, after, size) => {
      const page = await listRefunds(db, { filter, first: size, after });
      const last = page.rows.at(-1);
      return {
        rows: page.rows.map((r) => [r.id, r.stripe_refund_id, iso(r.created_at), iso(r.updated_at), r.order_id, r.amount, r.currency, r.status, r.reason, r.failure_reason, r.requested_by]),
        next: page.hasNextPage && last ? { createdUs: last.created_us, id: last.id } : null,
      };
    };
  },
};

export const EXPORT_LISTS: Readonly<Record<string, ExportList>> = { 'payment-logs': paymentLogs, orders, refunds };
