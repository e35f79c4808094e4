// PaymentIntents routes: create, retrieve, update, confirm, cancel, capture, list, and the 3-D Secure
// test page. Each reads and checks the request's parameters and calls the state machine in
// ./paymentIntents.machine.ts, which owns the statuses, the Charges, card errors (402) on declines
// and the events. The `payment_method_types` request parameter no longer exists in this API version
// (2026-10-28.endive) and is refused as unknown; automatic payment methods are on by default.
import type Stripe from 'stripe';
import type { SandboxCore } from '../core';
import { invalidRequest, unexpectedState } from '../errors';
import { createdFilter, paginate } from '../list';
import {
  applyMetadata,
  optionalArray,
  optionalBoolean,
  optionalEnum,
  optionalInteger,
  optionalObject,
  optionalString,
  type Params,
  rejectUnknown,
  requireInteger,
  requireString,
} from '../params';
import type { Route, RouteContext } from '../router';
import type { Actor } from './charges';
import { customers } from './customers';
import {
  CANCELABLE,
  cancelPaymentIntent,
  capturePaymentIntent,
  completeThreeDSecure,
  CONFIRMABLE,
  confirmWith,
  declined,
  openPaymentIntent,
  paymentError,
  paymentIntents,
  requireReturnUrl,
  setPaymentMethod,
  THREE_D_SECURE_PREFIX,
  threeDSecureReturnUrl,
} from './paymentIntents.machine';
import { resolvePaymentMethod } from './paymentMethods';
import { minimumChargeAmount } from '../minimumCharge';
import { formatAmount } from './refunds';

const MAX_AMOUNT = 99_999_999;

function currencyParam(params: Params): string {
  const currency = requireString(params, 'currency').toLowerCase();
  if (!/^[a-z]{3}$/.test(currency)) throw invalidRequest(`Invalid currency: ${currency}. Stripe currently supports these currencies: usd, eur, gbp, …`, 'currency');
  return currency;
}

function checkAmount(amount: number, currency: string, param = 'amount'): number {
  const minimum = minimumChargeAmount(currency);
  if (amount < minimum) throw invalidRequest(`Amount must be at least ${formatAmount(minimum, currency)} ${currency}`, param, 'amount_too_small');
  if (amount > MAX_AMOUNT) throw invalidRequest(`Amount must be no more than ${formatAmount(MAX_AMOUNT, currency)}`, param, 'amount_too_large');
  return amount;
}

function customerParam(core: SandboxCore, params: Params): string | undefined {
  const id = optionalString(params, 'customer');
  if (id) customers(core).require(id, 'customer');
  return id;
}

function typesParam(params: Params, name: string): string[] | undefined {
  const list = optionalArray(params, name);
  return list?.map((v) => String(v));
}

function shippingParam(params: Params): Stripe.PaymentIntent.Shipping | null | undefined {
  if (params.shipping === '') return null;
  const shipping = optionalObject(params, 'shipping');
  if (!shipping) return undefined;
  const address = (shipping.address ?? {}) as Record<string, string | undefined>;
  if (typeof shipping.name !== 'string' || !shipping.name) throw invalidRequest('Missing required param: shipping[name].', 'shipping[name]', 'parameter_missing');
  return {
    address: {
      city: address.city ?? null,
      country: address.country ?? null,
      line1: address.line1 ?? null,
      line2: address.line2 ?? null,
      postal_code: address.postal_code ?? null,
      state: address.state ?? null,
    },
    carrier: typeof shipping.carrier === 'string' ? shipping.carrier : null,
    name: shipping.name,
    phone: typeof shipping.phone === 'string' ? shipping.phone : null,
    tracking_number: typeof shipping.tracking_number === 'string' ? shipping.tracking_number : null,
  };
}

function offSessionParam(params: Params): boolean {
  const value = params.off_session;
  if (value === undefined || value === '' || value === 'false') return false;
  if (value === 'true' || value === 'one_off' || value === 'recurring') return true;
  throw invalidRequest(`Invalid off_session: must be a boolean, one_off or recurring`, 'off_session');
}

