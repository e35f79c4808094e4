// PaymentIntents: create, retrieve, update, confirm, cancel, capture, list, with Stripe's status
// machine (requires_payment_method → requires_confirmation → [requires_action] → processing |
// requires_capture | succeeded; canceled), a Charge per attempt, card errors (402) on declines, and
// the events Stripe emits. The `payment_method_types` request parameter no longer exists in this API
// version (2026-10-28.endive) and is refused as unknown; automatic payment methods are on by default.
//
// 3-D Secure: a test card that needs it sends the intent to requires_action with
// next_action.redirect_to_url.url = `${publicUrl}/3ds/<pi id>`; the customer finishes it there
// (handleThreeDSecurePage) or a test calls completeThreeDSecure(core, id, 'succeed' | 'fail').
import type Stripe from 'stripe';
import type { SandboxCore } from '../core';
import { invalidRequest, StripeApiError, type StripeErrorBody, unexpectedState } from '../errors';
import { newId } from '../ids';
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
import { type Actor, automatic, buildCharge, charges } from './charges';
import { customers } from './customers';
import { createDispute } from './disputes';
import { behaviourOf, paymentMethods, resolvePaymentMethod, type TestBehaviour } from './paymentMethods';
import { formatAmount, refundCharge } from './refunds';

export const paymentIntents = (core: SandboxCore) => core.store.collection<Stripe.PaymentIntent>('payment_intent');

export const THREE_D_SECURE_PREFIX = '/3ds/';

/**
 * As Stripe does: an intent that accepts the Dashboard's payment methods with redirects allowed (the
 * default) cannot be confirmed on-session without a return_url, even for a card, because some of
 * those methods leave the page. Checked before anything changes.
 */
function requireReturnUrl(intent: Pick<Stripe.PaymentIntent, 'automatic_payment_methods'>, returnUrl: string | null | undefined, offSession: boolean | undefined): void {
  const automatic = intent.automatic_payment_methods;
  if (!automatic?.enabled || automatic.allow_redirects === 'never' || returnUrl || offSession) return;
  throw invalidRequest(
    'A `return_url` must be specified because this Payment Intent is configured to automatically accept the payment methods enabled in the Dashboard, some of which may require a full page redirect to succeed. If you do not want to accept redirect-based payment methods, set `automatic_payment_methods[enabled]` to `true` and `automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and Payment Intents.',
    'return_url',
  );
}
/** Uncaptured payments are canceled after 7 days, as at Stripe. */
const CAPTURE_WINDOW_SECONDS = 7 * 24 * 3600;
const MAX_AMOUNT = 99_999_999;

/** Return URLs given at confirmation, and intents whose 3DS is done but must be confirmed again (confirmation_method manual). */
interface IntentState {
  returnUrls: Map<string, string | null>;
  authenticated: Set<string>;
}
const states = new WeakMap<SandboxCore, IntentState>();
function stateOf(core: SandboxCore): IntentState {
  let s = states.get(core);
  if (!s) states.set(core, (s = { returnUrls: new Map(), authenticated: new Set() }));
  return s;
}

/** What intents keep off their objects, for the sandbox's state file. */
export const paymentIntentInternals = {
  snapshot: (core: SandboxCore): { returnUrls: Array<[string, string | null]>; authenticated: string[] } => {
    const s = stateOf(core);
    return { returnUrls: [...s.returnUrls], authenticated: [...s.authenticated] };
  },
  restore: (core: SandboxCore, saved: { returnUrls: Array<[string, string | null]>; authenticated: string[] }): void =>
    void states.set(core, { returnUrls: new Map(saved.returnUrls), authenticated: new Set(saved.authenticated) }),
};

type Decline = Extract<TestBehaviour, { kind: 'decline' }> | { kind: 'decline'; code: 'authentication_required'; declineCode: string; message: string };

const AUTHENTICATION_REQUIRED: Decline = {
  kind: 'decline',
  code: 'authentication_required',
  declineCode: 'authentication_required',
  message: 'Your card was declined. This transaction requires authentication.',
};

