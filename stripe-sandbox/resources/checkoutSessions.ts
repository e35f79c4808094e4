// Checkout Sessions: create, retrieve (with `expand[]=line_items`), list, line items, expire, and
// expiry when sandbox time passes `expires_at`. The hosted page that completes a session (pays it)
// lives in checkoutPage.ts; this module holds the state transitions both use.
import type Stripe from 'stripe';
import type { SandboxCore } from '../core';
import { invalidRequest, missingParam, resourceMissing } from '../errors';
import { newId } from '../ids';
import { createdFilter, paginate, type StripeList } from '../list';
import { applyMetadata, expandList, optionalArray, optionalEnum, optionalInteger, optionalObject, optionalString, type Params, rejectUnknown } from '../params';
import type { Route, RouteContext } from '../router';
import { customers } from './customers';
import { createPriceFromData, prices as priceCollection } from './prices';

type Session = Stripe.Checkout.Session;

export const checkoutSessions = (core: SandboxCore) => core.store.collection<Session>('checkout.session');

/** What a session keeps that Stripe does not show on the object. */
export interface SessionInternals {
  lineItems: Stripe.LineItem[];
  paymentIntentData: Params;
  subscriptionData: Params;
}
const internals = new WeakMap<Session, SessionInternals>();

export function sessionInternals(session: Session): SessionInternals {
  let found = internals.get(session);
  if (!found) {
    found = { lineItems: [], paymentIntentData: {}, subscriptionData: {} };
    internals.set(session, found);
  }
  return found;
}

/** Every session's internals by session id, for the sandbox's state file (restored after the objects). */
export const checkoutSessionInternals = {
  snapshot: (core: SandboxCore): Record<string, SessionInternals> => {
    const out: Record<string, SessionInternals> = {};
    for (const session of checkoutSessions(core).all()) {
      const found = internals.get(session);
      if (found) out[session.id] = found;
    }
    return out;
  },
  restore: (core: SandboxCore, saved: Record<string, SessionInternals>): void => {
    for (const [id, found] of Object.entries(saved)) {
      const session = checkoutSessions(core).get(id);
      if (session) internals.set(session, found);
    }
  },
};

// ---------------------------------------------------------------------------------------------
// Create

// Every SessionCreateParams key of API 2026-10-28.endive. `payment_method_types` was removed in
// that version, so it is an unknown parameter, as at Stripe.
const CREATE_PARAMS = [
  'adaptive_pricing', 'after_expiration', 'allow_promotion_codes', 'allowed_payment_method_types', 'automatic_tax',
  'billing_address_collection', 'branding_settings', 'cancel_url', 'client_reference_id', 'consent_collection', 'currency',
  'custom_fields', 'custom_text', 'customer', 'customer_account', 'customer_creation', 'customer_email', 'customer_update',
  'discounts', 'excluded_payment_method_types', 'expand', 'expires_at', 'integration_identifier', 'invoice_creation',
  'line_items', 'locale', 'managed_payments', 'metadata', 'mode', 'name_collection', 'optional_items', 'origin_context',
  'payment_intent_data', 'payment_method_collection', 'payment_method_configuration', 'payment_method_data',
  'payment_method_options', 'permissions', 'phone_number_collection', 'redirect_on_completion', 'return_url',
  'saved_payment_method_options', 'setup_intent_data', 'shipping_address_collection', 'shipping_options', 'submit_type',
  'subscription_data', 'success_url', 'tax_id_collection', 'ui_mode', 'wallet_options',
] as const;

