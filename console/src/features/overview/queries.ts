import { queryOptions } from '@tanstack/react-query';
import { graphqlRequest } from '../../api/graphql';
import { OpsActivityDocument, type OpsActivityQuery, OpsOverviewDocument, type OpsOverviewQuery } from '../../api/generated/graphql';
import { LIVE_REFRESH_MS } from '../../lib/liveRefresh';

export type OpsOverview = OpsOverviewQuery['opsOverview'];
/** The alert conditions, defined once on the server (server/ops/alerts.ts); the console has no thresholds. */
export type OpsAlertCode = OpsOverview['alerts'][number]['code'];

export const opsOverviewQuery = queryOptions({
  queryKey: ['opsOverview'],
  queryFn: () => graphqlRequest(OpsOverviewDocument).then((d) => d.opsOverview),
  // A support lead leaves this open: keep it current without a reload (lib/liveRefresh.ts), while visible.
  refetchInterval: LIVE_REFRESH_MS,
  refetchIntervalInBackground: false,
});

export type OpsPeriod = OpsActivityQuery['opsActivity']['period'];
export type OpsActivity = OpsActivityQuery['opsActivity'];
export type PaymentBucket = OpsActivity['buckets'][number];

/** The chart's buckets and the revenue by track for one period (24 h, 7 d, 30 d), live like the figures. */
export const opsActivityQuery = (period: OpsPeriod) =>
  queryOptions({
    queryKey: ['opsOverview', 'activity', period],
    queryFn: () => graphqlRequest(OpsActivityDocument, { period }).then((d) => d.opsActivity),
    refetchInterval: LIVE_REFRESH_MS,
    refetchIntervalInBackground: false,
  });