function automaticPaymentMethodsParam(params: Params): Stripe.PaymentIntent.AutomaticPaymentMethods | undefined {
  const apm = optionalObject(params, 'automatic_payment_methods');
  if (!apm) return undefined;
  rejectUnknown(apm, ['enabled', 'allow_redirects'], 'automatic_payment_methods');
  const enabled = optionalBoolean(apm, 'enabled');
  if (enabled === undefined) throw invalidRequest('Missing required param: automatic_payment_methods[enabled].', 'automatic_payment_methods[enabled]', 'parameter_missing');
  const allowRedirects = optionalEnum(apm, 'allow_redirects', ['always', 'never'] as const);
  return { enabled, ...(enabled ? { allow_redirects: allowRedirects ?? 'always' } : {}) };
}

/**
 * Creates a PaymentIntent (and confirms it when `confirm=true`). Does not reject unknown
 * parameters (the route does), so other resources (Checkout) can call it with their own params.
 * After a declined confirmation the intent is returned with last_payment_error set: the caller
 * decides whether to answer with the 402.
 */
export function createPaymentIntent(ctx: Actor | RouteContext, params: Params): Stripe.PaymentIntent {
  const { core } = ctx;
  const currency = currencyParam(params);
  const amount = checkAmount(requireInteger(params, 'amount'), currency);
  const customer = customerParam(core, params);
  const confirm = optionalBoolean(params, 'confirm') ?? false;
  const returnUrl = optionalString(params, 'return_url');
  if (returnUrl !== undefined && !confirm) throw invalidRequest('You can only specify `return_url` when `confirm` is true.', 'return_url');
  if (!confirm && params.off_session !== undefined) throw invalidRequest('You can only specify `off_session` when `confirm` is true.', 'off_session');
  const allowed = typesParam(params, 'allowed_payment_method_types');
  const excluded = typesParam(params, 'excluded_payment_method_types');
  const automaticPaymentMethods = automaticPaymentMethodsParam(params) ?? (allowed ? null : { enabled: true, allow_redirects: 'always' as const });
  const paymentMethodId = optionalString(params, 'payment_method');
  const paymentMethod = paymentMethodId ? resolvePaymentMethod(core, paymentMethodId) : undefined;
  // Read in the order Stripe reports them, all before anything is stored.
  const captureMethod = optionalEnum(params, 'capture_method', ['automatic', 'automatic_async', 'manual'] as const) ?? 'automatic_async';
  const confirmationMethod = optionalEnum(params, 'confirmation_method', ['automatic', 'manual'] as const) ?? 'automatic';
  const description = optionalString(params, 'description') || null;
  const metadata = applyMetadata({}, params);
  const receiptEmail = optionalString(params, 'receipt_email') || null;
  const setupFutureUsage = optionalEnum(params, 'setup_future_usage', ['off_session', 'on_session'] as const) ?? null;
  const shipping = shippingParam(params) ?? null;
  const statementDescriptor = optionalString(params, 'statement_descriptor') || null;
  const statementDescriptorSuffix = optionalString(params, 'statement_descriptor_suffix') || null;
  const transferGroup = optionalString(params, 'transfer_group') || null;
  if (confirm) requireReturnUrl({ automatic_payment_methods: automaticPaymentMethods }, returnUrl, offSessionParam(params));
  const intent = openPaymentIntent(ctx, {
    amount,
    currency,
    customer,
    allowed,
    excluded,
    automaticPaymentMethods,
    paymentMethod,
    captureMethod,
    confirmationMethod,
    description,
    metadata,
    receiptEmail,
    setupFutureUsage,
    shipping,
    statementDescriptor,
    statementDescriptorSuffix,
    transferGroup,
  });
  if (confirm) {
    if (!paymentMethod) throw invalidRequest('You cannot confirm this PaymentIntent because it’s missing a payment method. To confirm the PaymentIntent with a PaymentMethod, pass the `payment_method` parameter.', 'payment_method', 'payment_intent_unexpected_state');
    confirmWith(ctx, intent, paymentMethod, { returnUrl: returnUrl ?? null, offSession: offSessionParam(params), errorOnRequiresAction: optionalBoolean(params, 'error_on_requires_action') ?? false });
  }
  return intent;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The 3-D Secure challenge page at `${publicUrl}/3ds/<pi id>`: GET shows it, POST `outcome=succeed|fail`
 * completes it and redirects to the return_url with Stripe's query parameters (payment_intent,
 * payment_intent_client_secret, redirect_status). Mount it for paths under THREE_D_SECURE_PREFIX.
 */
