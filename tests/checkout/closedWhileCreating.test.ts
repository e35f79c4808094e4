// An order's attempt abandoned by the janitor while Stripe is still making its object. The create is
// held back (a hook on the server's own Stripe client) while a real reconciliation pass runs: the
// attempt has been `creating` for over 5 minutes and Stripe has nothing for it yet, so the janitor
// abandons it. Then Stripe's answer comes back. The record step must not complete the caller's key with
// the dead attempt (it used to: the storefront got no PaymentIntent, the key answered that for good, and
// the PaymentIntent Stripe made stayed payable with no record of ours). Instead the object is canceled
// at Stripe and the call begins again with the order's next attempt, whose object the customer gets.
import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runReconciliation } from '../../server/reconcile/janitor';
import { type CheckoutServer, newKey, startCheckoutServer } from '../helpers/checkout';

let server: CheckoutServer;
beforeAll(async () => {
  server = await startCheckoutServer({ RECONCILE_INTERVAL: 'off' });
});
afterAll(() => server?.stop());
beforeEach(() => {
  server.app.stripeSandbox!.core.events.stopAutoDelivery();
  server.app.stripeSandbox!.webhookFaults.dropNext = 1_000_000;
});

const sandbox = () => server.app.stripeSandbox!;
const guest = () => ({ idempotencyKey: newKey(), track: 'business_plan_builder', email: `guest-${randomUUID()}@example.com` });

/** A janitor pass once the attempt is old enough for step 2 to look at it. */
async function janitorPassAfterFiveMinutes() {
  await sandbox().advanceClock(301);
  await runReconciliation(server.app.reconciliation, { trigger: 'manual', actor: 'test' });
}

/**
 * Runs `meanwhile` before the first create of `resource` on the server's Stripe client reaches the
 * sandbox (what happens while Stripe is still at work), then lets it through; later creates go straight.
 */
async function withCreateHeldBack<T>(resource: { create: (...args: never[]) => Promise<unknown> }, meanwhile: () => Promise<void>, run: () => Promise<T>): Promise<T> {
  const original = resource.create;
  let first = true;
  resource.create = async (...args: never[]) => {
    if (first) {
      first = false;
      await meanwhile();
    }
    return original.apply(resource, args);
  };
  try {
    return await run();
  } finally {
    delete (resource as { create?: unknown }).create; // the prototype's create again
    if (resource.create !== original) resource.create = original;
  }
}

async function attemptsOf(email: string) {
  const { rows } = await server.app.db.query<{ attempt: number; order_id: string; status: string; stripe_object_id: string | null }>(
    `select a.attempt, a.order_id, a.status, a.stripe_object_id from payment_attempts a
       join orders o on o.id = a.order_id join customers c on c.id = o.customer_id where c.email = $1 order by a.attempt`,
    [email],
  );
  return rows;
}

async function keyRow(key: string) {
  const { rows } = await server.app.db.query<{ status: string; attempt: number | null }>(
    'select k.status, a.attempt from idempotency_keys k left join payment_attempts a on a.id = k.attempt_id where k.key = $1',
    [key],
  );
  return rows[0];
}

describe('an attempt the janitor abandons while Stripe is making its object', () => {
  it('PaymentIntent: the late object is canceled, and the call answers with the next attempt’s live PaymentIntent', async () => {
    const input = guest();
    const result = await withCreateHeldBack(server.app.stripe.paymentIntents, janitorPassAfterFiveMinutes, () => server.createPaymentIntent(input));
    expect(result.body.errors).toBeUndefined();
    const answer = result.body.data.createPaymentIntent as { paymentIntentId: string | null; clientSecret: string | null; isRepeat: boolean; error: unknown; order: { id: string; status: string } };
    expect(answer).toMatchObject({ isRepeat: false, error: null, paymentIntentId: expect.stringMatching(/^pi_/), clientSecret: expect.stringMatching(/_secret_/) });

    const orderId = answer.order.id;
    // Stripe made two: the late one is canceled (and recorded so on its attempt), so nobody can pay through it; the one handed out is live.
    const intents = (await server.app.stripe.paymentIntents.list({ limit: 100 })).data.filter((pi) => pi.metadata.order_id === orderId);
    const byAttempt = new Map(intents.map((pi) => [pi.metadata.attempt, pi]));
    expect(await attemptsOf(input.email)).toEqual([
      { attempt: 1, order_id: orderId, status: 'canceled', stripe_object_id: byAttempt.get('1')?.id },
      { attempt: 2, order_id: orderId, status: 'open', stripe_object_id: answer.paymentIntentId },
    ]);
    expect(intents).toHaveLength(2);
    expect(byAttempt.get('1')!.status).toBe('canceled');
    expect(byAttempt.get('2')).toMatchObject({ id: answer.paymentIntentId, status: 'requires_payment_method' });

    // The key holds the live attempt: the same call again answers the same PaymentIntent.
    expect(await keyRow(input.idempotencyKey)).toEqual({ status: 'completed', attempt: 2 });
    const again = await server.createPaymentIntent(input);
    expect(again.body.data.createPaymentIntent).toMatchObject({ isRepeat: true, paymentIntentId: answer.paymentIntentId, clientSecret: answer.clientSecret });
  });

  it('Checkout Session: the late session is expired, and the call answers with the next attempt’s open session', async () => {
    const input = guest();
    const sessions = server.app.stripe.checkout.sessions;
    const result = await withCreateHeldBack(sessions, janitorPassAfterFiveMinutes, () => server.createCheckoutSession(input));
    expect(result.body.errors).toBeUndefined();
    const answer = result.body.data.createCheckoutSession as { checkoutSessionId: string | null; url: string | null; isRepeat: boolean; error: unknown; order: { id: string } };
    expect(answer).toMatchObject({ isRepeat: false, error: null, checkoutSessionId: expect.stringMatching(/^cs_/), url: expect.any(String) });

    const orderId = answer.order.id;
    const listed = (await sessions.list({ limit: 100 })).data.filter((s: Stripe.Checkout.Session) => s.metadata?.order_id === orderId);
    const byAttempt = new Map(listed.map((s) => [s.metadata!.attempt, s]));
    expect(await attemptsOf(input.email)).toEqual([
      { attempt: 1, order_id: orderId, status: 'expired', stripe_object_id: byAttempt.get('1')?.id },
      { attempt: 2, order_id: orderId, status: 'open', stripe_object_id: answer.checkoutSessionId },
    ]);
    expect(listed).toHaveLength(2);
    expect(byAttempt.get('1')!.status).toBe('expired');
    expect(byAttempt.get('2')).toMatchObject({ id: answer.checkoutSessionId, status: 'open' });
    expect(await keyRow(input.idempotencyKey)).toEqual({ status: 'completed', attempt: 2 });
  });
});
