// Background jobs inside the server process (outbox worker, webhook applier, janitor, retention).
// Each job is safe to run in several processes at once by its own locking (SKIP LOCKED, advisory
// locks); this runner only schedules them, never overlaps a job with itself, and on stop waits for
// the runs in flight to finish, so a shutdown never cuts a job in half. A job that fails is backed off:
// while the database is down every run fails at once, and a schedule of a few seconds would otherwise
// fill the log (and Sentry) with the same error for as long as the outage lasts.
import { Cron } from 'croner';
import type { Logger } from '../observability/logger';
import { captureError } from '../observability/sentry';

export interface Job {
  name: string;
  /** A cron pattern (croner syntax, seconds allowed) or an interval in milliseconds. */
  schedule: string | number;
  run: (signal: AbortSignal) => Promise<void>;
}

/** The first failure holds a job's schedule back this long, each further one twice as long, up to the max. */
export const JOB_BACKOFF_MS = 5000;
export const JOB_BACKOFF_MAX_MS = 60_000;

export class JobRunner {
  private readonly crons: Cron[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private readonly running = new Set<string>();
  /** Per job: failures in a row, and until when its schedule skips it. */
  private readonly failing = new Map<string, { count: number; resumeAt: number }>();

  constructor(private readonly logger: Logger) {}

  start(jobs: Job[]): void {
    for (const job of jobs) {
      const tick = () => {
        const failing = this.failing.get(job.name);
        if (failing && Date.now() < failing.resumeAt) return; // backing off; runOnce still runs it on demand
        void this.runOnce(job);
      };
      if (typeof job.schedule === 'number') this.timers.push(setInterval(tick, job.schedule));
      // Unnamed: croner's names are global to the process, and tests run several servers in one.
      else this.crons.push(new Cron(job.schedule, { protect: true }, tick));
    }
  }

  /** Runs a job now unless it is already running (or the runner is stopping); resolves when it ends. */
  async runOnce(job: Job): Promise<'ran' | 'skipped'> {
    if (this.abort.signal.aborted || this.running.has(job.name)) return 'skipped';
    this.running.add(job.name);
    const run = (async () => {
      try {
        await job.run(this.abort.signal);
        const failed = this.failing.get(job.name);
        if (failed) {
          this.failing.delete(job.name);
          this.logger.info({ job: job.name, failuresInARow: failed.count }, 'job recovered');
        }
      } catch (error) {
        const count = (this.failing.get(job.name)?.count ?? 0) + 1;
        const backoffMs = Math.min(JOB_BACKOFF_MS * 2 ** (count - 1), JOB_BACKOFF_MAX_MS);
        this.failing.set(job.name, { count, resumeAt: Date.now() + backoffMs });
        // The first failure of a streak is an error (and goes to Sentry); the repeats, spaced by the
        // backoff, are warnings that say how long the streak is.
        const log = { err: error, job: job.name, failuresInARow: count, nextScheduledRunInMs: backoffMs };
        if (count === 1) {
          this.logger.error(log, 'job failed');
          captureError(error, { job: job.name });
        } else {
          this.logger.warn(log, 'job failed');
        }
      } finally {
        this.running.delete(job.name);
      }
    })();
    this.inFlight.add(run);
    await run;
    this.inFlight.delete(run);
    return 'ran';
  }

  /** Stops scheduling, signals running jobs to wind down, and waits for them (up to timeoutMs). */
  async stop(timeoutMs: number): Promise<void> {
    for (const cron of this.crons) cron.stop();
    for (const timer of this.timers) clearInterval(timer);
    this.abort.abort();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
  }
}