export async function handleThreeDSecurePage(core: SandboxCore, request: Request, url: URL): Promise<Response> {
  const id = decodeURIComponent(url.pathname.slice(THREE_D_SECURE_PREFIX.length).split('/')[0] ?? '');
  const intent = paymentIntents(core).get(id);
  const html = (body: string, status = 200) => new Response(`<!doctype html><html><head><meta charset="utf-8"><title>3D Secure test</title></head><body>${body}</body></html>`, { status, headers: { 'content-type': 'text/html; charset=utf-8' } });
  if (!intent) return html('<h1>Unknown payment</h1>', 404);
  if (request.method === 'GET') {
    if (intent.status !== 'requires_action') return html(`<h1>Nothing to authenticate</h1><p>This payment has a status of ${escapeHtml(intent.status)}.</p>`);
    return html(
      `<h1>3D Secure 2 test page</h1><p>${escapeHtml(formatAmount(intent.amount, intent.currency))} payment ${escapeHtml(intent.id)}</p>` +
        `<form method="post"><button name="outcome" value="succeed" id="complete">Complete authentication</button> ` +
        `<button name="outcome" value="fail" id="fail">Fail authentication</button></form>`,
    );
  }
  if (request.method !== 'POST') return new Response('Method not allowed', { status: 405 });
  const form = new URLSearchParams(await request.text());
  const outcome = form.get('outcome') === 'fail' ? 'fail' : 'succeed';
  if (intent.status === 'requires_action') completeThreeDSecure(core, id, outcome);
  const returnUrl = threeDSecureReturnUrl(core, id);
  if (!returnUrl) return html(`<h1>Authentication ${outcome === 'succeed' ? 'complete' : 'failed'}</h1><p>You can close this window.</p>`);
  const target = new URL(returnUrl);
  target.searchParams.set('payment_intent', intent.id);
  target.searchParams.set('payment_intent_client_secret', intent.client_secret ?? '');
  target.searchParams.set('redirect_status', intent.status === 'succeeded' || intent.status === 'requires_capture' || intent.status === 'processing' ? 'succeeded' : 'failed');
  return new Response(null, { status: 303, headers: { location: target.toString() } });
}

const CREATE_PARAMS = [
  'allowed_payment_method_types',
  'amount',
  'automatic_payment_methods',
  'capture_method',
  'confirm',
  'confirmation_method',
  'currency',
  'customer',
  'description',
  'error_on_requires_action',
  'excluded_payment_method_types',
  'expand',
  'metadata',
  'off_session',
  'payment_method',
  'payment_method_options',
  'receipt_email',
  'return_url',
  'setup_future_usage',
  'shipping',
  'statement_descriptor',
  'statement_descriptor_suffix',
  'transfer_group',
  'use_stripe_sdk',
];

const UPDATE_PARAMS = [
  'allowed_payment_method_types',
  'amount',
  'capture_method',
  'currency',
  'customer',
  'description',
  'excluded_payment_method_types',
  'expand',
  'metadata',
  'payment_method',
  'payment_method_options',
  'receipt_email',
  'setup_future_usage',
  'shipping',
  'statement_descriptor',
  'statement_descriptor_suffix',
  'transfer_group',
];
/** What can still change once an intent is past confirmation. */
const UPDATABLE_AFTER_CONFIRMATION = ['description', 'expand', 'metadata', 'receipt_email', 'shipping'];

const CONFIRM_PARAMS = [
  'capture_method',
  'client_secret',
  'error_on_requires_action',
  'expand',
  'mandate_data',
  'off_session',
  'payment_method',
  'payment_method_options',
  'receipt_email',
  'return_url',
  'setup_future_usage',
  'shipping',
  'use_stripe_sdk',
];