const LINE_ITEM_PARAMS = ['adjustable_quantity', 'metadata', 'price', 'price_data', 'quantity', 'tax_rates', 'dynamic_tax_rates'];
const PRICE_DATA_PARAMS = ['currency', 'product', 'product_data', 'recurring', 'tax_behavior', 'unit_amount', 'unit_amount_decimal'];
const PAYMENT_INTENT_DATA_PARAMS = [
  'application_fee_amount', 'capture_method', 'description', 'metadata', 'on_behalf_of', 'receipt_email', 'setup_future_usage',
  'shipping', 'statement_descriptor', 'statement_descriptor_suffix', 'transfer_data', 'transfer_group',
];
const SUBSCRIPTION_DATA_PARAMS = [
  'application_fee_percent', 'billing_cycle_anchor', 'billing_mode', 'default_tax_rates', 'description', 'invoice_settings',
  'metadata', 'on_behalf_of', 'proration_behavior', 'transfer_data', 'trial_end', 'trial_period_days', 'trial_settings',
];
// Accepted by Stripe, but the sandbox's subscriptions do not emulate them: refused up front rather
// than when the customer pays.
const UNSUPPORTED_SUBSCRIPTION_DATA = ['application_fee_percent', 'billing_cycle_anchor', 'billing_mode', 'default_tax_rates', 'invoice_settings', 'on_behalf_of', 'transfer_data'];

const MIN_EXPIRY_SECONDS = 30 * 60;
const MAX_EXPIRY_SECONDS = 24 * 3600;

function validUrl(params: Params, name: string): string | undefined {
  const value = optionalString(params, name);
  if (value === undefined || value === '') return undefined;
  // `{CHECKOUT_SESSION_ID}` is a template Stripe fills in on redirect; it is not part of the URL yet.
  try {
    const parsed = new URL(value.replaceAll('{CHECKOUT_SESSION_ID}', 'cs_placeholder'));
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw invalidRequest('Not a valid URL', name, 'url_invalid');
  }
  if (value.length > 5000) throw invalidRequest(`Invalid ${name}: must be at most 5000 characters`, name);
  return value;
}

function lineItemPrice(ctx: RouteContext, item: Params, at: string): Stripe.Price {
  const priceId = item.price;
  const priceData = item.price_data;
  if (priceId !== undefined && priceData !== undefined) throw invalidRequest('You may only specify one of these parameters: price, price_data.', `${at}[price]`);
  if (priceId !== undefined) {
    if (typeof priceId !== 'string' || priceId === '') throw invalidRequest('Invalid string: price', `${at}[price]`);
    const price = priceCollection(ctx.core).get(priceId);
    if (!price) throw resourceMissing('price', priceId, `${at}[price]`);
    if (!price.active) throw invalidRequest(`The price \`${priceId}\` is not active. Use an active price.`, `${at}[price]`);
    return price;
  }
  if (priceData === undefined) throw invalidRequest('You must specify either `price` or `price_data` in each line item.', `${at}[price]`);
  const data = optionalObject(item, 'price_data')!;
  rejectUnknown(data, PRICE_DATA_PARAMS, `${at}[price_data]`);
  return createPriceFromData(ctx, data, `${at}[price_data]`);
}

async function buildLineItems(ctx: RouteContext, mode: Stripe.Checkout.Session.Mode, params: Params): Promise<Stripe.LineItem[]> {
  const items = optionalArray(params, 'line_items');
  if (!items || items.length === 0) throw missingParam('line_items');
  if (items.length > 100) throw invalidRequest('You may only specify up to 100 line items.', 'line_items');
  const result: Stripe.LineItem[] = [];
  for (const [i, raw] of items.entries()) {
    const at = `line_items[${i}]`;
    if (typeof raw !== 'object' || raw === null) throw invalidRequest(`Invalid object`, at);
    rejectUnknown(raw, LINE_ITEM_PARAMS, at);
    const price = lineItemPrice(ctx, raw, at);
    if (raw.quantity === undefined || raw.quantity === '') throw missingParam(`${at}[quantity]`);
    const quantity = optionalInteger(raw, 'quantity', { min: 1, max: 999_999 })!;
    if (mode === 'payment' && price.recurring) {
      throw invalidRequest('You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices.', `${at}[price]`);
    }
    if (price.unit_amount === null) throw invalidRequest(`The price \`${price.id}\` has no unit_amount; the sandbox supports only per-unit prices in Checkout.`, `${at}[price]`);
    const productId = typeof price.product === 'string' ? price.product : price.product.id;
    const product = ctx.core.store.find(productId) as Stripe.Product | undefined;
    const amount = price.unit_amount * quantity;
    result.push({
      id: newId('li'),
      object: 'item',
      adjustable_quantity: null,
      amount_discount: 0,
      amount_subtotal: amount,
      amount_tax: 0,
      amount_total: amount,
      currency: price.currency,
      description: product?.name ?? null,
      metadata: applyMetadata({}, raw),
      price: structuredClone(price),
      quantity,
    });
  }
  const currencies = new Set(result.map((li) => li.currency));
  if (currencies.size > 1) throw invalidRequest('All line items must have the same currency.', 'line_items');
  if (mode === 'subscription' && !result.some((li) => li.price?.recurring)) {
    throw invalidRequest('You must provide at least one recurring price in `subscription` mode when using prices.', 'line_items');
  }
  const oneTime = result.findIndex((li) => !li.price?.recurring);
  if (mode === 'subscription' && oneTime >= 0) {
    // Stripe adds one-time prices to the first invoice; the sandbox's subscriptions cannot yet.
    throw invalidRequest('The Stripe sandbox does not support one-time prices in `subscription` mode Checkout Sessions.', `line_items[${oneTime}][price]`);
  }
  return result;
}

