// Payment requests in the API (issue 20): createPaymentRequest, paymentRequest(s), memberShare,
// payMemberShare, cancelPaymentRequest and remindPaymentRequestMembers over the PaymentRequests
// service (server/paymentRequests/service.ts, context.paymentRequests). Every argument is checked here
// before the service is called, so bad input claims no key and writes nothing; the service enforces
// who may read a request (its creator and staff) and answers another's as not found. A member's pay
// token is its only credential: the member operations are public, and a token that cannot be one
// reads as no share without a database read.
import { z } from 'zod';
import { type Role, STAFF_ROLES, type Viewer } from '../../../auth/viewer';
import { METADATA_LIMITS, RESERVED_METADATA_KEYS } from '../../../checkout/input';
import { idempotencyKeyReused, parseIdempotencyKey } from '../../../idempotency/keys';
import type {
  CreatePaymentRequestInput as ServiceCreateInput,
  MemberShareView,
  PaymentRequestActionResult,
  PaymentRequestMemberRow,
  PaymentRequestError,
  PaymentRequestStatus as RowStatus,
} from '../../../paymentRequests/service';
import { creatorOf } from '../../../paymentRequests/service';
import { BadUserInputError, ForbiddenError } from '../../../platform/errors';
import { minimumChargeAmount } from '../../../stripe/minimumCharge';
import { UUID } from '../../../platform/ids';
import { PUBLIC, allow, inheritAccess } from '../access';
import type { GraphQLContext } from '../context';
import type {
  CreatePaymentRequestInput,
  MemberShareResolvers,
  MemberShareStatus,
  PaymentRequestMemberResolvers,
  PaymentRequestResolvers,
  PaymentRequestStatus,
  Resolvers,
  ResolversTypes,
} from '../generated/resolvers-types';
import { encodeCursor, parsePage } from '../pagination';
import { iso, isoOrNull, parseIsoTime, parseUuidArgument } from '../values';

// Who may make a request: a storefront (its API key), a signed-in customer, staff. Make's key may not.
const CREATORS: readonly Role[] = ['STOREFRONT', 'CUSTOMER', 'SUPPORT', 'ADMIN'];
// Who may read, cancel or remind at all; which request is theirs is the service's (and, for
// cancel, this file's) business.
const READERS: readonly Role[] = CREATORS;

export const TITLE_MAX_CHARACTERS = 200;
export const DESCRIPTION_MAX_CHARACTERS = 1000;
export const NAME_MAX_CHARACTERS = 200;
export const MAX_MEMBERS = 50;
/** Stripe's largest amount for a card payment, in the minor unit; the total too (Money.amount is a 32-bit Int). */
export const MAX_AMOUNT = 99_999_999;
const MAX_EXPIRY_MS = 365 * 86_400_000;

const TRACK = /^[a-z][a-z0-9_]{1,62}$/;
const CURRENCY = /^[a-z]{3}$/;
const METADATA_KEY = /^[A-Za-z0-9_.-]+$/;
/** 32 random bytes in base64url without padding: exactly 43 characters. */
const PAY_TOKEN = /^[A-Za-z0-9_-]{43}$/;
// Control characters (NUL among them): a title or a name ends up in emails, Stripe and the console.
const CONTROL = /\p{Cc}/u;
// A description may span lines; any other control character is refused.
const CONTROL_BUT_LINE_BREAKS = /[^\P{Cc}\t\n\r]/u;
// A high surrogate without its low one, or a low one without its high one (no u flag: code units).
// The HTTP route refuses these in variables already; this holds for every other way in.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// Keys the server writes into the share's PaymentIntent metadata itself.
const RESERVED_KEYS: ReadonlySet<string> = new Set([...RESERVED_METADATA_KEYS, 'payment_request_id', 'payment_request_member_id']);
const email = z.email();

const fail = (field: string, reason: string, message: string) => new BadUserInputError(message, { reason, field });
const characters = (text: string) => Array.from(text).length;

/** Text of 1..max characters (after trimming; blank is null unless required), without control characters or lone surrogates. */
function parseText(
  value: string | null | undefined,
  rule: { field: string; reason: string; label: string; max: number; required: boolean; lineBreaks?: boolean },
): string | null {
  const text = value?.trim() ?? '';
  if (text === '') {
    if (rule.required) throw fail(rule.field, rule.reason, `${rule.label} is required (1 to ${rule.max} characters)`);
    return null;
  }
  if (characters(text) > rule.max) throw fail(rule.field, rule.reason, `${rule.label} must be at most ${rule.max} characters; got ${characters(text)}`);
  if ((rule.lineBreaks ? CONTROL_BUT_LINE_BREAKS : CONTROL).test(text) || LONE_SURROGATE.test(text)) {
    throw fail(rule.field, rule.reason, `${rule.label} must be plain text, without control characters`);
  }
  return text;
}

