// Subscriptions in the API (issue 19, first slice): subscription(id), subscriptions(filter, first,
// after) and viewer.subscriptions read what the webhooks keep; cancelSubscription, pauseSubscription
// and resumeSubscription go through server/subscriptions/actions.ts. Staff see and act on every
// subscription; a customer only on their own, and another's answers as not found (never "forbidden",
// which would say it exists). Every argument is checked before anything is read or written.
import type { Role } from '../../../auth/viewer';
import { parseIdempotencyKey } from '../../../idempotency/keys';
import { BadUserInputError, ForbiddenError } from '../../../platform/errors';
import { isUuid } from '../../../platform/ids';
import { type PauseBehavior as PauseRowBehavior, type ProrationBehavior as ProrationRowBehavior, runSubscriptionAction, type SubscriptionAction, type SubscriptionActionPayloadValue } from '../../../subscriptions/actions';
import { previewSubscriptionSwitch } from '../../../subscriptions/preview';
import { runSubscriptionSwitch } from '../../../subscriptions/switch';
import { SUBSCRIPTION_ID, findSubscription, listSubscriptions, type SubscriptionListFilter } from '../../../subscriptions/read.sql';
import { PUBLIC, allow, inheritAccess } from '../access';
import type { GraphQLContext } from '../context';
import type {
  InvoiceStatus,
  PauseBehavior,
  ProrationLineResolvers,
  Resolvers,
  SubscriptionActionPayloadResolvers,
  SubscriptionFilter,
  SubscriptionInvoiceResolvers,
  SubscriptionStatus,
  SubscriptionSwitchPreviewResolvers,
  TrackSubscriptionConnectionResolvers,
  TrackSubscriptionResolvers,
} from '../generated/resolvers-types';
import { encodeCursor, parsePage } from '../pagination';
import { iso, isoOrNull, parseIsoTime } from '../values';

const READERS: readonly Role[] = ['CUSTOMER', 'SUPPORT', 'ADMIN'];
const ACTORS: readonly Role[] = ['CUSTOMER', 'SUPPORT', 'ADMIN'];
/** Stripe refuses a resumes_at more than this far ahead in practice; a typo of a year is refused here. */
const MAX_PAUSE_SECONDS = 5 * 365 * 86_400;

const TRACK = /^[a-z][a-z0-9_]{1,62}$/;
/** Our price ids have the same shape (prices.id's check). */
const PRICE_ID = TRACK;

/** A signed-in customer reads only their own; staff read all (null: no owner condition). */
const ownerOf = ({ viewer }: GraphQLContext): string | null => (viewer.role === 'CUSTOMER' ? viewer.id : null);

/** A subscription id as Stripe writes it, or null: nothing else can name one (reads as not found). */
function parseSubscriptionId(id: string, field: string): string {
  if (!SUBSCRIPTION_ID.test(id)) throw new BadUserInputError(`${field} must be a Stripe subscription id (sub_…)`, { reason: 'INVALID_SUBSCRIPTION_ID', field });
  return id;
}

function parseFilter(filter: SubscriptionFilter | null | undefined): SubscriptionListFilter {
  const result: SubscriptionListFilter = {};
  if (filter?.status) result.status = filter.status.toLowerCase();
  if (filter?.track !== null && filter?.track !== undefined) {
    if (!TRACK.test(filter.track)) throw new BadUserInputError('filter.track must be a product id from pricing', { reason: 'INVALID_TRACK', field: 'filter.track' });
    result.track = filter.track;
  }
  if (filter?.customer !== null && filter?.customer !== undefined) {
    const customer = filter.customer.trim();
    if (isUuid(customer)) result.customerId = customer.toLowerCase();
    else if (customer.includes('@') && customer.length <= 320) result.customerEmail = customer.toLowerCase();
    else throw new BadUserInputError('filter.customer must be a customer id (a UUID) or an email', { reason: 'INVALID_CUSTOMER', field: 'filter.customer' });
  }
  return result;
}

/** resumesAt: an ISO 8601 time with its zone, in the future and within five years; unix seconds. */
export function parseResumesAt(value: string | null | undefined, now = Date.now()): number | null {
  if (value === null || value === undefined) return null;
  const time = parseIsoTime(value, { timeRequired: true });
  if (Number.isNaN(time)) {
    throw new BadUserInputError('resumesAt must be an ISO 8601 time with its zone, e.g. 2027-01-01T00:00:00Z', { reason: 'INVALID_RESUMES_AT', field: 'input.resumesAt' });
  }
  const seconds = Math.floor(time / 1000);
  if (time <= now || seconds - now / 1000 > MAX_PAUSE_SECONDS) {
    throw new BadUserInputError('resumesAt must be in the future, within five years', { reason: 'INVALID_RESUMES_AT', field: 'input.resumesAt' });
  }
  return seconds;
}

