import type Stripe from 'stripe';
import type { Viewer } from '../../auth/viewer';
import type { CheckoutUrls } from '../../checkout/returnUrls';
import type { Config } from '../../config';
import type { Db } from '../../platform/db/db';
import type { Logger } from '../../platform/observability/logger';
import type { Loaders } from './loaders';
import type { WebhookApplier } from '../../webhooks/applier';
import type { Reconciliation } from '../../reconcile/service';
import type { Refunds } from '../../refunds/service';
import type { PaymentRequests } from '../../paymentRequests/service';

/**
 * The parts that exist only once the server listens: in sandbox mode the Stripe client and Checkout's
 * return pages point at this server, whose port is known then.
 */
export interface Services {
  /** The Stripe client: the real API, or the sandbox this server serves when no key is configured. */
  stripe: Stripe;
  checkoutUrls: CheckoutUrls;
  /** Accepted webhook signing secrets: the configured ones and, in sandbox mode, the sandbox endpoint's. */
  webhookSecrets: readonly string[];
  /** Applies stored Stripe events; staff replay goes through it. */
  webhookApplier: WebhookApplier;
  /** Reconciliation's passes, syncs and finding actions (server/reconcile/service.ts). */
  reconciliation: Reconciliation;
  /** Refunds staff make here (server/refunds/refundPayment.ts). */
  refunds: Refunds;
  /** Payment requests split among members (server/paymentRequests/). */
  paymentRequests: PaymentRequests;
  /** Stripe's clock in ms: the sandbox's in sandbox mode (tests move it); Date.now() when absent. */
  stripeNow?: () => number;
}

/** What every resolver receives. Built once per request, after authentication. */
export interface GraphQLContext extends Services {
  viewer: Viewer;
  db: Db;
  logger: Logger;
  requestId: string;
  config: Config;
  /** This request's batching loaders (loaders.ts): list fields read through them, one query per page. */
  loaders: Loaders;
}
