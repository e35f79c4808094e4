// What the API reads of subscriptions (issue 19): the rows the webhooks keep (subscriptions,
// subscription_invoices; 20261207001200_subscription_actions.sql), with the track and price they are
// at (by the Stripe price id, through stripe_prices: every Stripe price we ever made for one of our
// prices, so a subscriber still on the Stripe price of an earlier amount keeps its track; the amount is
// the one that Stripe price bills), newest first by (created_at desc, id desc) as a
// keyset page (server/platform/db/keysetList.ts).
import type { Queryable } from '../platform/db/db';
import { keysetList, type ListKey, type ListPage, pageOf } from '../platform/db/keysetList';

export interface SubscriptionRecord {
  id: string;
  customer_id: string;
  customer_user_id: string | null;
  customer_email: string;
  status: string;
  stripe_price_id: string | null;
  /** Our price and track for stripe_price_id (any Stripe price we made for it); null when the price is not one of ours. */
  price_id: string | null;
  track: string | null;
  track_name: string | null;
  unit_amount: number | null;
  currency: string | null;
  recurring_interval: string | null;
  current_period_start: string | null;
  current_period_end: string | null;
  cancel_at_period_end: boolean;
  canceled_at: string | null;
  pause_behavior: 'void' | 'keep_as_draft' | 'mark_uncollectible' | null;
  pause_resumes_at: string | null;
  created_at: string;
  updated_at: string;
  created_us: string;
}

export interface SubscriptionInvoiceRecord {
  id: string;
  subscription_id: string;
  status: string;
  amount_due: number;
  amount_paid: number;
  currency: string;
  hosted_invoice_url: string | null;
  period_start: string | null;
  period_end: string | null;
  stripe_created: string;
}

export type SubscriptionPage = ListPage<SubscriptionRecord>;

/** Stripe's subscription ids (sub_…). */
export const SUBSCRIPTION_ID = /^sub_[A-Za-z0-9]{1,250}$/;

const iso = (column: string) => `to_jsonb(${column}) #>> '{}'`;

// Times as ISO 8601 text and amounts as float8, so PGlite and node-postgres hand back the same.
const SUBSCRIPTION_SELECT = `
  select s.id, s.customer_id, c.user_id as customer_user_id, c.email as customer_email, s.status, s.stripe_price_id,
         p.id as price_id, p.product_id as track, pr.name as track_name, sp.unit_amount::float8 as unit_amount, sp.currency,
         sp.recurring_interval,
         ${iso('s.current_period_start')} as current_period_start, ${iso('s.current_period_end')} as current_period_end,
         s.cancel_at_period_end, ${iso('s.canceled_at')} as canceled_at, s.pause_behavior, ${iso('s.pause_resumes_at')} as pause_resumes_at,
         ${iso('s.created_at')} as created_at, ${iso('s.updated_at')} as updated_at, s.created_at as created_ts,
         (extract(epoch from s.created_at) * 1000000)::bigint::text as created_us
    from subscriptions s
    join customers c on c.id = s.customer_id
    left join stripe_prices sp on sp.stripe_price_id = s.stripe_price_id
    left join prices p on p.id = sp.price_id
    left join products pr on pr.id = p.product_id`;

/** One subscription; a customer's own only when `ownerUserId` is given (another's reads as none). */
export async function findSubscription(db: Queryable, id: string, ownerUserId: string | null = null): Promise<SubscriptionRecord | null> {
  const { rows } = await db.query<SubscriptionRecord>(
    `select * from (${SUBSCRIPTION_SELECT}) x where x.id = $1 and ($2::uuid is null or x.customer_user_id = $2::uuid)`,
    [id, ownerUserId],
  );
  return rows[0] ?? null;
}

export interface SubscriptionListFilter {
  status?: string | null;
  track?: string | null;
  /** Our customer id. */
  customerId?: string | null;
  /** A customer's email (lower case). */
  customerEmail?: string | null;
  /** A customer's Stripe id (cus_…), as the Stripe dashboard shows it (the admin CLI takes either id). */
  stripeCustomerId?: string | null;
  /** A signed-in customer's own user id: their subscriptions only. */
  ownerUserId?: string | null;
}

/** Subscriptions newest first, only the conditions given. */
export async function listSubscriptions(db: Queryable, options: { filter?: SubscriptionListFilter | null; first: number; after?: ListKey | null }): Promise<SubscriptionPage> {
  const { filter, first, after } = options;
  const list = keysetList({ time: 'x.created_ts', id: 'x.id', idType: 'text' });
  if (filter?.status) list.where(`x.status = ${list.bind(filter.status)}`);
  if (filter?.track) list.where(`x.track = ${list.bind(filter.track)}`);
  if (filter?.customerId) list.where(`x.customer_id = ${list.bind(filter.customerId)}::uuid`);
  if (filter?.customerEmail) list.where(`lower(x.customer_email) = ${list.bind(filter.customerEmail)}`);
  if (filter?.stripeCustomerId) list.where(`x.customer_id = (select c.id from customers c where c.stripe_customer_id = ${list.bind(filter.stripeCustomerId)})`);
  if (filter?.ownerUserId) list.where(`x.customer_user_id = ${list.bind(filter.ownerUserId)}::uuid`);
  const { rows } = await db.query<SubscriptionRecord>(`select * from (${SUBSCRIPTION_SELECT}) x ${list.tail(after, first)}`, list.params);
  return pageOf(rows, first);
}

const INVOICE_SELECT = `
  select id, subscription_id, status, amount_due::float8 as amount_due, amount_paid::float8 as amount_paid, currency, hosted_invoice_url,
         ${iso('period_start')} as period_start, ${iso('period_end')} as period_end, ${iso('stripe_created')} as stripe_created
    from subscription_invoices`;

/** A subscription's invoices, newest first (the first is the latest). */
export async function invoicesOfSubscription(db: Queryable, subscriptionId: string): Promise<SubscriptionInvoiceRecord[]> {
  return (await invoicesOfSubscriptions(db, [subscriptionId]))[0]!;
}

/**
 * The invoices of several subscriptions in one query, newest first each, in the order of `ids` (a page
 * of subscriptions reads its invoices at once: server/api/graphql/loaders.ts). Stripe's created is whole
 * seconds: within one, seq (assigned as each invoice is first recorded) keeps the order they were made
 * in, where the id alone is random (a first invoice and a switch's invoice in the same second).
 */
export async function invoicesOfSubscriptions(db: Queryable, ids: readonly string[]): Promise<SubscriptionInvoiceRecord[][]> {
  const { rows } = await db.query<SubscriptionInvoiceRecord>(
    `${INVOICE_SELECT} where subscription_id = any($1::text[]) order by subscription_id, stripe_created desc, seq desc`,
    [[...ids]],
  );
  const byId = new Map<string, SubscriptionInvoiceRecord[]>(ids.map((id) => [id, []]));
  for (const row of rows) byId.get(row.subscription_id)?.push(row);
  return ids.map((id) => byId.get(id)!);
}
