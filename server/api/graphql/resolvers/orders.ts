import { type Role, STAFF_ROLES, type Viewer } from '../../../auth/viewer';
import { parsePaymentReference } from '../../../checkout/confirmPayment';
import { BadUserInputError } from '../../../platform/errors';
import { parseOrderFilter } from '../../../orders/filters';
import { findOrder, findOrderByPayment, listOrders, type OrderRow } from '../../../orders/orders.sql';
import { allow, inheritAccess } from '../access';
import type { OrderConnectionResolvers, OrderResolvers, OrderStatus, PaymentResolvers, Resolvers, SyncState } from '../generated/resolvers-types';
import { encodeCursor, parsePage } from '../pagination';
import { UUID, isUuid } from '../../../platform/ids';

const ORDER_READERS: readonly Role[] = ['STOREFRONT', 'CUSTOMER', 'SUPPORT', 'ADMIN'];
/** A customer sees only their own orders; another's reads as absent, as row-level security would. */
const visibleTo = (viewer: Viewer, order: OrderRow | null) =>
  order && (viewer.role !== 'CUSTOMER' || order.customer_user_id === viewer.id) ? order : null;

const upper = <T extends string>(value: string) => value.toUpperCase() as T;

export const orderResolvers: Resolvers = {
  Query: {
    order: allow(ORDER_READERS, async (_parent, { id }, { db, viewer }) => {
      if (!isUuid(id)) throw new BadUserInputError('id must be an order id (a UUID)', { reason: 'INVALID_ORDER_ID', field: 'id' });
      return visibleTo(viewer, await findOrder(db, id));
    }),
    orderByPayment: allow(ORDER_READERS, async (_parent, args, { db, viewer }) => {
      const { id } = parsePaymentReference(args);
      return visibleTo(viewer, await findOrderByPayment(db, id));
    }),
    orders: allow(STAFF_ROLES, (_parent, args, { db }) => {
      // Every argument is checked before the query runs, so a bad one reads nothing.
      const filter = parseOrderFilter(args.filter);
      const { first, after } = parsePage(args, UUID, 'orders');
      return listOrders(db, { filter, first, after });
    }),
  },
  OrderConnection: inheritAccess<OrderConnectionResolvers>({
    nodes: (page) => page.rows.map((row) => row.order),
    pageInfo: (page) => {
      const last = page.rows.at(-1);
      return { hasNextPage: page.hasNextPage, endCursor: last ? encodeCursor({ createdUs: last.created_us, id: last.order.id }) : null };
    },
  }),
  Order: inheritAccess<OrderResolvers>({
    status: (order) => upper<OrderStatus>(order.status),
    syncState: (order) => (order.sync_state ? upper<SyncState>(order.sync_state) : null),
    track: (order) => order.product_id,
    trackName: (order) => order.product_name,
    amount: (order) => ({ amount: order.amount, currency: order.currency }),
    customer: (order) => ({ id: order.customer_id, email: order.customer_email, name: order.customer_name }),
    checkoutSessionId: (order) => order.checkout_session_id,
    paymentIntentId: (order) => order.payment_intent_id,
    metadata: (order) => Object.entries(order.metadata).map(([key, value]) => ({ key, value: String(value) })),
    createdAt: (order) => new Date(order.created_at).toISOString(),
    updatedAt: (order) => new Date(order.updated_at).toISOString(),
  }),
  Payment: inheritAccess<PaymentResolvers>({
    paymentIntentId: (payment) => payment.payment_intent_id,
    chargeId: (payment) => payment.charge_id,
    amount: (payment) => ({ amount: payment.amount, currency: payment.currency }),
    amountRefunded: (payment) => ({ amount: payment.amount_refunded, currency: payment.currency }),
  }),
  Customer: inheritAccess({}),
  MetadataEntry: inheritAccess({}),
};
