// A staff member settling one finding (resolveOrphanedPayment, issue 17): adopt a paid object, cancel an
// open one at Stripe, or dismiss it with a note. The finding is held (reconcile_claim_finding) while
// Stripe is asked, so two staff pressing at once do not both act: the second is told it is taken. What
// is sent to Stripe is idempotent (a cancel or expire carries the attempt's derived key; adopting goes
// through order_apply_payment), so a crash between Stripe's answer and our record is safe to redo.
import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { markAttempt } from '../checkout/checkout.sql';
import { cancelPaymentIntentKey, expireCheckoutSessionKey } from '../idempotency/stripeKeys';
import { isUuid } from '../platform/ids';
import { isProviderUnavailable, isStripeNotFound, type PaymentReading, readCheckoutSession, readPaymentIntent } from '../stripe/payments';
import { actionAllowed } from './actions';
import { Pass, type ReconcileDeps } from './janitor';
import { emptyCounters, type FindingRow, isRecorded } from './reconcile.sql';

export { actionsFor } from './actions';
import type { ReconciliationError, ResolveFindingRequest, ResolveFindingResult } from './service';

const failure = (code: ReconciliationError['code'], message: string): ReconciliationError => ({ code, message });

/** A step that cannot go on: the hold is let go and the finding stays as it was. */
class Refusal {
  constructor(readonly error: ReconciliationError, readonly orderId: string | null = null) {}
}

type StripeObject = Stripe.PaymentIntent | Stripe.Checkout.Session;

interface Done {
  resolution: string;
  orderId?: string | null;
  stripeStatus?: string | null;
  /** Something was written at Stripe or in our records (a cancel, an adoption): the answer is kept and audited whatever else happens. */
  changed?: boolean;
  /** An answer that is not plain success although the finding is closed (a duplicate adopted, recorded meanwhile). */
  error?: ReconciliationError;
}

/**
 * How long a staff action holds its finding: longer than one Stripe call with the SDK's retries (about
 * 80 s at the default two retries), so the hold cannot lapse while Stripe is still being asked.
 */
const HOLD_SECONDS = 300;
/** In customer-readable rows (payment_logs) a staff member is "staff": which one is in audit_log and the finding. */
const STAFF = 'staff';

export async function resolveFinding(deps: ReconcileDeps, request: ResolveFindingRequest): Promise<ResolveFindingResult> {
  if (!isUuid(request.findingId)) return { finding: null, orderId: null, changed: false, error: failure('ORPHAN_NOT_FOUND', 'There is no finding with this id.') };
  const token = randomUUID();
  const { rows } = await deps.db.query<{ r: { claimed: boolean; finding: FindingRow | null } }>('select reconcile_claim_finding($1::jsonb) as r', [
    JSON.stringify({ finding_id: request.findingId, token, seconds: HOLD_SECONDS }),
  ]);
  const { claimed, finding } = rows[0]!.r;
  if (!finding) return { finding: null, orderId: null, changed: false, error: failure('ORPHAN_NOT_FOUND', 'There is no finding with this id.') };
  if (!claimed) return { finding, orderId: finding.order_id, changed: false, error: wrongState(finding) };

  let done: Done;
  try {
    done = await act(deps, finding, request);
  } catch (caught) {
    await release(deps, finding.id, token);
    if (caught instanceof Refusal) return { finding: await read(deps, finding.id), orderId: caught.orderId ?? finding.order_id, changed: false, error: caught.error };
    if (isProviderUnavailable(caught)) {
      return { finding: await read(deps, finding.id), orderId: finding.order_id, changed: false, error: failure('PAYMENT_PROVIDER_UNAVAILABLE', 'Stripe could not be reached: nothing was done. Try again in a minute.') };
    }
    throw caught;
  }
  const note = request.note?.trim() || null;
  const { rows: resolved } = await deps.db.query<{ f: FindingRow | null }>('select reconcile_staff_resolve($1::jsonb) as f', [
    JSON.stringify({
      finding_id: finding.id,
      token,
      action: request.action,
      resolution: note ? `${done.resolution}: ${note}` : done.resolution,
      note,
      actor: request.actor,
      order_id: done.orderId ?? null,
      stripe_status: done.stripeStatus ?? null,
    }),
  ]);
  const after = resolved[0]!.f;
  const changed = done.changed ?? false;
  if (!after) {
    // Someone else settled it (the janitor, another admin after the hold) while Stripe was asked. What
    // this call did stays done: said in words, and kept and audited when it wrote anything.
    const now = await read(deps, finding.id);
    const by = now?.status === 'resolved' ? `it was resolved meanwhile by ${now.resolved_by ?? 'someone else'} (${now.resolution ?? 'no words recorded'})` : 'another staff member holds it now';
    const message = changed ? `Done: ${done.resolution}. The finding was not closed by this action: ${by}.` : `Nothing was done: ${by}.`;
    return { finding: now, orderId: done.orderId ?? finding.order_id, changed, error: failure('ORPHAN_WRONG_STATE', message) };
  }
  return { finding: after, orderId: after.order_id, changed, error: done.error ?? null };
}

