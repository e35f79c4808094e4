// Disputes: the test card pm_card_createDispute (4000 0000 0000 0259) makes one on its charge right
// after the payment succeeds (reason fraudulent, status needs_response, charge.dispute.created).
// Stripe then withdraws the disputed amount and its dispute fee from the balance as a step of its
// own: one sandbox second later (withdrawDisputedFunds) the dispute gains that balance transaction
// and charge.dispute.funds_withdrawn is sent. Retrieve, list, update (metadata), and close (accept
// the loss: needs_response → lost).
import type Stripe from 'stripe';
import type { SandboxCore } from '../core';
import { invalidRequest } from '../errors';
import { newId } from '../ids';
import { createdFilter, paginate } from '../list';
import { applyMetadata, optionalString, rejectUnknown } from '../params';
import { previousAttributes } from '../previousAttributes';
import type { Route } from '../router';
import { type Actor, automatic } from './charges';

export const disputes = (core: SandboxCore) => core.store.collection<Stripe.Dispute>('dispute');

const RESPONSE_WINDOW_SECONDS = 7 * 24 * 3600;

/** How long after opening a dispute Stripe's withdrawal of the funds shows, in sandbox seconds. */
export const DISPUTE_WITHDRAWAL_DELAY_SECONDS = 1;

/**
 * Stripe's dispute fee in the US ($15.00), in the dispute currency's minor unit. The sandbox charges
 * it in any currency (Stripe's fee varies by country; nothing here converts).
 */
export const DISPUTE_FEE = 1500;

/** Stripe's evidence deadlines fall at the end of a day (23:59:59 UTC), as in its sample dispute. */
const endOfUtcDay = (unixSeconds: number) => Math.floor(unixSeconds / 86400) * 86400 + 86399;

function emptyEvidence(): Stripe.Dispute.Evidence {
  return {
    access_activity_log: null,
    billing_address: null,
    cancellation_policy: null,
    cancellation_policy_disclosure: null,
    cancellation_rebuttal: null,
    customer_communication: null,
    customer_email_address: null,
    customer_name: null,
    customer_purchase_ip: null,
    customer_signature: null,
    duplicate_charge_documentation: null,
    duplicate_charge_explanation: null,
    duplicate_charge_id: null,
    enhanced_evidence: {},
    product_description: null,
    receipt: null,
    refund_policy: null,
    refund_policy_disclosure: null,
    refund_refusal_explanation: null,
    service_date: null,
    service_documentation: null,
    shipping_address: null,
    shipping_carrier: null,
    shipping_date: null,
    shipping_documentation: null,
    shipping_tracking_number: null,
    uncategorized_file: null,
    uncategorized_text: null,
  };
}

/** Opens a dispute on a captured charge (charge.disputed becomes true) and emits charge.dispute.created. */
export function createDispute(actor: Actor, charge: Stripe.Charge): Stripe.Dispute {
  const { core } = actor;
  const now = core.clock.now();
  const brand = charge.payment_method_details?.card?.brand ?? 'visa';
  const dispute: Stripe.Dispute = {
    id: newId('dp'),
    object: 'dispute',
    amount: charge.amount_captured,
    // Filled by withdrawDisputedFunds, as Stripe's withdrawal follows the dispute.
    balance_transactions: [],
    charge: charge.id,
    created: now,
    currency: charge.currency,
    enhanced_eligibility_types: [],
    evidence: emptyEvidence(),
    evidence_details: {
      due_by: endOfUtcDay(now + RESPONSE_WINDOW_SECONDS),
      enhanced_eligibility: {},
      has_evidence: false,
      past_due: false,
      submission_count: 0,
      submission_method: 'not_submitted',
    },
    intended_submission_method: null,
    is_charge_refundable: false,
    livemode: false,
    metadata: {},
    network_reason_code: '10.4',
    payment_intent: typeof charge.payment_intent === 'string' ? charge.payment_intent : (charge.payment_intent?.id ?? null),
    payment_method_details: {
      card: { brand, case_type: 'chargeback', network: brand, network_reason_code: '10.4' },
      type: 'card',
    },
    reason: 'fraudulent',
    status: 'needs_response',
  };
  disputes(core).insert(dispute);
  charge.disputed = true;
  core.events.emit('charge.dispute.created', dispute, { request: actor.eventRequest });
  return dispute;
}

