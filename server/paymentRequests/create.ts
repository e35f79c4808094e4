// createPaymentRequest: the shapes are checked here (text the database cannot hold, such as NUL or a
// lone surrogate, never reaches it), the rules again in payment_request_create, which claims the key
// and writes the request, its members, their share orders and logs in one statement. The tokens are
// made here and given once: the database keeps their hashes, and a repeat answers without links.
import type { Viewer } from '../auth/viewer';
import { requestHash } from '../idempotency/requestHash';
import { AppError, BadUserInputError } from '../platform/errors';
import type { PaymentRequestDeps } from './paymentRequests';
import { createRequest } from './paymentRequests.sql';
import { findRequest } from './read.sql';
import { creatorOf, type CreatePaymentRequestInput, type CreatePaymentRequestResult, type MemberPayLink } from './service';
import { newPayToken } from './tokens';

// NUL, and a UTF-16 surrogate without its pair: PostgreSQL's text and jsonb refuse both.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function checkText(value: string | null, field: string): void {
  if (value !== null && UNSTORABLE.test(value)) {
    throw new BadUserInputError(`${field} contains characters that cannot be stored (NUL or an unpaired surrogate)`, { reason: 'INVALID_TEXT', field });
  }
}

function checkShapes(input: CreatePaymentRequestInput): void {
  checkText(input.title, 'title');
  checkText(input.description, 'description');
  checkText(input.track, 'track');
  checkText(input.currency, 'currency');
  if (!Array.isArray(input.members)) throw new BadUserInputError('members must be a list', { reason: 'INVALID_MEMBERS', field: 'members' });
  for (const member of input.members) {
    checkText(member.email, 'members.email');
    checkText(member.name, 'members.name');
    if (!Number.isSafeInteger(member.amount)) {
      throw new BadUserInputError('Each share is a whole amount of at least 1 in the minor unit', { reason: 'INVALID_AMOUNT', field: 'members.amount' });
    }
  }
  const entries = Object.entries(input.metadata ?? {});
  if (entries.length > 20 || entries.some(([key, value]) => key.length > 40 || typeof value !== 'string' || value.length > 500)) {
    throw new BadUserInputError('metadata takes up to 20 pairs, keys up to 40 characters, values up to 500', { reason: 'INVALID_METADATA', field: 'metadata' });
  }
  for (const [key, value] of entries) {
    checkText(key, 'metadata');
    checkText(value, 'metadata');
  }
  if (input.expiresAt !== null && !Number.isFinite(input.expiresAt)) {
    throw new BadUserInputError('expiresAt must be a time', { reason: 'INVALID_EXPIRES_AT', field: 'expiresAt' });
  }
}

/** Everything about the input but the key (and the tokens, new on every call), in one fixed form. */
function createHash(input: CreatePaymentRequestInput): string {
  const metadata = Object.entries(input.metadata ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return requestHash(
    JSON.stringify([
      'create_payment_request',
      input.title,
      input.track,
      input.description,
      input.currency,
      input.members.map((member) => [member.email, member.name, member.amount]),
      input.expiresAt,
      metadata,
    ]),
  );
}

export function payUrlNotConfigured(): AppError {
  return new AppError('SERVICE_UNAVAILABLE', 'Payment requests are not set up on this server: PAYMENT_REQUEST_PAY_URL is not configured', {
    reason: 'PAY_URL_NOT_CONFIGURED',
  });
}

export async function createPaymentRequest(deps: PaymentRequestDeps, viewer: Viewer, input: CreatePaymentRequestInput): Promise<CreatePaymentRequestResult> {
  const payUrl = deps.payUrl;
  if (!payUrl) throw payUrlNotConfigured();
  checkShapes(input);
  const tokens = input.members.map(() => newPayToken());
  const answer = await createRequest(deps.db, {
    scope: `${viewer.kind}:${viewer.id}`,
    key: input.idempotencyKey,
    request_hash: createHash(input),
    title: input.title,
    track: input.track,
    description: input.description,
    currency: input.currency,
    expires_at: input.expiresAt === null ? null : new Date(input.expiresAt).toISOString(),
    now: new Date(deps.now()).toISOString(),
    metadata: input.metadata ?? {},
    created_by: creatorOf(viewer),
    created_by_name: viewer.name,
    members: input.members.map((member, index) => ({ email: member.email, name: member.name, amount: member.amount, token_hash: tokens[index]!.hash })),
  });
  if (answer.outcome === 'invalid') throw new BadUserInputError(answer.message, { reason: answer.reason, field: answer.field });
  if (answer.outcome === 'conflict') return answer;
  const request = await findRequest(deps.db, answer.payment_request_id);
  if (!request) throw new Error(`payment request ${answer.payment_request_id} not found after create`);
  if (answer.outcome === 'repeat') return { outcome: 'created', isRepeat: true, request, payLinks: [] };
  // The members in the order given: their ids by email, as the request stored them.
  const { rows } = await deps.db.query<{ id: string; email: string }>(
    'select id, email from payment_request_members where payment_request_id = $1',
    [request.id],
  );
  const idByEmail = new Map(rows.map((row) => [row.email.toLowerCase(), row.id]));
  const payLinks: MemberPayLink[] = input.members.map((member, index) => ({
    memberId: idByEmail.get(member.email.toLowerCase())!,
    email: member.email,
    payUrl: payUrl(tokens[index]!.token),
  }));
  return { outcome: 'created', isRepeat: false, request, payLinks };
}
