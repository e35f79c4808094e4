import { STAFF_ROLES } from '../../auth/viewer';
import { opsOverview } from '../../ops/overview.sql';
import { allow, inheritAccess } from '../access';
import type { HourlyPaymentsResolvers, Resolvers } from '../generated/resolvers-types';

export const opsResolvers: Resolvers = {
  Query: {
    opsOverview: allow(STAFF_ROLES, (_parent, _args, { db }) => opsOverview(db)),
  },
  OpsOverview: inheritAccess({}),
  HourlyPayments: inheritAccess<HourlyPaymentsResolvers>({
    hour: (hour) => hour.hour.toISOString(),
  }),
  OpsAlert: inheritAccess({}),
};