const docUrl = (code: string) => `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}`;

function currencyParam(params: Params): string {
  const currency = requireString(params, 'currency').toLowerCase();
  if (!/^[a-z]{3}$/.test(currency)) throw invalidRequest(`Invalid currency: ${currency}. Stripe currently supports these currencies: usd, eur, gbp, …`, 'currency');
  return currency;
}

function checkAmount(amount: number, currency: string, param = 'amount'): number {
  if (amount < 50) throw invalidRequest(`Amount must be at least ${formatAmount(50, currency)} ${currency}`, param, 'amount_too_small');
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

const clientSecret = (id: string) => `${id}_secret_${newId('x', 25).slice(2)}`;

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
  const apm = automaticPaymentMethodsParam(params) ?? (allowed ? null : { enabled: true, allow_redirects: 'always' as const });
  const paymentMethodId = optionalString(params, 'payment_method');
  const pm = paymentMethodId ? resolvePaymentMethod(core, paymentMethodId) : undefined;
  const id = newId('pi');
  const intent: Stripe.PaymentIntent = {
    id,
    object: 'payment_intent',
    allowed_payment_method_types: (allowed ?? null) as Stripe.PaymentIntent['allowed_payment_method_types'],
    amount,
    amount_capturable: 0,
    amount_details: { tip: {} },
    amount_received: 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: apm,
    canceled_at: null,
    cancellation_reason: null,
    capture_method: optionalEnum(params, 'capture_method', ['automatic', 'automatic_async', 'manual'] as const) ?? 'automatic_async',
    client_secret: clientSecret(id),
    confirmation_method: optionalEnum(params, 'confirmation_method', ['automatic', 'manual'] as const) ?? 'automatic',
    created: core.clock.now(),
    currency,
    customer: customer ?? null,
    customer_account: null,
    description: optionalString(params, 'description') || null,
    excluded_payment_method_types: (excluded ?? null) as Stripe.PaymentIntent['excluded_payment_method_types'],
    last_payment_error: null,
    latest_charge: null,
    livemode: false,
    managed_payments: null,
    metadata: applyMetadata({}, params),
    next_action: null,
    on_behalf_of: null,
    payment_method: pm?.id ?? null,
    payment_method_configuration_details: apm?.enabled ? { id: 'pmc_sandbox_default', parent: null } : null,
    payment_method_options: {
      card: { installments: null, mandate_options: null, network: null, request_three_d_secure: 'automatic' },
    },
    payment_method_types: allowed ?? (pm && pm.type !== 'card' ? ['card', pm.type] : ['card']),
    payment_record: null,
    processing: null,
    receipt_email: optionalString(params, 'receipt_email') || null,
    review: null,
    setup_future_usage: optionalEnum(params, 'setup_future_usage', ['off_session', 'on_session'] as const) ?? null,
    shipping: shippingParam(params) ?? null,
    source: null,
    statement_descriptor: optionalString(params, 'statement_descriptor') || null,
    statement_descriptor_suffix: optionalString(params, 'statement_descriptor_suffix') || null,
    status: pm ? 'requires_confirmation' : 'requires_payment_method',
    transfer_data: null,
    transfer_group: optionalString(params, 'transfer_group') || null,
  };
  if (confirm) requireReturnUrl(intent, returnUrl, offSessionParam(params));
  paymentIntents(core).insert(intent);
  core.events.emit('payment_intent.created', intent, { request: ctx.eventRequest });
  if (confirm) {
    if (!pm) throw invalidRequest('You cannot confirm this PaymentIntent because it’s missing a payment method. To confirm the PaymentIntent with a PaymentMethod, pass the `payment_method` parameter.', 'payment_method', 'payment_intent_unexpected_state');
    confirmWith(ctx, intent, pm, { returnUrl: returnUrl ?? null, offSession: offSessionParam(params), errorOnRequiresAction: optionalBoolean(params, 'error_on_requires_action') ?? false });
  }
  return intent;
}

