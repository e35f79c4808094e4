import { queryOptions } from '@tanstack/react-query';
import { graphqlRequest } from '../../api/graphql';

/** The alert conditions, defined once on the server (server/ops/alerts.ts); the console has no thresholds. */
export type OpsAlertCode = 'SYNC_FAILURE_RATE' | 'WEBHOOK_LAG' | 'PAYMENT_FAILURE_RATE' | 'MAKE_DEAD' | 'WEBHOOK_FAILED' | 'ORPHANED_PAYMENTS' | 'PAYMENT_FINDINGS';

export interface OpsAlert {
  code: OpsAlertCode;
  title: string;
  message: string;
  /** When the alert job recorded the onset (ISO 8601); null until it has seen it hold. */
  since: string | null;
}

export interface OpsOverview {
  paymentsToday: number;
  failureRate: number;
  paymentsLast15Minutes: number;
  failedPaymentsLast15Minutes: number;
  syncFailureRate: number;
  webhookBacklog: number;
  webhookLagSeconds: number | null;
  webhookFailed: number;
  makeFailing: number;
  makeDead: number;
  hourly: Array<{ hour: string; succeeded: number; failed: number }>;
  /** The alerts that hold now: the banner lists them and they alone colour the tiles. */
  alerts: OpsAlert[];
}

export const opsOverviewQuery = queryOptions({
  queryKey: ['opsOverview'],
  queryFn: () =>
    graphqlRequest<{ opsOverview: OpsOverview }>(
      `query OpsOverview { opsOverview {
        paymentsToday failureRate paymentsLast15Minutes failedPaymentsLast15Minutes syncFailureRate
        webhookBacklog webhookLagSeconds webhookFailed makeFailing makeDead
        hourly { hour succeeded failed } alerts { code title message since }
      } }`,
    ).then((d) => d.opsOverview),
  // A support lead leaves this open: keep it current without a reload.
  refetchInterval: 30_000,
});
