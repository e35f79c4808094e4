import { type Role, STAFF_ROLES } from '../../../auth/viewer';
import { BadUserInputError } from '../../../platform/errors';
import { EVENT_ID, findWebhookEvent, listWebhookEvents, webhookStatus, type WebhookEventRow } from '../../../webhooks/events.sql';
import { allow, inheritAccess } from '../access';
import { idempotencyKeyReused, parseIdempotencyKey } from '../../../idempotency/keys';
import { encodeCursor, parsePage } from '../pagination';
import type {
  Resolvers,
  ResolversTypes,
  WebhookEventConnectionResolvers,
  WebhookEventFilter,
  WebhookEventResolvers,
  WebhookEventStatus,
  WebhookStatusResolvers,
} from '../generated/resolvers-types';
import { iso, isoOrNull } from '../values';

// Support reads events and the applier's state; replaying one changes our records, so admins only.
const REPLAYERS: readonly Role[] = ['ADMIN'];

const MAX_FILTER_LENGTH = 255;

function parseEventId(id: string, field = 'id'): string {
  if (!EVENT_ID.test(id)) throw new BadUserInputError(`${field} must be a Stripe event id (evt_ and up to 250 letters, digits or underscores)`, { reason: 'INVALID_EVENT_ID', field });
  return id;
}

function parseFilter(filter: WebhookEventFilter | null | undefined) {
  for (const field of ['type', 'objectId'] as const) {
    const value = filter?.[field];
    if (value === null || value === undefined) continue;
    if (value.length === 0 || value.length > MAX_FILTER_LENGTH) {
      throw new BadUserInputError(`filter.${field} must be 1 to ${MAX_FILTER_LENGTH} characters (leave it out to not filter by it); got ${value.length}`, {
        reason: 'INVALID_FILTER',
        field: `filter.${field}`,
      });
    }
  }
  return { status: filter?.status ? lower(filter.status) : null, type: filter?.type ?? null, objectId: filter?.objectId ?? null };
}

const upper = (status: WebhookEventRow['status']) => status.toUpperCase() as WebhookEventStatus;
const lower = (status: WebhookEventStatus) => status.toLowerCase() as WebhookEventRow['status'];

const notFound = (id: string): ResolversTypes['ReplayWebhookEventPayload'] => ({
  event: null,
  error: { code: 'WEBHOOK_EVENT_NOT_FOUND', message: `There is no stored webhook event ${id}` },
  isRepeat: false,
});

const payloadDropped = (id: string): ResolversTypes['ReplayWebhookEventPayload'] => ({
  event: null,
  error: {
    code: 'WEBHOOK_EVENT_PAYLOAD_DROPPED',
    message: `Webhook event ${id} cannot be replayed: retention dropped its payload (RETENTION_WEBHOOK_PAYLOAD_DAYS), and Stripe keeps events for 30 days only`,
  },
  isRepeat: false,
});

export const webhookResolvers: Resolvers = {
  Query: {
    webhookEvents: allow(STAFF_ROLES, (_parent, args, { db }) => {
      // Every argument is checked before the query runs, so a bad one reads nothing.
      const filter = parseFilter(args.filter);
      const { first, after } = parsePage(args, EVENT_ID, 'webhookEvents');
      return listWebhookEvents(db, { filter, first, after });
    }),
    webhookEvent: allow(STAFF_ROLES, (_parent, { id }, { db }) => findWebhookEvent(db, parseEventId(id))),
    webhookStatus: allow(STAFF_ROLES, (_parent, _args, { db }) => webhookStatus(db)),
  },
  Mutation: {
    replayWebhookEvent: allow(REPLAYERS, async (_parent, { input }, { db, viewer, webhookApplier, logger }) => {
      const eventId = parseEventId(input.id, 'input.id');
      const key = parseIdempotencyKey(input.idempotencyKey, 'input.idempotencyKey');
      const actor = `staff:${viewer.id}`;
      const result = await webhookApplier.replay({ eventId, actor, scope: `${viewer.kind}:${viewer.id}`, key });
      if (result.outcome === 'conflict') throw idempotencyKeyReused(key, result.operation);
      if (result.outcome === 'payload_dropped') return payloadDropped(eventId);
      // The event as it stands now, from the database rather than the applier's answer: the console
      // refreshes from what this returns.
      const event = result.outcome === 'not_found' ? null : await findWebhookEvent(db, eventId);
      if (!event) return notFound(eventId);
      if (result.outcome === 'replayed') logger.info({ eventId, actor, status: event.status }, 'webhook event replayed by staff');
      return { event, error: null, isRepeat: result.outcome === 'repeat' };
    }),
  },
  WebhookEventConnection: inheritAccess<WebhookEventConnectionResolvers>({
    nodes: (page) => page.rows,
    pageInfo: (page) => {
      const last = page.rows.at(-1);
      return { hasNextPage: page.hasNextPage, endCursor: last ? encodeCursor({ createdUs: last.created_us, id: last.id }) : null };
    },
  }),
  PageInfo: inheritAccess({}),
  WebhookEvent: inheritAccess<WebhookEventResolvers>({
    objectType: (event) => event.object_type,
    objectId: (event) => event.object_id,
    created: (event) => iso(event.created),
    apiVersion: (event) => event.api_version,
    status: (event) => upper(event.status),
    ignoredReason: (event) => event.ignored_reason,
    // Outside `received` the column holds a leftover time the applier will not act on.
    nextAttemptAt: (event) => (event.status === 'received' ? iso(event.next_attempt_at) : null),
    lastError: (event) => event.last_error,
    receivedAt: (event) => iso(event.received_at),
    appliedAt: (event) => isoOrNull(event.applied_at),
    failedAt: (event) => isoOrNull(event.failed_at),
    // Null once retention dropped it (supabase/migrations/20261207000300_retention.sql).
    payload: (event) => (event.payload === null ? null : JSON.stringify(event.payload, null, 2)),
  }),
  WebhookStatus: inheritAccess<WebhookStatusResolvers>({
    oldestUnappliedAgeSeconds: (status) => status.oldest_unapplied_age_seconds,
    failedLastHour: (status) => status.failed_last_hour,
  }),
  ReplayWebhookEventPayload: inheritAccess({}),
  WebhookEventError: inheritAccess({}),
};
