// Prices: create (with `product` or inline `product_data`), retrieve, update, list, with price.created /
// price.updated events. `createPriceFromData` makes the inline prices of Checkout's `price_data`.
import type Stripe from 'stripe';
import type { SandboxCore } from '../core';
import { invalidRequest, missingParam, StripeApiError } from '../errors';
import { newId } from '../ids';
import { createdFilter, paginate } from '../list';
import { applyMetadata, optionalBoolean, optionalEnum, optionalInteger, optionalObject, optionalString, type Params, rejectUnknown } from '../params';
import { previousAttributes } from '../previousAttributes';
import type { Route, RouteContext } from '../router';
import { createProduct, products } from './products';

export const prices = (core: SandboxCore) => core.store.collection<Stripe.Price>('price');

const INTERVALS = ['day', 'week', 'month', 'year'] as const;
/** Stripe allows at most three years between billings. */
const MAX_INTERVAL_COUNT: Record<(typeof INTERVALS)[number], number> = { day: 1095, week: 156, month: 36, year: 3 };

const CREATE_PARAMS = ['currency', 'unit_amount', 'unit_amount_decimal', 'product', 'product_data', 'recurring', 'lookup_key', 'transfer_lookup_key', 'nickname', 'metadata', 'active', 'tax_behavior', 'expand', 'billing_scheme', 'currency_options', 'custom_unit_amount', 'tiers', 'tiers_mode', 'transform_quantity'];
const UPDATE_PARAMS = ['metadata', 'active', 'nickname', 'lookup_key', 'transfer_lookup_key', 'tax_behavior', 'expand', 'currency_options'];

/**
 * The wire form of a decimal amount. The SDK's types declare `Stripe.Decimal` (the SDK turns the
 * JSON string into its Decimal class on the way in), while the API sends a plain string: a cast is
 * unavoidable here.
 */
export function decimalString(value: number | string): Stripe.Decimal {
  return String(value) as unknown as Stripe.Decimal;
}

function prefixed(prefix: string, name: string): string {
  return prefix ? `${prefix}[${name}]` : name;
}

/** Runs `fn`, reporting any error's `param` inside `prefix` (helpers only know the inner name). */
export function withPrefix<T>(prefix: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof StripeApiError && error.body.param && prefix && !error.body.param.startsWith(prefix)) {
      const [head, ...rest] = error.body.param.split('[');
      error.body.param = `${prefix}[${head}]${rest.length ? '[' + rest.join('[') : ''}`;
    }
    throw error;
  }
}

function parseRecurring(params: Params, prefix: string): Stripe.Price.Recurring | null {
  const recurring = optionalObject(params, 'recurring');
  if (!recurring) return null;
  const name = prefixed(prefix, 'recurring');
  rejectUnknown(recurring, ['interval', 'interval_count', 'usage_type', 'meter', 'trial_period_days', 'aggregate_usage'], name);
  const interval = withPrefix(name, () => optionalEnum(recurring, 'interval', INTERVALS));
  if (!interval) throw missingParam(`${name}[interval]`);
  const intervalCount = withPrefix(name, () => optionalInteger(recurring, 'interval_count', { min: 1 })) ?? 1;
  if (intervalCount > MAX_INTERVAL_COUNT[interval]) throw invalidRequest('The maximum billing frequency is 3 years.', `${name}[interval_count]`);
  const usageType = optionalEnum(recurring, 'usage_type', ['licensed', 'metered'] as const) ?? 'licensed';
  if (usageType === 'metered') throw invalidRequest('Metered prices are not supported by the Stripe sandbox.', `${name}[usage_type]`);
  return { interval, interval_count: intervalCount, meter: null, trial_period_days: optionalInteger(recurring, 'trial_period_days', { min: 0 }) ?? null, usage_type: usageType };
}

function checkLookupKey(core: SandboxCore, lookupKey: string, transfer: boolean, self?: Stripe.Price): void {
  const holder = prices(core).newestFirst((p) => p.lookup_key === lookupKey && p !== self)[0];
  if (!holder) return;
  if (!transfer) throw invalidRequest(`A price (\`${holder.id}\`) already uses that lookup key.`, 'lookup_key');
  holder.lookup_key = null;
}

