// The timeline's and customer page's "how long ago": the largest whole unit, "just now" under 45 s.
import { describe, expect, it } from 'vitest';
import { formatRelative } from '../../console/src/lib/relativeTime';

const NOW = new Date('2026-12-07T12:00:00.000Z');

describe('formatRelative', () => {
  it.each([
    ['2026-12-07T11:59:30.000Z', 'just now'],
    ['2026-12-07T11:58:00.000Z', '2 minutes ago'],
    ['2026-12-07T09:00:00.000Z', '3 hours ago'],
    ['2026-12-06T11:00:00.000Z', 'yesterday'],
    ['2026-11-20T12:00:00.000Z', '2 weeks ago'],
    ['2026-12-08T12:00:00.000Z', 'tomorrow'],
    [null, '—'],
    ['not a time', 'not a time'],
  ])('%s reads %s', (iso, words) => {
    expect(formatRelative(iso, NOW)).toBe(words);
  });
});
