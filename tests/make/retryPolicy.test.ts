// What an answer means for a delivery, the backoff with full jitter, and Retry-After.
import { describe, expect, it } from 'vitest';
import { backoffDelay, classifyStatus, parseRetryAfter, retryDelay } from '../../server/make/retryPolicy';

describe('classifyStatus', () => {
  it.each([200, 201, 202, 204, 299])('%i: delivered', (status) => expect(classifyStatus(status)).toBe('delivered'));
  it.each([408, 429, 500, 502, 503, 504, 599])('%i: retry', (status) => expect(classifyStatus(status)).toBe('retry'));
  it.each([301, 302, 400, 401, 403, 404, 410, 413, 422])('%i: dead', (status) => expect(classifyStatus(status)).toBe('dead'));
});

describe('backoffDelay', () => {
  const options = { baseMs: 1000, capMs: 60_000 };
  it('is random between 0 and base * 2^(attempt - 1) (full jitter)', () => {
    expect(backoffDelay(1, options, () => 0)).toBe(0);
    expect(backoffDelay(1, options, () => 0.999)).toBe(999);
    expect(backoffDelay(3, options, () => 0.5)).toBe(2000);
    expect(backoffDelay(4, options, () => 0.999)).toBe(7992);
  });
  it('never exceeds the cap, however many attempts', () => {
    expect(backoffDelay(7, options, () => 0.999)).toBe(59_940);
    expect(backoffDelay(500, options, () => 0.999)).toBe(59_940);
  });
  it('spreads workers that failed together', () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(6, options)));
    expect(delays.size).toBeGreaterThan(40);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-22T10:00:00Z');
  it('reads delta-seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
  });
  it('reads an HTTP date, as time from now (a past date is now)', () => {
    expect(parseRetryAfter('Sun, 22 Nov 2026 10:01:30 GMT', now)).toBe(90_000);
    expect(parseRetryAfter('Sun, 22 Nov 2026 09:00:00 GMT', now)).toBe(0);
  });
  it.each([null, undefined, '', 'soon', '-5', '1.5', '2026-11-22'])('ignores %j', (value) => expect(parseRetryAfter(value, now)).toBeNull());
});

describe('retryDelay', () => {
  it('is never sooner than Retry-After asks', () => {
    expect(retryDelay(1, 30_000, { baseMs: 1000, capMs: 60_000 }, () => 0.5)).toBe(30_000);
    expect(retryDelay(10, 1_000, { baseMs: 1000, capMs: 60_000 }, () => 0.5)).toBe(30_000);
    expect(retryDelay(1, null, { baseMs: 1000, capMs: 60_000 }, () => 0.5)).toBe(500);
  });
});