const parseRequestId = (id: string, field: string) => parseUuidArgument(id, field, 'a payment request', 'INVALID_PAYMENT_REQUEST_ID');

function parseMembers(members: CreatePaymentRequestInput['members'], currency: string): ServiceCreateInput['members'] {
  // A share Stripe would refuse to charge could never be paid: refused here as payment_request_create does.
  const minimum = minimumChargeAmount(currency);
  if (members.length < 1 || members.length > MAX_MEMBERS) {
    throw fail('input.members', 'INVALID_MEMBER_COUNT', `members must list 1 to ${MAX_MEMBERS} members; got ${members.length}`);
  }
  const seen = new Set<string>();
  let total = 0;
  const parsed = members.map((member, index) => {
    const at = `input.members[${index}]`;
    const address = member.email.trim();
    if (address.length > 320 || !email.safeParse(address).success) throw fail(`${at}.email`, 'INVALID_EMAIL', `${at}.email must be a valid email address`);
    if (seen.has(address.toLowerCase())) throw fail(`${at}.email`, 'DUPLICATE_MEMBER_EMAIL', `${at}.email is another member's email already: each email once`);
    seen.add(address.toLowerCase());
    const name = parseText(member.name, { field: `${at}.name`, reason: 'INVALID_NAME', label: `${at}.name`, max: NAME_MAX_CHARACTERS, required: false });
    if (!Number.isSafeInteger(member.amount) || member.amount < 1 || member.amount > MAX_AMOUNT) {
      throw fail(`${at}.amount`, 'INVALID_AMOUNT', `${at}.amount must be a whole number of the minor unit from 1 to ${MAX_AMOUNT}; got ${member.amount}`);
    }
    if (member.amount < minimum) {
      throw fail(`${at}.amount`, 'AMOUNT_BELOW_MINIMUM', `${at}.amount must be at least ${minimum} (Stripe's minimum charge in ${currency}); got ${member.amount}`);
    }
    total += member.amount;
    return { email: address, name, amount: member.amount };
  });
  // The total is the sum of the shares; it is one amount people see and Stripe-sized amounts add up.
  if (total > MAX_AMOUNT) throw fail('input.members', 'TOTAL_TOO_LARGE', `the shares sum to ${total}; a request's total may be at most ${MAX_AMOUNT}`);
  return parsed;
}

/** expiresAt: an ISO 8601 time with its zone, after `now` and within a year of it; unix ms. */
export function parseExpiresAt(value: string | null | undefined, now: number): number | null {
  if (value === null || value === undefined) return null;
  const time = parseIsoTime(value, { timeRequired: true });
  if (Number.isNaN(time)) {
    throw fail('input.expiresAt', 'INVALID_EXPIRES_AT', 'expiresAt must be an ISO 8601 time with its zone, e.g. 2027-01-01T00:00:00Z');
  }
  if (time <= now || time - now > MAX_EXPIRY_MS) throw fail('input.expiresAt', 'INVALID_EXPIRES_AT', 'expiresAt must be in the future, within a year');
  return time;
}

/** Metadata as checkout takes it: up to 20 entries, keys 1..40 of [A-Za-z0-9_.-] and not the server's own, values up to 500. */
function parseMetadata(entries: ReadonlyArray<{ key: string; value: string }>): Record<string, string> {
  if (entries.length > METADATA_LIMITS.entries) throw fail('input.metadata', 'METADATA_TOO_LARGE', `metadata takes at most ${METADATA_LIMITS.entries} entries`);
  const metadata: Record<string, string> = {};
  for (const { key, value } of entries) {
    if (key.length === 0 || key.length > METADATA_LIMITS.keyLength || !METADATA_KEY.test(key)) {
      throw fail('input.metadata', 'INVALID_METADATA_KEY', `metadata keys are 1 to ${METADATA_LIMITS.keyLength} letters, digits, '_', '.' or '-'`);
    }
    if (RESERVED_KEYS.has(key)) throw fail('input.metadata', 'RESERVED_METADATA_KEY', `metadata key "${key}" is set by the server`);
    if (Object.hasOwn(metadata, key)) throw fail('input.metadata', 'DUPLICATE_METADATA_KEY', `metadata key "${key}" is given twice`);
    if (value.length > METADATA_LIMITS.valueLength || LONE_SURROGATE.test(value) || value.includes('\u0000')) {
      throw fail('input.metadata', 'METADATA_TOO_LARGE', `metadata values are at most ${METADATA_LIMITS.valueLength} characters of text`);
    }
    metadata[key] = value;
  }
  return metadata;
}

