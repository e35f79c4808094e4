// The refund dialog's money field: staff type "29.70" (or "29,70"), the console sends 2970 cents, an
// integer read from the digits (never through a float), and says what is wrong with anything else.
import { describe, expect, it } from 'vitest';
import { checkRefundAmount, formatMinor, minorToInput, parseMoney } from '../../console/src/lib/money';

describe('parseMoney', () => {
  it.each([
    ['29.70', 2970],
    ['29,70', 2970],
    ['29.7', 2970],
    ['29', 2900],
    ['0.01', 1],
    [' $29.70 ', 2970],
    ['0.29', 29],
    // 0.1 + 0.2 in floats is 0.30000000000000004: the digits are read as integers.
    ['1.15', 115],
    ['4.35', 435],
  ])('reads %j as %i cents', (text, minor) => {
    expect(parseMoney(text, 'usd')).toEqual({ ok: true, minor });
  });

  it.each(['', '   ', 'abc', '29.705', '1,234', '1,234.50', '1.234,50', '-5', '29.', '.5', '2e3', '29 70'])('refuses %j with words saying how to write it', (text) => {
    const parsed = parseMoney(text, 'usd');
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toMatch(text.trim() === '' ? /^Enter an amount\.$/ : /up to 2 decimals, e\.g\. 29\.70/);
  });

  it('reads a zero-decimal currency as whole units and refuses decimals there', () => {
    expect(parseMoney('500', 'jpy')).toEqual({ ok: true, minor: 500 });
    expect(parseMoney('5.00', 'JPY')).toEqual({ ok: false, message: 'Write the amount as a whole number, e.g. 500.' });
  });

  it.each(['bhd', 'jod', 'kwd', 'omr', 'tnd'])('reads %s, a three-decimal currency, to thousandths and shows three decimals', (currency) => {
    expect(parseMoney('29.700', currency)).toEqual({ ok: true, minor: 29700 });
    expect(parseMoney('1.5', currency)).toEqual({ ok: true, minor: 1500 });
    expect(parseMoney('29', currency)).toEqual({ ok: true, minor: 29000 });
    // A comma could be a decimal or a thousands mark there: refused, not guessed.
    expect(parseMoney('1,234', currency)).toEqual({ ok: false, message: 'Write the amount as digits with up to 3 decimals, e.g. 29.700 (no thousands separators).' });
    expect(minorToInput(29700, currency)).toBe('29.700');
    expect(formatMinor(1234, currency)).toMatch(/1\.234/);
  });

  it('refuses an amount past what an integer holds exactly', () => {
    expect(parseMoney('99999999999999999', 'usd')).toEqual({ ok: false, message: 'That amount is too large.' });
  });
});

describe('checkRefundAmount', () => {
  it('accepts up to the refundable remainder and refuses more, naming the remainder', () => {
    expect(checkRefundAmount('69.30', 'usd', 6930)).toEqual({ ok: true, minor: 6930 });
    expect(checkRefundAmount('69.31', 'usd', 6930)).toEqual({ ok: false, message: 'At most $69.30 may still be refunded.' });
  });

  it('refuses nothing', () => {
    expect(checkRefundAmount('0.00', 'usd', 6930)).toEqual({ ok: false, message: 'The amount must be more than nothing.' });
  });
});

describe('formatting', () => {
  it('writes minor units back as the field reads them, and as money', () => {
    expect(minorToInput(2970, 'usd')).toBe('29.70');
    expect(minorToInput(5, 'usd')).toBe('0.05');
    expect(minorToInput(500, 'jpy')).toBe('500');
    expect(formatMinor(2970, 'usd')).toBe('$29.70');
    expect(formatMinor(500, 'jpy')).toBe('¥500');
  });
});
