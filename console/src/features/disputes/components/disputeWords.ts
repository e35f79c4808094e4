// A dispute's evidence deadline in words: the time left, highlighted under 72 hours, and past due said.
import { formatDuration } from '../../../lib/format';

/** Stripe's evidence window is short; under this much time left a dispute is highlighted. */
export const DUE_SOON_MS = 72 * 3600 * 1000;

export interface EvidenceDue {
  /** "2 days 5 h left", "5 h 10 min left", "past due (3 h 2 min ago)", "closed", "no due date". */
  text: string;
  /** Open and due within 72 hours, or past due: someone must act now. */
  urgent: boolean;
  pastDue: boolean;
}

function span(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds >= 2 * 86_400) {
    const days = Math.floor(seconds / 86_400);
    const hours = Math.floor((seconds % 86_400) / 3600);
    return `${days} days${hours ? ` ${hours} h` : ''}`;
  }
  return formatDuration(seconds);
}

export function evidenceDue(dispute: { isOpen: boolean; evidenceDueBy: string | null }, now = Date.now()): EvidenceDue {
  if (!dispute.isOpen) return { text: 'closed', urgent: false, pastDue: false };
  if (!dispute.evidenceDueBy) return { text: 'no due date', urgent: false, pastDue: false };
  const left = new Date(dispute.evidenceDueBy).getTime() - now;
  if (Number.isNaN(left)) return { text: dispute.evidenceDueBy, urgent: false, pastDue: false };
  if (left <= 0) return { text: `past due (${span(-left)} ago)`, urgent: true, pastDue: true };
  return { text: `${span(left)} left`, urgent: left < DUE_SOON_MS, pastDue: false };
}

/** Stripe's reason (product_not_received) as words. */
export function disputeReasonInWords(reason: string | null): string {
  if (!reason) return '—';
  const words = reason.replaceAll('_', ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}
