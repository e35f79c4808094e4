// The validator itself must be able to fail: Stripe's own fixtures pass, broken copies do not.
import { describe, expect, it } from 'vitest';
import { stripeFixture, stripeShapeProblems } from '../helpers/stripeSchema';

describe('Stripe schema validation', () => {
  it.each(['customer', 'payment_intent', 'charge', 'refund', 'checkout.session', 'product', 'price', 'subscription', 'invoice', 'dispute', 'webhook_endpoint', 'event'])(
    "accepts Stripe's own %s fixture",
    (name) => {
      const fixture = stripeFixture(name);
      expect(fixture, `fixture for ${name}`).toBeDefined();
      expect(stripeShapeProblems(fixture!, name)).toEqual([]);
    },
    30_000,
  );

  it('rejects a wrong enum value, a wrong type and a missing property', () => {
    const pi = stripeFixture('payment_intent')!;
    pi.status = 'bogus';
    pi.amount = '100';
    delete pi.metadata;
    const problems = stripeShapeProblems(pi, 'payment_intent');
    expect(problems.some((p) => p.includes('/status'))).toBe(true);
    expect(problems.some((p) => p.includes('/amount'))).toBe(true);
    expect(problems).toContain('missing property metadata');
  });
});
