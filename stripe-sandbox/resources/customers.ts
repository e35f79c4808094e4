import type Stripe from 'stripe';
import type { SandboxCore } from '../core';
import { invalidRequest } from '../errors';
import { newId } from '../ids';
import { createdFilter, paginate } from '../list';
import { applyMetadata, optionalString, type Params, rejectUnknown } from '../params';
import { previousAttributes } from '../previousAttributes';
import type { Route, RouteContext } from '../router';

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

export const customers = (core: SandboxCore) => core.store.collection<Stripe.Customer>('customer');

function email(params: Params): string | null | undefined {
  const value = optionalString(params, 'email');
  if (value === undefined) return undefined;
  if (value === '') return null;
  if (!EMAIL.test(value) || value.length > 512) throw invalidRequest('Invalid email address: ' + value, 'email', 'email_invalid');
  return value;
}

export function createCustomer(ctx: RouteContext, params: Params): Stripe.Customer {
  const { core } = ctx;
  const customer = {
    id: newId('cus', 14),
    object: 'customer',
    address: null,
    balance: 0,
    created: core.clock.now(),
    currency: null,
    default_source: null,
    delinquent: false,
    description: optionalString(params, 'description') ?? null,
    discount: null,
    email: email(params) ?? null,
    invoice_prefix: newId('', 8).slice(1).toUpperCase(),
    invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
    livemode: false,
    metadata: applyMetadata({}, params),
    name: optionalString(params, 'name') ?? null,
    next_invoice_sequence: 1,
    phone: optionalString(params, 'phone') ?? null,
    preferred_locales: [],
    shipping: null,
    tax_exempt: 'none',
    test_clock: null,
  } as unknown as Stripe.Customer;
  customers(core).insert(customer);
  core.events.emit('customer.created', customer, { request: ctx.eventRequest });
  return customer;
}

const CREATE_PARAMS = ['email', 'name', 'description', 'phone', 'metadata', 'expand', 'address', 'shipping', 'preferred_locales', 'payment_method', 'invoice_settings'];

export const customerRoutes: Route[] = [
  {
    method: 'POST',
    path: '/v1/customers',
    handler: (ctx) => {
      rejectUnknown(ctx.params, CREATE_PARAMS);
      return createCustomer(ctx, ctx.params);
    },
  },
  {
    method: 'GET',
    path: '/v1/customers',
    handler: ({ core, params }) => {
      rejectUnknown(params, ['created', 'email', 'ending_before', 'expand', 'limit', 'starting_after', 'test_clock']);
      const byEmail = optionalString(params, 'email');
      const inRange = createdFilter(params);
      const list = customers(core).newestFirst((c) => inRange(c.created) && (!byEmail || c.email === byEmail));
      return paginate(list, params, '/v1/customers', 'customer');
    },
  },
  {
    method: 'GET',
    path: '/v1/customers/:customer',
    handler: ({ core, path }) => customers(core).require(path.customer!, 'customer'),
  },
  {
    method: 'POST',
    path: '/v1/customers/:customer',
    handler: (ctx) => {
      const { core, params, path } = ctx;
      rejectUnknown(params, CREATE_PARAMS);
      const customer = customers(core).require(path.customer!, 'customer');
      const before = structuredClone(customer);
      const newEmail = email(params);
      if (newEmail !== undefined) customer.email = newEmail;
      for (const field of ['name', 'description', 'phone'] as const) {
        const value = optionalString(params, field);
        if (value !== undefined) customer[field] = value === '' ? null : value;
      }
      customer.metadata = applyMetadata(customer.metadata, params);
      const previous = previousAttributes(before, customer);
      if (Object.keys(previous).length > 0) core.events.emit('customer.updated', customer, { previousAttributes: previous, request: ctx.eventRequest });
      return customer;
    },
  },
];
