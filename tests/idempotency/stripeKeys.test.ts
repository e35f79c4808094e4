// The Stripe idempotency keys have one home in TypeScript (server/idempotency/stripeKeys.ts), but two
// are formatted in SQL where the attempt row is made: these tests hold the two sides equal, so a
// change to either shows here rather than as a second Stripe object after a retry.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { beginCheckout } from '../../server/checkout/checkout.sql';
import { createAttemptKey, madeFromWebhookKey } from '../../server/idempotency/stripeKeys';
import { objectOperationHash, requestHash } from '../../server/idempotency/requestHash';
import { FIXTURE_IDS } from '../helpers/webhookFixtures';
import { startTestServer, type TestServer } from '../helpers/server';
import { deliver, newStory, WEBHOOK_TEST_SECRET } from '../helpers/webhookStory';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ STRIPE_WEBHOOK_SECRET: WEBHOOK_TEST_SECRET });
  server.app.stripeSandbox!.core.events.stopAutoDelivery(); // only what the tests send
});
afterAll(() => server?.stop());

describe('Stripe idempotency keys formatted in SQL', () => {
  for (const kind of ['payment_intent', 'checkout_session'] as const) {
    it(`checkout_begin() gives a ${kind} attempt the key createAttemptKey() names`, async () => {
      const key = `stripe-keys-${kind}`;
      const begun = await beginCheckout(server.app.db, {
        scope: 'test:stripe-keys',
        key,
        operation: kind === 'payment_intent' ? 'createPaymentIntent' : 'createCheckoutSession',
        request_hash: requestHash(key),
        kind,
        track: 'business_plan_builder',
        order_id: null,
        user_id: null,
        email: `${key}@customers.test`,
        email_from_sign_in: false,
        name: null,
        metadata: {},
        actor: 'test',
      });
      if (begun.outcome !== 'attempt') throw new Error(`checkout_begin: ${JSON.stringify(begun)}`);
      expect(begun.attempt.stripe_idempotency_key).toBe(createAttemptKey(kind, begun.attempt));
    });
  }

  it('an order made from a payment event names its attempt with madeFromWebhookKey()', async () => {
    const story = await newStory(server.app.db, { order: false });
    expect((await deliver(server.url, story.event('payment_intent.succeeded'))).status).toBe(200);
    await server.app.webhookApplier.drain();
    const paymentIntentId = story.id(FIXTURE_IDS.paymentIntent);
    const { rows } = await server.app.db.query<{ stripe_idempotency_key: string }>(
      'select stripe_idempotency_key from payment_attempts where stripe_object_id = $1',
      [paymentIntentId],
    );
    expect(rows).toEqual([{ stripe_idempotency_key: madeFromWebhookKey(paymentIntentId) }]);
  });
});

describe('request hashes', () => {
  it('stay the same text-to-hash across releases, so a retry after an upgrade is still the same request', () => {
    expect(objectOperationHash('make_delivery_retry', '00000000-0000-4000-8000-000000000001')).toBe(
      '9f452f695dc499cea1dabb2ad298ba141ddd79b018d7098f6362b750bfa47f46',
    );
    expect(objectOperationHash('webhook_event_replay', 'evt_1')).toBe(requestHash('webhook_event_replay:evt_1'));
  });
});