export async function createCheckoutSession(ctx: RouteContext, params: Params): Promise<Session> {
  const { core } = ctx;
  rejectUnknown(params, CREATE_PARAMS);
  if (params.mode === undefined || params.mode === '') throw missingParam('mode');
  const mode = optionalEnum(params, 'mode', ['payment', 'setup', 'subscription'] as const)!;
  if (mode === 'setup') throw invalidRequest('The Stripe sandbox does not support `mode=setup` Checkout Sessions. Use `payment` or `subscription`.', 'mode');
  const uiMode = optionalEnum(params, 'ui_mode', ['elements', 'embedded_page', 'form', 'hosted_page'] as const) ?? 'hosted_page';
  if (uiMode !== 'hosted_page') throw invalidRequest(`The Stripe sandbox only supports \`ui_mode=hosted_page\` Checkout Sessions.`, 'ui_mode');

  const successUrl = validUrl(params, 'success_url');
  const cancelUrl = validUrl(params, 'cancel_url');

  const customerId = optionalString(params, 'customer') || undefined;
  const customerEmail = optionalString(params, 'customer_email') || undefined;
  if (customerId && customerEmail) throw invalidRequest('You may only specify one of these parameters: customer, customer_email.', 'customer_email');
  if (customerId) customers(core).require(customerId, 'customer');
  if (customerEmail && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(customerEmail)) throw invalidRequest('Invalid email address: ' + customerEmail, 'customer_email', 'email_invalid');
  const customerCreation = optionalEnum(params, 'customer_creation', ['always', 'if_required'] as const);
  if (customerCreation && mode !== 'payment') throw invalidRequest('`customer_creation` can only be used in `payment` mode.', 'customer_creation');
  if (customerCreation && customerId) throw invalidRequest('You may only specify one of these parameters: customer, customer_creation.', 'customer_creation');

  const clientReferenceId = optionalString(params, 'client_reference_id') || null;
  if (clientReferenceId && clientReferenceId.length > 200) throw invalidRequest('Invalid client_reference_id: must be at most 200 characters', 'client_reference_id');

  const now = core.clock.now();
  const expiresAt = optionalInteger(params, 'expires_at') ?? now + MAX_EXPIRY_SECONDS;
  if (expiresAt < now + MIN_EXPIRY_SECONDS) {
    throw invalidRequest('The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.', 'expires_at');
  }
  if (expiresAt > now + MAX_EXPIRY_SECONDS) {
    throw invalidRequest('The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.', 'expires_at');
  }

  const paymentIntentData = optionalObject(params, 'payment_intent_data') ?? {};
  if (Object.keys(paymentIntentData).length > 0 && mode !== 'payment') throw invalidRequest('You can not pass `payment_intent_data` in `subscription` mode.', 'payment_intent_data');
  rejectUnknown(paymentIntentData, PAYMENT_INTENT_DATA_PARAMS, 'payment_intent_data');
  applyMetadata({}, paymentIntentData, 'metadata'); // validates it now, not at payment time
  const subscriptionData = optionalObject(params, 'subscription_data') ?? {};
  if (Object.keys(subscriptionData).length > 0 && mode !== 'subscription') throw invalidRequest('You can not pass `subscription_data` in `payment` mode.', 'subscription_data');
  rejectUnknown(subscriptionData, SUBSCRIPTION_DATA_PARAMS, 'subscription_data');
  for (const name of UNSUPPORTED_SUBSCRIPTION_DATA) {
    if (subscriptionData[name] !== undefined) throw invalidRequest(`The Stripe sandbox does not emulate \`subscription_data[${name}]\` in Checkout.`, `subscription_data[${name}]`);
  }
  applyMetadata({}, subscriptionData, 'metadata');

  const metadata = applyMetadata({}, params);
  const lineItems = await buildLineItems(ctx, mode, params);
  const currency = lineItems[0]!.currency;
  const amount = lineItems.reduce((sum, li) => sum + li.amount_total, 0);

  const id = `cs_test_${newId('x', 58).slice(2)}`;
  const session: Session = {
    id,
    object: 'checkout.session',
    adaptive_pricing: null,
    after_expiration: null,
    allow_promotion_codes: null,
    allowed_payment_method_types: null,
    amount_subtotal: amount,
    amount_total: amount,
    automatic_tax: { enabled: false, liability: null, provider: null, status: null },
    billing_address_collection: null,
    cancel_url: cancelUrl ?? null,
    client_reference_id: clientReferenceId,
    client_secret: null,
    collected_information: null,
    consent: null,
    consent_collection: null,
    created: now,
    currency,
    currency_conversion: null,
    custom_fields: [],
    custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
    customer: customerId ?? null,
    customer_account: null,
    customer_creation: mode === 'payment' && !customerId ? (customerCreation ?? 'if_required') : null,
    customer_details: customerEmail ? emptyCustomerDetails(customerEmail) : null,
    customer_email: customerEmail ?? null,
    discounts: [],
    expires_at: expiresAt,
    integration_identifier: null,
    invoice: null,
    invoice_creation: mode === 'payment' ? { enabled: false, invoice_data: { account_tax_ids: null, custom_fields: null, description: null, footer: null, issuer: null, metadata: {}, rendering_options: null } } : null,
    livemode: false,
    locale: null,
    managed_payments: null,
    metadata,
    mode,
    optional_items: null,
    origin_context: null,
    payment_intent: null,
    payment_link: null,
    payment_method_collection: mode === 'subscription' ? 'always' : null,
    payment_method_configuration_details: null,
    payment_method_options: { card: { request_three_d_secure: 'automatic' } } as Stripe.Checkout.Session.PaymentMethodOptions,
    payment_method_types: ['card'],
    payment_status: 'unpaid',
    permissions: null,
    phone_number_collection: { enabled: false },
    recovered_from: null,
    saved_payment_method_options: null,
    setup_intent: null,
    shipping_address_collection: null,
    shipping_cost: null,
    shipping_options: [],
    status: 'open',
    submit_type: null,
    subscription: null,
    success_url: successUrl ?? null,
    tax_id_collection: { enabled: false, required: 'never' },
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    ui_mode: 'hosted_page',
    url: `${core.publicUrl}/checkout/${id}`,
    wallet_options: null,
  };
  checkoutSessions(core).insert(session);
  internals.set(session, { lineItems, paymentIntentData, subscriptionData });
  // Stripe emits no event when a session is created.
  return session;
}

