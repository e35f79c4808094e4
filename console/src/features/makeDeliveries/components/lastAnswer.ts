/** Make's last answer to a delivery in words, for the table and the detail. */
export function lastAnswer(row: { lastStatusCode: number | null; lastError: string | null; attempts: number }): string {
  if (row.attempts === 0) return 'not tried yet';
  if (row.lastStatusCode !== null) return `HTTP ${row.lastStatusCode}${row.lastError ? `: ${row.lastError}` : ''}`;
  return row.lastError ?? 'no answer';
}
