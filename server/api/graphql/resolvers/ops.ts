import { STAFF_ROLES } from '../../../auth/viewer';
import { opsActivity, opsOverview } from '../../../ops/overview.sql';
import { allow, inheritAccess } from '../access';
import type { HourlyPaymentsResolvers, OpsAlertResolvers, PaymentBucketResolvers, Resolvers, StripeMode } from '../generated/resolvers-types';

export const opsResolvers: Resolvers = {
  Query: {
    opsOverview: allow(STAFF_ROLES, (_parent, _args, { db }) => opsOverview(db)),
    // The period is an enum: GraphQL refuses any other value before this runs (BAD_USER_INPUT).
    opsActivity: allow(STAFF_ROLES, (_parent, { period }, { db }) => opsActivity(db, period)),
    stripeMode: allow(STAFF_ROLES, (_parent, _args, { config }) => config.stripe.mode.toUpperCase() as StripeMode),
  },
  OpsOverview: inheritAccess({}),
  HourlyPayments: inheritAccess<HourlyPaymentsResolvers>({
    hour: (hour) => hour.hour.toISOString(),
  }),
  OpsActivity: inheritAccess({}),
  TrackRevenue: inheritAccess({}),
  PaymentBucket: inheritAccess<PaymentBucketResolvers>({
    start: (bucket) => bucket.start.toISOString(),
  }),
  OpsAlert: inheritAccess<OpsAlertResolvers>({
    since: (alert) => alert.since?.toISOString() ?? null,
  }),
};
