import { queryOptions } from '@tanstack/react-query';
import { graphqlRequest } from '../../api/graphql';

export interface OpsOverview {
  paymentsToday: number;
  failureRate: number;
  syncFailureRate: number;
  webhookBacklog: number;
  webhookLagSeconds: number | null;
  makeFailing: number;
  makeDead: number;
  hourly: Array<{ hour: string; succeeded: number; failed: number }>;
  alerts: Array<{ code: string; message: string }>;
}

export const opsOverviewQuery = queryOptions({
  queryKey: ['opsOverview'],
  queryFn: () =>
    graphqlRequest<{ opsOverview: OpsOverview }>(
      `query OpsOverview { opsOverview {
        paymentsToday failureRate syncFailureRate webhookBacklog webhookLagSeconds makeFailing makeDead
        hourly { hour succeeded failed } alerts { code message }
      } }`,
    ).then((d) => d.opsOverview),
  // A support lead leaves this open: keep it current without a reload.
  refetchInterval: 30_000,
});
