// Background jobs inside the server process (outbox worker, webhook applier, janitor, retention).
// Each job is safe to run in several processes at once by its own locking (SKIP LOCKED, advisory
// locks); this runner only schedules them, never overlaps a job with itself, and on stop waits for
// the runs in flight to finish, so a shutdown never cuts a job in half.
import { Cron } from 'croner';
import type { Logger } from '../observability/logger';
import { captureError } from '../observability/sentry';

export interface Job {
  name: string;
  /** A cron pattern (croner syntax, seconds allowed) or an interval in milliseconds. */
  schedule: string | number;
  run: (signal: AbortSignal) => Promise<void>;
}

export class JobRunner {
  private readonly crons: Cron[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private readonly running = new Set<string>();

  constructor(private readonly logger: Logger) {}

  start(jobs: Job[]): void {
    for (const job of jobs) {
      const tick = () => void this.runOnce(job);
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
      } catch (error) {
        this.logger.error({ err: error, job: job.name }, 'job failed');
        captureError(error, { job: job.name });
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
