// Per-request batching for fields read once per row of a list (DataLoader): a page of N subscriptions
// reads its invoices in one query, and a page of N disputes its orders in one, instead of N each. A
// request gets its own loaders (server/api/http/graphqlRoute.ts), so what one caches is never another
// request's, nor older than the request.
import DataLoader from 'dataloader';
import type { Queryable } from '../../platform/db/db';
import { findOrders, type OrderRow } from '../../orders/orders.sql';
import { invoicesOfSubscriptions, type SubscriptionInvoiceRecord } from '../../subscriptions/read.sql';
import { membersOfRequests } from '../../paymentRequests/read.sql';
import { requesterNamesOfRefunds } from '../../refunds/read.sql';
import type { PaymentRequestMemberRow } from '../../paymentRequests/service';

export interface Loaders {
  /** A subscription's invoices, newest first, by its Stripe id. */
  subscriptionInvoices: DataLoader<string, SubscriptionInvoiceRecord[]>;
  /** An order (order_view), by its id; null when there is none. */
  order: DataLoader<string, OrderRow | null>;
  /** A payment request's members, in the order they were given, by the request's id. */
  paymentRequestMembers: DataLoader<string, PaymentRequestMemberRow[]>;
  /** Who requested a refund, in words (its refund.create audit row's name), by the refund's id. */
  refundRequesterName: DataLoader<string, string | null>;
}

export function createLoaders(db: Queryable): Loaders {
  return {
    subscriptionInvoices: new DataLoader((ids: readonly string[]) => invoicesOfSubscriptions(db, ids)),
    order: new DataLoader((ids: readonly string[]) => findOrders(db, ids)),
    paymentRequestMembers: new DataLoader((ids: readonly string[]) => membersOfRequests(db, ids)),
    refundRequesterName: new DataLoader((ids: readonly string[]) => requesterNamesOfRefunds(db, ids)),
  };
}
