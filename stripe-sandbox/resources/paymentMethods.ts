// Test PaymentMethods and cards, as in Stripe's testing docs. A "magic" id such as `pm_card_visa` is
// accepted wherever a PaymentMethod id is, and (as at Stripe) turns into a fresh `pm_…` object that
// remembers how the card behaves. Raw card numbers are NOT accepted through the API (Stripe refuses
// them by default); the hosted checkout page maps a typed number with paymentMethodForCardNumber().
import { randomBytes } from 'node:crypto';
import type Stripe from 'stripe';
import type { SandboxCore } from '../core';
import { StripeApiError } from '../errors';
import { newId } from '../ids';
import { rejectUnknown } from '../params';
import type { Route } from '../router';

/** What happens when a payment is attempted with a test payment method. */
export type TestBehaviour =
  | { kind: 'succeed' }
  | { kind: 'decline'; code: 'card_declined' | 'expired_card'; declineCode: string; message: string }
  /** 3-D Secure required: the intent goes to requires_action until the customer completes or fails it. */
  | { kind: 'three_d_secure' }
  /** Succeeds, then the charge is disputed (reason fraudulent). */
  | { kind: 'dispute' }
  /**
   * Succeeds; a refund of it is created `succeeded`, then fails asynchronously (failure_reason
   * expired_or_canceled_card, refund.failed), as Stripe's refund-failure test card does.
   */
  | { kind: 'refund_failure' }
  /**
   * Asynchronous (US bank account): processing, then, once sandbox time moves forward, succeeded, or
   * with `failure` the bank returns the debit and the intent goes back to requires_payment_method.
   */
  | { kind: 'processing'; failure?: { code: string; message: string } };

interface TestMethod {
  type: 'card' | 'us_bank_account';
  brand?: string;
  last4: string;
  funding?: string;
  country: string;
  behaviour: TestBehaviour;
}

const visa = (last4: string, behaviour: TestBehaviour): TestMethod => ({ type: 'card', brand: 'visa', last4, funding: 'credit', country: 'US', behaviour });
const GENERIC_DECLINE: TestBehaviour = { kind: 'decline', code: 'card_declined', declineCode: 'generic_decline', message: 'Your card was declined.' };

/** The magic test PaymentMethod ids (https://docs.stripe.com/testing). */
export const TEST_PAYMENT_METHODS: Record<string, TestMethod> = {
  pm_card_visa: visa('4242', { kind: 'succeed' }),
  pm_card_mastercard: { type: 'card', brand: 'mastercard', last4: '4444', funding: 'credit', country: 'US', behaviour: { kind: 'succeed' } },
  pm_card_chargeDeclined: visa('0002', GENERIC_DECLINE),
  // Attaches to a customer, then every charge is declined: the card a subscription renews on to fail
  // (past_due), where Stripe would refuse to attach 0002.
  pm_card_chargeCustomerFail: visa('0341', GENERIC_DECLINE),
  pm_card_chargeDeclinedInsufficientFunds: visa('9995', { kind: 'decline', code: 'card_declined', declineCode: 'insufficient_funds', message: 'Your card has insufficient funds.' }),
  pm_card_chargeDeclinedExpiredCard: visa('0069', { kind: 'decline', code: 'expired_card', declineCode: 'expired_card', message: 'Your card has expired.' }),
  pm_card_threeDSecure2Required: visa('3220', { kind: 'three_d_secure' }),
  pm_card_authenticationRequired: visa('3184', { kind: 'three_d_secure' }),
  pm_card_createDispute: visa('0259', { kind: 'dispute' }),
  pm_card_refundFail: visa('5126', { kind: 'refund_failure' }),
  // Stripe's ACH Direct Debit test method: the payment is `processing` first, then succeeds. Here it
  // succeeds at the next sandbox clock advance (sandbox.advanceClock / POST /_sandbox/clock/advance).
  pm_usBankAccount_success: { type: 'us_bank_account', last4: '6789', country: 'US', behaviour: { kind: 'processing' } },
  // Its test method whose debit the bank returns for insufficient funds (account 000222222227): the
  // payment is `processing`, then fails (charge.failed, payment_intent.payment_failed).
  pm_usBankAccount_insufficientFunds: {
    type: 'us_bank_account',
    last4: '2227',
    country: 'US',
    behaviour: { kind: 'processing', failure: { code: 'insufficient_funds', message: 'The customer\'s account has insufficient funds to cover this payment.' } },
  },
};

