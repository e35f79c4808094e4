// The Make.com outbox worker (DESIGN.md decision 7). Delivery rows are written by triggers in the
// same transaction as the change that causes them (20261122000600_make_outbox.sql); this worker
// posts them. It is woken by NOTIFY (PostgreSQL LISTEN, or PGlite's), after start, and by a timer
// (the safety net: a lost notification, a retry that became due, a lease that ended).
//
// One pass: claim due rows with FOR UPDATE SKIP LOCKED in one statement (committed at once, so no
// transaction is held open across HTTP), post each with a timeout, then record the attempt. The claim
// leases the row: a worker that dies between claim and record leaves it to be claimed again when the
// lease ends, and the same delivery id goes out again (Make scenarios drop repeats by it). A worker
// that records after its lease ended is refused by the SQL, so it never overwrites a newer attempt.
// Any number of processes may run this at once.
import type { Config } from '../config';
import type { Db } from '../db/db';
import type { Logger } from '../observability/logger';
import { type AttemptRecord, type ClaimedDelivery, claimDeliveries, recordAttempt, type RecordedOutcome } from './deliveries.sql';
import { type BackoffOptions, classifyStatus, DEFAULT_BACKOFF, parseRetryAfter, retryDelay } from './retryPolicy';
import { signMakeBody, SIGNATURE_HEADER } from './signature';

export const MAKE_NOTIFY_CHANNEL = 'make_outbox';

/** What is kept of Make's answer: enough to read an error, never a large page. */
const RESPONSE_LIMIT = 2048;

export interface MakeOutbox {
  /** Wakes the worker: deliveries may be due. Returns at once. */
  wake(): void;
  /** Posts due deliveries until none is due; resolves with how many attempts were made. */
  drain(): Promise<number>;
  /** Stops waking and waits for the attempts in flight. */
  stop(): Promise<void>;
}

export interface MakeOutboxDeps {
  db: Db;
  config: Pick<Config['make'], 'signingSecret' | 'apiKey' | 'timeoutMs' | 'retryHorizonMs'>;
  logger: Logger;
  /** Defaults to the global fetch, looked up at call time (so msw can stand in for Make in tests). */
  fetch?: typeof fetch;
  /** Deliveries claimed (and posted concurrently) per pass. Default 20 (5 on PGlite, whose queries hold the thread). */
  batchSize?: number;
  /** How long a claim holds a row; must outlast the POST and the record. Default: the timeout plus 30 s. */
  leaseMs?: number;
  backoff?: BackoffOptions;
  random?: () => number;
  /**
   * After a pass, set a timer for a retry due within 10 s rather than leave it to the job (default
   * true). False in a process without jobs, which must deliver nothing in the background.
   */
  wakeForRetries?: boolean;
}

