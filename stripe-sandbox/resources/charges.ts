// Charges: made by PaymentIntents (one per payment attempt), never created directly through the API
// here. Retrieve, list (customer, payment_intent, created, pagination) and update (metadata, …).
import { randomBytes } from 'node:crypto';
import type Stripe from 'stripe';
import type { SandboxCore } from '../core';
import { invalidRequest } from '../errors';
import { newId } from '../ids';
import { createdFilter, paginate } from '../list';
import { applyMetadata, expandList, optionalString, type Params, rejectUnknown } from '../params';
import { previousAttributes } from '../previousAttributes';
import type { Route } from '../router';
import type { TestBehaviour } from './paymentMethods';

/** Who causes a change: the sandbox core and the API request behind it (null id for automatic changes). */
export interface Actor {
  core: SandboxCore;
  eventRequest: { id: string | null; idempotency_key: string | null };
}

export const automatic = (core: SandboxCore): Actor => ({ core, eventRequest: { id: null, idempotency_key: null } });

export const charges = (core: SandboxCore) => core.store.collection<Stripe.Charge>('charge');

type Decline = Extract<TestBehaviour, { kind: 'decline' }>;

/** Stripe's outcome.seller_message for each decline. */
function sellerMessage(decline: Decline | undefined): string {
  if (!decline) return 'Payment complete.';
  if (decline.declineCode === 'generic_decline') return 'The bank did not return any further details with this decline.';
  return `The bank returned the decline code \`${decline.declineCode}\`.`;
}

/** Changed keys with their old values, as in an event's previous_attributes. */
function paymentMethodDetails(core: SandboxCore, pm: Stripe.PaymentMethod, intent: Stripe.PaymentIntent, status: 'succeeded' | 'pending' | 'failed'): Stripe.Charge.PaymentMethodDetails {
  if (pm.type === 'us_bank_account' && pm.us_bank_account) {
    const bank = pm.us_bank_account;
    return {
      type: 'us_bank_account',
      us_bank_account: {
        account_holder_type: bank.account_holder_type,
        account_type: bank.account_type,
        bank_name: bank.bank_name,
        expected_debit_date: new Date((core.clock.now() + 2 * 86400) * 1000).toISOString().slice(0, 10),
        fingerprint: bank.fingerprint,
        last4: bank.last4,
        payment_reference: null,
        routing_number: bank.routing_number,
      },
    };
  }
  const card = pm.card!;
  return {
    type: 'card',
    card: {
      amount_authorized: status === 'failed' ? null : intent.amount,
      authorization_code: status === 'failed' ? null : String(100000 + Math.floor(Math.random() * 899999)),
      brand: card.brand,
      checks: structuredClone(card.checks),
      country: card.country,
      electronic_commerce_indicator: null,
      exp_month: card.exp_month,
      exp_year: card.exp_year,
      extended_authorization: { status: 'disabled' },
      fingerprint: card.fingerprint ?? null,
      funding: card.funding,
      incremental_authorization: { status: 'unavailable' },
      installments: null,
      last4: card.last4,
      mandate: null,
      multicapture: { status: 'unavailable' },
      network: card.brand,
      network_token: { used: false },
      network_transaction_id: status === 'failed' ? null : randomBytes(8).toString('hex').slice(0, 15).toUpperCase(),
      overcapture: { maximum_amount_capturable: intent.amount, status: 'unavailable' },
      regulated_status: card.regulated_status,
      three_d_secure: null,
      transaction_link_id: null,
      wallet: null,
    },
  };
}

