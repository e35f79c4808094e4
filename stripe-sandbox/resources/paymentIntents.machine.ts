// The PaymentIntent state machine: Stripe's statuses (requires_payment_method → requires_confirmation
// → [requires_action] → processing | requires_capture | succeeded; canceled) and the transitions
// between them, each changing the intent (and its Charge) and emitting the events Stripe emits. No
// request parsing here: the routes in ./paymentIntents.ts read parameters and call these, the way
// stripe-node keeps its resources thin; Checkout and the clock call them too.
//
// 3-D Secure: a test card that needs it sends the intent to requires_action with
// next_action.redirect_to_url.url = `${publicUrl}/3ds/<pi id>`; the customer finishes it on the page
// in ./paymentIntents.ts or a test calls completeThreeDSecure(core, id, 'succeed' | 'fail').
import type Stripe from 'stripe';
import type { SandboxCore } from '../core';
import { invalidRequest, StripeApiError, type StripeErrorBody, unexpectedState } from '../errors';
import { newId } from '../ids';
import { type Actor, automatic, buildCharge, charges } from './charges';
import { createDispute } from './disputes';
import { behaviourOf, paymentMethods, resolvePaymentMethod, type TestBehaviour } from './paymentMethods';
import { refundCharge } from './refunds';

export const paymentIntents = (core: SandboxCore) => core.store.collection<Stripe.PaymentIntent>('payment_intent');

export const THREE_D_SECURE_PREFIX = '/3ds/';

/**
 * As Stripe does: an intent that accepts the Dashboard's payment methods with redirects allowed (the
 * default) cannot be confirmed on-session without a return_url, even for a card, because some of
 * those methods leave the page. Checked before anything changes.
 */
export function requireReturnUrl(intent: Pick<Stripe.PaymentIntent, 'automatic_payment_methods'>, returnUrl: string | null | undefined, offSession: boolean | undefined): void {
  const automatic = intent.automatic_payment_methods;
  if (!automatic?.enabled || automatic.allow_redirects === 'never' || returnUrl || offSession) return;
  throw invalidRequest(
    'A `return_url` must be specified because this Payment Intent is configured to automatically accept the payment methods enabled in the Dashboard, some of which may require a full page redirect to succeed. If you do not want to accept redirect-based payment methods, set `automatic_payment_methods[enabled]` to `true` and `automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and Payment Intents.',
    'return_url',
  );
}
/** Uncaptured payments are canceled after 7 days, as at Stripe. */
const CAPTURE_WINDOW_SECONDS = 7 * 24 * 3600;

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

export const CONFIRMABLE: Stripe.PaymentIntent.Status[] = ['requires_payment_method', 'requires_confirmation', 'requires_action'];
export const CANCELABLE: Stripe.PaymentIntent.Status[] = ['requires_payment_method', 'requires_capture', 'requires_confirmation', 'requires_action'];

const clientSecret = (id: string) => `${id}_secret_${newId('x', 25).slice(2)}`;

/** What a new intent is made of, read from the request (or from a Checkout Session) by the caller. */
export interface NewPaymentIntent {
  amount: number;
  currency: string;
  customer: string | undefined;
  allowed: string[] | undefined;
  excluded: string[] | undefined;
  automaticPaymentMethods: Stripe.PaymentIntent.AutomaticPaymentMethods | null;
  paymentMethod: Stripe.PaymentMethod | undefined;
  captureMethod: Stripe.PaymentIntent.CaptureMethod;
  confirmationMethod: Stripe.PaymentIntent.ConfirmationMethod;
  description: string | null;
  metadata: Record<string, string>;
  receiptEmail: string | null;
  setupFutureUsage: Stripe.PaymentIntent.SetupFutureUsage | null;
  shipping: Stripe.PaymentIntent.Shipping | null;
  statementDescriptor: string | null;
  statementDescriptorSuffix: string | null;
  transferGroup: string | null;
}

/** A new intent, stored, in requires_confirmation when it has a payment method, else requires_payment_method. */
export function openPaymentIntent(actor: Actor, fields: NewPaymentIntent): Stripe.PaymentIntent {
  const { core } = actor;
  const pm = fields.paymentMethod;
  const apm = fields.automaticPaymentMethods;
  const id = newId('pi');
  const intent: Stripe.PaymentIntent = {
    id,
    object: 'payment_intent',
    allowed_payment_method_types: (fields.allowed ?? null) as Stripe.PaymentIntent['allowed_payment_method_types'],
    amount: fields.amount,
    amount_capturable: 0,
    amount_details: { tip: {} },
    amount_received: 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: apm,
    canceled_at: null,
    cancellation_reason: null,
    capture_method: fields.captureMethod,
    client_secret: clientSecret(id),
    confirmation_method: fields.confirmationMethod,
    created: core.clock.now(),
    currency: fields.currency,
    customer: fields.customer ?? null,
    customer_account: null,
    description: fields.description,
    excluded_payment_method_types: (fields.excluded ?? null) as Stripe.PaymentIntent['excluded_payment_method_types'],
    last_payment_error: null,
    latest_charge: null,
    livemode: false,
    managed_payments: null,
    metadata: fields.metadata,
    next_action: null,
    on_behalf_of: null,
    payment_method: pm?.id ?? null,
    payment_method_configuration_details: apm?.enabled ? { id: 'pmc_sandbox_default', parent: null } : null,
    payment_method_options: {
      card: { installments: null, mandate_options: null, network: null, request_three_d_secure: 'automatic' },
    },
    payment_method_types: fields.allowed ?? (pm && pm.type !== 'card' ? ['card', pm.type] : ['card']),
    payment_record: null,
    processing: null,
    receipt_email: fields.receiptEmail,
    review: null,
    setup_future_usage: fields.setupFutureUsage,
    shipping: fields.shipping,
    source: null,
    statement_descriptor: fields.statementDescriptor,
    statement_descriptor_suffix: fields.statementDescriptorSuffix,
    status: pm ? 'requires_confirmation' : 'requires_payment_method',
    transfer_data: null,
    transfer_group: fields.transferGroup,
  };
  paymentIntents(core).insert(intent);
  core.events.emit('payment_intent.created', intent, { request: actor.eventRequest });
  return intent;
}

