// The payment request service (issue 20): see service.ts for the types and the model, and
// docs/payment-requests.md. Built by the composition root with this server's Stripe client and pay
// link. Each operation lives in its own module; this object only wires them.
import type Stripe from 'stripe';
import type { Db } from '../platform/db/db';
import type { Logger } from '../platform/observability/logger';
import { isStaff, isUuid, mayRead } from './access';
import { cancelPaymentRequest } from './cancel';
import { createPaymentRequest } from './create';
import { expireDuePaymentRequests } from './expire';
import { payMemberShare } from './payShare';
import { findRequest, listRequests, membersOf, shareByTokenHash } from './read.sql';
import { remindPaymentRequest } from './remind';
import { creatorOf, type PaymentRequests } from './service';
import { hashPayToken, isPayTokenShape } from './tokens';

export interface PaymentRequestDeps {
  db: Db;
  stripe: Stripe;
  logger: Logger;
  /**
   * PAYMENT_REQUEST_PAY_URL with the token in place of {token} (the demo storefront's pay page in
   * sandbox mode); null when not configured (live mode without it): create and remind are refused.
   */
  payUrl: ((token: string) => string) | null;
  /** Stripe's clock (ms): the sandbox's in sandbox mode. */
  now: () => number;
}

export function createPaymentRequests(deps: PaymentRequestDeps): PaymentRequests {
  return {
    create: (viewer, input) => createPaymentRequest(deps, viewer, input),
    payShare: (token, key) => payMemberShare(deps, token, key),
    cancel: (viewer, id, key) => cancelPaymentRequest(deps, viewer, id, key),
    remind: (viewer, id, key) => remindPaymentRequest(deps, viewer, id, key),
    async find(viewer, id) {
      if (!isUuid(id)) return null;
      const request = await findRequest(deps.db, id);
      return request && mayRead(viewer, request) ? request : null;
    },
    // Staff list every request (or one creator's when asked); anyone else their own only.
    list: (viewer, options) => listRequests(deps.db, { ...options, createdBy: isStaff(viewer) ? (options.createdBy ?? null) : creatorOf(viewer) }),
    members: (requestId) => (isUuid(requestId) ? membersOf(deps.db, requestId) : Promise.resolve([])),
    shareByToken: (token) => (isPayTokenShape(token) ? shareByTokenHash(deps.db, hashPayToken(token)) : Promise.resolve(null)),
    expireDue: (now) => expireDuePaymentRequests({ ...deps, actor: 'janitor' }, now),
  };
}
