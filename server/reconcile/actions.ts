// The actions staff may take on a finding (OrphanedPayment.actions): pure, from what the janitor last saw
// at Stripe, so a list of findings shows them without asking Stripe; resolveFinding() checks again at
// Stripe before it acts.
import type { FindingRow } from './reconcile.sql';
import type { FindingAction } from './service';

/** Stripe statuses of an object someone has paid (or whose payment is on its way). */
const PAID_LIKE = new Set(['succeeded', 'processing', 'requires_capture', 'complete', 'paid']);
/** Stripe statuses of an object that can still be paid. */
const OPEN_LIKE = new Set(['requires_payment_method', 'requires_confirmation', 'requires_action', 'open']);
/** Kinds about one Stripe object that staff may cancel at Stripe (when open there). */
const CANCELABLE_KINDS = new Set(['STRIPE_WITHOUT_RECORD', 'AMOUNT_MISMATCH', 'NEEDS_CLEANUP', 'ATTEMPT_WITHOUT_OBJECT']);
/** Kinds whose paid object staff may adopt. Not AMOUNT_MISMATCH: order_apply_payment refuses its amount, so ADOPT could never succeed. */
const ADOPTABLE_KINDS = new Set(['STRIPE_WITHOUT_RECORD', 'NEEDS_CLEANUP', 'ATTEMPT_WITHOUT_OBJECT']);

/** The actions an admin may take on a finding now, by what the janitor last saw at Stripe (OrphanedPayment.actions). */
export function actionsFor(finding: Pick<FindingRow, 'kind' | 'status' | 'stripe_object_id' | 'stripe_status'>): FindingAction[] {
  if (finding.status !== 'open') return [];
  const actions: FindingAction[] = [];
  if (finding.stripe_object_id && finding.stripe_status) {
    if (ADOPTABLE_KINDS.has(finding.kind) && PAID_LIKE.has(finding.stripe_status)) actions.push('adopt');
    if (CANCELABLE_KINDS.has(finding.kind) && OPEN_LIKE.has(finding.stripe_status)) actions.push('cancel');
  }
  actions.push('dismiss');
  return actions;
}

/**
 * Whether the server accepts an action on an open finding (resolveFinding): what actionsFor offers for
 * the finding's kind and object, whatever the status the janitor last saw, since Stripe is asked again
 * before anything is done (an orphan seen open and paid since may be adopted; one seen paid and
 * refunded since is refused there). CANCEL or ADOPT for a kind that never offers them is refused here.
 */
export function actionAllowed(finding: Pick<FindingRow, 'kind' | 'status' | 'stripe_object_id'>, action: FindingAction): boolean {
  if (finding.status !== 'open') return false;
  if (action === 'dismiss') return true;
  if (!finding.stripe_object_id) return false;
  return (action === 'adopt' ? ADOPTABLE_KINDS : CANCELABLE_KINDS).has(finding.kind);
}

