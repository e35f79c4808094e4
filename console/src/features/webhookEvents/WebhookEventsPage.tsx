import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { describeError } from '../../api/graphql';
import { useIsAdmin } from '../../auth/viewer';
import { ActionButton } from '../../components/ActionButton';
import { DetailPanel } from '../../components/DetailPanel';
import { FilterBar, type FilterField } from '../../components/FilterBar';
import { Badge, Fields, JsonBlock, ListStates, LoadMore, QueryContent } from '../../components/states';
import { breakAtDots, formatDateTime, formatTableTime, humanize } from '../../lib/format';
import { compact, openHref, useUrlState } from '../../lib/urlState';
import { replayErrorInWords, useReplayWebhookEvent } from './mutations';
import { WEBHOOK_EVENT_STATUSES, type WebhookEventDetail, type WebhookEventFilter, webhookEventDetailQuery, webhookEventsListQuery } from './queries';

const FIELDS: FilterField[] = [
  { name: 'status', label: 'Status', kind: 'select', options: WEBHOOK_EVENT_STATUSES.map((s) => ({ value: s, label: humanize(s) })) },
  { name: 'type', label: 'Event type', kind: 'text', placeholder: 'payment_intent.succeeded' },
  { name: 'objectId', label: 'Object id', kind: 'text', placeholder: 'pi_…' },
];
const KEYS = ['status', 'type', 'objectId'] as const;

export function WebhookEventsPage() {
  const { values, open, params, update } = useUrlState(KEYS);
  const filter = compact(values) as WebhookEventFilter | undefined;
  const list = useInfiniteQuery(webhookEventsListQuery(filter));
  const rows = list.data?.pages.flatMap((page) => page.nodes) ?? [];

  return (
    <div className={open ? 'with-detail' : undefined}>
      <section className="list" aria-labelledby="webhook-events-heading">
        <h1 id="webhook-events-heading">Webhook events</h1>
        <p className="muted">Stripe events as our endpoint stored them, newest first, and what the applier made of each.</p>
        <FilterBar fields={FIELDS} values={values} onApply={(next) => update({ ...next, open: null })} />
        <ListStates list={list} shown={rows.length} what="webhook events" empty={filter ? 'No webhook events match these filters.' : 'No webhook events have been received yet.'} />
        {rows.length > 0 && (
          <>
            <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Event</th>
                  <th scope="col">Type</th>
                  <th scope="col">Object</th>
                  <th scope="col">Status</th>
                  <th scope="col" className="optional">Attempts</th>
                  <th scope="col" className="optional">Created (UTC)</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => (
                  <tr key={row.id} className={row.id === open ? 'selected' : undefined} aria-selected={row.id === open}>
                    <td>
                      <Link to={openHref(params, row.id)} className="mono id-cell" title={row.id}>
                        {row.id}
                      </Link>
                    </td>
                    <td className="mono">{breakAtDots(row.type)}</td>
                    <td>
                      <span className="mono id-cell" title={row.objectId ?? undefined}>
                        {row.objectId ?? '—'}
                      </span>
                    </td>
                    <td>
                      <Badge value={row.status} />
                    </td>
                    <td className="optional">{row.attempts}</td>
                    <td className="nowrap optional">{formatTableTime(row.created)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            </div>
            <LoadMore list={list} shown={rows.length} />
          </>
        )}
      </section>
      {open && <WebhookEventDetailPanel key={open} id={open} />}
    </div>
  );
}

function WebhookEventDetailPanel({ id }: { id: string }) {
  const detail = useQuery(webhookEventDetailQuery(id));
  return (
    <DetailPanel title={`Event ${id}`}>
      <QueryContent query={detail} what="the event" notFound={`No stored event has the id ${id}.`}>
        {(event) => <WebhookEventView event={event} />}
      </QueryContent>
    </DetailPanel>
  );
}

function WebhookEventView({ event }: { event: WebhookEventDetail }) {
  const isAdmin = useIsAdmin();
  const replay = useReplayWebhookEvent();
  const replayError = replay.isError ? describeError(replay.error) : replayErrorInWords(replay.data?.error ?? null);

  return (
    <>
      <Fields
        rows={[
          ['Status', <Badge key="s" value={event.status} />],
          ['Type', <span key="t" className="mono">{event.type}</span>],
          ['Object', event.objectId ? <span className="mono">{`${event.objectType ?? 'object'} ${event.objectId}`}</span> : '—'],
          ['Created (Stripe)', formatDateTime(event.created)],
          ['Received', formatDateTime(event.receivedAt)],
          ['Applied', formatDateTime(event.appliedAt)],
          ['Failed', formatDateTime(event.failedAt)],
          ['Attempts', String(event.attempts)],
          ['Next attempt', formatDateTime(event.nextAttemptAt)],
          ['Outcome', event.outcome ?? '—'],
          ['Ignored because', event.ignoredReason ?? '—'],
          ['Last error', event.lastError ? <span className="error-text">{event.lastError}</span> : '—'],
          ['Mode', event.livemode ? 'live' : 'test'],
          ['API version', event.apiVersion ?? '—'],
        ]}
      />
      {isAdmin && event.payload !== null && (
        <ActionButton
          label="Replay event"
          pendingLabel="Replaying…"
          confirmTitle="Replay this event?"
          confirmBody={`The applier applies ${event.id} (${event.type}) again now. An event that was applied changes nothing; one that failed or was ignored is tried again.`}
          confirmLabel="Replay"
          pending={replay.isPending}
          error={replayError}
          success={replay.data?.event ? `Replayed: the event is now ${replay.data.event.status.toLowerCase()}.` : null}
          onConfirm={(idempotencyKey) => replay.mutate({ id: event.id, idempotencyKey })}
        />
      )}
      <h3>Payload</h3>
      {event.payload === null ? (
        <p className="muted">Dropped by retention after the configured days (RETENTION_WEBHOOK_PAYLOAD_DAYS); the event's record above is kept. Without its payload the event cannot be replayed.</p>
      ) : (
        <JsonBlock json={event.payload} label="Raw payload" />
      )}
    </>
  );
}
