// Refunds and disputes in the API (issue 18): refundPayment for admins, the refunds and disputes lists
// for support and admins, and an order's refunds, refundable remainder and disputes. Every argument
// is checked before anything is read or written; the refund itself (key, lock, remainder, Stripe,
// audit with the note) is the Refunds service's (server/refunds/service.ts), whose SQL function claims
// the idempotency key, so a repeat or a reused key is its answer, not a second claim here.
import { type Role, STAFF_ROLES } from '../../../auth/viewer';
import { type DisputeKey, DISPUTE_CURSOR_ID, type DisputeStatus as DisputeRowStatus, OPEN_DISPUTE_STATUSES, disputesOfOrder, listDisputes } from '../../../disputes/read.sql';
import { idempotencyKeyReused, parseIdempotencyKey } from '../../../idempotency/keys';
import { findOrder } from '../../../orders/orders.sql';
import { BadUserInputError, ForbiddenError } from '../../../platform/errors';
import { REFUND_ID, listRefunds, refundableAmount, refundsOfOrder } from '../../../refunds/read.sql';
import { parseRefundAmount, parseRefundFilter, parseRefundNote } from '../../../refunds/arguments';
import type { RefundReason as RefundRowReason, RefundResult } from '../../../refunds/service';
import { allow, inheritAccess } from '../access';
import type { GraphQLContext } from '../context';
import type {
  DisputeConnectionResolvers,
  DisputeFilter,
  DisputeResolvers,
  DisputeStatus,
  OrderResolvers,
  RefundConnectionResolvers,
  RefundReason,
  RefundResolvers,
  RefundStatus,
  Resolvers,
  ResolversTypes,
} from '../generated/resolvers-types';
import { decodeCursor, encodeCursor, parseFirst, parsePage } from '../pagination';
import { iso, isoOrNull, parseIsoTime, parseUuidArgument } from '../values';

// Refunding moves money back at Stripe: admins alone (seed 001). Support reads.
const ADMINS: readonly Role[] = ['ADMIN'];
// The order's own customer may see its refunds (where their money stands); storefront keys and Make
// have no business with them.
const REFUND_READERS: readonly Role[] = ['CUSTOMER', 'SUPPORT', 'ADMIN'];

const REFUND_REASONS: ReadonlySet<string> = new Set(['requested_by_customer', 'duplicate', 'fraudulent', 'other']);

const parseOrderId = (id: string, field: string) => parseUuidArgument(id, field, 'an order', 'INVALID_ORDER_ID');

function parseEvidenceDueBefore(value: string | null | undefined): Date | null {
  if (value === null || value === undefined) return null;
  const time = parseIsoTime(value);
  if (Number.isNaN(time)) {
    throw new BadUserInputError('evidenceDueBefore must be an ISO 8601 time with its zone, e.g. 2026-12-10T00:00:00Z', {
      reason: 'INVALID_EVIDENCE_DUE_BEFORE',
      field: 'filter.evidenceDueBefore',
    });
  }
  return new Date(time);
}

/** The list's filter, checked; the CSV export reads the same one. */
function parseDisputePage(args: { first?: number | null; after?: string | null }): { first: number; after: DisputeKey | null } {
  const first = parseFirst(args.first);
  if (args.after === null || args.after === undefined) return { first, after: null };
  const { createdUs, id } = decodeCursor(args.after, DISPUTE_CURSOR_ID, 'disputes');
  return { first, after: { dueUs: createdUs, closedRank: Number(id[0]), id: id.slice(2) } };
}

/** The payload of a service answer; a reused key is CONFLICT, not a payload. */
async function refundPayload({ db }: GraphQLContext, result: RefundResult, key: string): Promise<ResolversTypes['RefundPaymentPayload']> {
  if (result.outcome === 'conflict') throw idempotencyKeyReused(key, result.operation);
  const order = result.orderId ? await findOrder(db, result.orderId) : null;
  return {
    refund: result.refund,
    order,
    error: result.error,
    refundableAmount: result.outcome === 'refused' ? result.refundable : null,
    isRepeat: result.isRepeat,
  };
}

