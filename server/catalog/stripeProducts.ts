// The catalog's products at Stripe. A Checkout Session's line item names a Stripe product; one made
// inline (`price_data.product_data`) is a new product, with a product.created event, on every
// checkout. Instead each product track has one Stripe product, made once (at start, or on the first
// checkout that needs it) and updated when its name or description changes. The price stays inline
// (`price_data.unit_amount` from the order), so the amount charged is always the order's, and a price
// change in the database needs nothing at Stripe.
//
// The Stripe product's id is derived from the track (`track_<slug>`), so every process and every
// restart finds the same product without storing its id, and two processes creating it at once make
// one (the second gets resource_already_exists).
//
// Subscriptions (issue 19) cannot describe their price inline the way a one-time checkout does: a
// subscription item, and a switch between tracks, name a Stripe price. So each active recurring price
// in the database has one Stripe price, found by its lookup_key (the database price's id), made when
// missing or when its amount, currency or interval no longer match the database (the new one takes the
// lookup_key and the old one is archived: existing subscriptions keep renewing at it, as Stripe does,
// and no new one starts on it). Its id is kept in prices.stripe_price_id (the current one) and in
// stripe_prices (every one ever made, which is how a subscription finds its track), and its metadata
// names the track and the database price, so a subscription's webhook can be traced back to a track.
import Stripe from 'stripe';
import type { Queryable } from '../platform/db/db';
import type { Logger } from '../platform/observability/logger';

export interface CatalogDeps {
  db: Queryable;
  stripe: Stripe;
  logger: Logger;
}

interface CatalogProduct {
  id: string;
  name: string;
  description: string;
}

interface Synced {
  stripeProductId: string;
  name: string;
  description: string;
}

export const stripeProductId = (track: string) => `track_${track}`;

// What this process knows is at Stripe, per Stripe client (one per running app; tests run several
// apps, each with its own sandbox, in one process). A failed sync is forgotten, so the next checkout
// tries again; the promise is kept while in flight, so concurrent checkouts wait for one sync.
const known = new WeakMap<Stripe, Map<string, Promise<Synced | null>>>();
const knownFor = (stripe: Stripe) => {
  let map = known.get(stripe);
  if (!map) known.set(stripe, (map = new Map()));
  return map;
};

/**
 * Makes (or updates) the Stripe product of every active track. Run at start without being awaited:
 * it never throws, and a Stripe that cannot be reached leaves each track to be synced by its first
 * checkout instead.
 */
export async function syncStripeCatalog(deps: CatalogDeps): Promise<void> {
  let products: CatalogProduct[];
  try {
    const { rows } = await deps.db.query<CatalogProduct>('select id, name, description from products where active order by sort_order, id');
    products = rows;
  } catch (error) {
    deps.logger.warn({ err: error }, 'catalog: could not read the products to sync with Stripe');
    return;
  }
  const synced = await Promise.all(products.map((product) => remember(deps, product)));
  // Only the tracks whose product is there: a Stripe that is down has been asked (and logged) once.
  await syncRecurringPrices(deps, new Set(products.filter((_, i) => synced[i]).map((product) => product.id)));
}

/**
 * The Stripe product for a track, made or updated first if this process has not yet done so, or if
 * the name it was synced with is not `name` (the order's, read from the database). Null when Stripe
 * or the database cannot be reached: the caller then describes the product inline.
 */
export async function stripeProductFor(deps: CatalogDeps, track: string, name: string): Promise<string | null> {
  const synced = await knownFor(deps.stripe).get(track);
  if (synced && synced.name === name) return synced.stripeProductId;
  let product: CatalogProduct | undefined;
  try {
    ({ rows: [product] } = await deps.db.query<CatalogProduct>('select id, name, description from products where id = $1', [track]));
  } catch (error) {
    deps.logger.warn({ err: error, track }, 'catalog: could not read the product to sync with Stripe');
    return null;
  }
  if (!product) return null;
  return (await remember(deps, product))?.stripeProductId ?? null;
}

/** Stripe no longer has the product this process made (deleted at Stripe, or the sandbox was reset). */
export function forgetStripeProduct(stripe: Stripe, track: string): void {
  knownFor(stripe).delete(track);
}

/** A Stripe error saying a product named in the request does not exist. */
export function isMissingStripeProduct(error: unknown): boolean {
  return error instanceof Stripe.errors.StripeInvalidRequestError && error.code === 'resource_missing' && /product/.test(error.param ?? '');
}

function remember(deps: CatalogDeps, product: CatalogProduct): Promise<Synced | null> {
  const map = knownFor(deps.stripe);
  const syncing = ensureAtStripe(deps.stripe, product).catch((error: unknown) => {
    deps.logger.warn({ err: error, track: product.id }, 'catalog: could not sync the product with Stripe; checkouts describe it inline until it is');
    if (map.get(product.id) === syncing) map.delete(product.id);
    return null;
  });
  map.set(product.id, syncing);
  return syncing;
}

