import { STAFF_ROLES } from '../../../auth/viewer';
import {
  findMakeDelivery,
  listMakeAttempts,
  listMakeDeliveries,
  type MakeDeliveryRow,
  makeStatus,
  resendDelivery,
  type ResendAction,
} from '../../../make/deliveries.sql';
import { redactedPayload } from '../../../make/redaction';
import type { MakeKind } from '../../../config';
import { allow, inheritAccess } from '../access';
import { idempotencyKeyReused, parseIdempotencyKey } from '../../../idempotency/keys';
import { objectOperationHash } from '../../../idempotency/requestHash';
import { encodeCursor, parsePage } from '../pagination';
import type { GraphQLContext } from '../context';
import type {
  MakeDeliveryActionInput,
  MakeDeliveryAttemptResolvers,
  MakeDeliveryConnectionResolvers,
  MakeDeliveryFilter,
  MakeDeliveryKind,
  MakeDeliveryResolvers,
  MakeDeliveryStatus,
  MakeStatusResolvers,
  MakeAttemptOutcome,
  Resolvers,
  ResolversTypes,
} from '../generated/resolvers-types';
import { UUID } from '../../../platform/ids';
import { iso, isoOrNull, parseUuidArgument } from '../values';

// Retrying and replaying a delivery only sends what we already sent, to our own scenarios: support
// may do it, as well as admins (unlike replaying a Stripe event, which changes our records).

const parseDeliveryId = (id: string, field = 'id') => parseUuidArgument(id, field, 'a Make delivery', 'INVALID_DELIVERY_ID');

function parseFilter(filter: MakeDeliveryFilter | null | undefined) {
  return {
    status: filter?.status ? (filter.status.toLowerCase() as MakeDeliveryRow['status']) : null,
    kind: filter?.kind ? (filter.kind.toLowerCase() as MakeKind) : null,
  };
}

async function resend(action: ResendAction, input: MakeDeliveryActionInput, context: GraphQLContext): Promise<ResolversTypes['MakeDeliveryActionPayload']> {
  const id = parseDeliveryId(input.id, 'input.id');
  const key = parseIdempotencyKey(input.idempotencyKey, 'input.idempotencyKey');
  const { db, viewer, logger } = context;
  const actor = `staff:${viewer.id}`;
  const result = await resendDelivery(db, {
    id,
    action,
    actor,
    scope: `${viewer.kind}:${viewer.id}`,
    key,
    request_hash: objectOperationHash(`make_delivery_${action}`, id),
  });
  if (result.outcome === 'conflict') throw idempotencyKeyReused(key, result.operation);
  if (result.outcome === 'not_found') {
    return { delivery: null, isRepeat: false, error: { code: 'MAKE_DELIVERY_NOT_FOUND', message: `There is no Make delivery ${id}` } };
  }
  const delivery = await findMakeDelivery(db, id);
  if (result.outcome === 'wrong_state') {
    const allowed = action === 'retry' ? 'PENDING or DEAD' : 'DELIVERED or DEAD';
    return {
      delivery,
      isRepeat: false,
      error: { code: 'MAKE_DELIVERY_WRONG_STATE', message: `The delivery is ${result.status.toUpperCase()}: only a ${allowed} delivery can be ${action === 'retry' ? 'retried' : 'replayed'}` },
    };
  }
  if (result.outcome === 'done') logger.info({ deliveryId: id, actor, action }, 'make delivery re-sent by staff');
  return { delivery, isRepeat: result.outcome === 'repeat', error: null };
}

export const makeResolvers: Resolvers = {
  Query: {
    makeDeliveries: allow(STAFF_ROLES, (_parent, args, { db }) => {
      // Every argument is checked before the query runs, so a bad one reads nothing.
      const filter = parseFilter(args.filter);
      const { first, after } = parsePage(args, UUID, 'makeDeliveries');
      return listMakeDeliveries(db, { filter, first, after });
    }),
    makeDelivery: allow(STAFF_ROLES, (_parent, { id }, { db }) => findMakeDelivery(db, parseDeliveryId(id))),
    makeStatus: allow(STAFF_ROLES, (_parent, _args, { db }) => makeStatus(db)),
  },
  Mutation: {
    retryMakeDelivery: allow(STAFF_ROLES, (_parent, { input }, context) => resend('retry', input, context)),
    replayMakeDelivery: allow(STAFF_ROLES, (_parent, { input }, context) => resend('replay', input, context)),
  },
  MakeDeliveryConnection: inheritAccess<MakeDeliveryConnectionResolvers>({
    nodes: (page) => page.rows,
    pageInfo: (page) => {
      const last = page.rows.at(-1);
      return { hasNextPage: page.hasNextPage, endCursor: last ? encodeCursor({ createdUs: last.created_us, id: last.id }) : null };
    },
  }),
  MakeDelivery: inheritAccess<MakeDeliveryResolvers>({
    kind: (delivery) => delivery.kind.toUpperCase() as MakeDeliveryKind,
    status: (delivery) => delivery.status.toUpperCase() as MakeDeliveryStatus,
    orderId: (delivery) => delivery.order_id,
    subjectId: (delivery) => delivery.subject_id,
    // Outside pending and delivering the column holds a leftover time the worker will not act on.
    nextAttemptAt: (delivery) => (delivery.status === 'pending' || delivery.status === 'delivering' ? iso(delivery.next_attempt_at) : null),
    lastStatusCode: (delivery) => delivery.last_status_code,
    lastError: (delivery) => delivery.last_error,
    lastResponse: (delivery) => delivery.last_response,
    createdAt: (delivery) => iso(delivery.created_at),
    updatedAt: (delivery) => iso(delivery.updated_at),
    deliveredAt: (delivery) => isoOrNull(delivery.delivered_at),
    deadAt: (delivery) => isoOrNull(delivery.dead_at),
    payload: (delivery) => JSON.stringify(redactedPayload(delivery), null, 2),
    attemptLog: (delivery, _args, { db }) => listMakeAttempts(db, delivery.id),
  }),
  MakeDeliveryAttempt: inheritAccess<MakeDeliveryAttemptResolvers>({
    startedAt: (attempt) => iso(attempt.started_at),
    finishedAt: (attempt) => iso(attempt.finished_at),
    statusCode: (attempt) => attempt.status_code,
    latencyMs: (attempt) => attempt.latency_ms,
    outcome: (attempt) => attempt.outcome.toUpperCase() as MakeAttemptOutcome,
  }),
  MakeStatus: inheritAccess<MakeStatusResolvers>({
    oldestPendingAgeSeconds: (status) => status.oldest_pending_age_seconds,
  }),
  MakeDeliveryActionPayload: inheritAccess({}),
  MakeDeliveryError: inheritAccess({}),
};
