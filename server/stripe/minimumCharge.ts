// Stripe's minimum charge per currency: the one table the sandbox enforces (stripe-sandbox/minimumCharge.ts),
// so what the server refuses and what the sandbox refuses cannot drift apart.
export { DEFAULT_MINIMUM_CHARGE, MINIMUM_CHARGE, minimumChargeAmount } from '../../stripe-sandbox/minimumCharge';
