// The order page's reads: the order (the Orders screen's detail query) and its timeline, a keyset list
// of its own, newest first. Both are under orderKeys.all, so a sync or a refund reads them again.
import { graphqlRequest } from '../../api/graphql';
import { type OrderTimelineQuery, OrderTimelineDocument } from '../../api/generated/graphql';
import { type Connection, keysetListOptions } from '../../api/pagination';

export type TimelineEntry = NonNullable<OrderTimelineQuery['order']>['timeline']['nodes'][number];

export const TIMELINE_PAGE_SIZE = 50;

export const orderTimelineKey = (id: string) => ['orders', 'timeline', id] as const;

const NO_ENTRIES: Connection<TimelineEntry> = { nodes: [], pageInfo: { hasNextPage: false, endCursor: null } };

export const orderTimelineQuery = (id: string) =>
  keysetListOptions(orderTimelineKey(id), (after) =>
    // An order that is not there has no timeline; the page says so from the order query.
    graphqlRequest(OrderTimelineDocument, { id, first: TIMELINE_PAGE_SIZE, after }).then((d) => d.order?.timeline ?? NO_ENTRIES),
  );
