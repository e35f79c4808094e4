// The wake-and-drain skeleton the queue workers share (the webhook applier, the Make outbox). wake()
// starts a drain unless one is running; a wake or drain() that comes while one runs joins it and makes
// it pass once more (what the caller just stored may have missed its claim); stop() starts no drain
// and waits for the running one. What a pass does (batches in turn, or a pool of POSTs in flight with
// their leases) is the worker's own: the loop only decides when passes run, never two at once.
export interface DrainLoop {
  /** Starts a drain unless one runs (then it passes again). Returns at once; a failure is reported once. */
  wake(): void;
  /** Passes until one finds nothing more to do; resolves with what all its passes processed. */
  drain(): Promise<number>;
  /** No drain starts after this; resolves when the running one has ended (its failure swallowed). */
  stop(): Promise<void>;
  /** True once stop() was called: a pass stops taking new work. */
  readonly stopped: boolean;
}

export interface DrainLoopOptions {
  /** One pass over what is due; resolves with how much it processed. Passes never overlap. */
  pass: () => Promise<number>;
  /**
   * A wake or drain() joined the running drain. Return true when the pass in progress takes the new
   * work in itself (it claims again while running); otherwise the loop runs another pass after it.
   */
  onJoin?: () => boolean;
  /** A drain that wake() started failed: the worker's timer is the retry, so this logs it, once per drain. */
  onWakeError: (error: unknown) => void;
}

export function createDrainLoop(options: DrainLoopOptions): DrainLoop {
  let current: Promise<number> | null = null;
  let again = false;
  let stopped = false;

  function drain(): Promise<number> {
    if (current) {
      if (options.onJoin?.() !== true) again = true;
      return current;
    }
    if (stopped) return Promise.resolve(0);
    current = (async () => {
      let total = 0;
      do {
        again = false;
        total += await options.pass();
      } while (again && !stopped);
      return total;
    })().finally(() => (current = null));
    return current;
  }

  return {
    wake() {
      if (stopped) return;
      const fresh = current === null; // one report per failed drain, however many wakes joined it
      const running = drain();
      if (fresh) running.catch(options.onWakeError);
    },
    drain,
    async stop() {
      stopped = true;
      await current?.catch(() => undefined);
    },
    get stopped() {
      return stopped;
    },
  };
}