const CARD_NUMBERS: Record<string, string> = {
  '4242424242424242': 'pm_card_visa',
  '5555555555554444': 'pm_card_mastercard',
  '4000000000000002': 'pm_card_chargeDeclined',
  '4000000000000341': 'pm_card_chargeCustomerFail',
  '4000000000009995': 'pm_card_chargeDeclinedInsufficientFunds',
  '4000000000000069': 'pm_card_chargeDeclinedExpiredCard',
  '4000000000003220': 'pm_card_threeDSecure2Required',
  '4000002760003184': 'pm_card_authenticationRequired',
  '4000000000000259': 'pm_card_createDispute',
  '4000000000005126': 'pm_card_refundFail',
};

/**
 * For the hosted checkout page: the magic test PaymentMethod id for a typed test card number
 * (spaces and dashes ignored), or null when it is not one of Stripe's test cards.
 */
export function paymentMethodForCardNumber(number: string): string | null {
  return CARD_NUMBERS[number.replace(/[\s-]/g, '')] ?? null;
}

export const paymentMethods = (core: SandboxCore) => core.store.collection<Stripe.PaymentMethod>('payment_method');

/** Behaviour of each PaymentMethod the sandbox made from a test id, per sandbox instance. */
const behaviours = new WeakMap<SandboxCore, Map<string, TestBehaviour>>();

export function behaviourOf(core: SandboxCore, paymentMethodId: string): TestBehaviour {
  return behaviours.get(core)?.get(paymentMethodId) ?? { kind: 'succeed' };
}

/** The behaviours, which Stripe does not show on the object, for the sandbox's state file. */
export const paymentMethodBehaviours = {
  snapshot: (core: SandboxCore): Array<[string, TestBehaviour]> => [...(behaviours.get(core) ?? [])],
  restore: (core: SandboxCore, entries: Array<[string, TestBehaviour]>): void => void behaviours.set(core, new Map(entries)),
};

function buildPaymentMethod(core: SandboxCore, test: TestMethod): Stripe.PaymentMethod {
  const id = newId('pm');
  const fingerprint = randomBytes(8).toString('hex').slice(0, 16);
  const base = {
    id,
    object: 'payment_method' as const,
    allow_redisplay: 'unspecified' as const,
    billing_details: { address: { city: null, country: null, line1: null, line2: null, postal_code: null, state: null }, email: null, name: null, phone: null, tax_id: null },
    created: core.clock.now(),
    customer: null,
    customer_account: null,
    livemode: false,
    metadata: {},
  };
  if (test.type === 'us_bank_account') {
    return {
      ...base,
      type: 'us_bank_account',
      us_bank_account: {
        account_holder_type: 'individual',
        account_type: 'checking',
        bank_name: 'STRIPE TEST BANK',
        financial_connections_account: null,
        fingerprint,
        last4: test.last4,
        networks: { preferred: 'ach', supported: ['ach'] },
        routing_number: '110000000',
        status_details: {},
      },
    } satisfies Stripe.PaymentMethod;
  }
  const year = new Date(core.clock.now() * 1000).getUTCFullYear();
  return {
    ...base,
    type: 'card',
    card: {
      brand: test.brand!,
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: 'unchecked' },
      country: test.country,
      display_brand: test.brand!,
      exp_month: 12,
      exp_year: year + 5,
      fingerprint,
      funding: test.funding!,
      generated_from: null,
      last4: test.last4,
      networks: { available: [test.brand!], preferred: null },
      regulated_status: 'unregulated',
      three_d_secure_usage: { supported: true },
      wallet: null,
    },
  } satisfies Stripe.PaymentMethod;
}

/**
 * The PaymentMethod a request names: a magic test id becomes a new `pm_…` object (as Stripe does);
 * any other id must be a PaymentMethod the sandbox already holds.
 */
export function resolvePaymentMethod(core: SandboxCore, id: string, param = 'payment_method'): Stripe.PaymentMethod {
  const test = TEST_PAYMENT_METHODS[id];
  if (test) {
    const pm = paymentMethods(core).insert(buildPaymentMethod(core, test));
    let map = behaviours.get(core);
    if (!map) behaviours.set(core, (map = new Map()));
    map.set(pm.id, test.behaviour);
    return pm;
  }
  const existing = paymentMethods(core).get(id);
  if (!existing) throw new StripeApiError(404, { type: 'invalid_request_error', code: 'resource_missing', param, message: `No such PaymentMethod: '${id}'` });
  return existing;
}

export const paymentMethodRoutes: Route[] = [
  {
    method: 'GET',
    path: '/v1/payment_methods/:payment_method',
    handler: ({ core, params, path }) => {
      rejectUnknown(params, ['expand']);
      const pm = paymentMethods(core).get(path.payment_method!);
      if (!pm) throw new StripeApiError(404, { type: 'invalid_request_error', code: 'resource_missing', param: 'payment_method', message: `No such PaymentMethod: '${path.payment_method}'` });
      return pm;
    },
  },
];
