export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  // UTC, so that staff in different places read the same times as the logs and Stripe's dashboard.
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

export function formatPercent(ratio: number): string {
  return `${(ratio * 100).toFixed(ratio > 0 && ratio < 0.01 ? 2 : 1)}%`;
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return 'none waiting';
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

export function humanize(value: string | null | undefined): string {
  if (!value) return '—';
  return value.charAt(0) + value.slice(1).toLowerCase().replaceAll('_', ' ');
}

/** Stripe's dashboard page for a payment object; test mode has /test in the path. */
export function stripeDashboardUrl(id: string, mode: 'test' | 'live'): string {
  const prefix = mode === 'test' ? 'https://dashboard.stripe.com/test' : 'https://dashboard.stripe.com';
  if (id.startsWith('cs_')) return `${prefix}/checkout/sessions/${id}`;
  if (id.startsWith('cus_')) return `${prefix}/customers/${id}`;
  // Disputes (du_…, older dp_…) have their own page, where evidence is submitted.
  if (id.startsWith('du_') || id.startsWith('dp_')) return `${prefix}/disputes/${id}`;
  if (id.startsWith('sub_')) return `${prefix}/subscriptions/${id}`;
  return `${prefix}/payments/${id}`;
}

/** For tables (the column header says UTC): 2026-11-22 09:00:08. */
export function formatTableTime(iso: string | null | undefined): string {
  return formatDateTime(iso).replace(' UTC', '');
}

/** Lets a long dotted name (payment_intent.payment_failed) wrap at its dots rather than mid-word. */
export function breakAtDots(value: string): string {
  return value.replaceAll('.', '.\u200b');
}
