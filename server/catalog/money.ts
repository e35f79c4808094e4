/** An amount in the currency's minor unit, as stored and as Stripe sends it. */
export interface MoneyValue {
  amount: number;
  currency: string;
}

// Currencies Stripe treats as zero-decimal: their minor unit is the whole unit.
const ZERO_DECIMAL = new Set(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf']);

// One formatter per currency: making an Intl.NumberFormat costs about a thousand times formatting with
// one, and a list or timeline page formats dozens of amounts.
const formatters = new Map<string, Intl.NumberFormat>();

export function formatMoney({ amount, currency }: MoneyValue): string {
  const digits = ZERO_DECIMAL.has(currency) ? 0 : 2;
  let formatter = formatters.get(currency);
  if (!formatter) {
    formatter = new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase(), minimumFractionDigits: digits });
    formatters.set(currency, formatter);
  }
  return formatter.format(amount / 10 ** digits);
}