/**
 * Creates and stores a price from create parameters. `prefix` names the enclosing parameter in
 * errors (`default_price_data`, `line_items[0][price_data]`). `emit` false for inline prices.
 */
export function createPrice(ctx: RouteContext, params: Params, prefix = '', options: { emit?: boolean; active?: boolean } = {}): Stripe.Price {
  const { core } = ctx;
  const currencyValue = optionalString(params, 'currency');
  if (!currencyValue) throw missingParam(prefixed(prefix, 'currency'));
  const currency = currencyValue.toLowerCase();
  if (!/^[a-z]{3}$/.test(currency)) throw invalidRequest(`Invalid currency: ${currencyValue}.`, prefixed(prefix, 'currency'));

  let unitAmount = optionalInteger(params, 'unit_amount', { min: 0 });
  const decimal = optionalString(params, 'unit_amount_decimal');
  if (unitAmount !== undefined && decimal !== undefined) throw invalidRequest('You may only specify one of these parameters: unit_amount, unit_amount_decimal.', prefixed(prefix, 'unit_amount'));
  if (decimal !== undefined) {
    if (!/^\d+(\.\d{1,12})?$/.test(decimal)) throw invalidRequest(`Invalid decimal: ${decimal}`, prefixed(prefix, 'unit_amount_decimal'));
    if (!/^\d+(\.0*)?$/.test(decimal)) throw invalidRequest('Fractional unit amounts are not supported by the Stripe sandbox.', prefixed(prefix, 'unit_amount_decimal'));
    unitAmount = Number.parseInt(decimal, 10);
  }
  if (unitAmount === undefined) throw missingParam(prefixed(prefix, 'unit_amount'));

  const productId = optionalString(params, 'product');
  const productData = optionalObject(params, 'product_data');
  if (productId && productData) throw invalidRequest('You may only specify one of these parameters: product, product_data.', prefixed(prefix, 'product'));
  let product: Stripe.Product;
  if (productId) product = products(core).require(productId, prefixed(prefix, 'product'));
  else if (productData) {
    rejectUnknown(productData, ['name', 'id', 'active', 'metadata', 'statement_descriptor', 'tax_code', 'unit_label', 'images', 'description'], prefixed(prefix, 'product_data'));
    if (!productData.name) throw missingParam(`${prefixed(prefix, 'product_data')}[name]`);
    product = createProduct(ctx, productData);
  } else throw missingParam(prefixed(prefix, 'product'));

  const lookupKey = optionalString(params, 'lookup_key') || null;
  if (lookupKey) checkLookupKey(core, lookupKey, optionalBoolean(params, 'transfer_lookup_key') ?? false);
  const recurring = parseRecurring(params, prefix);
  const price: Stripe.Price = {
    id: newId('price', 24),
    object: 'price',
    active: options.active ?? optionalBoolean(params, 'active') ?? true,
    billing_scheme: 'per_unit',
    created: core.clock.now(),
    currency,
    custom_unit_amount: null,
    livemode: false,
    lookup_key: lookupKey,
    metadata: applyMetadata({}, params),
    nickname: optionalString(params, 'nickname') || null,
    product: product.id,
    recurring,
    tax_behavior: optionalEnum(params, 'tax_behavior', ['exclusive', 'inclusive', 'unspecified'] as const) ?? 'unspecified',
    tiers_mode: null,
    transform_quantity: null,
    type: recurring ? 'recurring' : 'one_time',
    unit_amount: unitAmount,
    unit_amount_decimal: decimalString(unitAmount),
  };
  prices(core).insert(price);
  if (options.emit !== false) core.events.emit('price.created', price, { request: ctx.eventRequest });
  return price;
}

/**
 * For Checkout's `line_items[][price_data]` (and subscriptions' `items[][price_data]`): an inline
 * price as Stripe makes it, inactive (it cannot be reused for new purchases) and without a
 * price.created event. `priceData` holds currency, unit_amount, product | product_data, recurring.
 */
