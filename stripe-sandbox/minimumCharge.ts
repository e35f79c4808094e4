// Stripe's minimum charge amount per currency, in the currency's minor unit, as Stripe documents it
// (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts). The sandbox refuses a
// PaymentIntent below it (amount_too_small), and the server refuses a payment request share below it
// at create (server/stripe/minimumCharge.ts re-exports this table; the SQL function
// stripe_minimum_charge of 20261207002200_payment_request_review20.sql holds the same figures, and
// tests/paymentRequests/minimumCharge.test.ts checks the two agree).
export const MINIMUM_CHARGE: Readonly<Record<string, number>> = {
  usd: 50,
  aed: 200,
  aud: 50,
  bgn: 100,
  brl: 50,
  cad: 50,
  chf: 50,
  czk: 1500,
  dkk: 250,
  eur: 50,
  gbp: 30,
  hkd: 400,
  huf: 17500,
  inr: 50,
  jpy: 50,
  mxn: 1000,
  myr: 200,
  nok: 300,
  nzd: 50,
  pln: 200,
  ron: 200,
  sek: 300,
  sgd: 50,
  thb: 1000,
};

/** A currency Stripe lists no minimum for is charged in a settlement currency: 50 of its minor unit, as for usd. */
export const DEFAULT_MINIMUM_CHARGE = 50;

export const minimumChargeAmount = (currency: string): number => MINIMUM_CHARGE[currency.toLowerCase()] ?? DEFAULT_MINIMUM_CHARGE;
