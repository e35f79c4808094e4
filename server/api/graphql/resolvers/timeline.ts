// An order's timeline (issue 22): Order.timeline, staff only, a keyset page of entries merged from
// every source (server/timeline/). The cursor is the last entry's (at, entry id), checked before
// anything is read.
import { STAFF_ROLES } from '../../../auth/viewer';
import { timelineEntry } from '../../../timeline/summary';
import { TIMELINE_ENTRY_ID, orderTimeline } from '../../../timeline/timeline.sql';
import { allow, inheritAccess } from '../access';
import type { OrderResolvers, Resolvers } from '../generated/resolvers-types';
import { encodeCursor, parsePage } from '../pagination';

export const timelineResolvers: Resolvers = {
  Order: {
    timeline: allow(STAFF_ROLES, async (order, args, { db }) => {
      const { first, after } = parsePage(args, TIMELINE_ENTRY_ID, 'Order.timeline');
      const page = await orderTimeline(db, order.id, { first, after });
      const last = page.rows.at(-1);
      return {
        nodes: page.rows.map((row) => timelineEntry(row, order.id)),
        pageInfo: { hasNextPage: page.hasNextPage, endCursor: last ? encodeCursor({ createdUs: last.at_us, id: last.entry_id }) : null },
      };
    }),
  } satisfies OrderResolvers,
  OrderTimelineConnection: inheritAccess({}),
  TimelineEntry: inheritAccess({}),
  TimelineActor: inheritAccess({}),
  TimelineLink: inheritAccess({}),
};
