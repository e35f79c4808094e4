// The start of a process whose database is away (issue 24): PostgreSQL restarting, a failover, a
// network that is not up yet when the container starts. Each start-up step that needs the database
// (migrations, seating the Make routes and the retention limits, ...) is retried with backoff for as
// long as the database cannot be reached, instead of failing the start (or leaving the process half
// started). Any other error (a route mismatch, an edited migration) still fails it at once. A process
// told to stop while it waits gives up at once: the steps are transactions, so nothing is left half done.
import type { Logger } from '../observability/logger';
import { DatabaseUnavailableError, isDatabaseUnavailable } from './errors';

/** The first retry waits this long, each further one twice as long, up to the max (with ±25% jitter). */
export const STARTUP_RETRY_FIRST_MS = 500;
export const STARTUP_RETRY_MAX_MS = 10_000;

/** The start was abandoned (SIGTERM or SIGINT) while it was under way. */
export class StartAbortedError extends Error {
  override name = 'StartAbortedError';
  constructor() {
    super('the start was abandoned: the process was told to stop');
  }
}

export interface UntilAvailableOptions {
  logger: Pick<Logger, 'warn' | 'info'>;
  /** Aborted when the process is told to stop: the wait, and the step in flight, end at once. */
  signal?: AbortSignal;
  /** Jitter's source (tests make it fixed). */
  random?: () => number;
}

/** The delay before retry number `attempt` (1 for the first retry), jittered. */
export function startupRetryDelay(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(STARTUP_RETRY_FIRST_MS * 2 ** (attempt - 1), STARTUP_RETRY_MAX_MS);
  return Math.round(base * (0.75 + random() * 0.5));
}

/**
 * Runs `step` until it succeeds, retrying while the database cannot be reached. Each wait is logged
 * (a warning naming the step, the attempt, the delay and the driver's error code: never the
 * connection string or a message that could hold it).
 */
export async function untilDatabaseAvailable<T>(stepName: string, step: () => Promise<T>, options: UntilAvailableOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    if (options.signal?.aborted) throw new StartAbortedError();
    try {
      const result = await abortable(step(), options.signal);
      if (attempt > 1) options.logger.info({ step: stepName, attempts: attempt }, 'the database is back: start-up goes on');
      return result;
    } catch (error) {
      if (error instanceof StartAbortedError || !isDatabaseUnavailable(error)) throw error;
      const retryInMs = startupRetryDelay(attempt, options.random);
      options.logger.warn({ step: stepName, attempt, retryInMs, reason: reasonOf(error) }, `waiting for the database: ${stepName} could not reach it, retrying`);
      await sleep(retryInMs, options.signal);
    }
  }
}

/** The driver's error code (ECONNREFUSED, 57P01, ...), or a fixed phrase: safe to log. */
function reasonOf(error: unknown): string {
  const seen = new Set<unknown>();
  // Our DatabaseUnavailableError's own code is SERVICE_UNAVAILABLE: the driver's is on its cause.
  for (let current: unknown = error instanceof DatabaseUnavailableError ? error.cause : error; current instanceof Error && !seen.has(current); current = current.cause) {
    seen.add(current);
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    if (current instanceof AggregateError) {
      const part = current.errors.map((e: unknown) => (e as { code?: unknown })?.code).find((c) => typeof c === 'string');
      if (typeof part === 'string') return part;
    }
  }
  return 'connection lost';
}

function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new StartAbortedError());
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new StartAbortedError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