export const refundResolvers: Resolvers = {
  Query: {
    refunds: allow(STAFF_ROLES, (_parent, args, { db }) => {
      // Every argument is checked before the query runs, so a bad one reads nothing.
      const filter = parseRefundFilter(args.filter);
      const { first, after } = parsePage(args, REFUND_ID, 'refunds');
      return listRefunds(db, { filter, first, after });
    }),
    disputes: allow(STAFF_ROLES, (_parent, args, { db }) => {
      const filter = {
        status: args.filter?.status ? (args.filter.status.toLowerCase() as DisputeRowStatus) : null,
        evidenceDueBefore: parseEvidenceDueBefore((args.filter as DisputeFilter | null | undefined)?.evidenceDueBefore),
      };
      const { first, after } = parseDisputePage(args);
      return listDisputes(db, { filter, first, after });
    }),
  },
  Mutation: {
    refundPayment: allow(ADMINS, async (_parent, { input }, context) => {
      // Everything is checked before the service is called: a bad argument claims no key and writes nothing.
      const orderId = parseOrderId(input.orderId, 'input.orderId');
      const amount = parseRefundAmount(input.amount);
      const note = parseRefundNote(input.note);
      const key = parseIdempotencyKey(input.idempotencyKey, 'input.idempotencyKey');
      const { viewer, refunds, logger } = context;
      const actor = `staff:${viewer.id}`;
      const result = await refunds.refundPayment({
        orderId,
        amount,
        reason: input.reason.toLowerCase() as RefundRowReason,
        note,
        actor,
        actorName: viewer.name,
        scope: `${viewer.kind}:${viewer.id}`,
        idempotencyKey: key,
      });
      if (result.outcome !== 'conflict' && !result.isRepeat) {
        logger.info({ orderId, actor, refundId: result.refund?.id, amount: result.refund?.amount, error: result.error?.code }, 'refund requested by staff');
      }
      return refundPayload(context, result, key);
    }),
  },
  RefundConnection: inheritAccess<RefundConnectionResolvers>({
    nodes: (page) => page.rows,
    pageInfo: (page) => {
      const last = page.rows.at(-1);
      return { hasNextPage: page.hasNextPage, endCursor: last ? encodeCursor({ createdUs: last.created_us, id: last.id }) : null };
    },
  }),
  Refund: inheritAccess<RefundResolvers>({
    stripeRefundId: (refund) => refund.stripe_refund_id,
    orderId: (refund) => refund.order_id,
    amount: (refund) => ({ amount: Number(refund.amount), currency: refund.currency }),
    status: (refund) => refund.status.toUpperCase() as RefundStatus,
    // Stripe's own reasons beyond the three we send (e.g. expired_uncaptured_charge) read as OTHER.
    reason: (refund) => (refund.reason === null ? null : ((REFUND_REASONS.has(refund.reason) ? refund.reason : 'other').toUpperCase() as RefundReason)),
    failureReason: (refund) => refund.failure_reason,
    // Which staff member refunded is internal: a customer sees that a refund was made, not by whom.
    requestedBy: allow(STAFF_ROLES, (refund) => refund.requested_by),
    // Refunds made at Stripe name nobody: no read for them.
    requestedByName: allow(STAFF_ROLES, (refund, _args, { loaders }) => (refund.requested_by === null ? null : loaders.refundRequesterName.load(refund.id))),
    createdAt: (refund) => iso(refund.created_at),
    updatedAt: (refund) => iso(refund.updated_at),
  }),
  RefundError: inheritAccess({}),
  RefundPaymentPayload: inheritAccess({}),
  DisputeConnection: inheritAccess<DisputeConnectionResolvers>({
    nodes: (page) => page.rows,
    pageInfo: (page) => {
      const last = page.rows.at(-1);
      return { hasNextPage: page.hasNextPage, endCursor: last ? encodeCursor({ createdUs: last.due_us, id: `${last.closed_rank}:${last.id}` }) : null };
    },
  }),
  Dispute: inheritAccess<DisputeResolvers>({
    orderId: (dispute) => dispute.order_id,
    // Through the request's loader: a page of disputes reads their orders in one query.
    order: (dispute, _args, { loaders }) => loaders.order.load(dispute.order_id),
    amount: (dispute) => ({ amount: Number(dispute.amount), currency: dispute.currency }),
    status: (dispute) => dispute.status.toUpperCase() as DisputeStatus,
    isOpen: (dispute) => OPEN_DISPUTE_STATUSES.includes(dispute.status),
    evidenceDueBy: (dispute) => isoOrNull(dispute.evidence_due_by),
    isChargeRefundable: (dispute) => dispute.is_charge_refundable,
    createdAt: (dispute) => iso(dispute.created_at),
    updatedAt: (dispute) => iso(dispute.updated_at),
  }),
  Order: inheritAccess<OrderResolvers>({
    refunds: allow(REFUND_READERS, (order, _args, { db, viewer }) => {
      // Query.order already hides another customer's order; this holds wherever else an order is reached.
      if (viewer.role === 'CUSTOMER' && order.customer_user_id !== viewer.id) throw new ForbiddenError('Only the order’s own customer may see its refunds');
      return refundsOfOrder(db, order.id);
    }),
    refundableAmount: allow(STAFF_ROLES, async (order, _args, { db }) => (await refundableAmount(db, order.id)) ?? { amount: 0, currency: order.currency }),
    disputes: allow(STAFF_ROLES, (order, _args, { db }) => disputesOfOrder(db, order.id)),
  }),
};
