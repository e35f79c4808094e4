/**
 * Sandbox time, in Unix seconds. It follows the real clock plus an offset that tests (and the
 * sandbox's control endpoint) can advance, to expire idempotency keys, Checkout Sessions and roll
 * subscription billing periods without waiting.
 */
export class SandboxClock {
  private offsetSeconds = 0;
  private frozenAt: number | undefined;
  constructor(private readonly realNowMs: () => number = Date.now) {}
  now(): number {
    return (this.frozenAt ?? Math.floor(this.realNowMs() / 1000)) + this.offsetSeconds;
  }
  /** Stops real time from moving sandbox time (only advance() does), for tests at exact boundaries. */
  freeze(): void {
    this.frozenAt ??= Math.floor(this.realNowMs() / 1000);
  }
  advance(seconds: number): number {
    if (!Number.isInteger(seconds) || seconds < 0) throw new Error('The sandbox clock only moves forward, by whole seconds');
    this.offsetSeconds += seconds;
    return this.now();
  }
  /** How far sandbox time is ahead of real time: what a restart must keep (real time moves on meanwhile). */
  get offset(): number {
    return this.offsetSeconds;
  }
  restoreOffset(seconds: number): void {
    if (!Number.isInteger(seconds) || seconds < 0) throw new Error('A sandbox clock offset is a non-negative whole number of seconds');
    this.offsetSeconds = seconds;
  }
  reset(): void {
    this.offsetSeconds = 0;
    this.frozenAt = undefined;
  }
}
