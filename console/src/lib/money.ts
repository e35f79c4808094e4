// Amounts typed by staff, read into the currency's minor unit as an integer (never a float: 0.1 + 0.2
// is not 0.3, and a refund of 29.70 must be 2970 cents exactly), and minor units shown as money.

/** Stripe's zero-decimal currencies: their amounts have no minor unit (¥500 is 500). */
const ZERO_DECIMAL = new Set(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf']);

/** ISO 4217's three-decimal currencies Stripe takes: 1.000 KWD is 1000 fils, not 100. */
const THREE_DECIMAL = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd']);

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
    // Display only: an integer of minor units over 10^digits formats exactly at that many decimals.
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