export function createMakeOutbox(deps: MakeOutboxDeps): MakeOutbox {
  const { db, config, logger } = deps;
  const batchSize = deps.batchSize ?? (db.engine === 'pglite' ? 5 : 20);
  const leaseMs = deps.leaseMs ?? config.timeoutMs + 30_000;
  const backoff = deps.backoff ?? DEFAULT_BACKOFF;
  const doFetch = deps.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  let current: Promise<number> | null = null;
  let again = false;
  let stopped = false;
  // A retry due within the next few seconds gets a timer of its own, rather than waiting for the job.
  let retryTimer: NodeJS.Timeout | undefined;

  async function attempt(delivery: ClaimedDelivery): Promise<RecordedOutcome> {
    const record = await post(delivery);
    const recorded = await recordAttempt(db, record);
    const log = { deliveryId: delivery.id, kind: delivery.kind, attempt: delivery.attempt, statusCode: record.status_code, error: record.error };
    if (recorded === 'dead') logger.warn(log, 'make delivery dead: it waits for a staff replay');
    else if (recorded === 'retry') logger.info({ ...log, retryInMs: record.retry_in_ms }, 'make delivery failed: will retry');
    else if (recorded === 'lease_lost') logger.warn(log, 'make delivery attempt recorded after its lease ended: another worker holds it now');
    return recorded;
  }

  /** One POST; never throws: every failure becomes the attempt's record. */
  async function post(delivery: ClaimedDelivery): Promise<AttemptRecord> {
    const startedAt = new Date();
    const started = performance.now();
    const base = { id: delivery.id, attempt: delivery.attempt, horizon_ms: config.retryHorizonMs, started_at: startedAt.toISOString() };
    const elapsed = () => Math.round(performance.now() - started);
    const retry = (error: string, statusCode: number | null = null, response: string | null = null, retryAfterMs: number | null = null): AttemptRecord => ({
      ...base,
      outcome: 'retry',
      retry_in_ms: retryDelay(delivery.attempt, retryAfterMs, backoff, deps.random),
      latency_ms: elapsed(),
      status_code: statusCode,
      error,
      response,
    });
    if (!delivery.url) return { ...base, outcome: 'dead', latency_ms: 0, error: `no Make webhook URL is configured for ${delivery.kind} any more` };
    if (!config.signingSecret) return retry('MAKE_SIGNING_SECRET is not set in this process: the delivery cannot be signed');

    const body = JSON.stringify(delivery.payload);
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'X-Delivery-Id': delivery.id,
      [SIGNATURE_HEADER]: signMakeBody(config.signingSecret, body),
    };
    if (config.apiKey) headers['x-make-apikey'] = config.apiKey;

    let response: Response;
    let text: string;
    try {
      // The timeout covers reading the answer too; a redirect is not followed with a signed body.
      response = await doFetch(delivery.url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(config.timeoutMs) });
      text = await readLimited(response);
    } catch (error) {
      return retry(describeFetchError(error, config.timeoutMs));
    }
    const outcome = classifyStatus(response.status);
    if (outcome === 'retry') return retry(`Make answered ${response.status}`, response.status, text, parseRetryAfter(response.headers.get('retry-after')));
    return {
      ...base,
      outcome,
      latency_ms: elapsed(),
      status_code: response.status,
      error: outcome === 'dead' ? `Make answered ${response.status}: not retried` : null,
      response: text,
    };
  }

  /** Claims and posts one batch; resolves with how many were claimed. */
  async function pass(): Promise<number> {
    const claimed = await claimDeliveries(db, batchSize, leaseMs);
    await Promise.all(claimed.map((delivery) => attempt(delivery)));
    return claimed.length;
  }

  async function scheduleNextRetry(): Promise<void> {
    if (deps.wakeForRetries === false) return;
    // Null when nothing waits (greatest() would turn a null into 0: a wake every few ms, forever).
    const { rows } = await db.query<{ in_ms: number | null }>(
      `select ceil(extract(epoch from min(next_attempt_at) - now()) * 1000)::int as in_ms
         from make_deliveries where status in ('pending', 'delivering')`,
    );
    const inMs = rows[0]?.in_ms ?? null;
    clearTimeout(retryTimer);
    if (inMs === null || inMs > 10_000 || stopped) return;
    retryTimer = setTimeout(() => outbox.wake(), Math.max(inMs, 0) + 5);
    retryTimer.unref();
  }

  function drain(): Promise<number> {
    if (current) {
      again = true; // the running drain makes another pass
      return current;
    }
    current = (async () => {
      let total = 0;
      do {
        again = false;
        for (;;) {
          const claimed = await pass();
          total += claimed;
          if (claimed === 0 || stopped) break;
        }
      } while (again && !stopped);
      await scheduleNextRetry();
      return total;
    })().finally(() => (current = null));
    return current;
  }

  const outbox: MakeOutbox = {
    wake() {
      if (stopped) return;
      drain().catch((error: unknown) => logger.error({ err: error }, 'make outbox failed: the timer will try again'));
    },
    drain,
    async stop() {
      stopped = true;
      clearTimeout(retryTimer);
      await current?.catch(() => undefined);
    },
  };
  return outbox;
}

/** The body as text, cut at RESPONSE_LIMIT characters; the rest is not read. */
async function readLimited(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (text.length < RESPONSE_LIMIT) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  // Not awaited: some bodies (a stalled peer, an in-process stand-in) never settle a cancel.
  reader.cancel().catch(() => undefined);
  return text.slice(0, RESPONSE_LIMIT);
}

/** A failed fetch in words, without the URL (a Make webhook URL is itself a credential). */
function describeFetchError(error: unknown, timeoutMs: number): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `timed out after ${timeoutMs} ms`;
  const cause = e?.cause?.code ?? e?.cause?.message;
  return `network error: ${cause ?? e?.message ?? 'unknown'}`.slice(0, 300);
}
