// The wake-and-drain skeleton the webhook applier and the Make outbox share (their own suites test
// them through the real server); here the loop's rules alone, with passes the test finishes by hand.
import { describe, expect, it } from 'vitest';
import { createDrainLoop } from '../../server/platform/jobs/drainLoop';

/** A pass the test ends when it chooses, and how many passes have started. */
function manualPasses() {
  const ends: Array<(processed: number) => void> = [];
  const fails: Array<(error: unknown) => void> = [];
  return {
    started: () => ends.length,
    pass: () =>
      new Promise<number>((resolve, reject) => {
        ends.push(resolve);
        fails.push(reject);
      }),
    end: (index: number, processed: number) => ends[index]!(processed),
    fail: (index: number, error: unknown) => fails[index]!(error),
  };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('drain loop', () => {
  it('a drain joined while running passes once more and resolves with what every pass processed', async () => {
    const passes = manualPasses();
    const loop = createDrainLoop({ pass: passes.pass, onWakeError: () => undefined });
    const first = loop.drain();
    const joined = loop.drain();
    expect(joined).toBe(first);
    expect(passes.started()).toBe(1); // passes never overlap
    passes.end(0, 3);
    await flush();
    expect(passes.started()).toBe(2);
    passes.end(1, 2);
    expect(await first).toBe(5);
  });

  it('a join the running pass takes in itself (onJoin true) adds no pass', async () => {
    const passes = manualPasses();
    let joins = 0;
    const loop = createDrainLoop({ pass: passes.pass, onJoin: () => (joins++, true), onWakeError: () => undefined });
    const first = loop.drain();
    loop.wake();
    passes.end(0, 1);
    expect(await first).toBe(1);
    expect({ joins, passes: passes.started() }).toEqual({ joins: 1, passes: 1 });
  });

  it('stop waits for the running drain, which passes no more, and no drain starts after it', async () => {
    const passes = manualPasses();
    const loop = createDrainLoop({ pass: passes.pass, onWakeError: () => undefined });
    const running = loop.drain();
    loop.wake(); // asks for another pass, which stop() cancels
    let stopped = false;
    const stopping = loop.stop().then(() => (stopped = true));
    expect(loop.stopped).toBe(true);
    await flush();
    expect(stopped).toBe(false);
    passes.end(0, 4);
    await stopping;
    expect(await running).toBe(4);
    expect(await loop.drain()).toBe(0);
    loop.wake();
    expect(passes.started()).toBe(1);
  });

  it('reports a failed drain that wake() started once, however many wakes joined it', async () => {
    const passes = manualPasses();
    const reported: unknown[] = [];
    const loop = createDrainLoop({ pass: passes.pass, onWakeError: (error) => reported.push(error) });
    loop.wake();
    loop.wake();
    loop.wake();
    const failure = new Error('database away');
    passes.fail(0, failure);
    await flush();
    expect(reported).toEqual([failure]);
    loop.wake(); // the next wake starts a new drain
    expect(passes.started()).toBe(2);
  });
});