/**
 * Confirms `intent` with a PaymentMethod id (a test id such as `pm_card_visa`, or a stored `pm_…`).
 * Returns the intent in its new status; a decline leaves it in requires_payment_method with
 * last_payment_error set (use paymentError(intent) for the 402 Stripe answers with).
 */
export function confirmPaymentIntent(
  ctx: Actor | RouteContext,
  intent: Stripe.PaymentIntent,
  paymentMethodId: string,
  options: { returnUrl?: string | null; offSession?: boolean } = {},
): Stripe.PaymentIntent {
  const pm = resolvePaymentMethod(ctx.core, paymentMethodId);
  return confirmWith(ctx, intent, pm, { returnUrl: options.returnUrl ?? null, offSession: options.offSession ?? false, errorOnRequiresAction: false });
}

const CONFIRMABLE: Stripe.PaymentIntent.Status[] = ['requires_payment_method', 'requires_confirmation', 'requires_action'];

function confirmWith(
  actor: Actor,
  intent: Stripe.PaymentIntent,
  pm: Stripe.PaymentMethod,
  options: { returnUrl: string | null; offSession: boolean; errorOnRequiresAction: boolean },
): Stripe.PaymentIntent {
  const { core } = actor;
  if (!CONFIRMABLE.includes(intent.status)) {
    throw unexpectedState(
      `You cannot confirm this PaymentIntent because it has a status of ${intent.status}. Only a PaymentIntent with one of the following statuses may be confirmed: ${CONFIRMABLE.join(', ')}.`,
    );
  }
  if (intent.allowed_payment_method_types && !intent.allowed_payment_method_types.includes(pm.type as never)) {
    throw invalidRequest(
      `The PaymentMethod provided (${pm.type}) is not allowed for this PaymentIntent. Allowed payment method types: ${intent.allowed_payment_method_types.join(', ')}.`,
      'payment_method',
      'payment_intent_incompatible_payment_method',
    );
  }
  if (intent.excluded_payment_method_types?.includes(pm.type as never)) {
    throw invalidRequest(`The PaymentMethod provided (${pm.type}) is excluded for this PaymentIntent.`, 'payment_method', 'payment_intent_incompatible_payment_method');
  }
  const state = stateOf(core);
  const alreadyAuthenticated = state.authenticated.has(intent.id) && intent.payment_method === pm.id;
  state.authenticated.delete(intent.id);
  intent.payment_method = pm.id;
  intent.last_payment_error = null;
  intent.next_action = null;
  if (!intent.payment_method_types.includes(pm.type)) intent.payment_method_types = [...intent.payment_method_types, pm.type];

  const behaviour = behaviourOf(core, pm.id);
  switch (behaviour.kind) {
    case 'decline':
      return fail(actor, intent, pm, behaviour);
    case 'three_d_secure':
      if (alreadyAuthenticated) return succeed(actor, intent, pm, true);
      if (options.offSession || options.errorOnRequiresAction) return fail(actor, intent, pm, AUTHENTICATION_REQUIRED);
      intent.status = 'requires_action';
      intent.next_action = {
        type: 'redirect_to_url',
        redirect_to_url: { url: `${core.publicUrl}${THREE_D_SECURE_PREFIX}${intent.id}`, return_url: options.returnUrl },
      };
      state.returnUrls.set(intent.id, options.returnUrl);
      core.events.emit('payment_intent.requires_action', intent, { request: actor.eventRequest });
      return intent;
    case 'processing': {
      const charge = charges(core).insert(buildCharge(core, intent, pm, 'pending', { capture: true }));
      intent.latest_charge = charge.id;
      intent.status = 'processing';
      core.events.emit('charge.pending', charge, { request: actor.eventRequest });
      core.events.emit('payment_intent.processing', intent, { request: actor.eventRequest });
      return intent;
    }
    default:
      return succeed(actor, intent, pm, false);
  }
}

