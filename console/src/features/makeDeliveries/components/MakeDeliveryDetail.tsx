import { ShortId } from '../../../components/ShortId';
import { ActionButton } from '../../../components/ActionButton';
import { Badge, Empty, Fields, JsonBlock } from '../../../components/states';
import { formatDateTime, humanize } from '../../../lib/format';
import { orderUrl } from '../../orders/urls';
import type { MakeAction } from '../mutations';
import type { MakeDeliveryDetail as MakeDelivery } from '../queries';
import { lastAnswer } from './lastAnswer';

/** One action button's state, from the view that owns the mutation. */
export interface ActionControl {
  /** The action was pressed and answered (its button stays, disabled, to keep the outcome in view). */
  answered: boolean;
  pending: boolean;
  error: string | null;
  success: string | null;
  onConfirm: (idempotencyKey: string) => void;
}

const BUTTONS: Record<MakeAction, { allowed: (status: MakeDelivery['status']) => boolean; disabledReason: string; label: string; pendingLabel: string; confirmTitle: string; confirmBody: string; variant: 'primary' | 'danger' }> = {
  retry: {
    allowed: (status) => status === 'PENDING' || status === 'DEAD',
    disabledReason: 'Only a pending or dead delivery can be retried.',
    label: 'Retry now',
    pendingLabel: 'Retrying…',
    confirmTitle: 'Retry this delivery now?',
    confirmBody: 'The outbox sends it to Make now, with the same delivery id, and starts a fresh retry window.',
    variant: 'primary',
  },
  replay: {
    allowed: (status) => status === 'DELIVERED' || status === 'DEAD',
    disabledReason: 'Only a delivered or dead delivery can be replayed.',
    label: 'Replay',
    pendingLabel: 'Replaying…',
    confirmTitle: 'Send this delivery to Make again?',
    confirmBody: 'Make gets the same body with the same delivery id. Scenarios drop repeats by that id, so make sure the scenario wants it again.',
    variant: 'danger',
  },
};

export function MakeDeliveryDetail({ delivery, actions }: { delivery: MakeDelivery; actions: Record<MakeAction, ActionControl> }) {
  return (
    <>
      <Fields
        rows={[
          ['Delivery id', <ShortId key="id" id={delivery.id} />],
          ['Kind', humanize(delivery.kind)],
          ['Status', <Badge key="s" value={delivery.status} />],
          ['Order', delivery.orderId ? <ShortId id={delivery.orderId} href={orderUrl(delivery.orderId)} /> : '—'],
          ['Subject', delivery.subjectId ? <ShortId id={delivery.subjectId} /> : '—'],
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
        {(['retry', 'replay'] as const).map((action) => {
          const button = BUTTONS[action];
          const control = actions[action];
          const allowed = button.allowed(delivery.status);
          // After an action the status changes: the button stays (disabled) so its outcome stays in view.
          if (!allowed && !control.answered) return null;
          return (
            <ActionButton
              key={action}
              disabledReason={allowed ? null : button.disabledReason}
              label={button.label}
              pendingLabel={button.pendingLabel}
              confirmTitle={button.confirmTitle}
              confirmBody={button.confirmBody}
              confirmLabel={button.label}
              variant={button.variant}
              pending={control.pending}
              error={control.error}
              success={control.success}
              onConfirm={control.onConfirm}
            />
          );
        })}
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
