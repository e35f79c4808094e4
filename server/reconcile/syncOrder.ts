// A staff member's "Sync with Stripe" on one order (issue 17): the janitor's own code for each attempt
// (Pass.applyObject, Pass.settleAttempt), run now for this order alone, with the staff member as the
// actor. Everything it does is idempotent (order_apply_payment applies a state once; an attempt's
// object is found by its metadata, never created), so a second press changes nothing more.
import { isUuid } from '../platform/ids';
import { isProviderUnavailable, isStripeNotFound } from '../stripe/payments';
import { type ReconcileDeps, Pass } from './janitor';
import { emptyCounters, logAction, resolveFindings, type UnsettledAttempt } from './reconcile.sql';
import type { ReconciliationError, SyncOrderResult } from './service';

/** Under this age a `creating` attempt may still be in its request: its object is not looked for yet (as step 2). */
const CREATING_GRACE_MS = 5 * 60_000;

interface OrderAttempt extends Omit<UnsettledAttempt, 'status'> {
  status: string;
  updated_at: string;
}

/** What a sync can change, read before and after: SYNCED when it differs. */
async function snapshot(deps: ReconcileDeps, orderId: string): Promise<string | null> {
  const { rows } = await deps.db.query<{ s: unknown }>(
    `select jsonb_build_object(
              'status', o.status, 'sync_state', o.sync_state,
              'attempts', (select jsonb_agg(jsonb_build_array(a.status, a.stripe_object_id) order by a.attempt) from payment_attempts a where a.order_id = o.id),
              'payments', (select jsonb_agg(jsonb_build_array(p.status, p.amount, p.stripe_payment_intent_id) order by p.created_at) from payments p where p.order_id = o.id)) as s
       from orders o where o.id = $1`,
    [orderId],
  );
  return rows[0] ? JSON.stringify(rows[0].s) : null;
}

async function attemptsOf(deps: ReconcileDeps, orderId: string): Promise<OrderAttempt[]> {
  const { rows } = await deps.db.query<OrderAttempt>(
    `select a.id, a.order_id, a.attempt, a.kind, a.status, a.stripe_object_id, a.created_at::text as created_at,
            a.updated_at::text as updated_at, o.status as order_status
       from payment_attempts a join orders o on o.id = a.order_id
      where a.order_id = $1 order by a.attempt`,
    [orderId],
  );
  return rows;
}

const failure = (code: ReconciliationError['code'], message: string): ReconciliationError => ({ code, message });

export async function syncOrder(deps: ReconcileDeps, request: { orderId: string; actor: string }): Promise<SyncOrderResult> {
  const { orderId, actor } = request;
  const before = isUuid(orderId) ? await snapshot(deps, orderId) : null;
  if (before === null) {
    return { outcome: 'FAILED', orderId: null, error: failure('ORDER_NOT_FOUND', 'There is no order with this id.') };
  }
  const now = (deps.now ?? (() => new Date()))();
  // What the pass writes to payment_logs may be read by the order's customer (payment_logs_own_rows):
  // it says "staff"; which staff member is in audit_log (the resolver) and the server log.
  const pass = new Pass(deps, { runId: null, actor: 'staff', findingActor: actor }, now, emptyCounters(), undefined);
  let error: ReconciliationError | null = null;
  try {
    for (const attempt of await attemptsOf(deps, orderId)) {
      const stuck = attempt.status === 'needs_cleanup' || (attempt.status === 'creating' && now.getTime() - Date.parse(attempt.updated_at) >= CREATING_GRACE_MS);
      if (stuck) {
        try {
          await pass.settleAttempt(attempt as UnsettledAttempt);
        } catch (caught) {
          // settleAttempt names the one refusal it can meet applying a payment found by our metadata.
          if (!(caught instanceof Error && caught.message.endsWith('amount_mismatch'))) throw caught;
          error ??= failure('AMOUNT_MISMATCH', `Stripe shows a different amount for attempt ${attempt.attempt} than this order's: nothing was applied.`);
        }
        continue;
      }
      if (!attempt.stripe_object_id) continue;
      try {
        const { applied } = await pass.applyObject(attempt.kind, attempt.stripe_object_id);
        if (applied.outcome === 'error' && applied.error === 'amount_mismatch') {
          error ??= failure('AMOUNT_MISMATCH', `Stripe shows a different amount for ${attempt.stripe_object_id} than this order's: nothing was applied. Compare them at Stripe and refund if needed.`);
        }
      } catch (caught) {
        if (!isStripeNotFound(caught)) throw caught;
        error ??= failure('STRIPE_OBJECT_NOT_FOUND', `Stripe has no ${attempt.stripe_object_id} (deleted test data, or another account's key).`);
      }
    }
  } catch (caught) {
    // Stripe unreachable after the SDK's retries: what was applied before stays (each is idempotent).
    if (!isProviderUnavailable(caught)) throw caught;
    error = failure('PAYMENT_PROVIDER_UNAVAILABLE', 'Stripe could not be reached. Try again in a minute.');
  }
  // last_sync_at only: sync_attempts is the janitor's backoff step (5 minutes, 1 hour, 1 day), and a
  // staff press counted there would make the janitor skip its own checks of a still-provisional order.
  await deps.db.query('update orders set last_sync_at = $2 where id = $1', [orderId, now.toISOString()]);
  const after = await snapshot(deps, orderId);
  const changed = after !== before;
  // Something was applied before Stripe went away (each application is idempotent and stays): SYNCED
  // with an error saying the rest was not asked, rather than "nothing changed"; the resolver keeps
  // and audits it like any change. (A refusal such as AMOUNT_MISMATCH stays FAILED: it applied nothing.)
  const partly = error?.code === 'PAYMENT_PROVIDER_UNAVAILABLE' && changed;
  if (partly) {
    error = failure('PAYMENT_PROVIDER_UNAVAILABLE', 'Part of the order was updated from Stripe, then Stripe could not be reached: the rest could not be asked. Sync again in a minute.');
  }
  const outcome = partly ? 'SYNCED' : error ? 'FAILED' : changed ? 'SYNCED' : 'UNCHANGED';
  const row = await deps.db.query<{ status: string; sync_state: string | null }>('select status, sync_state from orders where id = $1', [orderId]);
  // Settled by this sync: the janitor's finding about it is closed, as its own confirmation would.
  if (changed && row.rows[0]?.sync_state !== 'provisional') {
    await resolveFindings(deps.db, { subject: orderId, kind: 'PROVISIONAL_TOO_LONG', resolution: 'confirmed by a staff sync with Stripe', actor, run_id: null });
  }
  await logAction(deps.db, {
    eventType: outcome === 'SYNCED' ? 'reconcile.order_synced' : outcome === 'UNCHANGED' ? 'reconcile.order_checked' : 'reconcile.order_sync_failed',
    status: row.rows[0]?.status ?? 'unknown',
    orderId,
    metadata: { actor: 'staff', outcome, changed, error: error?.code ?? null },
  });
  if (error && error.code === 'PAYMENT_PROVIDER_UNAVAILABLE') deps.logger.warn({ orderId, actor }, 'sync with Stripe failed: Stripe unreachable');
  return { outcome, orderId, error };
}