/** The card was authorized: captured now (automatic) or held for capture (manual). */
function succeed(actor: Actor, intent: Stripe.PaymentIntent, pm: Stripe.PaymentMethod, threeDSecure: boolean): Stripe.PaymentIntent {
  const { core } = actor;
  const manual = intent.capture_method === 'manual';
  const charge = charges(core).insert(buildCharge(core, intent, pm, 'succeeded', { capture: !manual, threeDSecure }));
  intent.latest_charge = charge.id;
  attachForFutureUsage(actor, intent, pm);
  if (manual) {
    intent.status = 'requires_capture';
    intent.amount_capturable = intent.amount;
    core.events.emit('charge.succeeded', charge, { request: actor.eventRequest });
    core.events.emit('payment_intent.amount_capturable_updated', intent, { request: actor.eventRequest });
    return intent;
  }
  intent.status = 'succeeded';
  intent.amount_received = intent.amount;
  core.events.emit('charge.succeeded', charge, { request: actor.eventRequest });
  core.events.emit('payment_intent.succeeded', intent, { request: actor.eventRequest });
  if (behaviourOf(core, pm.id).kind === 'dispute') createDispute(automatic(core), charge);
  return intent;
}

function attachForFutureUsage(actor: Actor, intent: Stripe.PaymentIntent, pm: Stripe.PaymentMethod): void {
  if (!intent.setup_future_usage || typeof intent.customer !== 'string' || pm.customer) return;
  pm.customer = intent.customer;
  actor.core.events.emit('payment_method.attached', pm, { request: actor.eventRequest });
}

function fail(actor: Actor, intent: Stripe.PaymentIntent, pm: Stripe.PaymentMethod, decline: Decline): Stripe.PaymentIntent {
  const { core } = actor;
  const charge = charges(core).insert(buildCharge(core, intent, pm, 'failed', { capture: false, decline: decline as Extract<TestBehaviour, { kind: 'decline' }> }));
  intent.latest_charge = charge.id;
  intent.status = 'requires_payment_method';
  intent.payment_method = null;
  intent.last_payment_error = {
    charge: charge.id,
    code: decline.code,
    decline_code: decline.declineCode,
    doc_url: docUrl(decline.code),
    message: decline.message,
    payment_method: structuredClone(pm),
    type: 'card_error',
  };
  core.events.emit('charge.failed', charge, { request: actor.eventRequest });
  core.events.emit('payment_intent.payment_failed', intent, { request: actor.eventRequest });
  return intent;
}

/** Stripe's 402 for an intent whose last confirmation was declined (the error carries the intent). */
export function paymentError(intent: Stripe.PaymentIntent): StripeApiError {
  const error = intent.last_payment_error!;
  // Stripe's error object also carries `charge` and `payment_method`, which StripeErrorBody does not list.
  const body = { ...structuredClone(error), payment_intent: structuredClone(intent) } as unknown as StripeErrorBody;
  return new StripeApiError(402, body);
}

const declined = (intent: Stripe.PaymentIntent) => intent.status === 'requires_payment_method' && intent.last_payment_error?.type === 'card_error';

/**
 * The customer finished (or failed) 3-D Secure for an intent in requires_action. Succeeding
 * authorizes the card (or, with confirmation_method=manual, returns the intent to
 * requires_confirmation); failing returns it to requires_payment_method with
 * payment_intent_authentication_failure.
 */
