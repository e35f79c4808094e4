// Builders' follow-up 12: a share closed while Stripe is making its PaymentIntent. The janitor abandons
// the attempt it found without an object, and cancel then closes the request, before Stripe's answer
// comes back: the record step refuses to record the PaymentIntent on the canceled share order, it is
// canceled at Stripe, and the member is told the request cannot be paid (it handed out the dead
// attempt with no client secret, and left the PaymentIntent payable).
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Viewer } from '../../server/auth/viewer';
import { createPaymentRequests } from '../../server/paymentRequests/paymentRequests';
import { createLogger } from '../../server/platform/observability/logger';
import { type CheckoutServer, startCheckoutServer } from '../helpers/checkout';
import { attemptsOf, intentsOf, memberRow, newPayKey, newRequest, paymentRequestsOf, requestRow } from './payHelpers';

let server: CheckoutServer;
beforeAll(async () => {
  server = await startCheckoutServer({ RECONCILE_INTERVAL: 'off', JOBS_ENABLED: 'false' });
});
afterAll(() => server?.stop());

const ADMIN: Viewer = { role: 'ADMIN', id: '00000000-0000-4000-8000-000000000003', name: 'admin@staff.test', kind: 'user' };

/** The server's Stripe client, whose PaymentIntent create first runs `meanwhile` (what happens while Stripe works). */
function stripeWith(meanwhile: () => Promise<void>): Stripe {
  const stripe = server.app.stripe;
  const paymentIntents = Object.create(stripe.paymentIntents) as Stripe.PaymentIntentResource;
  paymentIntents.create = (async (...args: Parameters<Stripe.PaymentIntentResource['create']>) => {
    await meanwhile();
    return stripe.paymentIntents.create(...args);
  }) as Stripe.PaymentIntentResource['create'];
  const wrapped = Object.create(stripe) as Stripe;
  Object.defineProperty(wrapped, 'paymentIntents', { value: paymentIntents });
  return wrapped;
}

describe('a share closed while its PaymentIntent is being created', () => {
  it('is not recorded: the PaymentIntent is canceled at Stripe and the member told REQUEST_NOT_PAYABLE', async () => {
    const request = await newRequest(server, { amounts: [1000, 2000] });
    const [member] = request.members;
    const sandbox = server.app.stripeSandbox!;
    const service = createPaymentRequests({
      db: server.app.db,
      stripe: stripeWith(async () => {
        // The janitor found no object for the attempt and abandoned it; then an admin canceled the request.
        const [attempt] = await attemptsOf(server, member!.orderId);
        await server.app.db.query('select checkout_mark_attempt($1::jsonb)', [JSON.stringify({ attempt_id: attempt!.id, status: 'abandoned', actor: 'test' })]);
        expect(await paymentRequestsOf(server).cancel(ADMIN, request.id, newPayKey())).toMatchObject({ outcome: 'done' });
      }),
      logger: createLogger({ level: 'silent' }),
      payUrl: (token) => `https://pay.test/?token=${token}`,
      now: () => sandbox.core.clock.now() * 1000,
    });

    const key = newPayKey();
    expect(await service.payShare(member!.token, key)).toMatchObject({ outcome: 'refused', error: { code: 'REQUEST_NOT_PAYABLE' } });
    expect(await requestRow(server, request.id)).toMatchObject({ status: 'canceled' });
    expect(await memberRow(server, member!.id)).toMatchObject({ status: 'canceled', order_status: 'canceled', stripe_payment_intent_id: null });
    // Stripe made it; it is canceled, so the member cannot pay it, and recorded canceled on its attempt.
    const intents = await intentsOf(server, member!.id);
    expect(intents.map((intent) => intent.status)).toEqual(['canceled']);
    expect(await attemptsOf(server, member!.orderId)).toMatchObject([{ status: 'canceled', stripe_object_id: intents[0]!.id }]);
    // The key holds no answer: the same key again is refused as the request now stands.
    const { rows } = await server.app.db.query<{ status: string }>('select status from idempotency_keys where scope = $1 and key = $2', [`member:${member!.id}`, key]);
    expect(rows.map((r) => r.status)).not.toContain('completed');
    expect(await paymentRequestsOf(server).payShare(member!.token, key)).toMatchObject({ outcome: 'refused', error: { code: 'REQUEST_NOT_PAYABLE' } });
  });
});
