// The order's timeline (issue 22): everything that happened to it, newest first, merged by the server
// from every source (Order.timeline). Each entry says what happened in words, when (relative and the
// UTC time), by whom or what, and links to where its detail is: a console screen and the Stripe object.
import type { InfiniteData, UseInfiniteQueryResult } from '@tanstack/react-query';
import { Link, useLocation } from 'react-router';
import { type Connection, loadedRows } from '../../../api/pagination';
import { Badge, ListStates, LoadMore } from '../../../components/states';
import { formatDateTime } from '../../../lib/format';
import { formatRelative, useNow } from '../../../lib/relativeTime';
import type { TimelineEntry } from '../timelineQueries';
import { StripeLink, type StripeMode } from './OrderDetail';
import { actorInWords, TIMELINE_KIND_WORDS, TIMELINE_LINK_WORDS } from './timelineWords';

export function OrderTimeline({ list, stripeMode }: { list: UseInfiniteQueryResult<InfiniteData<Connection<TimelineEntry>>>; stripeMode: StripeMode }) {
  const entries = loadedRows(list.data);
  const now = useNow();
  return (
    <>
      <ListStates list={list} shown={entries.length} what="the timeline" empty="Nothing has happened to this order yet." />
      {entries.length > 0 && (
        <>
          <ol className="timeline" aria-label="Timeline, newest first">
            {entries.map((entry) => (
              <TimelineItem key={entry.id} entry={entry} stripeMode={stripeMode} now={now} />
            ))}
          </ol>
          <LoadMore list={list} shown={entries.length} />
        </>
      )}
    </>
  );
}

function TimelineItem({ entry, stripeMode, now }: { entry: TimelineEntry; stripeMode: StripeMode; now: Date }) {
  const here = useLocation().pathname;
  // A refund's route is this order's page: no link to where we are.
  const route = entry.link.route && entry.link.route !== here ? entry.link.route : null;
  return (
    <li className={`timeline-entry timeline-${entry.kind.toLowerCase().replaceAll('_', '-')}`} data-entry-id={entry.id}>
      <div className="timeline-when">
        <time dateTime={entry.at} title={formatDateTime(entry.at)}>
          {formatRelative(entry.at, now)}
        </time>
        <span className="muted">{formatDateTime(entry.at)}</span>
      </div>
      <div className="timeline-body">
        <div className="timeline-head">
          <span className="timeline-kind">{TIMELINE_KIND_WORDS[entry.kind]}</span>
          {entry.status && <Badge value={entry.status} />}
          {entry.amount && <strong>{entry.amount.formatted}</strong>}
        </div>
        <p className="timeline-summary">{entry.summary}</p>
        <div className="timeline-foot muted">
          <span>by {actorInWords(entry.actor)}</span>
          {route && <Link to={route}>{TIMELINE_LINK_WORDS[entry.kind]} →</Link>}
          {entry.link.stripeObjectId && <StripeLink id={entry.link.stripeObjectId} mode={stripeMode} short />}
        </div>
      </div>
    </li>
  );
}
