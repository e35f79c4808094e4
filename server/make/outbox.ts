// The Make.com outbox worker (DESIGN.md decision 7). Delivery rows are written by triggers in the
// same transaction as the change that causes them (20261122000600_make_outbox.sql); this worker
// posts them. It is woken by NOTIFY (PostgreSQL LISTEN, or PGlite's), after start, and by a timer
// (the safety net: a lost notification, a retry that became due, a lease that ended).
//
// Claims use FOR UPDATE SKIP LOCKED in one statement (committed at once, so no transaction is held
// open across HTTP). Up to `concurrency` POSTs are in flight per worker, and a slot that frees is
// filled by a new claim at once: a slow Make answer holds up its own slot, never a whole batch
// (issue 14, defect 7). The claim leases the row; while a POST is in flight its lease is extended
// (20261207000200_make_lease_extend.sql), so however long Make takes within MAKE_TIMEOUT_MS, no
// other worker claims and posts the delivery again. A worker that dies stops extending: the rows it
// held become due when their lease ends, and the same delivery id goes out again (Make scenarios drop
// repeats by it). A worker that records after losing its lease is refused by the SQL, so it never
// overwrites a newer attempt. Any number of processes may run this at once.
import type { Config } from '../config';
import type { Db } from '../platform/db/db';
import { createDrainLoop } from '../platform/jobs/drainLoop';
import type { Logger } from '../platform/observability/logger';
import {
  type AttemptRecord,
  type ClaimedDelivery,
  claimDeliveries,
  extendLeases,
  type HeldAttempt,
  heldKey,
  recordAttempt,
  recordAttempts,
  type RecordedOutcome,
} from './deliveries.sql';
import { type BackoffOptions, classifyStatus, DEFAULT_BACKOFF, parseRetryAfter, retryDelay } from './retryPolicy';
import { signMakeBody, SIGNATURE_HEADER } from './signature';

export const MAKE_NOTIFY_CHANNEL = 'make_outbox';

/** What is kept of Make's answer: enough to read an error, never a large page. */
const RESPONSE_LIMIT = 2048;

/**
 * How long a claim holds a row before it is extended. Short, because it is also how long the
 * deliveries of a worker that died wait before another worker takes them; a live worker extends it.
 */
export const DEFAULT_LEASE_MS = 30_000;

/** POSTs in flight per worker unless configured: PGlite runs every query on this thread, so fewer. */
export const defaultMakeConcurrency = (engine: Db['engine']): number => (engine === 'pglite' ? 5 : 20);

export interface MakeOutbox {
  /** Wakes the worker: deliveries may be due. Returns at once. */
  wake(): void;
  /**
   * Posts due deliveries until none is due and none is in flight; resolves with how many attempts
   * were made since the worker was last idle. A call while it is busy joins the running drain (which
   * claims once more, for what the caller may just have enqueued).
   */
  drain(): Promise<number>;
  /**
   * Stops claiming and waits for the attempts in flight to be recorded. With `deadlineMs`, POSTs still
   * running after it are aborted and recorded as retries, so shutdown ends within its timeout.
   */
  stop(options?: { deadlineMs?: number }): Promise<void>;
}

export interface MakeOutboxDeps {
  db: Db;
  config: Pick<Config['make'], 'signingSecret' | 'apiKey' | 'timeoutMs' | 'retryHorizonMs'> & Partial<Pick<Config['make'], 'concurrency'>>;
  logger: Logger;
  /** Defaults to the global fetch, looked up at call time (so msw can stand in for Make in tests). */
  fetch?: typeof fetch;
  /** POSTs in flight at most; overrides config.concurrency. Default: defaultMakeConcurrency(db.engine). */
  concurrency?: number;
  /** How long a claim holds a row before the worker extends it (at about half). Default DEFAULT_LEASE_MS. */
  leaseMs?: number;
  backoff?: BackoffOptions;
  random?: () => number;
  /**
   * When idle, set a timer for a retry due within 10 s rather than leave it to the job (default
   * true). False in a process without jobs, which must deliver nothing in the background.
   */
  wakeForRetries?: boolean;
}

/** One attempt in flight: the claim's token (id and attempt) and what this worker knows of its lease. */
interface InFlight extends HeldAttempt {
  /** When the lease ends by this process's clock, read before the statement that set it (so never late). */
  leaseEndsAt: number;
  lost: boolean;
  /** Aborts the POST at shutdown's deadline. */
  abort: AbortController;
}

/** A busy period, from a pass's first claim to idle: one pass of the drain loop. */
interface Run {
  attempts: number;
  /** Attempts whose record was not `delivered` (a retry, dead, a lease lost): the run ends by looking for the next retry. */
  undelivered: number;
  error: unknown;
  promise: Promise<number>;
  resolve: (attempts: number) => void;
  reject: (error: unknown) => void;
}

