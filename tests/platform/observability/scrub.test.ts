// Scrubbing of secrets and card data from anything that leaves the process (Sentry events, error details).
import { describe, expect, it } from 'vitest';
import { scrubDeep, scrubString } from '../../../server/platform/observability/scrub';

// Built from parts so that no live-looking Stripe key stands in the source (secret scanners flag them).
const LIVE_SECRET = ['sk', 'live', ''].join('_');
const LIVE_RESTRICTED = ['rk', 'live', ''].join('_');

describe('scrubString', () => {
  it.each([
    ['a Stripe test secret key', 'sk_test_51HxYzAbCdEfGhIjKlMnOp'],
    ['a Stripe live secret key', `${LIVE_SECRET}51HxYzAbCdEfGhIjKlMnOp`],
    ['a Stripe restricted key', `${LIVE_RESTRICTED}51HxYzAbCdEfGhIjKlMnOp`],
    ['a Stripe restricted test key', 'rk_test_51HxYzAbCdEfGhIjKlMnOp'],
    ['a webhook signing secret', 'whsec_5f2b1c0d9e8a7f6b5c4d3e2f1a0b9c8d'],
    ['a storefront API key', 'pok_storefront_Zq3v9kW2xYb7LmN4pR8sT1uV5wX0yA6cD9eF2gH4jK7'],
    ['a Make API key', 'pok_make_Zq3v9kW2xYb7LmN4pR8sT1uV5wX0yA6cD9eF2gH4jK7'],
    ['a JWT', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'],
  ])('removes %s from a sentence', (_name, secret) => {
    const scrubbed = scrubString(`request failed: used ${secret} at checkout`);
    expect(scrubbed).toBe('request failed: used [redacted] at checkout');
  });

  it('removes a bearer token together with the word Bearer', () => {
    expect(scrubString('authorization: Bearer abc123.def-456_ghi~jkl+mno/pq=')).toBe('authorization: [redacted]');
    expect(scrubString('header was bearer opaque-token-value')).toBe('header was [redacted]');
  });

  it('removes every secret when a string holds several', () => {
    const scrubbed = scrubString('key sk_test_abcdefghijkl, hook whsec_abcdefghijkl, token Bearer xyz');
    expect(scrubbed).toBe('key [redacted], hook [redacted], token [redacted]');
  });

  it.each([
    ['with spaces', '4242 4242 4242 4242'],
    ['with dashes', '4000-0000-0000-0002'],
    ['without separators', '5555555555554444'],
    ['in Amex 4-6-5 grouping', '3782 822463 10005'],
    ['of 19 digits (UnionPay)', '6205500000000000004'],
  ])('replaces a Luhn-valid card number %s', (_name, card) => {
    expect(scrubString(`card ${card} was declined`)).toBe('card [card] was declined');
  });

  it('replaces a card number followed by its expiry or CVC', () => {
    expect(scrubString('4242 4242 4242 4242 12/34')).toBe('[card] 12/34');
    expect(scrubString('4242 4242 4242 4242 123')).toBe('[card] 123');
  });

  it('replaces a card number preceded by another number', () => {
    expect(scrubString('amount 4900 4242 4242 4242 4242')).toBe('amount 4900 [card]');
    expect(scrubString('qty 2 4242424242424242')).toBe('qty 2 [card]');
  });

  it('replaces a card number glued to other characters and two cards side by side', () => {
    expect(scrubString('pan=4242424242424242&exp=1234')).toBe('pan=[card]&exp=1234');
    expect(scrubString('4242424242424242,4000000000000002')).toBe('[card],[card]');
  });

  it('keeps long numbers that fail the Luhn check', () => {
    const text = 'order 1234567890123 total 4242424242424241 ref 9876 5432 1098 7654';
    expect(scrubString(text)).toBe(text);
  });

  it('keeps millisecond timestamps, even the ones that happen to pass Luhn', () => {
    // 1795312564119 passes the Luhn check; no card number starts with 1.
    expect(scrubString('at 1795312564119 and 1795312564118')).toBe('at 1795312564119 and 1795312564118');
  });

  it('keeps amounts, dates and ids', () => {
    const text = 'charged 9900 usd on 2026-11-22 for order 7f3c2a10-5b8e-4c1d-9a2f-0e6d4b3c2a19 (pi_3NAbCdEf12345678)';
    expect(scrubString(text)).toBe(text);
  });

  it('scrubs a very long string in linear time', () => {
    const text = `${'1234 '.repeat(20_000)}x`;
    const started = performance.now();
    scrubString(text);
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe('scrubDeep', () => {
  it('redacts the values of keys that name secrets, at any depth and in any case', () => {
    const scrubbed = scrubDeep({
      password: 'hunter2',
      clientSecret: 'pi_123_secret_456',
      token: 'opaque',
      Authorization: 'Basic dXNlcjpwYXNz',
      headers: { 'x-api-key': 'anything', cookie: 'sb=1' },
      card: '4242',
      payment: { card: { number: '4242424242424242', exp_month: 12, exp_year: 2030, cvc: '123', brand: 'visa', last4: '4242' } },
      list: [{ refreshToken: 'r' }, { stripeSignature: 't=1,v1=abc' }],
    });
    expect(scrubbed).toEqual({
      password: '[redacted]',
      clientSecret: '[redacted]',
      token: '[redacted]',
      Authorization: '[redacted]',
      headers: { 'x-api-key': '[redacted]', cookie: '[redacted]' },
      card: '[redacted]',
      payment: { card: { number: '[redacted]', exp_month: '[redacted]', exp_year: '[redacted]', cvc: '[redacted]', brand: 'visa', last4: '4242' } },
      list: [{ refreshToken: '[redacted]' }, { stripeSignature: '[redacted]' }],
    });
  });

  it('scrubs strings under ordinary keys', () => {
    expect(scrubDeep({ message: 'declined 4242 4242 4242 4242', tags: [`key ${LIVE_SECRET}abcdefghijkl`] })).toEqual({
      message: 'declined [card]',
      tags: ['key [redacted]'],
    });
  });

  it('keeps numbers, booleans and nulls under ordinary keys, and empty secret fields as they are', () => {
    expect(scrubDeep({ amount: 9900, paid: true, note: null, password: null, token: undefined })).toEqual({
      amount: 9900,
      paid: true,
      note: null,
      password: null,
      token: undefined,
    });
  });

  it('cuts cycles instead of recursing forever', () => {
    const event: Record<string, any> = { message: 'sk_test_abcdefghijkl', child: { name: 'child' } };
    event.self = event;
    event.child.parent = event;
    const items: any[] = ['Bearer abc'];
    items.push(items);
    event.items = items;

    const scrubbed = scrubDeep(event);

    expect(scrubbed).toEqual({
      message: '[redacted]',
      child: { name: 'child', parent: '[circular]' },
      self: '[circular]',
      items: ['[redacted]', '[circular]'],
    });
  });

  it('scrubs an object that appears twice without being a cycle, both times', () => {
    const shared = { note: `${LIVE_SECRET}abcdefghijkl` };
    expect(scrubDeep({ a: shared, b: [shared] })).toEqual({ a: { note: '[redacted]' }, b: [{ note: '[redacted]' }] });
  });

  it('keeps dates and other class instances as they are', () => {
    const at = new Date('2026-11-22T00:00:00Z');
    expect(scrubDeep({ at }).at).toBe(at);
  });

  it('does not change its input', () => {
    const input = { password: 'hunter2', nested: { text: '4242 4242 4242 4242' } };
    scrubDeep(input);
    expect(input).toEqual({ password: 'hunter2', nested: { text: '4242 4242 4242 4242' } });
  });
});
