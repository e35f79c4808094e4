/**
 * Sandbox time, in Unix seconds. It follows the real clock plus an offset that tests (and the
 * sandbox's control endpoint) can advance, to expire idempotency keys, Checkout Sessions and roll
 * subscription billing periods without waiting.
 */
export class SandboxClock {
  private offsetSeconds = 0;
  constructor(private readonly realNowMs: () => number = Date.now) {}
  now(): number {
    return Math.floor(this.realNowMs() / 1000) + this.offsetSeconds;
  }
  advance(seconds: number): number {
    if (!Number.isInteger(seconds) || seconds < 0) throw new Error('The sandbox clock only moves forward, by whole seconds');
    this.offsetSeconds += seconds;
    return this.now();
  }
  reset(): void {
    this.offsetSeconds = 0;
  }
}
