// Amounts typed by staff, read into the currency's minor unit as an integer (never a float: 0.1 + 0.2
// is not 0.3, and a refund of 29.70 must be 2970 cents exactly), and minor units shown as money.

/** Stripe's zero-decimal currencies: their amounts have no minor unit (¥500 is 500). */
const ZERO_DECIMAL = new Set(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf']);

export function minorDigits(currency: string): number {
  return ZERO_DECIMAL.has(currency.toLowerCase()) ? 0 : 2;
}

export type MoneyParse = { ok: true; minor: number } | { ok: false; message: string };

/**
 * "29.70", "29,70", "29.7", "29" and "$29.70" are 2970 cents. A comma is read as the decimal point
 * (as many European keyboards write it) only because at most two digits may follow it: "1,234" is
 * refused rather than guessed as 1234 or 1.234, and thousands separators are not accepted at all.
 */
export function parseMoney(text: string, currency: string): MoneyParse {
  const digits = minorDigits(currency);
  const example = digits === 0 ? '500' : '29.70';
  const trimmed = text.trim().replace(/^\$\s*/, '');
  if (trimmed === '') return { ok: false, message: 'Enter an amount.' };
  const match = digits === 0 ? /^(\d+)$/.exec(trimmed) : /^(\d+)(?:[.,](\d{1,2}))?$/.exec(trimmed);
  if (!match) {
    return {
      ok: false,
      message: digits === 0 ? `Write the amount as a whole number, e.g. ${example}.` : `Write the amount as digits with up to 2 decimals, e.g. ${example} (no thousands separators).`,
    };
  }
  const whole = Number(match[1]);
  const fraction = digits === 0 ? 0 : Number((match[2] ?? '').padEnd(digits, '0'));
  const minor = whole * 10 ** digits + fraction;
  if (!Number.isSafeInteger(minor)) return { ok: false, message: 'That amount is too large.' };
  return { ok: true, minor };
}

/** Minor units as the field shows them: 2970 → "29.70" (what parseMoney reads back). */
export function minorToInput(minor: number, currency: string): string {
  const digits = minorDigits(currency);
  if (digits === 0) return String(minor);
  const scale = 10 ** digits;
  return `${Math.floor(minor / scale)}.${String(minor % scale).padStart(digits, '0')}`;
}

/** Minor units as money in words: 2970 usd → "$29.70", as the server's Money.formatted says it. */
export function formatMinor(minor: number, currency: string): string {
  const digits = minorDigits(currency);
  try {
    // Display only: an integer of cents over 100 formats exactly at two decimals.
    return new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase(), minimumFractionDigits: digits, maximumFractionDigits: digits }).format(
      minor / 10 ** digits,
    );
  } catch {
    return `${minorToInput(minor, currency)} ${currency.toUpperCase()}`;
  }
}

export type RefundAmountCheck = { ok: true; minor: number } | { ok: false; message: string };

/** The typed amount checked against what may still be refunded. */
export function checkRefundAmount(text: string, currency: string, refundable: number): RefundAmountCheck {
  const parsed = parseMoney(text, currency);
  if (!parsed.ok) return parsed;
  if (parsed.minor <= 0) return { ok: false, message: 'The amount must be more than nothing.' };
  if (parsed.minor > refundable) return { ok: false, message: `At most ${formatMinor(refundable, currency)} may still be refunded.` };
  return parsed;
}
