// CSV as spreadsheets read it (RFC 4180): fields quoted when they hold a quote, comma or line break,
// quotes doubled, rows ended with CRLF. A cell a spreadsheet would run as a formula (starting with
// =, +, -, @, a tab or a carriage return) is prefixed with ' so it is shown as text (OWASP's CSV
// injection advice): an export opened by staff must never run what a customer typed into a name.

export type CsvValue = string | number | boolean | null | undefined;

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/** One cell: text, numbers as written, null and undefined as empty. */
export function csvCell(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One row, CRLF-terminated. */
export const csvRow = (values: readonly CsvValue[]): string => `${values.map(csvCell).join(',')}\r\n`;
