// PGlite runs Postgres in single-user mode, which has no checkpointer process: checkpoint_timeout and
// max_wal_size never trigger a checkpoint, so the WAL grows until the database is closed. In memory
// (the benchmarks, `openPglite()` without a directory) every WAL segment is an ArrayBuffer of the
// process, 16 MiB each, never given back: a webhook benchmark ended at 900 MiB RSS, most of it WAL.
// On disk it is pg_wal growing without bound, all of it replayed at the next start after a crash.
// This does the checkpointer's job from the outside: a CHECKPOINT once the WAL written since the last
// one passes a limit, after which Postgres deletes the segments it no longer needs.
import type { PGlite } from '@electric-sql/pglite';

export interface PgliteCheckpointerOptions {
  /** WAL written since the last checkpoint's redo point that makes the next check run a CHECKPOINT. */
  walBytes: number;
  /** How often the WAL position is read (one small query). */
  everyMs: number;
}

export interface PgliteCheckpointer {
  /** One check now: a CHECKPOINT if the WAL passed the limit; resolves true if one ran. */
  check(): Promise<boolean>;
  /** No further checks; waits for the one in flight. */
  stop(): Promise<void>;
}

/** Bytes of WAL written since the redo point of the last checkpoint. */
async function walSinceCheckpoint(pg: PGlite): Promise<number> {
  const { rows } = await pg.query<{ bytes: number }>(
    'select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), redo_lsn)::float8 as bytes from pg_control_checkpoint()',
  );
  return rows[0]!.bytes;
}

export function startPgliteCheckpointer(pg: PGlite, options: PgliteCheckpointerOptions): PgliteCheckpointer {
  let inFlight: Promise<boolean> | undefined;
  let stopped = false;

  // PGlite queues the query behind any open transaction, and CHECKPOINT runs outside one.
  const check = () =>
    (inFlight ??= (async () => {
      try {
        if (stopped || pg.closed || (await walSinceCheckpoint(pg)) < options.walBytes) return false;
        await pg.exec('checkpoint');
        return true;
      } finally {
        inFlight = undefined;
      }
    })());

  const timer = setInterval(() => {
    // A failed check changes nothing (the database closing under it, most likely): the next one retries.
    check().catch(() => {});
  }, options.everyMs);
  // The timer alone never keeps the process up.
  timer.unref();

  return {
    check,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await inFlight?.catch(() => {});
    },
  };
}
