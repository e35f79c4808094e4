import { ShortId } from '../../../components/ShortId';
import { ActionButton } from '../../../components/ActionButton';
import { Badge, Fields, JsonBlock } from '../../../components/states';
import { formatDateTime, humanize } from '../../../lib/format';
import { StripeLink, type StripeMode } from '../../orders/components/OrderDetail';
import { orderUrl } from '../../orders/urls';
import type { OrphanedPaymentAction, OrphanedPaymentDetail as OrphanedPayment } from '../queries';
import { ACTION_LABELS, actionInWords, KIND_HINTS, kindInWords } from './words';

/** One action button's state, from the view that owns the mutation. */
export interface ResolveControl {
  /** The action was pressed and answered (its button stays, disabled, to keep the outcome in view). */
  answered: boolean;
  pending: boolean;
  error: string | null;
  success: string | null;
  onConfirm: (idempotencyKey: string, note?: string) => void;
}

const ORDER: OrphanedPaymentAction[] = ['ADOPT', 'CANCEL', 'DISMISS'];

/**
 * A finding with everything the janitor knows, and (when `actions` is given: admins) a button per
 * action the server says it allows now, each saying what it will do at Stripe before it is confirmed.
 */
export function OrphanedPaymentDetail({
  finding,
  stripeMode,
  actions,
}: {
  finding: OrphanedPayment;
  stripeMode: StripeMode;
  actions: Record<OrphanedPaymentAction, ResolveControl> | null;
}) {
  const shown = actions ? ORDER.filter((action) => finding.actions.includes(action) || actions[action].answered) : [];
  return (
    <>
      <p className="muted">{KIND_HINTS[finding.kind]}</p>
      <Fields
        rows={[
          ['Finding', kindInWords(finding.kind)],
          ['Status', <Badge key="s" value={finding.status} />],
          ['Stripe object', <StripeLink key="o" id={finding.stripeObjectId} mode={stripeMode} />],
          ['Stripe status', finding.stripeStatus ? finding.stripeStatus.replaceAll('_', ' ') : '—'],
          ['Amount (Stripe)', finding.amount?.formatted ?? '—'],
          [
            'Order',
            finding.order ? (
              <span key="order">
                <ShortId id={finding.order.id} href={orderUrl(finding.order.id)} />{' '}
                ({humanize(finding.order.status)}, {finding.order.amount.formatted})
              </span>
            ) : (
              'none'
            ),
          ],
          ['First seen', formatDateTime(finding.firstSeenAt)],
          ['Last checked', formatDateTime(finding.lastCheckedAt)],
          ['Checks', String(finding.checks)],
          ['Next check', finding.nextCheckAt ? formatDateTime(finding.nextCheckAt) : 'not scheduled'],
          ['Resolution', finding.resolution ?? '—'],
          ['Resolved by', finding.resolvedBy ?? '—'],
          ['Resolved', formatDateTime(finding.resolvedAt)],
        ]}
      />
      {actions === null && finding.actions.length > 0 && <p className="muted">Only an admin can adopt, cancel or dismiss a finding.</p>}
      {shown.length > 0 && (
        <div className="actions">
          {shown.map((action) => {
            const words = ACTION_LABELS[action];
            const control = actions![action];
            const allowed = finding.actions.includes(action);
            const explanation = actionInWords(action, finding);
            return (
              <ActionButton
                key={action}
                label={words.label}
                pendingLabel={words.pendingLabel}
                confirmTitle={words.confirmTitle}
                confirmBody={explanation}
                confirmLabel={words.label}
                description={explanation}
                variant={words.variant}
                disabledReason={allowed ? null : 'The finding has changed since: this action no longer applies.'}
                note={
                  action === 'DISMISS'
                    ? { label: 'Note (why it needs nothing more)', required: true, requiredMessage: 'Write a note: a finding is dismissed only with the reason why.' }
                    : undefined
                }
                pending={control.pending}
                error={control.error}
                success={control.success}
                onConfirm={control.onConfirm}
              />
            );
          })}
        </div>
      )}
      {/* Most findings carry nothing beyond their fields: an empty {} would only puzzle. */}
      {finding.details.trim() !== '{}' && (
        <>
          <h3>What the janitor saw</h3>
          <JsonBlock json={finding.details} label="Finding details" />
        </>
      )}
    </>
  );
}