/** The whole input of createPaymentRequest, checked; `now` is Stripe's clock (the sandbox's in sandbox mode). */
export function parseCreatePaymentRequestInput(input: CreatePaymentRequestInput, now: number): ServiceCreateInput {
  const idempotencyKey = parseIdempotencyKey(input.idempotencyKey, 'input.idempotencyKey');
  const title = parseText(input.title, { field: 'input.title', reason: 'INVALID_TITLE', label: 'title', max: TITLE_MAX_CHARACTERS, required: true })!;
  const track = input.track ?? null;
  const description = parseText(input.description, {
    field: 'input.description',
    reason: 'INVALID_DESCRIPTION',
    label: 'description',
    max: DESCRIPTION_MAX_CHARACTERS,
    required: false,
    lineBreaks: true,
  });
  if ((track === null) === (description === null)) {
    throw fail(track === null ? 'input.track' : 'input.description', 'TRACK_OR_DESCRIPTION', 'Give either track (a product the request buys) or description, not both');
  }
  if (track !== null && !TRACK.test(track)) throw fail('input.track', 'UNKNOWN_TRACK', `There is no product track "${track.slice(0, 64)}"`);
  if (!CURRENCY.test(input.currency)) throw fail('input.currency', 'INVALID_CURRENCY', 'currency must be a lower-case ISO 4217 code such as gbp');
  const members = parseMembers(input.members, input.currency);
  const expiresAt = parseExpiresAt(input.expiresAt, now);
  const metadata = parseMetadata(input.metadata ?? []);
  return { idempotencyKey, title, track, description, currency: input.currency, members, expiresAt, metadata };
}

/** A member as its fields are resolved: the row and its request's currency (the row has none). */
export type PaymentRequestMemberValue = PaymentRequestMemberRow & { currency: string };

const isStaff = (viewer: Viewer) => STAFF_ROLES.includes(viewer.role);

/** A non-staff caller lists only what they made. */
const createdByFilter = (viewer: Viewer): string | null => (isStaff(viewer) ? null : creatorOf(viewer));

// A token that cannot be one opens nothing: the same answer as a wrong token, without a read.
const NO_SHARE: PaymentRequestError = { code: 'SHARE_NOT_FOUND', message: 'This pay link is not valid (it may have been replaced by a newer one)' };

function actionPayload(result: PaymentRequestActionResult, key: string) {
  if (result.outcome === 'conflict') throw idempotencyKeyReused(key, result.operation);
  return {
    paymentRequest: result.request,
    isRepeat: result.isRepeat,
    error: result.outcome === 'refused' ? result.error : null,
    reminded: result.outcome === 'done' ? (result.reminded ?? 0) : 0,
  };
}

/** cancel: the creator or an admin. Support may read every request but cancel only their own, and is told so. */
async function assertMayCancel(context: GraphQLContext, id: string): Promise<void> {
  const { viewer, paymentRequests } = context;
  if (viewer.role !== 'SUPPORT') return;
  const request = await paymentRequests.find(viewer, id);
  if (request !== null && request.created_by !== creatorOf(viewer)) throw new ForbiddenError('Only the request’s creator or an admin may cancel it');
}

const shareStatus = (status: string) => status.toUpperCase() as MemberShareStatus;
const requestStatus = (status: string) => status.toUpperCase() as PaymentRequestStatus;