function wrongState(finding: FindingRow): ReconciliationError {
  return finding.status === 'resolved'
    ? failure('ORPHAN_WRONG_STATE', `It is already resolved${finding.resolved_by ? ` (by ${finding.resolved_by})` : ''}: ${finding.resolution ?? 'no words recorded'}.`)
    : failure('ORPHAN_WRONG_STATE', 'Another staff member is resolving it right now. Reload in a minute.');
}

async function act(deps: ReconcileDeps, finding: FindingRow, request: ResolveFindingRequest): Promise<Done> {
  // Only what the finding's kind allows (OrphanedPayment.actions): a CANCEL sent for PROVISIONAL_TOO_LONG
  // would cancel the order's own, current PaymentIntent. Whether it is paid or open is asked of Stripe below.
  if (!actionAllowed(finding, request.action)) {
    throw new Refusal(failure('ORPHAN_WRONG_STATE', `${request.action.toUpperCase()} does not apply to a ${finding.kind} finding: ${finding.stripe_object_id ? 'dismiss it with a note, or act on the order itself' : 'there is no Stripe object to act on; dismiss it with a note instead'}.`));
  }
  if (request.action === 'dismiss') return { resolution: 'dismissed by staff' };
  if (!finding.stripe_object_id) {
    throw new Refusal(failure('ORPHAN_WRONG_STATE', 'There is no Stripe object to act on: dismiss it with a note instead.'));
  }
  // An object found before its attempt was recorded (a `creating` attempt settled by step 2 since) is
  // the order's own live payment now: asked before any Stripe call, as the janitor's recheck does.
  if (finding.kind === 'STRIPE_WITHOUT_RECORD' && (await isRecorded(deps.db, finding.stripe_object_id, { orderId: finding.order_id, attempt: null }))) {
    return recordedMeanwhile(finding.order_id);
  }
  const { object, reading, kind } = await retrieve(deps, finding.stripe_object_id);
  const metadataOrder = object.metadata?.order_id;
  const metadataAttempt = Number(object.metadata?.attempt);
  if (
    finding.kind === 'STRIPE_WITHOUT_RECORD' &&
    metadataOrder &&
    isUuid(metadataOrder) &&
    (await isRecorded(deps.db, object.id, { orderId: metadataOrder, attempt: Number.isInteger(metadataAttempt) ? metadataAttempt : null }))
  ) {
    return recordedMeanwhile(metadataOrder);
  }
  const paid = reading.outcome === 'SUCCEEDED' || reading.outcome === 'PROCESSING';
  const closed = reading.outcome === 'CANCELED' || reading.outcome === 'EXPIRED';
  const stripeStatus = reading.paymentStatus ?? object.status;
  if (request.action === 'adopt') {
    if (closed) throw new Refusal(failure('ORPHAN_WRONG_STATE', `It is ${reading.outcome.toLowerCase()} at Stripe: nobody paid through it, so there is nothing to adopt. Dismiss it instead.`));
    if (!paid) throw new Refusal(failure('ORPHAN_WRONG_STATE', 'It is still open at Stripe, not paid: it will be adopted automatically once the customer pays, or cancel it.'));
    const pass = new Pass(deps, { runId: null, actor: STAFF, findingActor: request.actor }, (deps.now ?? (() => new Date()))(), emptyCounters(), undefined);
    const applied = await pass.adopt(kind, object, reading);
    if (applied.outcome === 'error') {
      if (applied.error === 'amount_mismatch') {
        throw new Refusal(failure('AMOUNT_MISMATCH', `Stripe's amount (${reading.amount} ${reading.currency}) differs from the order's: nothing was applied. Refund it at Stripe, then dismiss this.`), applied.order_id ?? null);
      }
      throw new Refusal(failure('ORPHAN_WRONG_STATE', `Its metadata does not make an order here (${applied.error}): refund it at Stripe, then dismiss this.`), applied.order_id ?? null);
    }
    // order_apply_payment records a payment of an order already paid by another PaymentIntent, flagged
    // duplicate (money to refund), and still answers applied: that is not an adoption to report as done.
    const { rows } = await deps.db.query<{ n: number }>(`select count(*)::int as n from payments where stripe_payment_intent_id = $1 and finding = 'duplicate'`, [reading.paymentIntentId ?? object.id]);
    if (rows[0]!.n > 0) {
      const resolution = `recorded on order ${applied.order.id} as a second payment of an order already paid: refund it`;
      return { resolution, orderId: applied.order.id, stripeStatus, changed: true, error: failure('DUPLICATE_PAYMENT', `Recorded on order ${applied.order.id} as a second payment of an order already paid: refund it at Stripe.`) };
    }
    return { resolution: 'adopted by staff: paid at Stripe', orderId: applied.order.id, stripeStatus, changed: true };
  }
  // cancel
  if (paid) throw new Refusal(failure('ORPHAN_ALREADY_PAID', 'It is paid at Stripe: it cannot be cancelled. Adopt it, or refund it at Stripe.'));
  if (closed) return { resolution: `already ${reading.outcome.toLowerCase()} at Stripe`, stripeStatus };
  const ref = refOf(finding, object);
  const canceled =
    kind === 'payment_intent'
      ? await deps.stripe.paymentIntents.cancel(object.id, { cancellation_reason: 'abandoned' }, { idempotencyKey: cancelPaymentIntentKey(ref) })
      : await deps.stripe.checkout.sessions.expire(object.id, {}, { idempotencyKey: expireCheckoutSessionKey(ref) });
  // A finding about our own attempt: the attempt is closed too, as the janitor's step 2 closes it.
  if ((finding.kind === 'NEEDS_CLEANUP' || finding.kind === 'ATTEMPT_WITHOUT_OBJECT') && isUuid(finding.subject)) {
    await markAttempt(deps.db, { attempt_id: finding.subject, status: kind === 'payment_intent' ? 'canceled' : 'expired', object_id: object.id, actor: STAFF });
  }
  return { resolution: kind === 'payment_intent' ? 'cancelled at Stripe by staff' : 'expired at Stripe by staff', stripeStatus: canceled.status, changed: true };
}