/**
 * Confirms `intent` with a PaymentMethod id (a test id such as `pm_card_visa`, or a stored `pm_…`).
 * Returns the intent in its new status; a decline leaves it in requires_payment_method with
 * last_payment_error set (use paymentError(intent) for the 402 Stripe answers with).
 */
export function confirmPaymentIntent(
  ctx: Actor,
  intent: Stripe.PaymentIntent,
  paymentMethodId: string,
  options: { returnUrl?: string | null; offSession?: boolean } = {},
): Stripe.PaymentIntent {
  const pm = resolvePaymentMethod(ctx.core, paymentMethodId);
  return confirmWith(ctx, intent, pm, { returnUrl: options.returnUrl ?? null, offSession: options.offSession ?? false, errorOnRequiresAction: false });
}

/** Confirms `intent` with `pm`: declined, waiting for 3-D Secure, processing, or authorized. */
export function confirmWith(
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

export const declined = (intent: Stripe.PaymentIntent) => intent.status === 'requires_payment_method' && intent.last_payment_error?.type === 'card_error';

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

/** Where the customer goes back to once 3-D Secure is done (the return_url given at confirmation). */
export function threeDSecureReturnUrl(core: SandboxCore, intentId: string): string | null | undefined {
  return stateOf(core).returnUrls.get(intentId);
}

/** A new payment method on an unconfirmed intent: it waits for confirmation again. */
export function setPaymentMethod(intent: Stripe.PaymentIntent, paymentMethodId: string | null): void {
  intent.payment_method = paymentMethodId;
  intent.status = paymentMethodId ? 'requires_confirmation' : 'requires_payment_method';
  intent.next_action = null;
}

/** Cancels `intent` (the caller checked it is CANCELABLE); an authorization held for capture is released. */
export function cancelPaymentIntent(actor: Actor, intent: Stripe.PaymentIntent, reason: Stripe.PaymentIntent.CancellationReason | null): Stripe.PaymentIntent {
  const { core } = actor;
  if (intent.status === 'requires_capture' && typeof intent.latest_charge === 'string') {
    // Releasing the authorization refunds the uncaptured charge.
    const charge = charges(core).get(intent.latest_charge);
    if (charge) refundCharge(actor, charge, {});
  }
  intent.status = 'canceled';
  intent.cancellation_reason = reason;
  intent.canceled_at = core.clock.now();
  intent.amount_capturable = 0;
  intent.next_action = null;
  core.events.emit('payment_intent.canceled', intent, { request: actor.eventRequest });
  return intent;
}

/** Captures `amount` of an intent in requires_capture (the caller checked it); the uncaptured rest is released. */
export function capturePaymentIntent(
  actor: Actor,
  intent: Stripe.PaymentIntent,
  amount: number,
  changes: { statementDescriptor?: string; statementDescriptorSuffix?: string; metadata: Record<string, string> },
): Stripe.PaymentIntent {
  const { core } = actor;
  const charge = charges(core).require(intent.latest_charge as string, 'charge');
  charge.captured = true;
  charge.amount_captured = amount;
  charge.amount_refunded = charge.amount - amount; // the uncaptured rest is released
  charge.balance_transaction = newId('txn');
  if (changes.statementDescriptor !== undefined) intent.statement_descriptor = charge.statement_descriptor = changes.statementDescriptor || null;
  if (changes.statementDescriptorSuffix !== undefined) intent.statement_descriptor_suffix = charge.statement_descriptor_suffix = changes.statementDescriptorSuffix || null;
  intent.metadata = changes.metadata;
  intent.status = 'succeeded';
  intent.amount_received = amount;
  intent.amount_capturable = 0;
  core.events.emit('charge.captured', charge, { request: actor.eventRequest });
  core.events.emit('payment_intent.succeeded', intent, { request: actor.eventRequest });
  if (typeof charge.payment_method === 'string' && behaviourOf(core, charge.payment_method).kind === 'dispute') createDispute(automatic(core), charge);
  return intent;
}

function bankDebitFailure(core: SandboxCore, paymentMethodId: string): { code: string; message: string } | undefined {
  const behaviour = behaviourOf(core, paymentMethodId);
  return behaviour.kind === 'processing' ? behaviour.failure : undefined;
}

/**
 * Sandbox time moved forward: processing (bank debit) payments settle, and authorizations not
 * captured within 7 days are canceled (cancellation_reason automatic), as at Stripe.
 */
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
