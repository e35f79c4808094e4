// A reconciliation pass that reports what it would do and does nothing (`payments-ops reconcile
// --dry-run`): the real pass (janitor.ts, with dryRun: no cancel or expire sent to Stripe, the
// Stripe-only steps skipped), run inside one transaction that is rolled back at the end, each statement
// in a savepoint of its own (dbInTransaction). So the counters are the real pass's, computed by the
// same code, and nothing it wrote stays: not the run row, not an adopted order, not a backfilled
// event, not a cursor.
import type { Db, Queryable } from '../platform/db/db';
import { EventStore } from '../webhooks/eventStore';
import { claimRun, type ReconcileDeps, runPass } from './janitor';
import { emptyCounters, type RunCounters, type RunRow } from './reconcile.sql';

export type DryRunResult =
  | { outcome: 'busy'; run: RunRow }
  | { outcome: 'succeeded' | 'failed'; counters: RunCounters; error: string | null };

/** Rolls the dry run's transaction back once its answer is known. */
class RollBack extends Error {}

/**
 * A Db over one open transaction, each statement in a savepoint of its own: the real pass runs each
 * statement on its own, so one the database refuses (an event's \u0000, which the event store passes
 * over as unstorable) fails only that item. Without the savepoint it would abort the whole transaction
 * and every statement after it, failing the dry run where the pass goes on. A savepoint is the
 * connection's, and the pass runs items concurrently: statements take turns, so that no two savepoints
 * interleave. A nested transaction is a savepoint too, holding the turn until it ends.
 */
function dbInTransaction(tx: Queryable, engine: Db['engine']): Db {
  let turn: Promise<unknown> = Promise.resolve();
  const inTurn = <T>(work: () => Promise<T>): Promise<T> => {
    const run = turn.then(work, work);
    turn = run.catch(() => undefined);
    return run;
  };
  const inSavepoint = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    await tx.exec(`savepoint ${name}`);
    try {
      const result = await work();
      await tx.exec(`release savepoint ${name}`);
      return result;
    } catch (error) {
      // The error is the statement's; a failed rollback leaves the transaction aborted, and the
      // statements after it say so.
      await tx.exec(`rollback to savepoint ${name}`).catch(() => undefined);
      throw error;
    }
  };
  return {
    engine,
    query: (sql, params) => inTurn(() => inSavepoint('dry_run_statement', () => tx.query(sql, params))),
    exec: (sql) => inTurn(() => inSavepoint('dry_run_statement', () => tx.exec(sql))),
    transaction: (fn) => inTurn(() => inSavepoint('dry_run_transaction', () => fn(tx))),
    close: async () => undefined,
  };
}

/** One pass as it would run now, rolled back; busy when a pass is running (that one's row). */
export async function dryRunPass(
  deps: ReconcileDeps,
  request: { actor: string; since?: Date; onProgress?: (counters: Readonly<RunCounters>) => void },
): Promise<DryRunResult> {
  let result: DryRunResult | undefined;
  try {
    await deps.db.transaction(async (tx) => {
      const db = dbInTransaction(tx, deps.db.engine);
      // Events the pass would backfill are stored in the transaction only, and wake no applier.
      const inTx: ReconcileDeps = { ...deps, db, eventStore: new EventStore(db) };
      const begun = await claimRun(inTx, { trigger: 'cli', actor: request.actor });
      if (begun.busy) {
        result = { outcome: 'busy', run: begun.run };
      } else {
        const pass = await runPass(inTx, begun.run, { since: request.since, dryRun: true, onProgress: request.onProgress });
        result = pass.outcome === 'busy' ? { outcome: 'busy', run: pass.run } : { outcome: pass.outcome, counters: { ...emptyCounters(), ...pass.run.counters }, error: pass.run.error };
      }
      throw new RollBack();
    });
  } catch (error) {
    if (!(error instanceof RollBack)) throw error;
  }
  return result!;
}
