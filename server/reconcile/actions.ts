// The actions staff may take on a finding (OrphanedPayment.actions): pure, from what the janitor last saw
// at Stripe, so a list of findings shows them without asking Stripe; resolveFinding() checks again at
// Stripe before it acts.
import type { FindingRow } from './reconcile.sql';
import type { FindingAction } from './service';

/** Stripe statuses of an object someone has paid (or whose payment is on its way). */
const PAID_LIKE = new Set(['succeeded', 'processing', 'requires_capture', 'complete', 'paid']);
/** Stripe statuses of an object that can still be paid. */
const OPEN_LIKE = new Set(['requires_payment_method', 'requires_confirmation', 'requires_action', 'open']);
const WITH_OBJECT_ACTIONS = new Set(['STRIPE_WITHOUT_RECORD', 'AMOUNT_MISMATCH', 'NEEDS_CLEANUP', 'ATTEMPT_WITHOUT_OBJECT']);

/** The actions an admin may take on a finding now, by what the janitor last saw at Stripe (OrphanedPayment.actions). */
export function actionsFor(finding: Pick<FindingRow, 'kind' | 'status' | 'stripe_object_id' | 'stripe_status'>): FindingAction[] {
  if (finding.status !== 'open') return [];
  const actions: FindingAction[] = [];
  if (WITH_OBJECT_ACTIONS.has(finding.kind) && finding.stripe_object_id) {
    if (finding.stripe_status && PAID_LIKE.has(finding.stripe_status)) actions.push('adopt');
    if (finding.stripe_status && OPEN_LIKE.has(finding.stripe_status)) actions.push('cancel');
  }
  actions.push('dismiss');
  return actions;
}

