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
  await Promise.all(products.map((product) => remember(deps, product)));
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
