// The payment request service (issue 20): see service.ts for the types and the model. Built by the
// composition root with this server's Stripe client and pay link base.
import type Stripe from 'stripe';
import type { Db } from '../platform/db/db';
import type { Logger } from '../platform/observability/logger';
import type { PaymentRequests } from './service';

export interface PaymentRequestDeps {
  db: Db;
  stripe: Stripe;
  logger: Logger;
  /** PAYMENT_REQUEST_PAY_URL, or the demo storefront's pay page in sandbox mode: where a member's token goes. */
  payUrl: (token: string) => string;
  /** Stripe's clock (ms): the sandbox's in sandbox mode. */
  now: () => number;
}

export function createPaymentRequests(_deps: PaymentRequestDeps): PaymentRequests {
  const notYet = () => Promise.reject(new Error('payment requests: not built yet'));
  return {
    create: notYet,
    payShare: notYet,
    cancel: notYet,
    remind: notYet,
    find: notYet,
    list: notYet,
    members: notYet,
    shareByToken: notYet,
    expireDue: notYet,
  };
}
