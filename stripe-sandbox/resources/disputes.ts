// Disputes: the test card pm_card_createDispute (4000 0000 0000 0259) makes one on its charge right
// after the payment succeeds (reason fraudulent, status needs_response). Retrieve, list, update
// (metadata), and close (accept the loss: needs_response → lost).
import type Stripe from 'stripe';
import type { SandboxCore } from '../core';
import { invalidRequest } from '../errors';
import { newId } from '../ids';
import { createdFilter, paginate } from '../list';
import { applyMetadata, optionalString, rejectUnknown } from '../params';
import { previousAttributes } from '../previousAttributes';
import type { Route } from '../router';
import { type Actor} from './charges';

export const disputes = (core: SandboxCore) => core.store.collection<Stripe.Dispute>('dispute');

const RESPONSE_WINDOW_SECONDS = 7 * 24 * 3600;

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
    // Stripe also records a balance transaction withdrawing the amount; the sandbox keeps no balance.
    balance_transactions: [],
    charge: charge.id,
    created: now,
    currency: charge.currency,
    enhanced_eligibility_types: [],
    evidence: emptyEvidence(),
    evidence_details: {
      due_by: now + RESPONSE_WINDOW_SECONDS,
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