export function completeThreeDSecure(core: SandboxCore, intentId: string, outcome: 'succeed' | 'fail'): Stripe.PaymentIntent {
  const intent = paymentIntents(core).require(intentId, 'payment_intent');
  if (intent.status !== 'requires_action') {
    throw unexpectedState(`This PaymentIntent has a status of ${intent.status}; there is no authentication to complete.`);
  }
  const actor = automatic(core);
  const pm = paymentMethods(core).require(intent.payment_method as string, 'payment_method');
  intent.next_action = null;
  if (outcome === 'succeed') {
    if (intent.confirmation_method === 'manual') {
      intent.status = 'requires_confirmation';
      stateOf(core).authenticated.add(intent.id);
      return intent;
    }
    return succeed(actor, intent, pm, true);
  }
  intent.status = 'requires_payment_method';
  intent.payment_method = null;
  intent.last_payment_error = {
    code: 'payment_intent_authentication_failure',
    doc_url: docUrl('payment_intent_authentication_failure'),
    message: 'The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.',
    payment_method: structuredClone(pm),
    type: 'invalid_request_error',
  };
  core.events.emit('payment_intent.payment_failed', intent, { request: actor.eventRequest });
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
  const returnUrl = stateOf(core).returnUrls.get(id);
  if (!returnUrl) return html(`<h1>Authentication ${outcome === 'succeed' ? 'complete' : 'failed'}</h1><p>You can close this window.</p>`);
  const target = new URL(returnUrl);
  target.searchParams.set('payment_intent', intent.id);
  target.searchParams.set('payment_intent_client_secret', intent.client_secret ?? '');
  target.searchParams.set('redirect_status', intent.status === 'succeeded' || intent.status === 'requires_capture' || intent.status === 'processing' ? 'succeeded' : 'failed');
  return new Response(null, { status: 303, headers: { location: target.toString() } });
}

/**
 * Sandbox time moved forward: processing (bank debit) payments settle, and authorizations not
 * captured within 7 days are canceled (cancellation_reason automatic), as at Stripe.
 */
function bankDebitFailure(core: SandboxCore, paymentMethodId: string): { code: string; message: string } | undefined {
  const behaviour = behaviourOf(core, paymentMethodId);
  return behaviour.kind === 'processing' ? behaviour.failure : undefined;
}