/** A Charge for one payment attempt on `intent` with `pm`. Not yet stored. */
export function buildCharge(
  core: SandboxCore,
  intent: Stripe.PaymentIntent,
  pm: Stripe.PaymentMethod,
  status: 'succeeded' | 'pending' | 'failed',
  options: { capture: boolean; decline?: Decline; threeDSecure?: boolean },
): Stripe.Charge {
  const id = newId('ch');
  const captured = status === 'succeeded' && options.capture;
  const decline = options.decline;
  const details = paymentMethodDetails(core, pm, intent, status);
  if (options.threeDSecure && details.card) {
    details.card.three_d_secure = {
      authentication_flow: 'challenge',
      electronic_commerce_indicator: '05',
      exemption_indicator: null,
      result: 'authenticated',
      result_reason: null,
      transaction_id: randomBytes(16).toString('hex'),
      version: '2.2.0',
    };
  }
  const charge: Stripe.Charge = {
    id,
    object: 'charge',
    amount: intent.amount,
    amount_captured: captured ? intent.amount : 0,
    amount_refunded: 0,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: captured || (status === 'pending') ? newId('txn') : null,
    billing_details: structuredClone(pm.billing_details),
    calculated_statement_descriptor: (intent.statement_descriptor ?? (intent.statement_descriptor_suffix ? `SANDBOX* ${intent.statement_descriptor_suffix}` : 'STRIPE SANDBOX')).slice(0, 22),
    captured,
    created: core.clock.now(),
    currency: intent.currency,
    customer: typeof intent.customer === 'string' ? intent.customer : (intent.customer?.id ?? null),
    description: intent.description,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: decline ? decline.code : null,
    failure_message: decline ? decline.message : null,
    fraud_details: {},
    livemode: false,
    metadata: { ...intent.metadata },
    on_behalf_of: null,
    outcome: {
      advice_code: null,
      network_advice_code: null,
      network_decline_code: null,
      network_status: status === 'pending' ? null : decline ? 'declined_by_network' : 'approved_by_network',
      reason: decline ? decline.declineCode : null,
      risk_level: 'normal',
      risk_score: 20 + Math.floor(Math.random() * 30),
      seller_message: sellerMessage(decline),
      type: status === 'pending' ? 'authorized' : decline ? 'issuer_declined' : 'authorized',
    },
    paid: status === 'succeeded',
    payment_intent: intent.id,
    payment_method: pm.id,
    payment_method_details: details,
    receipt_email: intent.receipt_email,
    receipt_number: null,
    receipt_url: `${core.publicUrl}/receipts/payment/${id}`,
    refunded: false,
    // Since API 2022-11-15 Stripe sends the refunds list only when expanded (expand[]=refunds): see chargeView().
    refunds: null,
    review: null,
    shipping: intent.shipping,
    source: null,
    source_transfer: null,
    statement_descriptor: intent.statement_descriptor,
    statement_descriptor_suffix: intent.statement_descriptor_suffix,
    status,
    transfer_data: null,
    transfer_group: intent.transfer_group,
  };
  return charge;
}

/**
 * A charge as the API returns it: with `expand[]=refunds` (or `data.refunds` on lists) its refunds
 * list, newest first, is filled in (the router's generic expand only replaces ids).
 */
export function chargeView(core: SandboxCore, charge: Stripe.Charge, params: Params, prefix = ''): Stripe.Charge {
  if (!expandList(params).includes(`${prefix}refunds`)) return charge;
  const data = core.store.collection<Stripe.Refund>('refund').newestFirst((r) => r.charge === charge.id);
  return { ...charge, refunds: { object: 'list', data, has_more: false, url: `/v1/charges/${charge.id}/refunds` } };
}

const UPDATE_PARAMS = ['customer', 'description', 'expand', 'fraud_details', 'metadata', 'receipt_email', 'shipping', 'transfer_group'];

export const chargeRoutes: Route[] = [
  {
    method: 'GET',
    path: '/v1/charges',
    handler: ({ core, params }) => {
      rejectUnknown(params, ['created', 'customer', 'ending_before', 'expand', 'limit', 'payment_intent', 'starting_after', 'transfer_group']);
      const customer = optionalString(params, 'customer');
      const paymentIntent = optionalString(params, 'payment_intent');
      const inRange = createdFilter(params);
      const list = charges(core).newestFirst((c) => inRange(c.created) && (!customer || c.customer === customer) && (!paymentIntent || c.payment_intent === paymentIntent));
      const page = paginate(list, params, '/v1/charges', 'charge');
      return { ...page, data: page.data.map((c) => chargeView(core, c, params, 'data.')) };
    },
  },
  {
    method: 'GET',
    path: '/v1/charges/:charge',
    handler: ({ core, params, path }) => {
      rejectUnknown(params, ['expand']);
      return chargeView(core, charges(core).require(path.charge!, 'charge'), params);
    },
  },
  {
    method: 'POST',
    path: '/v1/charges/:charge',
    handler: (ctx) => {
      const { core, params, path } = ctx;
      rejectUnknown(params, UPDATE_PARAMS);
      const charge = charges(core).require(path.charge!, 'charge');
      const before = structuredClone(charge);
      const description = optionalString(params, 'description');
      if (description !== undefined) charge.description = description === '' ? null : description;
      const receiptEmail = optionalString(params, 'receipt_email');
      if (receiptEmail !== undefined) charge.receipt_email = receiptEmail === '' ? null : receiptEmail;
      const customer = optionalString(params, 'customer');
      if (customer !== undefined) {
        if (charge.customer && charge.customer !== customer) throw invalidRequest('You cannot change the customer of a charge that already has one.', 'customer');
        charge.customer = customer;
      }
      charge.metadata = applyMetadata(charge.metadata, params);
      const previous = previousAttributes(before, charge);
      if (Object.keys(previous).length > 0) core.events.emit('charge.updated', charge, { previousAttributes: previous, request: ctx.eventRequest });
      return chargeView(core, charge, params);
    },
  },
];
