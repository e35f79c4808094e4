// Amounts typed by staff, read into the currency's minor unit as an integer, and minor units shown as
// money. How an amount is read (parseMoney) and written back (minorToInput) is the server's rule
// (server/catalog/money.ts), imported rather than copied, so the console and the server's own forms
// can never read "29,70" differently.
import { minorDigits, minorToInput, parseMoney } from '../../../server/catalog/money';

export { minorDigits, minorToInput, type MoneyParse, parseMoney } from '../../../server/catalog/money';

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