export const paymentRequestResolvers: Resolvers = {
  Query: {
    paymentRequest: allow(READERS, (_parent, { id }, { viewer, paymentRequests }) => paymentRequests.find(viewer, parseRequestId(id, 'id'))),
    paymentRequests: allow(READERS, async (_parent, args, { viewer, paymentRequests }) => {
      // Both arguments are checked before the list is read.
      const status = args.filter?.status ? (args.filter.status.toLowerCase() as RowStatus) : null;
      const { first, after } = parsePage(args, UUID, 'paymentRequests');
      const page = await paymentRequests.list(viewer, { status, createdBy: createdByFilter(viewer), first, after });
      const last = page.rows.at(-1);
      return { nodes: page.rows, pageInfo: { hasNextPage: page.hasNextPage, endCursor: last ? encodeCursor({ createdUs: last.created_us, id: last.id }) : null } };
    }),
    memberShare: allow(PUBLIC, (_parent, { token }, { paymentRequests }) => (PAY_TOKEN.test(token) ? paymentRequests.shareByToken(token) : null)),
  },
  Mutation: {
    createPaymentRequest: allow(CREATORS, async (_parent, { input }, context): Promise<ResolversTypes['CreatePaymentRequestPayload']> => {
      const { viewer, paymentRequests, logger } = context;
      const parsed = parseCreatePaymentRequestInput(input, context.stripeNow?.() ?? Date.now());
      const result = await paymentRequests.create(viewer, parsed);
      if (result.outcome === 'conflict') throw idempotencyKeyReused(parsed.idempotencyKey, result.operation);
      // The pay links are secrets (whoever holds one can pay the share): never logged.
      if (!result.isRepeat) logger.info({ paymentRequestId: result.request.id, members: parsed.members.length, by: viewer.role.toLowerCase() }, 'payment request created');
      return { paymentRequest: result.request, payLinks: result.payLinks, isRepeat: result.isRepeat, error: null };
    }),
    payMemberShare: allow(PUBLIC, async (_parent, { input }, { paymentRequests }): Promise<ResolversTypes['PayMemberSharePayload']> => {
      const key = parseIdempotencyKey(input.idempotencyKey, 'input.idempotencyKey');
      if (!PAY_TOKEN.test(input.token)) return { share: null, paymentIntentId: null, clientSecret: null, isRepeat: false, error: NO_SHARE };
      const result = await paymentRequests.payShare(input.token, key);
      if (result.outcome === 'conflict') throw idempotencyKeyReused(key, result.operation);
      if (result.outcome === 'refused') return { share: result.share, paymentIntentId: null, clientSecret: null, isRepeat: result.isRepeat, error: result.error };
      return { share: result.share, paymentIntentId: result.paymentIntentId, clientSecret: result.clientSecret, isRepeat: result.isRepeat, error: null };
    }),
    cancelPaymentRequest: allow(READERS, async (_parent, { input }, context) => {
      const id = parseRequestId(input.id, 'input.id');
      const key = parseIdempotencyKey(input.idempotencyKey, 'input.idempotencyKey');
      await assertMayCancel(context, id);
      return actionPayload(await context.paymentRequests.cancel(context.viewer, id, key), key);
    }),
    remindPaymentRequestMembers: allow(READERS, async (_parent, { input }, context) => {
      const id = parseRequestId(input.id, 'input.id');
      const key = parseIdempotencyKey(input.idempotencyKey, 'input.idempotencyKey');
      return actionPayload(await context.paymentRequests.remind(context.viewer, id, key), key);
    }),
  },
  PaymentRequestConnection: inheritAccess({}),
  PaymentRequest: inheritAccess<PaymentRequestResolvers>({
    track: (request) => request.product_id,
    trackName: (request) => request.product_name,
    total: (request) => ({ amount: Number(request.total), currency: request.currency }),
    amountPaid: (request) => ({ amount: Number(request.amount_paid), currency: request.currency }),
    amountRefunded: (request) => ({ amount: Number(request.amount_refunded), currency: request.currency }),
    status: (request) => requestStatus(request.status),
    membersCount: (request) => Number(request.members_count),
    membersPaid: (request) => Number(request.members_paid),
    expiresAt: (request) => isoOrNull(request.expires_at),
    createdBy: (request) => request.created_by,
    createdByName: (request) => request.created_by_name,
    metadata: (request) => Object.entries(request.metadata).map(([key, value]) => ({ key, value: String(value) })),
    // Through this request's loader: a page of requests reads all their members in one query.
    members: async (request, _args, { loaders }) => (await loaders.paymentRequestMembers.load(request.id)).map((member) => ({ ...member, currency: request.currency })),
    createdAt: (request) => iso(request.created_at),
    updatedAt: (request) => iso(request.updated_at),
    completedAt: (request) => isoOrNull(request.completed_at),
    canceledAt: (request) => isoOrNull(request.canceled_at),
  }),
  PaymentRequestMember: inheritAccess<PaymentRequestMemberResolvers>({
    amount: (member) => ({ amount: Number(member.amount_pence), currency: member.currency }),
    status: (member) => shareStatus(member.status),
    paymentAttemptCount: (member) => member.payment_attempt_count,
    paymentIntentId: (member) => member.stripe_payment_intent_id,
    paidAt: (member) => isoOrNull(member.paid_at),
    amountRefunded: (member) => ({ amount: Number(member.amount_refunded), currency: member.currency }),
    // The share's order is an internal handle (refunds, disputes): staff only.
    orderId: (member, _args, { viewer }) => (isStaff(viewer) ? member.order_id : null),
  }),
  MemberPayLink: inheritAccess({}),
  PaymentRequestError: inheritAccess({}),
  CreatePaymentRequestPayload: inheritAccess({}),
  PayMemberSharePayload: inheritAccess({}),
  PaymentRequestActionPayload: inheritAccess({}),
  RemindPaymentRequestMembersPayload: inheritAccess({}),
  MemberShare: inheritAccess<MemberShareResolvers>({
    memberId: (share: MemberShareView) => share.member_id,
    paymentRequestId: (share) => share.payment_request_id,
    trackName: (share) => share.track_name,
    memberName: (share) => share.member_name,
    amount: (share) => ({ amount: Number(share.amount_pence), currency: share.currency }),
    status: (share) => shareStatus(share.status),
    requestStatus: (share) => requestStatus(share.request_status),
    expiresAt: (share) => isoOrNull(share.expires_at),
  }),
};
