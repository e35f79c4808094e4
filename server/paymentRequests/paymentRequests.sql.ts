// The payment request SQL functions of 20261207001700_payment_requests.sql: create (key, rules, rows
// in one statement), cancel's targets and finish, and remind.
import type { Queryable } from '../platform/db/db';

async function call<T>(db: Queryable, fn: string, argument: object): Promise<T> {
  const { rows } = await db.query<{ result: T }>(`select ${fn}($1::jsonb) as result`, [JSON.stringify(argument)]);
  return rows[0]!.result;
}

export interface CreateRequestCall {
  scope: string;
  key: string;
  request_hash: string;
  title: string;
  track: string | null;
  description: string | null;
  currency: string;
  /** ISO 8601, or null: no expiry. */
  expires_at: string | null;
  /** Stripe's clock (ISO 8601): expires_at must be after it. */
  now: string;
  metadata: Record<string, string>;
  created_by: string;
  created_by_name: string | null;
  members: Array<{ email: string; name: string | null; amount: number; token_hash: string }>;
  /** When given, the shares must sum to it; the request's total is the sum either way. */
  total?: number;
}

export type CreateRequestOutcome =
  | { outcome: 'created' | 'repeat'; payment_request_id: string }
  | { outcome: 'conflict'; operation: string }
  | { outcome: 'invalid'; reason: string; field: string; message: string };

export const createRequest = (db: Queryable, input: CreateRequestCall) => call<CreateRequestOutcome>(db, 'payment_request_create', input);

export interface CancelTarget {
  attempt_id: string;
  order_id: string;
  attempt: number;
  payment_intent_id: string;
}

/** The request's status and its unpaid shares' open PaymentIntents; null when there is no such request. */
export async function cancelTargets(db: Queryable, requestId: string): Promise<{ status: string; attempts: CancelTarget[] } | null> {
  const { rows } = await db.query<{ result: { status: string; attempts: CancelTarget[] } | null }>(
    'select payment_request_cancel_targets($1::uuid) as result',
    [requestId],
  );
  return rows[0]?.result ?? null;
}

export type CancelFinishOutcome =
  | { outcome: 'canceled' | 'not_found' | 'again' }
  | { outcome: 'not_cancelable'; status: string };

export const finishCancel = (db: Queryable, input: { id: string; actor: string }) => call<CancelFinishOutcome>(db, 'payment_request_cancel_finish', input);

export type RemindOutcome =
  | { outcome: 'reminded'; reminded: number }
  | { outcome: 'not_found' }
  | { outcome: 'not_remindable'; status: string }
  | { outcome: 'not_configured' };

export const remindMembers = (
  db: Queryable,
  input: { id: string; actor_log: string; members: Array<{ id: string; token_hash: string; pay_url: string }> },
) => call<RemindOutcome>(db, 'payment_request_remind', input);
