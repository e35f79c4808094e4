// What an attempt's answer means for the delivery, and when to try again.
//
// 2xx: Make has queued it (a custom webhook answers once queued, not once processed). 408, 429, 5xx,
// timeouts and network errors are worth another try; any other answer (a 4xx: the hook is gone or
// refuses the payload; a redirect, which we do not follow with a signed body) will not change by
// itself and is dead at once, for staff to replay once fixed.
//
// Backoff is exponential with full jitter (AWS's "Exponential Backoff and Jitter"): a random delay
// between 0 and min(cap, base * 2^(attempt-1)), so workers that failed together do not come back
// together. A Retry-After from Make (429, 503) is a floor under it.
import type { AttemptOutcome } from './deliveries.sql';

export interface BackoffOptions {
  baseMs: number;
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1000, capMs: 3_600_000 };

export function classifyStatus(status: number): AttemptOutcome {
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 408 || status === 429 || status >= 500) return 'retry';
  return 'dead';
}

/** The delay before the next attempt after `attempt` failed (1-based), in ms. */
export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 40));
  return Math.floor(random() * ceiling);
}

/**
 * Retry-After as milliseconds from now: delta-seconds or an HTTP date (RFC 9110 10.2.3). Null when
 * absent or unreadable; a date in the past is 0.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d{1,10}$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date) || !/[a-z]/i.test(trimmed)) return null;
  return Math.max(0, date - now);
}

/** When to try again: the jittered backoff, but never sooner than Make asked. */
export function retryDelay(attempt: number, retryAfterMs: number | null, options?: BackoffOptions, random?: () => number): number {
  return Math.max(backoffDelay(attempt, options, random), retryAfterMs ?? 0);
}
