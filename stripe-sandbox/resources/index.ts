// Every resource module's routes, and what each does when sandbox time moves forward.
import type { SandboxCore } from '../core';
import type { Route } from '../router';
import { checkoutSessionRoutes, expireDueSessions } from './checkoutSessions';
import { customerRoutes } from './customers';
import { eventRoutes } from './events';
import { webhookEndpointRoutes } from './webhookEndpoints';
import { chargeRoutes } from './charges';
import { disputeRoutes, withdrawDisputedFunds } from './disputes';
import { paymentIntentRoutes } from './paymentIntents';
import { settlePaymentIntents } from './paymentIntents.machine';
import { paymentMethodRoutes } from './paymentMethods';
import { failDueRefunds, refundRoutes } from './refunds';
import { productRoutes } from './products';
import { priceRoutes } from './prices';
import { subscriptionRoutes } from './subscriptions';
import { advanceSubscriptions } from './subscriptions.machine';
import { invoiceRoutes } from './invoices';

export const resourceRoutes: Route[] = [...paymentIntentRoutes, ...chargeRoutes, ...refundRoutes, ...disputeRoutes, ...paymentMethodRoutes, ...customerRoutes, ...eventRoutes, ...webhookEndpointRoutes, ...checkoutSessionRoutes, ...productRoutes, ...priceRoutes, ...subscriptionRoutes, ...invoiceRoutes];

/**
 * Delayed steps Stripe takes on its own a moment after a request (a dispute's withdrawal, a
 * refund-failure card's refund failing): run when sandbox time moves on and, as real time passes,
 * on the webhook delivery timer of a sandbox that delivers on its own (npm start). Each returns how
 * many objects it changed.
 */
export const timerHandlers: Array<(core: SandboxCore) => number> = [withdrawDisputedFunds, failDueRefunds];

export const clockHandlers: Array<(core: SandboxCore) => void | Promise<void>> = [settlePaymentIntents, ...timerHandlers, expireDueSessions, advanceSubscriptions];