export function emptyCustomerDetails(email: string | null): Stripe.Checkout.Session.CustomerDetails {
  return { address: null, business_name: null, email, individual_name: null, name: null, phone: null, tax_exempt: 'none', tax_ids: [] };
}

// ---------------------------------------------------------------------------------------------
// State transitions shared with the hosted page

/** Open → expired: the URL stops working and `checkout.session.expired` is emitted. */
export function expireSession(core: SandboxCore, session: Session, request: { id: string | null; idempotency_key: string | null } | undefined): Session {
  session.status = 'expired';
  session.url = null;
  core.events.emit('checkout.session.expired', session, request ? { request } : {});
  return session;
}

/** Sessions past `expires_at` expire as sandbox time moves (Stripe does it within about a minute). */
export function expireDueSessions(core: SandboxCore): void {
  const now = core.clock.now();
  const due = checkoutSessions(core)
    .newestFirst((s) => s.status === 'open' && s.expires_at <= now)
    .reverse();
  for (const session of due) expireSession(core, session, undefined);
}

function lineItemsList(session: Session, params: Params): StripeList<Stripe.LineItem> {
  return paginate(structuredClone(sessionInternals(session).lineItems), params, `/v1/checkout/sessions/${session.id}/line_items`, 'item');
}

/** `line_items` is not part of the object; it appears only when expanded. */
function withExpandedLineItems(session: Session, params: Params, prefix = ''): Session {
  const wanted = expandList(params).some((p) => p === `${prefix}line_items` || p.startsWith(`${prefix}line_items.`));
  if (!wanted) return session;
  return { ...structuredClone(session), line_items: lineItemsList(session, { limit: '100' }) as unknown as Stripe.ApiList<Stripe.LineItem> };
}

