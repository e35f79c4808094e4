import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { describeError } from '../../api/graphql';
import { ActionButton } from '../../components/ActionButton';
import { DetailPanel } from '../../components/DetailPanel';
import { FilterBar, type FilterField } from '../../components/FilterBar';
import { Badge, Empty, Fields, JsonBlock, ListStates, LoadMore, QueryContent } from '../../components/states';
import { formatDateTime, formatTableTime, humanize } from '../../lib/format';
import { compact, openHref, useUrlState } from '../../lib/urlState';
import { makeActionErrorInWords, useMakeDeliveryAction } from './mutations';
import { MAKE_KINDS, MAKE_STATUSES, type MakeDeliveryDetail, type MakeDeliveryFilter, makeDeliveriesListQuery, makeDeliveryDetailQuery } from './queries';

const FIELDS: FilterField[] = [
  { name: 'status', label: 'Status', kind: 'select', options: MAKE_STATUSES.map((s) => ({ value: s, label: humanize(s) })) },
  { name: 'kind', label: 'Kind', kind: 'select', options: MAKE_KINDS.map((k) => ({ value: k, label: humanize(k) })) },
];
const KEYS = ['status', 'kind'] as const;

function lastAnswer(row: { lastStatusCode: number | null; lastError: string | null; attempts: number }): string {
  if (row.attempts === 0) return 'not tried yet';
  if (row.lastStatusCode !== null) return `HTTP ${row.lastStatusCode}${row.lastError ? `: ${row.lastError}` : ''}`;
  return row.lastError ?? 'no answer';
}