export function settlePaymentIntents(core: SandboxCore): void {
  const actor = automatic(core);
  const now = core.clock.now();
  for (const intent of paymentIntents(core).newestFirst().reverse()) {
    const charge = typeof intent.latest_charge === 'string' ? charges(core).get(intent.latest_charge) : undefined;
    if (!charge) continue;
    const debitFailure = typeof charge.payment_method === 'string' ? bankDebitFailure(core, charge.payment_method) : undefined;
    if (intent.status === 'processing' && charge.status === 'pending' && charge.created < now && debitFailure) {
      // The bank returned the debit: the charge failed and the intent can be paid again.
      charge.status = 'failed';
      charge.failure_code = debitFailure.code;
      charge.failure_message = debitFailure.message;
      charge.outcome = { ...charge.outcome!, network_status: 'declined_by_network', seller_message: debitFailure.message, type: 'issuer_declined' };
      const pm = paymentMethods(core).get(charge.payment_method as string);
      intent.status = 'requires_payment_method';
      intent.payment_method = null;
      intent.last_payment_error = {
        charge: charge.id,
        code: debitFailure.code,
        doc_url: docUrl(debitFailure.code),
        message: debitFailure.message,
        ...(pm ? { payment_method: structuredClone(pm) } : {}),
        type: 'invalid_request_error',
      };
      core.events.emit('charge.failed', charge, { request: actor.eventRequest });
      core.events.emit('payment_intent.payment_failed', intent, { request: actor.eventRequest });
    } else if (intent.status === 'processing' && charge.status === 'pending' && charge.created < now) {
      charge.status = 'succeeded';
      charge.paid = true;
      charge.captured = true;
      charge.amount_captured = charge.amount;
      charge.outcome = { ...charge.outcome!, network_status: 'approved_by_network', seller_message: 'Payment complete.' };
      intent.status = 'succeeded';
      intent.amount_received = intent.amount;
      core.events.emit('charge.succeeded', charge, { request: actor.eventRequest });
      core.events.emit('payment_intent.succeeded', intent, { request: actor.eventRequest });
    } else if (intent.status === 'requires_capture' && charge.created + CAPTURE_WINDOW_SECONDS <= now) {
      charge.refunded = true;
      charge.amount_refunded = charge.amount;
      intent.status = 'canceled';
      intent.cancellation_reason = 'automatic';
      intent.canceled_at = now;
      intent.amount_capturable = 0;
      core.events.emit('charge.expired', charge, { request: actor.eventRequest });
      core.events.emit('payment_intent.canceled', intent, { request: actor.eventRequest });
    }
  }
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

const CANCELABLE: Stripe.PaymentIntent.Status[] = ['requires_payment_method', 'requires_capture', 'requires_confirmation', 'requires_action'];

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
  const currency = params.currency !== undefined ? currencyParam(params) : intent.currency;
  const amount = optionalInteger(params, 'amount');
  if (amount !== undefined) intent.amount = checkAmount(amount, currency);
  intent.currency = currency;
  const customer = customerParam(core, params);
  if (customer !== undefined) intent.customer = customer;
  else if (params.customer === '') intent.customer = null;
  for (const field of ['description', 'receipt_email', 'statement_descriptor', 'statement_descriptor_suffix', 'transfer_group'] as const) {
    const value = optionalString(params, field);
    if (value !== undefined) intent[field] = value === '' ? null : value;
  }
  const capture = optionalEnum(params, 'capture_method', ['automatic', 'automatic_async', 'manual'] as const);
  if (capture) intent.capture_method = capture;
  if (params.setup_future_usage === '') intent.setup_future_usage = null;
  else {
    const sfu = optionalEnum(params, 'setup_future_usage', ['off_session', 'on_session'] as const);
    if (sfu) intent.setup_future_usage = sfu;
  }
  const shipping = shippingParam(params);
  if (shipping !== undefined) intent.shipping = shipping;
  const allowed = typesParam(params, 'allowed_payment_method_types');
  if (allowed) intent.allowed_payment_method_types = allowed as Stripe.PaymentIntent['allowed_payment_method_types'];
  const excluded = typesParam(params, 'excluded_payment_method_types');
  if (excluded) intent.excluded_payment_method_types = excluded as Stripe.PaymentIntent['excluded_payment_method_types'];
  intent.metadata = applyMetadata(intent.metadata, params);
  if (params.payment_method === '') {
    intent.payment_method = null;
    intent.status = 'requires_payment_method';
    intent.next_action = null;
  } else {
    const pmId = optionalString(params, 'payment_method');
    if (pmId) {
      intent.payment_method = resolvePaymentMethod(core, pmId).id;
      intent.status = 'requires_confirmation';
      intent.next_action = null;
    }
  }
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
      if (intent.status === 'requires_capture' && typeof intent.latest_charge === 'string') {
        // Releasing the authorization refunds the uncaptured charge.
        const charge = charges(core).get(intent.latest_charge);
        if (charge) refundCharge(ctx, charge, {});
      }
      intent.status = 'canceled';
      intent.cancellation_reason = reason ?? null;
      intent.canceled_at = core.clock.now();
      intent.amount_capturable = 0;
      intent.next_action = null;
      core.events.emit('payment_intent.canceled', intent, { request: ctx.eventRequest });
      return intent;
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
      const charge = charges(core).require(intent.latest_charge as string, 'charge');
      charge.captured = true;
      charge.amount_captured = amount;
      charge.amount_refunded = charge.amount - amount; // the uncaptured rest is released
      charge.balance_transaction = newId('txn');
      for (const field of ['statement_descriptor', 'statement_descriptor_suffix'] as const) {
        const value = optionalString(params, field);
        if (value !== undefined) intent[field] = charge[field] = value || null;
      }
      intent.metadata = applyMetadata(intent.metadata, params);
      intent.status = 'succeeded';
      intent.amount_received = amount;
      intent.amount_capturable = 0;
      core.events.emit('charge.captured', charge, { request: ctx.eventRequest });
      core.events.emit('payment_intent.succeeded', intent, { request: ctx.eventRequest });
      if (typeof charge.payment_method === 'string' && behaviourOf(core, charge.payment_method).kind === 'dispute') createDispute(automatic(core), charge);
      return intent;
    },
  },
];

// Re-exported for other resources' convenience.
export { refundCharge } from './refunds';
export { paymentMethodForCardNumber } from './paymentMethods';
