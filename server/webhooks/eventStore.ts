// Stores verified events with group commit: deliveries that arrive while a batch is being written wait
// for the next batch, and each batch is one INSERT and one commit. At low load a delivery is written
// at once (a batch of one); under load many share a commit, which is what lets the endpoint
// acknowledge faster than one commit per event allows.
//
// A batch starts after the current round of I/O (setImmediate), not inside the first delivery's
// callback, so that every request already read joins it. This matters on PGlite, whose queries run on
// this thread: the other deliveries are read only after a query returns, so starting at once made
// every batch a single event (bench/webhooks.bench.ts on PGlite, 16 senders: 100-112 acknowledged
// events/s and p99 820-840 ms before, 352-367 events/s and p99 166-190 ms after; with the applier off,
// batches of 1 became batches of 7.7). On PostgreSQL it changed nothing measurable.
//
// One statement per batch means one event the database refuses fails the whole batch. verify.ts
// refuses the shapes known to do that before they get here; should another get through, or the
// batch fail for any other reason, each of its events is written again on its own, so that only an
// event that fails alone is answered with an error.
import type { Db } from '../platform/db/db';
import type { EventFacts } from './translate';
import type { VerifiedEvent } from './verify';

/**
 * The database refused the event itself (a data exception, a constraint or a limit), not the
 * moment: storing it again would fail the same way. The endpoint refuses it with a 400.
 */
export class UnstorableEventError extends Error {
  constructor(readonly sqlState: string, options: { cause: unknown }) {
    super(`the database refused the event (SQLSTATE ${sqlState})`, options);
    this.name = 'UnstorableEventError';
  }
}

// SQLSTATE classes that depend on the data alone: 22 data exception (22P05 \u0000 in jsonb, 22003
// numeric overflow, 22008 timestamp out of range, …), 23 integrity constraint (a check), 54 program
// limit exceeded (54001 nesting too deep for the stack). Anything else (a lost connection, a
// shutdown, an injected fault) may pass on a retry.
const DATA_ERROR = /^(22|23|54)[0-9A-Z]{3}$/;

function sqlStateOf(error: unknown): string | undefined {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth += 1) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

export interface StoredOutcome {
  /** False when the event id was already stored (a repeat delivery). */
  isNew: boolean;
}

interface Pending {
  event: VerifiedEvent;
  ignoredReason: string | null;
  facts: EventFacts | null;
  source: EventSource | undefined;
  resolve: (outcome: StoredOutcome) => void;
  reject: (error: unknown) => void;
}

/** endpoint: delivered by Stripe; backfill: listed from Stripe's Events by the janitor (never delivered). */
export type EventSource = 'endpoint' | 'backfill';

export class EventStore {
  private queue: Pending[] = [];
  private writing = false;

  constructor(
    private readonly db: Db,
    /** Called after a batch with new events committed: wakes the applier. */
    private readonly onStored: () => void = () => {},
    private readonly maxBatch = 500,
  ) {}

  /** Resolves once the event is committed (or known); rejects if the database failed. */
  /** facts: the event translated for the applier (null: ignored, or left for the applier to translate). */
  /** source: left out by the endpoint (the column's default, nothing more to write per event). */
  store(event: VerifiedEvent, ignoredReason: string | null, facts: EventFacts | null = null, source?: EventSource): Promise<StoredOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ event, ignoredReason, facts, source, resolve, reject });
      if (!this.writing) {
        this.writing = true;
        setImmediate(() => void this.writeBatches());
      }
    });
  }

  private async writeBatches(): Promise<void> {
    try {
      while (this.queue.length > 0) await this.writeBatch(this.queue.splice(0, this.maxBatch));
    } finally {
      this.writing = false;
    }
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    let stored: Set<string>;
    try {
      stored = await this.insert(batch);
    } catch (error) {
      if (batch.length === 1) batch[0]!.reject(storeError(error));
      else await this.writeOneByOne(batch);
      return;
    }
    if (stored.size > 0) this.onStored();
    for (const pending of batch) {
      // A repeat inside one batch: the first of the ids is the new one.
      const isNew = stored.delete(pending.event.id);
      pending.resolve({ isNew });
    }
  }

  /** After a batch failed: each event in a statement of its own, in order, so only those that fail alone fail. */
  private async writeOneByOne(batch: Pending[]): Promise<void> {
    let storedAny = false;
    for (const [index, pending] of batch.entries()) {
      try {
        const stored = await this.insert([pending]);
        storedAny ||= stored.size > 0;
        pending.resolve({ isNew: stored.has(pending.event.id) });
      } catch (error) {
        const failure = storeError(error);
        pending.reject(failure);
        // Not this event's fault: the database is failing now (down, restarting), and the rest
        // would fail the same way, each after its own wait. They are answered 5xx and retried.
        if (!(failure instanceof UnstorableEventError)) {
          for (const rest of batch.slice(index + 1)) rest.reject(error);
          break;
        }
      }
    }
    if (storedAny) this.onStored();
  }

  private async insert(batch: Pending[]): Promise<Set<string>> {
    // The raw bodies are valid JSON already: spliced in as they are, not parsed and printed again.
    const rows = batch.map(({ event, ignoredReason, facts, source }) => {
      const fields = {
        id: event.id,
        type: event.type,
        object_type: event.objectType,
        object_id: event.objectId,
        created: event.created,
        livemode: event.livemode,
        api_version: event.apiVersion,
        status: ignoredReason ? 'ignored' : 'received',
        ignored_reason: ignoredReason,
        facts: facts ?? undefined, // absent, not JSON null: the column stays NULL
        source, // absent for the endpoint: the column's default
      };
      return `${JSON.stringify(fields).slice(0, -1)},"payload":${event.raw}}`;
    });
    const { rows: stored } = await this.db.query<{ id: string }>('select stripe_events_store($1::jsonb) as id', [`[${rows.join(',')}]`]);
    return new Set(stored.map((row) => row.id));
  }
}

/** The error a delivery gets: UnstorableEventError when the database refused the data itself. */
function storeError(error: unknown): unknown {
  const sqlState = sqlStateOf(error);
  return sqlState && DATA_ERROR.test(sqlState) ? new UnstorableEventError(sqlState, { cause: error }) : error;
}
