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
import type { Db } from '../db/db';
import type { EventFacts } from './translate';
import type { VerifiedEvent } from './verify';

export interface StoredOutcome {
  /** False when the event id was already stored (a repeat delivery). */
  isNew: boolean;
}

interface Pending {
  event: VerifiedEvent;
  ignoredReason: string | null;
  facts: EventFacts | null;
  resolve: (outcome: StoredOutcome) => void;
  reject: (error: unknown) => void;
}

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
  store(event: VerifiedEvent, ignoredReason: string | null, facts: EventFacts | null = null): Promise<StoredOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ event, ignoredReason, facts, resolve, reject });
      if (!this.writing) {
        this.writing = true;
        setImmediate(() => void this.writeBatches());
      }
    });
  }

  private async writeBatches(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch);
        try {
          const stored = await this.insert(batch);
          if (stored.size > 0) this.onStored();
          for (const pending of batch) {
            // A repeat inside one batch: the first of the ids is the new one.
            const isNew = stored.delete(pending.event.id);
            pending.resolve({ isNew });
          }
        } catch (error) {
          for (const pending of batch) pending.reject(error);
        }
      }
    } finally {
      this.writing = false;
    }
  }

  private async insert(batch: Pending[]): Promise<Set<string>> {
    // The raw bodies are valid JSON already: spliced in as they are, not parsed and printed again.
    const rows = batch.map(({ event, ignoredReason, facts }) => {
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
      };
      return `${JSON.stringify(fields).slice(0, -1)},"payload":${event.raw}}`;
    });
    const { rows: stored } = await this.db.query<{ id: string }>('select stripe_events_store($1::jsonb) as id', [`[${rows.join(',')}]`]);
    return new Set(stored.map((row) => row.id));
  }
}
