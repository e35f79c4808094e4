// Products: create, retrieve, update, list (`active`, `created`, pagination), with the events Stripe
// emits (product.created / product.updated). `default_price_data` creates the product's first price.
import type Stripe from 'stripe';
import type { SandboxCore } from '../core';
import { invalidRequest } from '../errors';
import { newId } from '../ids';
import { createdFilter, paginate } from '../list';
import { applyMetadata, optionalBoolean, optionalObject, optionalString, type Params, rejectUnknown, requireString } from '../params';
import { previousAttributes } from '../previousAttributes';
import type { Route, RouteContext } from '../router';
import { createPrice } from './prices';

export const products = (core: SandboxCore) => core.store.collection<Stripe.Product>('product');

const CREATE_PARAMS = ['name', 'id', 'active', 'description', 'metadata', 'default_price_data', 'expand', 'images', 'url', 'statement_descriptor', 'unit_label', 'tax_code', 'shippable', 'marketing_features', 'package_dimensions'];
const UPDATE_PARAMS = ['name', 'active', 'description', 'metadata', 'default_price', 'expand', 'images', 'url', 'statement_descriptor', 'unit_label', 'tax_code', 'shippable', 'marketing_features', 'package_dimensions'];

function stringList(params: Params, name: string): string[] | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (value === '') return [];
  const list = Array.isArray(value) ? value : typeof value === 'object' && value !== null ? Object.values(value) : undefined;
  if (!list || !list.every((v) => typeof v === 'string')) throw invalidRequest(`Invalid array: ${name}`, name);
  return list as string[];
}

/** Creates and stores a product (also used by prices' `product_data` and Checkout's inline prices). */
export function createProduct(ctx: RouteContext, params: Params): Stripe.Product {
  const { core } = ctx;
  const name = requireString(params, 'name');
  const id = optionalString(params, 'id') || newId('prod', 14);
  if (core.store.find(id)) throw invalidRequest(`Product already exists.`, 'id', 'resource_already_exists');
  const now = core.clock.now();
  const product: Stripe.Product = {
    id,
    object: 'product',
    active: optionalBoolean(params, 'active') ?? true,
    created: now,
    default_price: null,
    description: optionalString(params, 'description') || null,
    images: stringList(params, 'images') ?? [],
    livemode: false,
    marketing_features: [],
    metadata: applyMetadata({}, params),
    name,
    package_dimensions: null,
    shippable: optionalBoolean(params, 'shippable') ?? null,
    statement_descriptor: optionalString(params, 'statement_descriptor') || null,
    tax_code: optionalString(params, 'tax_code') || null,
    tax_details: null,
    type: 'service',
    unit_label: optionalString(params, 'unit_label') || null,
    updated: now,
    url: optionalString(params, 'url') || null,
  };
  products(core).insert(product);
  core.events.emit('product.created', product, { request: ctx.eventRequest });
  const priceData = optionalObject(params, 'default_price_data');
  if (priceData) {
    rejectUnknown(priceData, ['currency', 'unit_amount', 'unit_amount_decimal', 'recurring', 'metadata', 'tax_behavior', 'currency_options', 'custom_unit_amount'], 'default_price_data');
    const price = createPrice(ctx, { ...priceData, product: product.id }, 'default_price_data');
    product.default_price = price.id;
  }
  return product;
}

export const productRoutes: Route[] = [
  {
    method: 'POST',
    path: '/v1/products',
    handler: (ctx) => {
      rejectUnknown(ctx.params, CREATE_PARAMS);
      return createProduct(ctx, ctx.params);
    },
  },
  {
    method: 'GET',
    path: '/v1/products',
    handler: ({ core, params }) => {
      rejectUnknown(params, ['active', 'created', 'ending_before', 'expand', 'ids', 'limit', 'shippable', 'starting_after', 'url']);
      const active = optionalBoolean(params, 'active');
      const ids = stringList(params, 'ids');
      const inRange = createdFilter(params);
      const list = products(core).newestFirst((p) => inRange(p.created) && (active === undefined || p.active === active) && (!ids || ids.includes(p.id)));
      return paginate(list, params, '/v1/products', 'product');
    },
  },
  {
    method: 'GET',
    path: '/v1/products/:product',
    handler: ({ core, params, path }) => {
      rejectUnknown(params, ['expand']);
      return products(core).require(path.product!, 'product');
    },
  },
  {
    method: 'POST',
    path: '/v1/products/:product',
    handler: (ctx) => {
      const { core, params, path } = ctx;
      rejectUnknown(params, UPDATE_PARAMS);
      const product = products(core).require(path.product!, 'product');
      const before = structuredClone(product);
      const name = optionalString(params, 'name');
      if (name === '') throw invalidRequest('You must supply a non-empty name for the product.', 'name');
      if (name !== undefined) product.name = name;
      const active = optionalBoolean(params, 'active');
      if (active !== undefined) product.active = active;
      for (const field of ['description', 'url', 'statement_descriptor', 'unit_label'] as const) {
        const value = optionalString(params, field);
        if (value !== undefined) product[field] = value === '' ? null : value;
      }
      const images = stringList(params, 'images');
      if (images) product.images = images;
      const defaultPrice = optionalString(params, 'default_price');
      if (defaultPrice !== undefined) {
        if (defaultPrice !== '') {
          const price = core.store.collection<Stripe.Price>('price').require(defaultPrice, 'default_price');
          if (price.product !== product.id) throw invalidRequest(`The price ${defaultPrice} does not belong to product ${product.id}.`, 'default_price');
        }
        product.default_price = defaultPrice || null;
      }
      product.metadata = applyMetadata(product.metadata, params);
      const previous = previousAttributes(before, product);
      if (Object.keys(previous).length > 0) {
        product.updated = core.clock.now();
        core.events.emit('product.updated', product, { previousAttributes: previous, request: ctx.eventRequest });
      }
      return product;
    },
  },
];