async function ensureAtStripe(stripe: Stripe, product: CatalogProduct): Promise<Synced> {
  const id = stripeProductId(product.id);
  const wanted = { name: product.name, description: product.description };
  let existing: Stripe.Product | null = null;
  try {
    existing = await stripe.products.retrieve(id);
  } catch (error) {
    if (!(error instanceof Stripe.errors.StripeInvalidRequestError && error.code === 'resource_missing')) throw error;
  }
  if (!existing) {
    try {
      await stripe.products.create({ id, ...descriptionOf(wanted), metadata: { track: product.id } });
      return { stripeProductId: id, ...wanted };
    } catch (error) {
      // Another process made it between our retrieve and create: it is there now.
      if (!(error instanceof Stripe.errors.StripeInvalidRequestError && error.code === 'resource_already_exists')) throw error;
      existing = await stripe.products.retrieve(id);
    }
  }
  // An archived product would refuse new line items; a renamed track shows its new name on the page.
  if (existing.name !== wanted.name || (existing.description ?? '') !== wanted.description || !existing.active) {
    await stripe.products.update(id, { name: wanted.name, description: wanted.description, active: true });
  }
  return { stripeProductId: id, ...wanted };
}

// An empty description is left out on create ("" would clear it, and there is nothing to clear).
function descriptionOf(wanted: { name: string; description: string }): { name: string; description?: string } {
  return wanted.description === '' ? { name: wanted.name } : wanted;
}

// ---------------------------------------------------------------------------------------------
// Recurring prices

export type RecurringInterval = 'day' | 'week' | 'month' | 'year';

/** A database recurring price and the Stripe price that bills it. */
export interface StripeRecurringPrice {
  /** prices.id in the database, e.g. business_plan_builder_usd_monthly. */
  priceId: string;
  track: string;
  currency: string;
  unitAmount: number;
  interval: RecurringInterval;
  stripePriceId: string;
}

/** The track's Stripe product could not be made or found (Stripe or the database unreachable). */
export class CatalogUnavailableError extends Error {
  constructor(readonly track: string) {
    super(`catalog: the product of track ${track} could not be synced with Stripe`);
    this.name = 'CatalogUnavailableError';
  }
}

interface CatalogRecurringPrice {
  id: string;
  product_id: string;
  product_name: string;
  currency: string;
  unit_amount: number;
  recurring_interval: RecurringInterval;
}

const RECURRING_PRICES_SQL = `select pr.id, pr.product_id, p.name as product_name, pr.currency, pr.unit_amount, pr.recurring_interval
   from prices pr join products p on p.id = pr.product_id
  where pr.kind = 'recurring' and pr.active and p.active`;

// Per Stripe client, per database price: the Stripe price made for it, with what it was made for (an
// amount changed in the database makes the next call sync again). As for products, a failed sync is
// forgotten and an in-flight one is shared, so concurrent callers make one price.
const knownPrices = new WeakMap<Stripe, Map<string, { signature: string; synced: Promise<StripeRecurringPrice> }>>();
const knownPricesFor = (stripe: Stripe) => {
  let map = knownPrices.get(stripe);
  if (!map) knownPrices.set(stripe, (map = new Map()));
  return map;
};

const signatureOf = (row: CatalogRecurringPrice) => `${row.product_id}|${row.currency}|${Number(row.unit_amount)}|${row.recurring_interval}|1`;

/**
 * The Stripe price of the track's active recurring price at `interval` (the cheapest, should there be
 * several), made or brought in line with the database first if needed. Null when the track sells no
 * such price (or is inactive). Throws CatalogUnavailableError when the track's product cannot be
 * synced, and Stripe's or the database's error when the price cannot: a mutation answers
 * PAYMENT_PROVIDER_UNAVAILABLE then, and the next call tries again.
 */
export async function stripeRecurringPriceFor(deps: CatalogDeps, track: string, interval: RecurringInterval = 'month'): Promise<StripeRecurringPrice | null> {
  const { rows: [row] } = await deps.db.query<CatalogRecurringPrice>(
    `${RECURRING_PRICES_SQL} and pr.product_id = $1 and pr.recurring_interval = $2 order by pr.unit_amount, pr.id limit 1`,
    [track, interval],
  );
  if (!row) return null;
  return recurringPriceAtStripe(deps, row);
}

/**
 * The Stripe price of one database price (an order's own price_id), made or brought in line with the
 * database first if needed. Null when it is not an active recurring price of an active track. Throws
 * as stripeRecurringPriceFor does.
 */
export async function stripeRecurringPriceOf(deps: CatalogDeps, priceId: string): Promise<StripeRecurringPrice | null> {
  const { rows: [row] } = await deps.db.query<CatalogRecurringPrice>(`${RECURRING_PRICES_SQL} and pr.id = $1`, [priceId]);
  if (!row) return null;
  return recurringPriceAtStripe(deps, row);
}

