// The validator itself must be able to fail: Stripe's own fixtures pass, broken copies do not.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { stripeShapeProblems } from '../helpers/stripeSchema';

const fixtures = JSON.parse(readFileSync(new URL('../../../shared/stripe-openapi/fixtures3.json', import.meta.url), 'utf8')).resources as Record<string, Record<string, unknown>>;

describe('Stripe schema validation', () => {
  it.each(['customer', 'payment_intent', 'charge', 'refund', 'checkout.session', 'product', 'price', 'subscription', 'invoice', 'dispute', 'webhook_endpoint', 'event'])(
    "accepts Stripe's own %s fixture",
    (name) => {
      const fixture = fixtures[name.replace('.', '_')] ?? fixtures[name];
      expect(fixture, `fixture for ${name}`).toBeDefined();
      expect(stripeShapeProblems(fixture!, name)).toEqual([]);
    },
    30_000,
  );

  it('rejects a wrong enum value, a wrong type and a missing property', () => {
    const pi = structuredClone(fixtures.payment_intent!);
    pi.status = 'bogus';
    pi.amount = '100';
    delete pi.metadata;
    const problems = stripeShapeProblems(pi, 'payment_intent');
    expect(problems.some((p) => p.includes('/status'))).toBe(true);
    expect(problems.some((p) => p.includes('/amount'))).toBe(true);
    expect(problems).toContain('missing property metadata');
  });
});