export function createMakeOutbox(deps: MakeOutboxDeps): MakeOutbox {
  const { db, config, logger } = deps;
  const concurrency = deps.concurrency ?? config.concurrency ?? defaultMakeConcurrency(db.engine);
  const leaseMs = deps.leaseMs ?? DEFAULT_LEASE_MS;
  const backoff = deps.backoff ?? DEFAULT_BACKOFF;
  const doFetch = deps.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const inFlight = new Map<string, InFlight>();
  let run: Run | null = null;
  let claiming = false;
  // Set when more may be due than the last claim took: a wake, or a claim that filled every free slot.
  let mayHaveMore = false;
  let extending = false;
  let heartbeat: NodeJS.Timeout | undefined;
  // A retry due within the next few seconds gets a timer of its own, rather than waiting for the job.
  let retryTimer: NodeJS.Timeout | undefined;
  let idle: (() => void)[] = [];

  // Group commit of attempt records: the records that come while one statement is being written
  // share the next one (under load a burst of POSTs finishes together; alone, a record is written at
  // once, as before).
  let recordQueue: Array<{ record: AttemptRecord; resolve: (outcome: RecordedOutcome) => void; reject: (error: unknown) => void }> = [];
  let recording = false;

  function recordGrouped(record: AttemptRecord): Promise<RecordedOutcome> {
    return new Promise((resolve, reject) => {
      recordQueue.push({ record, resolve, reject });
      if (!recording) {
        recording = true;
        setImmediate(() => void writeRecords());
      }
    });
  }

  async function writeRecords(): Promise<void> {
    try {
      while (recordQueue.length > 0) {
        const batch = recordQueue;
        recordQueue = [];
        let outcomes: Map<string, RecordedOutcome> | undefined;
        if (batch.length > 1) outcomes = await recordAttempts(db, batch.map((queued) => queued.record)).catch(() => undefined);
        for (const queued of batch) {
          const outcome = outcomes?.get(heldKey(queued.record));
          if (outcome) queued.resolve(outcome);
          // Alone, or the shared statement failed: this record's own statement, its own error.
          else await recordAttempt(db, queued.record).then(queued.resolve, queued.reject);
        }
      }
    } finally {
      recording = false;
    }
  }

  async function attempt(delivery: ClaimedDelivery, held: InFlight): Promise<RecordedOutcome> {
    const record = await post(delivery, held.abort.signal);
    const recorded = await recordGrouped(record);
    if (recorded !== 'delivered' && run) run.undelivered += 1;
    const log = { deliveryId: delivery.id, kind: delivery.kind, attempt: delivery.attempt, statusCode: record.status_code, error: record.error };
    if (recorded === 'dead') logger.warn(log, 'make delivery dead: it waits for a staff replay');
    else if (recorded === 'retry') logger.info({ ...log, retryInMs: record.retry_in_ms }, 'make delivery failed: will retry');
    else if (recorded === 'lease_lost') logger.warn(log, 'make delivery attempt recorded after its lease ended: another worker holds it now');
    return recorded;
  }

  /** One POST; never throws: every failure becomes the attempt's record. */
  async function post(delivery: ClaimedDelivery, shutdown: AbortSignal): Promise<AttemptRecord> {
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
    const timeout = AbortSignal.timeout(config.timeoutMs);
    try {
      // The timeout covers reading the answer too; a redirect is not followed with a signed body.
      const signal = AbortSignal.any([timeout, shutdown]);
      response = await doFetch(delivery.url, { method: 'POST', headers, body, redirect: 'manual', signal });
      text = await readLimited(response);
    } catch (error) {
      if (shutdown.aborted && !timeout.aborted) return retry('abandoned at shutdown: the answer was not awaited');
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

  /** Claims into the free slots until they are full or nothing more is due. One loop at a time. */
  async function fill(): Promise<void> {
    if (claiming) return; // the running loop claims again: mayHaveMore is set
    claiming = true;
    try {
      while (mayHaveMore && !stopped()) {
        const free = concurrency - inFlight.size;
        if (free <= 0) break; // a finishing attempt fills its slot
        mayHaveMore = false;
        const claimedAt = Date.now();
        const claimed = await claimDeliveries(db, free, leaseMs);
        if (claimed.length === free) mayHaveMore = true;
        // Claimed rows are posted even when stop() came meanwhile: they are leased to this worker.
        for (const delivery of claimed) start(delivery, claimedAt);
      }
    } catch (error) {
      // The database is away, say: the in-flight attempts go on; the job's timer claims again later.
      if (run) run.error ??= error;
    } finally {
      claiming = false;
      settleIfIdle();
    }
  }

  function start(delivery: ClaimedDelivery, claimedAt: number): void {
    const held: InFlight = { id: delivery.id, attempt: delivery.attempt, leaseEndsAt: claimedAt + leaseMs, lost: false, abort: new AbortController() };
    const key = heldKey(held);
    inFlight.set(key, held);
    if (run) run.attempts += 1;
    if (!heartbeat) {
      heartbeat = setInterval(beat, Math.max(Math.floor(leaseMs / 4), 10));
      heartbeat.unref();
    }
    attempt(delivery, held)
      .catch((error: unknown) => {
        // Not recorded (the database is away): the row stays leased and is claimed again when the lease ends.
        if (run) run.error ??= error;
      })
      .finally(() => {
        inFlight.delete(key);
        if (mayHaveMore && !stopped()) void fill();
        else settleIfIdle();
      });
  }

  /**
   * While busy: extend the leases that need it, and claim into free slots. The job's timer does not
   * run while a drain is busy (jobs never overlap themselves), so a retry that falls due while slow
   * POSTs keep the worker busy is claimed by this beat rather than after them.
   */
  function beat(): void {
    void extendEnding();
    if (!stopped() && inFlight.size < concurrency) {
      mayHaveMore = true;
      void fill();
    }
  }

  /** Extends the leases of attempts in flight whose lease is past its half, in one statement. */
  async function extendEnding(): Promise<void> {
    if (extending) return;
    const now = Date.now();
    const ending = [...inFlight.values()].filter((held) => !held.lost && held.leaseEndsAt - now < leaseMs / 2);
    if (ending.length === 0) return;
    extending = true;
    try {
      const sentAt = Date.now();
      const extended = await extendLeases(db, ending.map(({ id, attempt }) => ({ id, attempt })), leaseMs);
      for (const held of ending) {
        if (extended.has(heldKey(held))) held.leaseEndsAt = sentAt + leaseMs;
        else {
          held.lost = true;
          logger.warn({ deliveryId: held.id, attempt: held.attempt }, 'make delivery lease lost while its POST was in flight: another worker holds it now');
        }
      }
    } catch (error) {
      // The next beat tries again; a lease that ends meanwhile lets another worker post it (at least once).
      logger.warn({ err: error }, 'could not extend the leases of Make deliveries in flight');
    } finally {
      extending = false;
    }
  }

  function settleIfIdle(): void {
    if (claiming || inFlight.size > 0) return;
    clearInterval(heartbeat);
    heartbeat = undefined;
    const waiting = idle;
    idle = [];
    for (const resolve of waiting) resolve();
    const finished = run;
    if (!finished) return;
    run = null;
    // A run whose every attempt was delivered left no retry of its own, and any timer set for an
    // earlier one still stands: looking again would be one more statement per busy period, which at
    // a trickle of paid orders is one per delivery. Retries of other processes are the job's (3 s).
    // A run that posted nothing (it found only leases held elsewhere) looks, for when they end.
    const looks = finished.attempts === 0 || finished.undelivered > 0 || finished.error !== undefined;
    (looks ? scheduleNextRetry() : Promise.resolve())
      .catch((error: unknown) => (finished.error ??= error))
      .then(() => (finished.error ? finished.reject(finished.error) : finished.resolve(finished.attempts)));
  }

  async function scheduleNextRetry(): Promise<void> {
    if (deps.wakeForRetries === false || stopped()) return;
    // Null when nothing waits (greatest() would turn a null into 0: a wake every few ms, forever).
    const { rows } = await db.query<{ in_ms: number | null }>(
      `select ceil(extract(epoch from min(next_attempt_at) - now()) * 1000)::int as in_ms
         from make_deliveries where status in ('pending', 'delivering')`,
    );
    const inMs = rows[0]?.in_ms ?? null;
    clearTimeout(retryTimer);
    if (inMs === null || inMs > 10_000 || stopped()) return;
    retryTimer = setTimeout(() => outbox.wake(), Math.max(inMs, 0) + 5);
    retryTimer.unref();
  }

  // A pass is one busy period: claim into the free slots, fill each slot as it frees, resolve when
  // nothing is in flight and nothing more was due.
  const loop = createDrainLoop({
    pass() {
      let resolve!: (attempts: number) => void;
      let reject!: (error: unknown) => void;
      const promise = new Promise<number>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      run = { attempts: 0, undelivered: 0, error: undefined, promise, resolve, reject };
      mayHaveMore = true;
      void fill();
      return promise;
    },
    // While busy, a join claims into the free slots at once rather than after the busy period.
    onJoin() {
      if (!run || loop.stopped) return false;
      mayHaveMore = true;
      void fill();
      return true;
    },
    onWakeError: (error) => logger.error({ err: error }, 'make outbox failed: the timer will try again'),
  });
  const stopped = () => loop.stopped;

  const outbox: MakeOutbox = {
    wake: loop.wake,
    drain: loop.drain,
    async stop(options) {
      const drained = loop.stop(); // from here no drain starts and no claim is made
      clearTimeout(retryTimer);
      if (claiming || inFlight.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        if (options?.deadlineMs !== undefined) {
          timer = setTimeout(() => {
            for (const held of inFlight.values()) held.abort.abort();
          }, options.deadlineMs);
        }
        await new Promise<void>((resolve) => idle.push(resolve));
        clearTimeout(timer);
      }
      await drained;
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
