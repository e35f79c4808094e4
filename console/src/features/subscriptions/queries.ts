import { queryOptions, useQuery } from '@tanstack/react-query';
import {
  type SubscriptionInvoicesFragment,
  type SubscriptionRowFragment,
  SubscriptionDocument,
  SubscriptionsDocument,
  type SubscriptionsQueryVariables,
  SubscriptionTracksDocument,
} from '../../api/generated/graphql';
import { graphqlRequest } from '../../api/graphql';
import { keysetListOptions, PAGE_SIZE } from '../../api/pagination';
import { SubscriptionStatusValues } from '../../api/generated/enums';

export type { SubscriptionRowFragment as SubscriptionRow } from '../../api/generated/graphql';
/** The open subscription: its row and its invoices. */
export type SubscriptionDetail = SubscriptionRowFragment & SubscriptionInvoicesFragment;
export type SubscriptionInvoice = SubscriptionInvoicesFragment['invoices'][number];
export type SubscriptionFilter = NonNullable<SubscriptionsQueryVariables['filter']>;

/** The filter's menu: the schema's values, generated (api/generated/enums.ts). */
export const SUBSCRIPTION_STATUSES = SubscriptionStatusValues;

/** Stripe refuses every change to these: they have ended or never started. */
export const ENDED_STATUSES: ReadonlySet<SubscriptionRowFragment['status']> = new Set(['CANCELED', 'INCOMPLETE', 'INCOMPLETE_EXPIRED']);

export const subscriptionKeys = {
  all: ['subscriptions'] as const,
  list: (filter: SubscriptionFilter | undefined) => ['subscriptions', 'list', filter ?? {}] as const,
  detail: (id: string) => ['subscriptions', 'detail', id] as const,
};

export const subscriptionsListQuery = (filter: SubscriptionFilter | undefined) =>
  keysetListOptions(subscriptionKeys.list(filter), (after) => graphqlRequest(SubscriptionsDocument, { filter, first: PAGE_SIZE, after }).then((d) => d.subscriptions));

export const subscriptionDetailQuery = (id: string) =>
  queryOptions({
    queryKey: subscriptionKeys.detail(id),
    queryFn: () => graphqlRequest(SubscriptionDocument, { id }).then((d) => d.subscription),
  });

/** A track a subscription can be on: a product with a recurring price. */
export interface SubscriptionTrack {
  id: string;
  name: string;
  /** "$99.00 / month". */
  price: string;
}

export const subscriptionTracksQuery = queryOptions({
  queryKey: ['pricing', 'subscriptionTracks'],
  queryFn: () =>
    graphqlRequest(SubscriptionTracksDocument).then((d) =>
      d.pricing.flatMap((product): SubscriptionTrack[] => {
        const monthly = product.prices.find((p) => p.kind === 'RECURRING');
        return monthly ? [{ id: product.id, name: product.name, price: perInterval(monthly.unitAmount.formatted, monthly.recurringInterval) }] : [];
      }),
    ),
  // The catalog changes with a migration, not while the screen is open.
  staleTime: 5 * 60_000,
});

export function useSubscriptionTracks(): SubscriptionTrack[] {
  return useQuery(subscriptionTracksQuery).data ?? [];
}

/** "$99.00 / month"; a price without an interval (one-time) as it is. */
export function perInterval(formatted: string, interval: string | null | undefined): string {
  return interval ? `${formatted} / ${interval}` : formatted;
}