/**
 * Stripe no longer has this price, or no longer sells it (deleted or archived there, or the sandbox was
 * reset): sync it again next time, which looks at Stripe and makes a new one if needed.
 */
export function forgetStripeRecurringPrice(stripe: Stripe, priceId: string): void {
  knownPricesFor(stripe).delete(priceId);
}

/** A Stripe error saying a price named in the request does not exist. */
export function isMissingStripePrice(error: unknown): boolean {
  return error instanceof Stripe.errors.StripeInvalidRequestError && error.code === 'resource_missing' && /price/.test(error.param ?? '');
}

// Every active recurring price of `tracks`, at start; never throws (each failure is logged, and the
// first subscription checkout of that track syncs it instead).
async function syncRecurringPrices(deps: CatalogDeps, tracks: Set<string>): Promise<void> {
  if (tracks.size === 0) return;
  let rows: CatalogRecurringPrice[];
  try {
    ({ rows } = await deps.db.query<CatalogRecurringPrice>(`${RECURRING_PRICES_SQL} order by p.sort_order, pr.id`));
  } catch (error) {
    deps.logger.warn({ err: error }, 'catalog: could not read the recurring prices to sync with Stripe');
    return;
  }
  await Promise.all(rows.filter((row) => tracks.has(row.product_id)).map((row) => recurringPriceAtStripe(deps, row).catch(() => null)));
}

function recurringPriceAtStripe(deps: CatalogDeps, row: CatalogRecurringPrice): Promise<StripeRecurringPrice> {
  const map = knownPricesFor(deps.stripe);
  const signature = signatureOf(row);
  const known = map.get(row.id);
  if (known && known.signature === signature) return known.synced;
  const synced = ensurePriceAtStripe(deps, row).catch((error: unknown) => {
    deps.logger.warn({ err: error, track: row.product_id, priceId: row.id }, 'catalog: could not sync the recurring price with Stripe');
    if (map.get(row.id)?.synced === synced) map.delete(row.id);
    throw error;
  });
  map.set(row.id, { signature, synced });
  return synced;
}

async function ensurePriceAtStripe(deps: CatalogDeps, row: CatalogRecurringPrice): Promise<StripeRecurringPrice> {
  const { stripe } = deps;
  const product = await stripeProductFor(deps, row.product_id, row.product_name);
  if (!product) throw new CatalogUnavailableError(row.product_id);
  const unitAmount = Number(row.unit_amount);
  const matches = (price: Stripe.Price) =>
    price.active &&
    price.type === 'recurring' &&
    price.unit_amount === unitAmount &&
    price.currency === row.currency &&
    price.recurring?.interval === row.recurring_interval &&
    price.recurring.interval_count === 1 &&
    (typeof price.product === 'string' ? price.product : price.product.id) === product;
  const { data: [current] } = await stripe.prices.list({ lookup_keys: [row.id], limit: 1 });
  let stripePriceId: string;
  if (current && matches(current)) {
    stripePriceId = current.id;
  } else {
    // The key names what is being made and what it replaces, so a retry (or a second process at the
    // same moment) gets the same price back rather than a second one, while a later change of amount,
    // or a price archived by hand, makes a new one.
    const replaces = current ? `${current.id}:${current.active ? 'active' : 'archived'}` : 'none';
    const created = await stripe.prices.create(
      {
        product,
        currency: row.currency,
        unit_amount: unitAmount,
        recurring: { interval: row.recurring_interval, interval_count: 1 },
        lookup_key: row.id,
        transfer_lookup_key: true,
        metadata: { track: row.product_id, price_id: row.id },
      },
      { idempotencyKey: `catalog-price:${row.id}:${signatureOf(row)}:${replaces}` },
    );
    stripePriceId = created.id;
    // New subscriptions must not start on a price the database no longer sells.
    if (current && current.active && current.id !== created.id) await stripe.prices.update(current.id, { active: false });
  }
  // Every Stripe price made for a database price is kept (stripe_prices, with the amount it bills): the
  // subscribers of an earlier amount stay on its Stripe price and are found by it. The price's current
  // one is what new checkouts and switches use.
  await deps.db.query(
    `with kept as (
       insert into stripe_prices (stripe_price_id, price_id, currency, unit_amount, recurring_interval)
       values ($2, $1, $3, $4, $5) on conflict do nothing
     )
     update prices set stripe_price_id = $2 where id = $1 and stripe_price_id is distinct from $2`,
    [row.id, stripePriceId, row.currency, unitAmount, row.recurring_interval],
  );
  return { priceId: row.id, track: row.product_id, currency: row.currency, unitAmount, interval: row.recurring_interval, stripePriceId };
}
