import { STAFF_ROLES } from '../../../auth/viewer';
import { opsOverview } from '../../../ops/overview.sql';
import { allow, inheritAccess } from '../access';
import type { HourlyPaymentsResolvers, OpsAlertResolvers, Resolvers, StripeMode } from '../generated/resolvers-types';

export const opsResolvers: Resolvers = {
  Query: {
    opsOverview: allow(STAFF_ROLES, (_parent, _args, { db }) => opsOverview(db)),
    stripeMode: allow(STAFF_ROLES, (_parent, _args, { config }) => config.stripe.mode.toUpperCase() as StripeMode),
  },
  OpsOverview: inheritAccess({}),
  HourlyPayments: inheritAccess<HourlyPaymentsResolvers>({
    hour: (hour) => hour.hour.toISOString(),
  }),
  OpsAlert: inheritAccess<OpsAlertResolvers>({
    since: (alert) => alert.since?.toISOString() ?? null,
  }),
};
