// previewSubscriptionSwitch (issue 19): what moving a subscription to another track's monthly price
// would cost, from Stripe's own arithmetic (POST /v1/invoices/create_preview with the item's new price
// and a proration_date we fix). The switch itself is to send the same proration_date, so what is
// charged is what was shown; the preview writes nothing.
import type Stripe from 'stripe';
import type { Queryable } from '../platform/db/db';
import { BadUserInputError } from '../platform/errors';
import { isProviderUnavailable } from '../stripe/payments';
import type { SubscriptionError } from './actions';
import { findSubscription, type SubscriptionRecord } from './read.sql';

/** Statuses a switch applies to: a canceled, expired or never-paid (incomplete) one is not switched. */
export const SWITCHABLE_STATUSES: ReadonlySet<string> = new Set(['active', 'trialing', 'past_due']);

export interface TargetPrice {
  id: string;
  product_id: string;
  currency: string;
  unit_amount: number;
  kind: 'recurring';
  recurring_interval: string;
  stripe_price_id: string;
}

export interface ProrationLineValue {
  description: string | null;
  currency: string;
  amount: number;
  periodStart: number;
  periodEnd: number;
}

export interface SwitchPreview {
  subscriptionId: string;
  fromTrack: string | null;
  toTrack: string;
  price: TargetPrice;
  currency: string;
  /** Unix seconds: send it back with the switch. */
  prorationDate: number;
  /** The proration lines' sum: negative is a credit towards the next invoice. */
  prorationTotal: number;
  /**
   * What an ALWAYS_INVOICE switch charges at once: Stripe's amount due on that invoice, the prorations
   * (and any pending ones) less the customer's credit balance.
   */
  amountDueNow: number;
  /** Of the customer's credit balance, what that invoice uses up (0 when none). */
  creditApplied: number;
  /** The next invoice with CREATE_PRORATIONS: the prorations plus the next period at the new price. */
  nextInvoiceAmount: number;
  lines: ProrationLineValue[];
}

export type SwitchPreviewResult = { preview: SwitchPreview; error: null } | { preview: null; error: SubscriptionError };

/** The track's active monthly price in the subscription's currency and interval, with its Stripe price. */
export async function targetPriceOf(db: Queryable, track: string, sub: Pick<SubscriptionRecord, 'currency' | 'recurring_interval'>): Promise<TargetPrice | null> {
  const { rows: products } = await db.query<{ id: string }>('select id from products where id = $1 and active', [track]);
  if (products.length === 0) throw new BadUserInputError('There is no such product track', { reason: 'UNKNOWN_TRACK', field: 'track' });
  const { rows } = await db.query<TargetPrice>(
    `select id, product_id, currency, unit_amount::float8 as unit_amount, kind, recurring_interval, stripe_price_id
       from prices
      where product_id = $1 and active and kind = 'recurring' and stripe_price_id is not null
        and ($2::text is null or currency = $2) and ($3::text is null or recurring_interval = $3)
      order by created_at desc, id limit 1`,
    [track, sub.currency, sub.recurring_interval],
  );
  return rows[0] ?? null;
}

/** Now, as Stripe wants it: within the subscription's current period. */
export function prorationDateNow(sub: Pick<SubscriptionRecord, 'current_period_start' | 'current_period_end'>, nowMs = Date.now()): number {
  let seconds = Math.floor(nowMs / 1000);
  if (sub.current_period_start) seconds = Math.max(seconds, Math.floor(Date.parse(sub.current_period_start) / 1000));
  if (sub.current_period_end) seconds = Math.min(seconds, Math.floor(Date.parse(sub.current_period_end) / 1000));
  return seconds;
}

const fail = (code: SubscriptionError['code'], message: string): SwitchPreviewResult => ({ preview: null, error: { code, message } });

export async function previewSubscriptionSwitch(
  deps: { db: Queryable; stripe: Stripe },
  request: { subscriptionId: string; track: string; ownerUserId: string | null; /** Stripe's now in ms (the sandbox clock in sandbox mode). */ nowMs?: number },
): Promise<SwitchPreviewResult> {
  const { db, stripe } = deps;
  const sub = await findSubscription(db, request.subscriptionId, request.ownerUserId);
  if (!sub) return fail('SUBSCRIPTION_NOT_FOUND', 'No such subscription.');
  if (!SWITCHABLE_STATUSES.has(sub.status)) return fail('SUBSCRIPTION_NOT_ACTIVE', `The subscription is ${sub.status}; only an active one can switch track.`);
  if (sub.track === request.track) return fail('SAME_TRACK', 'The subscription is already for this track.');
  const price = await targetPriceOf(db, request.track, sub);
  if (!price) return fail('SUBSCRIPTION_CHANGE_REFUSED', 'This track has no monthly price to switch to.');
  const prorationDate = prorationDateNow(sub, request.nowMs);
  let invoice: Stripe.Invoice;
  let now: Stripe.Invoice;
  try {
    const current = await stripe.subscriptions.retrieve(sub.id);
    const item = current.items.data[0];
    if (!item) return fail('SUBSCRIPTION_CHANGE_REFUSED', 'The subscription has no item at Stripe to switch.');
    const previewOf = (behavior: 'create_prorations' | 'always_invoice') =>
      stripe.invoices.createPreview({
        subscription: sub.id,
        subscription_details: { items: [{ id: item.id, price: price.stripe_price_id }], proration_date: prorationDate, proration_behavior: behavior },
      });
    // Two of Stripe's previews: the next invoice (CREATE_PRORATIONS), and the invoice ALWAYS_INVOICE
    // makes at once, whose amount_due is what is charged (Stripe applies the customer's balance there).
    [invoice, now] = await Promise.all([previewOf('create_prorations'), previewOf('always_invoice')]);
  } catch (error) {
    if (isProviderUnavailable(error)) return fail('PAYMENT_PROVIDER_UNAVAILABLE', 'Stripe could not be reached; try the preview again.');
    throw error;
  }
  const lines = invoice.lines.data
    .filter((line) => line.parent?.subscription_item_details?.proration === true)
    .map((line) => ({ description: line.description ?? null, currency: invoice.currency, amount: line.amount, periodStart: line.period.start, periodEnd: line.period.end }));
  const prorationTotal = lines.reduce((sum, line) => sum + line.amount, 0);
  return {
    preview: {
      subscriptionId: sub.id,
      fromTrack: sub.track,
      toTrack: request.track,
      price,
      currency: invoice.currency,
      prorationDate,
      prorationTotal,
      amountDueNow: now.amount_due,
      // A credit (a negative starting balance) pays part of the total before the card does.
      creditApplied: Math.max(0, Math.min(now.total, -now.starting_balance)),
      nextInvoiceAmount: invoice.amount_due,
      lines,
    },
    error: null,
  };
}
