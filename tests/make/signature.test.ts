// The X-Signature scheme (Stripe's: t and v1 = HMAC-SHA256 of "<t>.<body>"): what verifies and what not.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signMakeBody, verifyMakeSignature } from '../../server/make/signature';

const SECRET = 'make-signature-test-secret';
const BODY = JSON.stringify({ type: 'add_project', version: 1 });
const NOW = 1_800_000_000;

describe('verifyMakeSignature', () => {
  it('accepts what signMakeBody signed, and is the documented HMAC', () => {
    const header = signMakeBody(SECRET, BODY, NOW);
    expect(header).toBe(`t=${NOW},v1=${createHmac('sha256', SECRET).update(`${NOW}.${BODY}`).digest('hex')}`);
    expect(verifyMakeSignature({ secret: SECRET, body: BODY, header, now: NOW })).toEqual({ valid: true, timestamp: NOW });
  });

  it('accepts any of several v1 signatures (a secret rotation)', () => {
    const old = signMakeBody('the-old-secret-value', BODY, NOW).split(',')[1];
    const header = `${signMakeBody(SECRET, BODY, NOW)},${old}`;
    expect(verifyMakeSignature({ secret: SECRET, body: BODY, header, now: NOW }).valid).toBe(true);
    expect(verifyMakeSignature({ secret: 'the-old-secret-value', body: BODY, header, now: NOW }).valid).toBe(true);
  });

  it.each([
    ['another body', { body: `${BODY} ` }, 'mismatch'],
    ['another secret', { secret: 'another-secret-value' }, 'mismatch'],
    ['a timestamp beyond the tolerance, in the past', { now: NOW + 301 }, 'too_old'],
    ['a timestamp beyond the tolerance, in the future', { now: NOW - 301 }, 'too_new'],
  ])('refuses %s', (_name, change, reason) => {
    const header = signMakeBody(SECRET, BODY, NOW);
    expect(verifyMakeSignature({ secret: SECRET, body: BODY, header, now: NOW, ...change })).toEqual({ valid: false, reason });
  });

  it('accepts a timestamp within a tolerance it is given', () => {
    const header = signMakeBody(SECRET, BODY, NOW);
    expect(verifyMakeSignature({ secret: SECRET, body: BODY, header, now: NOW + 3000, toleranceSeconds: 3600 }).valid).toBe(true);
  });

  it.each([null, '', 'v1=abc', `t=${NOW}`, `t=soon,v1=${'a'.repeat(64)}`, `t=${NOW},v1=${'z'.repeat(64)}`, `t=${NOW},v1=${'a'.repeat(63)}`, 'x'.repeat(3000)])(
    'refuses a malformed header %#',
    (header) => {
      expect(verifyMakeSignature({ secret: SECRET, body: BODY, header, now: NOW })).toEqual({ valid: false, reason: 'malformed' });
    },
  );
});