/** Closes the finding without touching Stripe: the object is on record as one of our attempts now. */
function recordedMeanwhile(orderId: string | null): Done {
  const where = orderId ? ` (order ${orderId})` : '';
  return {
    resolution: 'recorded meanwhile: it is our own payment attempt, nothing was done at Stripe',
    orderId,
    error: failure('ORPHAN_WRONG_STATE', `It was recorded meanwhile as our own payment attempt${where}: nothing was done at Stripe, and the finding is closed.`),
  };
}

async function retrieve(deps: ReconcileDeps, id: string): Promise<{ object: StripeObject; reading: PaymentReading; kind: 'payment_intent' | 'checkout_session' }> {
  try {
    if (id.startsWith('cs_')) {
      const session = await deps.stripe.checkout.sessions.retrieve(id, { expand: ['payment_intent'] });
      return { object: session, reading: readCheckoutSession(session), kind: 'checkout_session' };
    }
    const intent = await deps.stripe.paymentIntents.retrieve(id);
    return { object: intent, reading: readPaymentIntent(intent), kind: 'payment_intent' };
  } catch (error) {
    if (isStripeNotFound(error)) throw new Refusal(failure('ORPHAN_WRONG_STATE', `Stripe no longer has ${id}: there is nothing to act on. Dismiss it with a note.`));
    throw error;
  }
}

/** The attempt a cancel's key is derived from: our metadata on the object, else the finding's order. */
function refOf(finding: FindingRow, object: StripeObject): { order_id: string; attempt: number } {
  const attempt = Number(object.metadata?.attempt);
  return {
    order_id: object.metadata?.order_id ?? finding.order_id ?? object.id,
    attempt: Number.isInteger(attempt) && attempt > 0 ? attempt : 0,
  };
}

async function release(deps: ReconcileDeps, findingId: string, token: string): Promise<void> {
  await deps.db.query('select reconcile_release_finding($1::jsonb)', [JSON.stringify({ finding_id: findingId, token })]);
}

async function read(deps: ReconcileDeps, id: string): Promise<FindingRow | null> {
  const { rows } = await deps.db.query<{ f: FindingRow }>('select to_jsonb(f) as f from reconciliation_findings f where id = $1', [id]);
  return rows[0]?.f ?? null;
}