export function createPriceFromData(ctx: RouteContext, priceData: Params, prefix = 'price_data'): Stripe.Price {
  rejectUnknown(priceData, ['currency', 'unit_amount', 'unit_amount_decimal', 'product', 'product_data', 'recurring', 'tax_behavior'], prefix);
  return createPrice(ctx, priceData, prefix, { emit: false, active: false });
}

function stringList(params: Params, name: string): string[] | undefined {
  const value = params[name];
  if (value === undefined || value === '') return undefined;
  const list = Array.isArray(value) ? value : typeof value === 'object' && value !== null ? Object.values(value) : [value];
  if (!list.every((v) => typeof v === 'string')) throw invalidRequest(`Invalid array: ${name}`, name);
  return list as string[];
}

export const priceRoutes: Route[] = [
  {
    method: 'POST',
    path: '/v1/prices',
    handler: (ctx) => {
      rejectUnknown(ctx.params, CREATE_PARAMS);
      return createPrice(ctx, ctx.params);
    },
  },
  {
    method: 'GET',
    path: '/v1/prices',
    handler: ({ core, params }) => {
      rejectUnknown(params, ['active', 'created', 'currency', 'ending_before', 'expand', 'limit', 'lookup_keys', 'product', 'recurring', 'starting_after', 'type']);
      const active = optionalBoolean(params, 'active');
      const product = optionalString(params, 'product');
      const currency = optionalString(params, 'currency')?.toLowerCase();
      const type = optionalEnum(params, 'type', ['one_time', 'recurring'] as const);
      const lookupKeys = stringList(params, 'lookup_keys');
      if (lookupKeys && lookupKeys.length > 10) throw invalidRequest('You may only specify up to 10 lookup keys.', 'lookup_keys');
      const recurring = optionalObject(params, 'recurring');
      if (recurring) rejectUnknown(recurring, ['interval', 'meter', 'usage_type'], 'recurring');
      const interval = recurring ? optionalEnum(recurring, 'interval', INTERVALS) : undefined;
      const inRange = createdFilter(params);
      const list = prices(core).newestFirst(
        (p) =>
          inRange(p.created) &&
          (active === undefined || p.active === active) &&
          (!product || p.product === product) &&
          (!currency || p.currency === currency) &&
          (!type || p.type === type) &&
          (!lookupKeys || (p.lookup_key !== null && lookupKeys.includes(p.lookup_key))) &&
          (!interval || p.recurring?.interval === interval),
      );
      return paginate(list, params, '/v1/prices', 'price');
    },
  },
  {
    method: 'GET',
    path: '/v1/prices/:price',
    handler: ({ core, params, path }) => {
      rejectUnknown(params, ['expand']);
      return prices(core).require(path.price!, 'price');
    },
  },
  {
    method: 'POST',
    path: '/v1/prices/:price',
    handler: (ctx) => {
      const { core, params, path } = ctx;
      rejectUnknown(params, UPDATE_PARAMS);
      const price = prices(core).require(path.price!, 'price');
      const before = structuredClone(price);
      const active = optionalBoolean(params, 'active');
      if (active !== undefined) price.active = active;
      const nickname = optionalString(params, 'nickname');
      if (nickname !== undefined) price.nickname = nickname || null;
      const lookupKey = optionalString(params, 'lookup_key');
      if (lookupKey !== undefined) {
        if (lookupKey) checkLookupKey(core, lookupKey, optionalBoolean(params, 'transfer_lookup_key') ?? false, price);
        price.lookup_key = lookupKey || null;
      }
      const taxBehavior = optionalEnum(params, 'tax_behavior', ['exclusive', 'inclusive', 'unspecified'] as const);
      if (taxBehavior) price.tax_behavior = taxBehavior;
      price.metadata = applyMetadata(price.metadata, params);
      const previous = previousAttributes(before, price);
      if (Object.keys(previous).length > 0) core.events.emit('price.updated', price, { previousAttributes: previous, request: ctx.eventRequest });
      return price;
    },
  },
];