export function MakeDeliveriesPage() {
  const { values, open, params, update } = useUrlState(KEYS);
  const filter = compact(values) as MakeDeliveryFilter | undefined;
  const list = useInfiniteQuery(makeDeliveriesListQuery(filter));
  const rows = list.data?.pages.flatMap((page) => page.nodes) ?? [];

  return (
    <div className={open ? 'with-detail' : undefined}>
      <section className="list" aria-labelledby="make-heading">
        <h1 id="make-heading">Make deliveries</h1>
        <p className="muted">What the outbox sent (or is sending) to Make.com scenarios, newest first.</p>
        <FilterBar fields={FIELDS} values={values} onApply={(next) => update({ ...next, open: null })} />
        <ListStates list={list} shown={rows.length} what="Make deliveries" empty={filter ? 'No deliveries match these filters.' : 'Nothing has been sent to Make yet.'} />
        {rows.length > 0 && (
          <>
            <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Delivery</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Status</th>
                  <th scope="col">Attempts</th>
                  <th scope="col" className="optional">Next attempt (UTC)</th>
                  <th scope="col">Last answer</th>
                  <th scope="col" className="optional">Enqueued (UTC)</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => (
                  <tr key={row.id} className={row.id === open ? 'selected' : undefined} aria-selected={row.id === open}>
                    <td>
                      <Link to={openHref(params, row.id)} className="mono" aria-label={`Delivery ${row.id}`}>
                        {row.id.slice(0, 8)}…
                      </Link>
                    </td>
                    <td>{humanize(row.kind)}</td>
                    <td>
                      <Badge value={row.status} />
                    </td>
                    <td>{row.attempts}</td>
                    <td className="nowrap optional">{formatTableTime(row.nextAttemptAt)}</td>
                    <td className="truncate" title={lastAnswer(row)}>
                      {lastAnswer(row)}
                    </td>
                    <td className="nowrap optional">{formatTableTime(row.createdAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            </div>
            <LoadMore list={list} shown={rows.length} />
          </>
        )}
      </section>
      {open && <MakeDeliveryDetailPanel key={open} id={open} />}
    </div>
  );
}

function MakeDeliveryDetailPanel({ id }: { id: string }) {
  const detail = useQuery(makeDeliveryDetailQuery(id));
  return (
    <DetailPanel title="Make delivery">
      <QueryContent query={detail} what="the delivery" notFound={`No delivery has the id ${id}.`}>
        {(delivery) => <MakeDeliveryDetailView delivery={delivery} />}
      </QueryContent>
    </DetailPanel>
  );
}

function MakeDeliveryDetailView({ delivery }: { delivery: MakeDeliveryDetail }) {
  const retry = useMakeDeliveryAction('retry');
  const replay = useMakeDeliveryAction('replay');
  const canRetry = delivery.status === 'PENDING' || delivery.status === 'DEAD';
  const canReplay = delivery.status === 'DELIVERED' || delivery.status === 'DEAD';
  // The status as the panel shows it now (it keeps polling while the outbox works), not as it was
  // when the server answered the press.
  const done = (payload: { delivery: MakeDeliveryDetail | null; replayed: boolean } | undefined, verb: string) =>
    payload?.delivery ? `${payload.replayed ? 'Already done for this press' : verb}: the delivery is now ${delivery.status.toLowerCase()}.` : null;

  return (
    <>
      <Fields
        rows={[
          ['Delivery id', <span key="id" className="mono">{delivery.id}</span>],
          ['Kind', humanize(delivery.kind)],
          ['Status', <Badge key="s" value={delivery.status} />],
          ['Order', delivery.orderId ? <Link to={`/orders?open=${encodeURIComponent(delivery.orderId)}`} className="mono">{delivery.orderId}</Link> : '—'],
          ['Subject', delivery.subjectId ? <span className="mono">{delivery.subjectId}</span> : '—'],
          ['Attempts', String(delivery.attempts)],
          ['Replays', String(delivery.replays)],
          ['Next attempt', formatDateTime(delivery.nextAttemptAt)],
          ['Last answer', lastAnswer(delivery)],
          ['Enqueued', formatDateTime(delivery.createdAt)],
          ['Delivered', formatDateTime(delivery.deliveredAt)],
          ['Dead since', formatDateTime(delivery.deadAt)],
        ]}
      />
      <div className="actions">
        {/* After an action the status changes: the button stays (disabled) so its outcome stays in view. */}
        {(canRetry || retry.data) && (
          <ActionButton
            disabledReason={canRetry ? null : 'Only a pending or dead delivery can be retried.'}
            label="Retry now"
            pendingLabel="Retrying…"
            confirmTitle="Retry this delivery now?"
            confirmBody="The outbox sends it to Make now, with the same delivery id, and starts a fresh retry window."
            confirmLabel="Retry now"
            pending={retry.isPending}
            error={retry.isError ? describeError(retry.error) : makeActionErrorInWords('retry', retry.data)}
            success={done(retry.data, 'Sent for retry')}
            onConfirm={(idempotencyKey) => retry.mutate({ id: delivery.id, idempotencyKey })}
          />
        )}
        {(canReplay || replay.data) && (
          <ActionButton
            disabledReason={canReplay ? null : 'Only a delivered or dead delivery can be replayed.'}
            label="Replay"
            pendingLabel="Replaying…"
            confirmTitle="Send this delivery to Make again?"
            confirmBody="Make gets the same body with the same delivery id. Scenarios drop repeats by that id, so make sure the scenario wants it again."
            confirmLabel="Replay"
            variant="danger"
            pending={replay.isPending}
            error={replay.isError ? describeError(replay.error) : makeActionErrorInWords('replay', replay.data)}
            success={done(replay.data, 'Replayed')}
            onConfirm={(idempotencyKey) => replay.mutate({ id: delivery.id, idempotencyKey })}
          />
        )}
      </div>
      {delivery.lastResponse && (
        <>
          <h3>Make&apos;s last answer</h3>
          <pre className="json">{delivery.lastResponse}</pre>
        </>
      )}
      <h3>Attempts</h3>
      {delivery.attemptLog.length === 0 ? (
        <Empty>No attempt yet.</Empty>
      ) : (
        <table className="compact">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Started</th>
              <th scope="col">Answer</th>
              <th scope="col">Took</th>
              <th scope="col">Outcome</th>
            </tr>
          </thead>
          <tbody>
            {delivery.attemptLog.map((attempt) => (
              <tr key={attempt.attempt}>
                <td>{attempt.attempt}</td>
                <td>{formatDateTime(attempt.startedAt)}</td>
                <td className="truncate" title={attempt.error ?? attempt.response ?? ''}>
                  {attempt.statusCode !== null ? `HTTP ${attempt.statusCode}` : 'no answer'}
                  {attempt.error ? `: ${attempt.error}` : ''}
                </td>
                <td>{attempt.latencyMs} ms</td>
                <td>
                  <Badge value={attempt.outcome} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Payload</h3>
      <JsonBlock json={delivery.payload} label="Delivery payload" />
    </>
  );
}