async function act(context: GraphQLContext, key: string, subscriptionId: string, action: SubscriptionAction): Promise<SubscriptionActionPayloadValue> {
  const { viewer, db, stripe, logger } = context;
  const { response, isRepeat } = await runSubscriptionAction({ db, stripe, logger }, { viewer, idempotencyKey: key, subscriptionId, action });
  if (!isRepeat && response.error === null) logger.info({ subscriptionId, action: action.kind, actionId: response.actionId, by: viewer.role.toLowerCase() }, 'subscription change made at Stripe');
  return { subscriptionId: response.subscriptionId, error: response.error, isRepeat, ownerUserId: ownerOf(context) };
}

export const subscriptionResolvers: Resolvers = {
  Query: {
    subscription: allow(READERS, (_parent, args, context) => {
      // A string that is no subscription id names none: null, as for another customer's.
      if (!SUBSCRIPTION_ID.test(args.id)) return null;
      return findSubscription(context.db, args.id, ownerOf(context));
    }),
    subscriptions: allow(READERS, (_parent, args, context) => {
      const filter = parseFilter(args.filter);
      const { first, after } = parsePage(args, SUBSCRIPTION_ID, 'subscriptions');
      return listSubscriptions(context.db, { filter: { ...filter, ownerUserId: ownerOf(context) }, first, after });
    }),
    previewSubscriptionSwitch: allow(ACTORS, (_parent, args, context) => {
      const subscriptionId = parseSubscriptionId(args.subscriptionId, 'subscriptionId');
      if (!TRACK.test(args.track)) throw new BadUserInputError('There is no such product track', { reason: 'UNKNOWN_TRACK', field: 'track' });
      return previewSubscriptionSwitch({ db: context.db, stripe: context.stripe }, { subscriptionId, track: args.track, ownerUserId: ownerOf(context), nowMs: context.stripeNow?.() });
    }),
  },
  Viewer: {
    subscriptions: allow(PUBLIC, async (_viewer, _args, context) => {
      if (context.viewer.role !== 'CUSTOMER' || !context.viewer.id) return [];
      return (await listSubscriptions(context.db, { filter: { ownerUserId: context.viewer.id }, first: 200 })).rows;
    }),
  },
  Mutation: {
    cancelSubscription: allow(ACTORS, (_parent, { input }, context) => {
      const subscriptionId = parseSubscriptionId(input.subscriptionId, 'input.subscriptionId');
      const key = parseIdempotencyKey(input.idempotencyKey, 'input.idempotencyKey');
      // Ending it at once forfeits the period paid for: admins alone decide that.
      if (!input.atPeriodEnd && context.viewer.role !== 'ADMIN') throw new ForbiddenError('Only admins may cancel a subscription at once; cancel it at period end instead');
      return act(context, key, subscriptionId, { kind: 'cancel', atPeriodEnd: input.atPeriodEnd });
    }),
    pauseSubscription: allow(ACTORS, (_parent, { input }, context) => {
      const subscriptionId = parseSubscriptionId(input.subscriptionId, 'input.subscriptionId');
      const resumesAt = parseResumesAt(input.resumesAt);
      const key = parseIdempotencyKey(input.idempotencyKey, 'input.idempotencyKey');
      return act(context, key, subscriptionId, { kind: 'pause', behavior: input.behavior.toLowerCase() as PauseRowBehavior, resumesAt });
    }),
    switchSubscription: allow(ACTORS, async (_parent, { input }, context) => {
      const subscriptionId = parseSubscriptionId(input.subscriptionId, 'input.subscriptionId');
      if (!TRACK.test(input.track)) throw new BadUserInputError('There is no such product track', { reason: 'UNKNOWN_TRACK', field: 'input.track' });
      // The preview sends whole seconds; anything else is not a preview's date.
      const time = parseIsoTime(input.prorationDate, { timeRequired: true });
      if (Number.isNaN(time) || time % 1000 !== 0) {
        throw new BadUserInputError('prorationDate must be the preview’s prorationDate (ISO 8601, whole seconds)', { reason: 'INVALID_PRORATION_DATE', field: 'input.prorationDate' });
      }
      // Our price ids are slugs (business_plan_builder_usd_monthly); anything else is no price of ours.
      if (!PRICE_ID.test(input.priceId)) throw new BadUserInputError('priceId must be the preview’s price.id', { reason: 'INVALID_PRICE_ID', field: 'input.priceId' });
      if (!Number.isSafeInteger(input.unitAmount) || input.unitAmount < 0) {
        throw new BadUserInputError('unitAmount must be the preview’s price.unitAmount.amount (minor units)', { reason: 'INVALID_AMOUNT', field: 'input.unitAmount' });
      }
      const key = parseIdempotencyKey(input.idempotencyKey, 'input.idempotencyKey');
      const { viewer, db, stripe, logger } = context;
      const { response, isRepeat } = await runSubscriptionSwitch(
        { db, stripe, logger, now: context.stripeNow ?? Date.now },
        {
          viewer,
          idempotencyKey: key,
          subscriptionId,
          track: input.track,
          priceId: input.priceId,
          unitAmount: input.unitAmount,
          prorationDate: time / 1000,
          prorationBehavior: (input.prorationBehavior ?? 'CREATE_PRORATIONS').toLowerCase() as ProrationRowBehavior,
        },
      );
      if (!isRepeat && response.error === null) logger.info({ subscriptionId, action: 'switch', actionId: response.actionId, by: viewer.role.toLowerCase() }, 'subscription change made at Stripe');
      return { subscriptionId: response.subscriptionId, error: response.error, isRepeat, ownerUserId: ownerOf(context) };
    }),
    resumeSubscription: allow(ACTORS, (_parent, { input }, context) => {
      const subscriptionId = parseSubscriptionId(input.subscriptionId, 'input.subscriptionId');
      const key = parseIdempotencyKey(input.idempotencyKey, 'input.idempotencyKey');
      return act(context, key, subscriptionId, { kind: 'resume' });
    }),
  },
  SubscriptionActionPayload: inheritAccess<SubscriptionActionPayloadResolvers>({
    subscription: (payload, _args, { db }) => findSubscription(db, payload.subscriptionId, payload.ownerUserId),
  }),
  SubscriptionError: inheritAccess({}),
  SubscriptionSwitchPreviewPayload: inheritAccess({}),
  SubscriptionSwitchPreview: inheritAccess<SubscriptionSwitchPreviewResolvers>({
    prorationDate: (p) => new Date(p.prorationDate * 1000).toISOString(),
    prorationTotal: (p) => ({ amount: p.prorationTotal, currency: p.currency }),
    amountDueNow: (p) => ({ amount: p.amountDueNow, currency: p.currency }),
    creditApplied: (p) => ({ amount: p.creditApplied, currency: p.currency }),
    nextInvoiceAmount: (p) => ({ amount: p.nextInvoiceAmount, currency: p.currency }),
  }),
  ProrationLine: inheritAccess<ProrationLineResolvers>({
    amount: (line) => ({ amount: line.amount, currency: line.currency }),
    periodStart: (line) => new Date(line.periodStart * 1000).toISOString(),
    periodEnd: (line) => new Date(line.periodEnd * 1000).toISOString(),
  }),
  SubscriptionPause: inheritAccess({}),
  TrackSubscriptionConnection: inheritAccess<TrackSubscriptionConnectionResolvers>({
    nodes: (page) => page.rows,
    pageInfo: (page) => {
      const last = page.rows.at(-1);
      return { hasNextPage: page.hasNextPage, endCursor: last ? encodeCursor({ createdUs: last.created_us, id: last.id }) : null };
    },
  }),
  TrackSubscription: inheritAccess<TrackSubscriptionResolvers>({
    status: (s) => s.status.toUpperCase() as SubscriptionStatus,
    trackName: (s) => s.track_name,
    price: (s) =>
      s.price_id === null
        ? null
        : { id: s.price_id, product_id: s.track!, currency: s.currency!, unit_amount: Number(s.unit_amount), kind: s.recurring_interval ? 'recurring' : 'one_time', recurring_interval: s.recurring_interval },
    stripePriceId: (s) => s.stripe_price_id,
    customerId: (s) => s.customer_id,
    customerEmail: (s) => s.customer_email,
    currentPeriodStart: (s) => isoOrNull(s.current_period_start),
    currentPeriodEnd: (s) => isoOrNull(s.current_period_end),
    cancelAtPeriodEnd: (s) => s.cancel_at_period_end,
    canceledAt: (s) => isoOrNull(s.canceled_at),
    pause: (s) => (s.pause_behavior === null ? null : { behavior: s.pause_behavior.toUpperCase() as PauseBehavior, resumesAt: isoOrNull(s.pause_resumes_at) }),
    // Through the request's loader: a page of subscriptions reads all their invoices in one query.
    latestInvoice: async (s, _args, { loaders }) => (await loaders.subscriptionInvoices.load(s.id))[0] ?? null,
    invoices: (s, _args, { loaders }) => loaders.subscriptionInvoices.load(s.id),
    createdAt: (s) => iso(s.created_at),
    updatedAt: (s) => iso(s.updated_at),
  }),
  SubscriptionInvoice: inheritAccess<SubscriptionInvoiceResolvers>({
    status: (i) => i.status.toUpperCase() as InvoiceStatus,
    amountDue: (i) => ({ amount: Number(i.amount_due), currency: i.currency }),
    amountPaid: (i) => ({ amount: Number(i.amount_paid), currency: i.currency }),
    hostedInvoiceUrl: (i) => i.hosted_invoice_url,
    periodStart: (i) => isoOrNull(i.period_start),
    periodEnd: (i) => isoOrNull(i.period_end),
    createdAt: (i) => iso(i.stripe_created),
  }),
};
