// A staff mutation made idempotent by the caller's key with its FIRST ANSWER kept (DESIGN.md decision
// 4; issue 17): the same key and input answers what the first call answered, flagged as a repeat, and
// does nothing again; the key with other input (or for another operation) is CONFLICT. The key is
// claimed before the work (so a double press cannot do it twice), and completed with the answer and
// its audit row in one statement (supabase/migrations/20261207000900_reconciliation_api.sql).
//
// A second call while the first is still working (a double press landing together) is refused with
// CONFLICT (IDEMPOTENCY_KEY_IN_PROGRESS) rather than waited for: the first call's answer is on its way
// to the same client, and a typed refusal is the one answer that cannot be wrong, whatever the first
// call ends with. A key left in progress by a process that died is claimed again after STALE_SECONDS.
//
// The claim is fenced by a token: a key taken over after STALE_SECONDS belongs to the new call, and the
// first call (slow, not dead after all) can neither give it back nor complete it. Its complete then
// answers false, which is logged and thrown (IDEMPOTENCY_KEY_TAKEN_OVER), never ignored.
//
// The stored answer holds ids and outcomes only: a repeat re-reads the objects as they stand now.
import { randomUUID } from 'node:crypto';
import type { Viewer } from '../auth/viewer';
import type { Queryable } from '../platform/db/db';
import { ConflictError } from '../platform/errors';
import type { Logger } from '../platform/observability/logger';
import { idempotencyKeyReused } from './keys';
import { requestHash } from './requestHash';

/** Longer than any one staff action takes (a Stripe call with the SDK's retries), far shorter than retention. */
const STALE_SECONDS = 300;

export interface StaffAudit {
  /** e.g. reconciliation.sync_order */
  action: string;
  targetType: string;
  targetId: string;
  details?: Record<string, unknown>;
}

export interface StaffActionRequest<Response extends object> {
  viewer: Viewer;
  key: string;
  /** Names the mutation; a key used for another operation is a conflict. */
  operation: string;
  /** Everything about the input but the key, in one fixed form (the same input gives the same text). */
  canonicalInput: Record<string, string | null>;
  /**
   * Does the work once. `keep: false` gives the key back (nothing happened, e.g. Stripe was unreachable
   * or the id names nothing): the same key may try again, and nothing is audited.
   */
  work: () => Promise<{ response: Response; keep: boolean }>;
  /** The audit row of a kept answer. */
  audit: (response: Response) => StaffAudit;
  /** Where a lost claim is reported (the request's logger). */
  logger?: Pick<Logger, 'error'>;
  /**
   * Who acts, for the audit row: staff (the default) or a customer acting on what is theirs (their
   * subscription; issue 19), or an API key acting on what it made (a payment request; issue 20). The
   * key's scope is `${viewer.kind}:${viewer.id}` either way. 'cli': an operator at the admin CLI
   * (server/cli/), whose viewer id is `<os user>@<host>` (issue 21).
   */
  actorType?: 'staff' | 'customer' | 'api_key' | 'cli';
}

export interface StaffActionResult<Response> {
  response: Response;
  isRepeat: boolean;
}

/** The request hash of a staff action: its operation and canonical input as JSON, keys sorted. */
export function staffActionHash(operation: string, canonicalInput: Record<string, string | null>): string {
  const sorted = Object.fromEntries(Object.entries(canonicalInput).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return requestHash(`${operation}:${JSON.stringify(sorted)}`);
}

export function idempotencyKeyInProgress(key: string): ConflictError {
  return new ConflictError(`The idempotency key "${key}" is in use by a call still working: wait for its answer, or send a new key for a new action`, {
    reason: 'IDEMPOTENCY_KEY_IN_PROGRESS',
    idempotencyKey: key,
  });
}

/**
 * The work was done, but its key had been taken over by a later call with the same key (this one ran
 * past STALE_SECONDS): this answer is not the key's, and no audit row was written for it.
 */
export function idempotencyKeyTakenOver(key: string): ConflictError {
  return new ConflictError(
    `The idempotency key "${key}" was taken over by a later call while this one was still working (over ${STALE_SECONDS} s): this call's work was done, but its answer is not the key's. Send the same key again to read the answer kept, and check the audit log.`,
    { reason: 'IDEMPOTENCY_KEY_TAKEN_OVER', idempotencyKey: key },
  );
}

type Claim =
  | { outcome: 'claimed' }
  | { outcome: 'repeat'; response: object }
  | { outcome: 'conflict'; operation: string }
  | { outcome: 'in_progress' };

async function call<T>(db: Queryable, fn: string, argument: object): Promise<T> {
  const { rows } = await db.query<{ result: T }>(`select ${fn}($1::jsonb) as result`, [JSON.stringify(argument)]);
  return rows[0]!.result;
}

export async function runStaffAction<Response extends object>(db: Queryable, request: StaffActionRequest<Response>): Promise<StaffActionResult<Response>> {
  const { viewer, key, operation } = request;
  const identity = { scope: `${viewer.kind}:${viewer.id}`, key, operation };
  // This call's hold on the key: complete and release act only under it.
  const token = randomUUID();
  const claim = await call<Claim>(db, 'staff_action_claim', {
    ...identity,
    token,
    request_hash: staffActionHash(operation, request.canonicalInput),
    stale_seconds: STALE_SECONDS,
  });
  if (claim.outcome === 'conflict') throw idempotencyKeyReused(key, claim.operation);
  if (claim.outcome === 'in_progress') throw idempotencyKeyInProgress(key);
  if (claim.outcome === 'repeat') return { response: claim.response as Response, isRepeat: true };

  let done: { response: Response; keep: boolean };
  try {
    done = await request.work();
  } catch (error) {
    // Whatever broke (the database, a bug), the key must not stay claimed: the caller may retry it.
    await call(db, 'staff_action_release', { ...identity, token }).catch(() => undefined);
    throw error;
  }
  if (!done.keep) {
    await call(db, 'staff_action_release', { ...identity, token });
    return { response: done.response, isRepeat: false };
  }
  const audit = request.audit(done.response);
  const actorType = request.actorType ?? 'staff';
  const completed = await call<boolean>(db, 'staff_action_complete', {
    ...identity,
    token,
    response: done.response,
    actor: `${actorType}:${viewer.id}`,
    actor_type: actorType,
    action: audit.action,
    target_type: audit.targetType,
    target_id: audit.targetId,
    // Who acted in words (a staff member's email, a key's name) beside the id the actor holds: the
    // order timeline says "by ada@…", not a UUID, and there is no staff table to look the id up in.
    details: { ...audit.details, ...(viewer.name ? { actor_name: viewer.name } : {}) },
  });
  if (!completed) {
    request.logger?.error(
      { operation, idempotencyKey: key, actor: `${actorType}:${viewer.id}`, audit: { action: audit.action, targetType: audit.targetType, targetId: audit.targetId }, response: done.response },
      'staff action done but its idempotency key was taken over by a later call: answer not kept, no audit row',
    );
    throw idempotencyKeyTakenOver(key);
  }
  return { response: done.response, isRepeat: false };
}
