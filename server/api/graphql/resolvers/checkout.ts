import type { Role } from '../../../auth/viewer';
import { changeOrderTrack } from '../../../checkout/changeTrack';
import { confirmPayment } from '../../../checkout/confirmPayment';
import { startPayment, type CheckoutDeps } from '../../../checkout/startPayment';
import { allow, inheritAccess } from '../access';
import type { GraphQLContext } from '../context';
import type { CreateCheckoutSessionPayloadResolvers, CreatePaymentIntentPayloadResolvers, Resolvers } from '../generated/resolvers-types';

// Storefront servers pay for guests and customers; a signed-in customer's browser may pay for itself.
const PAYERS: readonly Role[] = ['STOREFRONT', 'CUSTOMER'];
// Support may confirm too: it is the manual "sync with Stripe" for one payment.
const CONFIRMERS: readonly Role[] = ['STOREFRONT', 'CUSTOMER', 'SUPPORT', 'ADMIN'];

const deps = (context: GraphQLContext): CheckoutDeps => ({ db: context.db, stripe: context.stripe, checkoutUrls: context.checkoutUrls, logger: context.logger });

export const checkoutResolvers: Resolvers = {
  Mutation: {
    createCheckoutSession: allow(PAYERS, (_parent, { input }, context) => startPayment(deps(context), 'checkout_session', context.viewer, input)),
    createPaymentIntent: allow(PAYERS, (_parent, { input }, context) => startPayment(deps(context), 'payment_intent', context.viewer, input)),
    // The same callers as paying an existing order: the storefront, or the order's own customer.
    createSubscriptionCheckout: allow(PAYERS, (_parent, { input }, context) => startPayment(deps(context), 'checkout_session', context.viewer, input, 'subscription')),
    changeOrderTrack: allow(PAYERS, (_parent, { input }, context) => changeOrderTrack(deps(context), context.viewer, input)),
    confirmPayment: allow(CONFIRMERS, (_parent, { input }, context) => confirmPayment(deps(context), context.viewer, input)),
  },
  CreateCheckoutSessionPayload: inheritAccess<CreateCheckoutSessionPayloadResolvers>({
    checkoutSessionId: (result) => result.attempt?.stripe_object_id ?? null,
    url: (result) => result.attempt?.url ?? null,
    expiresAt: (result) => (result.attempt?.expires_at ? new Date(result.attempt.expires_at).toISOString() : null),
  }),
  CreatePaymentIntentPayload: inheritAccess<CreatePaymentIntentPayloadResolvers>({
    paymentIntentId: (result) => result.attempt?.stripe_object_id ?? null,
    clientSecret: (result) => result.attempt?.client_secret ?? null,
  }),
  ConfirmPaymentPayload: inheritAccess({}),
  ChangeOrderTrackPayload: inheritAccess({}),
  PaymentError: inheritAccess({}),
};
