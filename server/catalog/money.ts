// Money as this project writes it: amounts are integers in the currency's minor unit (never a float:
// 0.1 + 0.2 is not 0.3, and a refund of 29.70 must be 2970 cents exactly), read from what a person
// types and shown back as money.
//
// The console imports this module too (console/src/lib/money.ts), so that an amount staff type in the
// console and one typed into the server's own forms (the sandbox storefront) are read by the same rule.
// It therefore imports nothing and uses nothing of Node: tests/architecture.test.ts checks it.

/** An amount in the currency's minor unit, as stored and as Stripe sends it. */
export interface MoneyValue {
  amount: number;
  currency: string;
}

/** Stripe's zero-decimal currencies: their amounts have no minor unit (¥500 is 500). */
const ZERO_DECIMAL = new Set(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf']);

/** ISO 4217's three-decimal currencies Stripe takes: 1.000 KWD is 1000 fils, not 100. */
const THREE_DECIMAL = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd']);

/** How many digits of the currency's minor unit follow the decimal point: 0, 2 or 3. */
export function minorDigits(currency: string): number {
  const code = currency.toLowerCase();
  if (ZERO_DECIMAL.has(code)) return 0;
  return THREE_DECIMAL.has(code) ? 3 : 2;
}

export type MoneyParse = { ok: true; minor: number } | { ok: false; message: string };

/**
 * "29.70", "29,70", "29.7", "29" and "$29.70" are 2970 cents. A comma is read as the decimal point
 * (as many European keyboards write it) only because at most two digits may follow it: "1,234" is
 * refused rather than guessed as 1234 or 1.234, and thousands separators are not accepted at all.
 * A three-decimal currency (KWD) takes a point only: there "1,234" could be either.
 */
export function parseMoney(text: string, currency: string): MoneyParse {
  const digits = minorDigits(currency);
  const example = digits === 0 ? '500' : digits === 3 ? '29.700' : '29.70';
  const trimmed = text.trim().replace(/^\$\s*/, '');
  if (trimmed === '') return { ok: false, message: 'Enter an amount.' };
  const pattern = digits === 0 ? /^(\d+)$/ : digits === 3 ? /^(\d+)(?:\.(\d{1,3}))?$/ : /^(\d+)(?:[.,](\d{1,2}))?$/;
  const match = pattern.exec(trimmed);
  if (!match) {
    return {
      ok: false,
      message: digits === 0 ? `Write the amount as a whole number, e.g. ${example}.` : `Write the amount as digits with up to ${digits} decimals, e.g. ${example} (no thousands separators).`,
    };
  }
  const whole = Number(match[1]);
  const fraction = digits === 0 ? 0 : Number((match[2] ?? '').padEnd(digits, '0'));
  const minor = whole * 10 ** digits + fraction;
  if (!Number.isSafeInteger(minor)) return { ok: false, message: 'That amount is too large.' };
  return { ok: true, minor };
}

/** Minor units as a field shows them: 2970 → "29.70" (what parseMoney reads back). */
export function minorToInput(minor: number, currency: string): string {
  const digits = minorDigits(currency);
  if (digits === 0) return String(minor);
  const scale = 10 ** digits;
  return `${Math.floor(minor / scale)}.${String(minor % scale).padStart(digits, '0')}`;
}

// One formatter per currency: making an Intl.NumberFormat costs about a thousand times formatting with
// one, and a list or timeline page formats dozens of amounts.
const formatters = new Map<string, Intl.NumberFormat>();

/** An amount as money in words: 2970 usd → "$29.70" (Money.formatted in the API). */
export function formatMoney({ amount, currency }: MoneyValue): string {
  const digits = minorDigits(currency);
  let formatter = formatters.get(currency);
  if (!formatter) {
    formatter = new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase(), minimumFractionDigits: digits });
    formatters.set(currency, formatter);
  }
  return formatter.format(amount / 10 ** digits);
}