/** The balance transaction of a chargeback withdrawal, as Stripe shows it on the dispute. */
function withdrawal(core: SandboxCore, dispute: Stripe.Dispute): Stripe.BalanceTransaction {
  const now = core.clock.now();
  const charge = typeof dispute.charge === 'string' ? dispute.charge : dispute.charge.id;
  return {
    id: newId('txn'),
    object: 'balance_transaction',
    amount: -dispute.amount,
    available_on: now,
    balance_type: 'payments',
    created: now,
    currency: dispute.currency,
    description: `Chargeback withdrawal for ${charge}`,
    exchange_rate: null,
    fee: DISPUTE_FEE,
    fee_details: [{ amount: DISPUTE_FEE, application: null, currency: dispute.currency, description: 'Dispute fee', type: 'stripe_fee' }],
    net: -dispute.amount - DISPUTE_FEE,
    reporting_category: 'dispute',
    source: dispute.id,
    status: 'available',
    type: 'adjustment',
  } as Stripe.BalanceTransaction;
}

/**
 * Withdraws the funds of every dispute opened DISPUTE_WITHDRAWAL_DELAY_SECONDS ago or more that has
 * not had them withdrawn: the balance transaction (minus the amount, plus the dispute fee) on the
 * dispute, and charge.dispute.funds_withdrawn. A clock and timer handler; returns how many.
 */
export function withdrawDisputedFunds(core: SandboxCore): number {
  const actor = automatic(core);
  const now = core.clock.now();
  let withdrawn = 0;
  for (const dispute of disputes(core).all()) {
    if (dispute.balance_transactions.length > 0 || dispute.created + DISPUTE_WITHDRAWAL_DELAY_SECONDS > now) continue;
    // An inquiry (warning_*) withdraws nothing; a chargeback does, even one closed (lost) meanwhile.
    if (dispute.status.startsWith('warning_')) continue;
    dispute.balance_transactions = [withdrawal(core, dispute)];
    core.events.emit('charge.dispute.funds_withdrawn', dispute, { request: actor.eventRequest });
    withdrawn++;
  }
  return withdrawn;
}

export const disputeRoutes: Route[] = [
  {
    method: 'GET',
    path: '/v1/disputes',
    handler: ({ core, params }) => {
      rejectUnknown(params, ['charge', 'created', 'ending_before', 'expand', 'limit', 'payment_intent', 'starting_after']);
      const charge = optionalString(params, 'charge');
      const paymentIntent = optionalString(params, 'payment_intent');
      const inRange = createdFilter(params);
      const list = disputes(core).newestFirst((d) => inRange(d.created) && (!charge || d.charge === charge) && (!paymentIntent || d.payment_intent === paymentIntent));
      return paginate(list, params, '/v1/disputes', 'dispute');
    },
  },
  {
    method: 'GET',
    path: '/v1/disputes/:dispute',
    handler: ({ core, params, path }) => {
      rejectUnknown(params, ['expand']);
      return disputes(core).require(path.dispute!, 'dispute');
    },
  },
  {
    method: 'POST',
    path: '/v1/disputes/:dispute',
    handler: (ctx) => {
      const { core, params, path } = ctx;
      rejectUnknown(params, ['expand', 'metadata']);
      const dispute = disputes(core).require(path.dispute!, 'dispute');
      const before = structuredClone(dispute);
      dispute.metadata = applyMetadata(dispute.metadata, params);
      const previous = previousAttributes(before, dispute);
      if (Object.keys(previous).length > 0) core.events.emit('charge.dispute.updated', dispute, { previousAttributes: previous, request: ctx.eventRequest });
      return dispute;
    },
  },
  {
    method: 'POST',
    path: '/v1/disputes/:dispute/close',
    handler: (ctx) => {
      const { core, params, path } = ctx;
      rejectUnknown(params, ['expand']);
      const dispute = disputes(core).require(path.dispute!, 'dispute');
      if (!['needs_response', 'warning_needs_response', 'under_review', 'warning_under_review'].includes(dispute.status)) {
        throw invalidRequest(`This dispute is already closed (status ${dispute.status}).`, undefined, 'status_transition_invalid');
      }
      dispute.status = dispute.status.startsWith('warning_') ? 'warning_closed' : 'lost';
      dispute.evidence_details.due_by = null;
      core.events.emit('charge.dispute.closed', dispute, { request: ctx.eventRequest });
      return dispute;
    },
  },
];