function updateIntent(ctx: RouteContext): Stripe.PaymentIntent {
  const { core, params, path } = ctx;
  rejectUnknown(params, UPDATE_PARAMS);
  const intent = paymentIntents(core).require(path.intent!, 'intent');
  if (!CONFIRMABLE.includes(intent.status)) {
    const blocked = Object.keys(params).find((k) => !UPDATABLE_AFTER_CONFIRMATION.includes(k));
    if (blocked) {
      throw unexpectedState(`You cannot update the ${blocked} of this PaymentIntent because it has a status of ${intent.status}.`);
    }
  }
  // Every parameter is read (in the order Stripe reports their errors) before the intent changes.
  const currency = params.currency !== undefined ? currencyParam(params) : intent.currency;
  const amountParam = optionalInteger(params, 'amount');
  const amount = amountParam !== undefined ? checkAmount(amountParam, currency) : undefined;
  const customer = customerParam(core, params);
  const texts = (['description', 'receipt_email', 'statement_descriptor', 'statement_descriptor_suffix', 'transfer_group'] as const).map(
    (field) => [field, optionalString(params, field)] as const,
  );
  const capture = optionalEnum(params, 'capture_method', ['automatic', 'automatic_async', 'manual'] as const);
  const sfu = params.setup_future_usage === '' ? null : optionalEnum(params, 'setup_future_usage', ['off_session', 'on_session'] as const);
  const shipping = shippingParam(params);
  const allowed = typesParam(params, 'allowed_payment_method_types');
  const excluded = typesParam(params, 'excluded_payment_method_types');
  const metadata = applyMetadata(intent.metadata, params);
  const pmId = params.payment_method === '' ? null : optionalString(params, 'payment_method');
  const paymentMethod = pmId ? resolvePaymentMethod(core, pmId).id : pmId;

  if (amount !== undefined) intent.amount = amount;
  intent.currency = currency;
  if (customer !== undefined) intent.customer = customer;
  else if (params.customer === '') intent.customer = null;
  for (const [field, value] of texts) {
    if (value !== undefined) intent[field] = value === '' ? null : value;
  }
  if (capture) intent.capture_method = capture;
  if (sfu !== undefined) intent.setup_future_usage = sfu;
  if (shipping !== undefined) intent.shipping = shipping;
  if (allowed) intent.allowed_payment_method_types = allowed as Stripe.PaymentIntent['allowed_payment_method_types'];
  if (excluded) intent.excluded_payment_method_types = excluded as Stripe.PaymentIntent['excluded_payment_method_types'];
  intent.metadata = metadata;
  if (paymentMethod !== undefined) setPaymentMethod(intent, paymentMethod || null);
  // "It will be cleared if the PaymentIntent is later updated for any reason."
  if (Object.keys(params).some((k) => k !== 'expand')) intent.last_payment_error = null;
  return intent;
}