const LIST_PARAMS = ['created', 'customer', 'customer_account', 'customer_details', 'ending_before', 'expand', 'limit', 'payment_intent', 'payment_link', 'starting_after', 'status', 'subscription'];

export const checkoutSessionRoutes: Route[] = [
  {
    method: 'POST',
    path: '/v1/checkout/sessions',
    handler: async (ctx) => withExpandedLineItems(await createCheckoutSession(ctx, ctx.params), ctx.params),
  },
  {
    method: 'GET',
    path: '/v1/checkout/sessions',
    handler: ({ core, params }) => {
      rejectUnknown(params, LIST_PARAMS);
      const status = optionalEnum(params, 'status', ['open', 'complete', 'expired'] as const);
      const customer = optionalString(params, 'customer');
      const paymentIntent = optionalString(params, 'payment_intent');
      const paymentLink = optionalString(params, 'payment_link');
      const subscription = optionalString(params, 'subscription');
      const details = optionalObject(params, 'customer_details');
      if (details) rejectUnknown(details, ['email'], 'customer_details');
      const email = details ? optionalString(details, 'email') : undefined;
      const inRange = createdFilter(params);
      const idOf = (v: unknown) => (typeof v === 'string' ? v : v && typeof v === 'object' ? (v as { id: string }).id : null);
      const sessions = checkoutSessions(core).newestFirst(
        (s) =>
          inRange(s.created) &&
          (!status || s.status === status) &&
          (!customer || idOf(s.customer) === customer) &&
          (!paymentIntent || idOf(s.payment_intent) === paymentIntent) &&
          (!paymentLink || idOf(s.payment_link) === paymentLink) &&
          (!subscription || idOf(s.subscription) === subscription) &&
          (!email || s.customer_details?.email === email),
      );
      const page = paginate(sessions, params, '/v1/checkout/sessions', 'checkout.session');
      return { ...page, data: page.data.map((s) => withExpandedLineItems(s, params, 'data.')) };
    },
  },
  {
    method: 'GET',
    path: '/v1/checkout/sessions/:session',
    handler: ({ core, params, path }) => {
      rejectUnknown(params, ['expand']);
      return withExpandedLineItems(checkoutSessions(core).require(path.session!, 'session'), params);
    },
  },
  {
    method: 'GET',
    path: '/v1/checkout/sessions/:session/line_items',
    handler: ({ core, params, path }) => {
      rejectUnknown(params, ['ending_before', 'expand', 'limit', 'starting_after']);
      return lineItemsList(checkoutSessions(core).require(path.session!, 'session'), params);
    },
  },
  {
    method: 'POST',
    path: '/v1/checkout/sessions/:session/expire',
    handler: (ctx) => {
      rejectUnknown(ctx.params, ['expand']);
      const session = checkoutSessions(ctx.core).require(ctx.path.session!, 'session');
      if (session.status !== 'open') {
        throw invalidRequest(`Only Checkout Sessions with a status in ["open"] can be expired. This session's status is "${session.status}".`);
      }
      return withExpandedLineItems(expireSession(ctx.core, session, ctx.eventRequest), ctx.params);
    },
  },
];
