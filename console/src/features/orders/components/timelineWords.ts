// The timeline's kinds and actors in words for support staff.
import type { TimelineEntry } from '../timelineQueries';

export const TIMELINE_KIND_WORDS: Record<TimelineEntry['kind'], string> = {
  PAYMENT_LOG: 'Payment log',
  PAYMENT_ATTEMPT: 'Payment attempt',
  WEBHOOK_EVENT: 'Stripe event',
  REFUND: 'Refund',
  DISPUTE: 'Dispute',
  MAKE_DELIVERY: 'Make delivery',
  MAKE_DELIVERY_ATTEMPT: 'Make delivery attempt',
  AUDIT: 'Staff action',
};

/** Where an entry's link leads, in words: the screen its route opens. */
export const TIMELINE_LINK_WORDS: Record<TimelineEntry['kind'], string> = {
  PAYMENT_LOG: 'Payment log row',
  PAYMENT_ATTEMPT: 'Details',
  WEBHOOK_EVENT: 'Webhook event',
  REFUND: 'Refund',
  DISPUTE: 'Dispute',
  MAKE_DELIVERY: 'Make delivery',
  MAKE_DELIVERY_ATTEMPT: 'Make delivery',
  AUDIT: 'Details',
};

/** Who or what an entry is by: "admin@shop.test (staff)", "Stripe", "this server". */
export function actorInWords(actor: TimelineEntry['actor']): string {
  const name = actor.name;
  switch (actor.kind) {
    case 'STAFF':
      return name ? `${name} (staff)` : 'a staff member';
    case 'CUSTOMER':
      return name ? `the customer (${name})` : 'the customer';
    case 'API_KEY':
      return name ? `API key ${name}` : 'an API key';
    case 'CLI':
      return name ? `${name} (admin CLI)` : 'the admin CLI';
    case 'STRIPE':
      return 'Stripe';
    case 'MAKE':
      return 'Make';
    case 'SYSTEM':
      return 'this server';
  }
}
