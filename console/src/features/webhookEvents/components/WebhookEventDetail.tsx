import { ShortId } from '../../../components/ShortId';
import { ActionButton } from '../../../components/ActionButton';
import { Badge, Fields, JsonBlock } from '../../../components/states';
import { formatDateTime } from '../../../lib/format';
import type { WebhookEventDetail as WebhookEvent } from '../queries';

/** The replay button's state, from the view that owns the mutation. */
export interface ReplayControl {
  pending: boolean;
  error: string | null;
  success: string | null;
  onConfirm: (idempotencyKey: string) => void;
}

/** A stored event, and (when `replay` is given: admins) its replay button. */
export function WebhookEventDetail({ event, replay }: { event: WebhookEvent; replay: ReplayControl | null }) {
  return (
    <>
      <Fields
        rows={[
          ['Status', <Badge key="s" value={event.status} />],
          ['Type', <span key="t" className="mono">{event.type}</span>],
          [
            'Object',
            event.objectId ? (
              <span key="o">
                {event.objectType ?? 'object'} <ShortId id={event.objectId} />
              </span>
            ) : (
              '—'
            ),
          ],
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
      {replay && event.payload !== null && (
        <ActionButton
          label="Replay event"
          pendingLabel="Replaying…"
          confirmTitle="Replay this event?"
          confirmBody={`The applier applies ${event.id} (${event.type}) again now. An event that was applied changes nothing; one that failed or was ignored is tried again.`}
          confirmLabel="Replay"
          pending={replay.pending}
          error={replay.error}
          success={replay.success}
          onConfirm={replay.onConfirm}
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