export const paymentIntentRoutes: Route[] = [
  {
    method: 'POST',
    path: '/v1/payment_intents',
    handler: (ctx) => {
      rejectUnknown(ctx.params, CREATE_PARAMS);
      const intent = createPaymentIntent(ctx, ctx.params);
      if (optionalBoolean(ctx.params, 'confirm') && declined(intent)) throw paymentError(intent);
      return intent;
    },
  },
  {
    method: 'GET',
    path: '/v1/payment_intents',
    handler: ({ core, params }) => {
      rejectUnknown(params, ['created', 'customer', 'customer_account', 'ending_before', 'expand', 'limit', 'starting_after']);
      const customer = optionalString(params, 'customer');
      const inRange = createdFilter(params);
      const list = paymentIntents(core).newestFirst((pi) => inRange(pi.created) && (!customer || pi.customer === customer));
      return paginate(list, params, '/v1/payment_intents', 'payment_intent');
    },
  },
  {
    method: 'GET',
    path: '/v1/payment_intents/:intent',
    handler: ({ core, params, path }) => {
      rejectUnknown(params, ['client_secret', 'expand']);
      const intent = paymentIntents(core).require(path.intent!, 'intent');
      const secret = optionalString(params, 'client_secret');
      if (secret !== undefined && secret !== intent.client_secret) {
        throw invalidRequest('The client_secret provided does not match the client_secret associated with the PaymentIntent.', 'client_secret');
      }
      return intent;
    },
  },
  { method: 'POST', path: '/v1/payment_intents/:intent', handler: updateIntent },
  {
    method: 'POST',
    path: '/v1/payment_intents/:intent/confirm',
    handler: (ctx) => {
      const { core, params, path } = ctx;
      rejectUnknown(params, CONFIRM_PARAMS);
      const intent = paymentIntents(core).require(path.intent!, 'intent');
      const secret = optionalString(params, 'client_secret');
      if (secret !== undefined && secret !== intent.client_secret) {
        throw invalidRequest('The client_secret provided does not match the client_secret associated with the PaymentIntent.', 'client_secret');
      }
      const pmId = optionalString(params, 'payment_method') ?? (typeof intent.payment_method === 'string' ? intent.payment_method : undefined);
      if (!CONFIRMABLE.includes(intent.status)) {
        throw unexpectedState(
          `You cannot confirm this PaymentIntent because it has a status of ${intent.status}. Only a PaymentIntent with one of the following statuses may be confirmed: ${CONFIRMABLE.join(', ')}.`,
        );
      }
      if (!pmId) {
        throw invalidRequest(
          'You cannot confirm this PaymentIntent because it’s missing a payment method. To confirm the PaymentIntent with a PaymentMethod, pass the `payment_method` parameter.',
          'payment_method',
          'payment_intent_unexpected_state',
        );
      }
      requireReturnUrl(intent, optionalString(params, 'return_url'), offSessionParam(params));
      const pm = resolvePaymentMethod(core, pmId);
      const capture = optionalEnum(params, 'capture_method', ['automatic', 'automatic_async', 'manual'] as const);
      if (capture) intent.capture_method = capture;
      const receipt = optionalString(params, 'receipt_email');
      if (receipt !== undefined) intent.receipt_email = receipt || null;
      const sfu = optionalEnum(params, 'setup_future_usage', ['off_session', 'on_session'] as const);
      if (sfu) intent.setup_future_usage = sfu;
      const shipping = shippingParam(params);
      if (shipping !== undefined) intent.shipping = shipping;
      const returnUrl = optionalString(params, 'return_url') ?? null;
      confirmWith(ctx, intent, pm, { returnUrl, offSession: offSessionParam(params), errorOnRequiresAction: optionalBoolean(params, 'error_on_requires_action') ?? false });
      if (declined(intent)) throw paymentError(intent);
      return intent;
    },
  },
  {
    method: 'POST',
    path: '/v1/payment_intents/:intent/cancel',
    handler: (ctx) => {
      const { core, params, path } = ctx;
      rejectUnknown(params, ['cancellation_reason', 'expand']);
      const reason = optionalEnum(params, 'cancellation_reason', ['abandoned', 'duplicate', 'fraudulent', 'requested_by_customer'] as const);
      const intent = paymentIntents(core).require(path.intent!, 'intent');
      if (!CANCELABLE.includes(intent.status)) {
        throw unexpectedState(
          `You cannot cancel this PaymentIntent because it has a status of ${intent.status}. Only a PaymentIntent with one of the following statuses may be canceled: ${CANCELABLE.join(', ')}, processing.`,
        );
      }
      return cancelPaymentIntent(ctx, intent, reason ?? null);
    },
  },
  {
    method: 'POST',
    path: '/v1/payment_intents/:intent/capture',
    handler: (ctx) => {
      const { core, params, path } = ctx;
      rejectUnknown(params, ['amount_to_capture', 'application_fee_amount', 'expand', 'final_capture', 'metadata', 'statement_descriptor', 'statement_descriptor_suffix']);
      const intent = paymentIntents(core).require(path.intent!, 'intent');
      if (intent.status !== 'requires_capture') {
        throw unexpectedState(
          `This PaymentIntent could not be captured because it has a status of ${intent.status}. Only a PaymentIntent with one of the following statuses may be captured: requires_capture.`,
        );
      }
      const amount = optionalInteger(params, 'amount_to_capture', { min: 0 }) ?? intent.amount_capturable;
      if (amount > intent.amount_capturable) {
        throw invalidRequest(
          `The amount to capture (${amount}) must be less than or equal to the PaymentIntent's amount_capturable (${intent.amount_capturable}).`,
          'amount_to_capture',
          'amount_too_large',
        );
      }
      const statementDescriptor = optionalString(params, 'statement_descriptor');
      const statementDescriptorSuffix = optionalString(params, 'statement_descriptor_suffix');
      const metadata = applyMetadata(intent.metadata, params);
      return capturePaymentIntent(ctx, intent, amount, { statementDescriptor, statementDescriptorSuffix, metadata });
    },
  },
];
