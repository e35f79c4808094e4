// Refund… on an order (admins): a dialog with the amount (prefilled to what may still be refunded,
// checked as it is typed), the reason, a note, and the confirmation in words before anything is sent.
// The view owns the mutation and the idempotency key: one key per press, and a press Stripe could not
// complete (the refund kept as creating) is pressed again with the same key and the same input, so
// the fields are locked until it is completed.
import { useEffect, useId, useRef, useState } from 'react';
import type { RefundReason } from '../../../api/generated/graphql';
import { checkRefundAmount, formatMinor, minorToInput } from '../../../lib/money';
import type { OrderDetail } from '../queries';
import { REASON_WORDS, REFUND_REASONS, refundConfirmation } from './refundWords';

export const NOTE_MAX = 500;

export interface RefundDraft {
  /** In the order's minor unit. */
  amount: number;
  reason: RefundReason;
  note: string;
}

export interface RefundControl {
  pending: boolean;
  error: string | null;
  success: string | null;
  /** A press Stripe could not complete: pressed again, it sends this input with the same key. */
  unfinished: RefundDraft | null;
  onSubmit: (draft: RefundDraft) => void;
  /** The dialog opens: the last press's outcome is no longer news (kept for an unfinished press). */
  onOpen?: () => void;
}

export function RefundAction({ order, control }: { order: OrderDetail; control: RefundControl }) {
  const currency = order.refundableAmount.currency;
  const refundable = order.refundableAmount.amount;
  const [open, setOpen] = useState(false);
  const [amountText, setAmountText] = useState('');
  const [reason, setReason] = useState<RefundReason>('REQUESTED_BY_CUSTOMER');
  const [note, setNote] = useState('');
  const trigger = useRef<HTMLButtonElement>(null);
  const amountRef = useRef<HTMLInputElement>(null);
  const ids = { title: useId(), amount: useId(), amountError: useId(), reason: useId(), note: useId(), noteCount: useId(), confirm: useId() };

  const locked = control.unfinished;
  const check = locked ? ({ ok: true, minor: locked.amount } as const) : checkRefundAmount(amountText, currency, refundable);

  // An answer without an error ends the press: close the dialog and say what was done beside the button.
  const wasPending = useRef(false);
  useEffect(() => {
    if (wasPending.current && !control.pending && control.success && !control.error) setOpen(false);
    wasPending.current = control.pending;
  }, [control.pending, control.success, control.error]);

  useEffect(() => {
    if (open) amountRef.current?.focus();
  }, [open]);

  const close = () => {
    setOpen(false);
    trigger.current?.focus();
  };

  const nothingLeft = refundable <= 0 && !locked;
  // After a reload the press's key is gone, but a refund still creating holds its amount: say so, not
  // that the order is unpaid or refunded in full. A new press cannot complete that one (it has another
  // key); Stripe's notice or the janitor settles it within minutes, and frees the amount if not made.
  // A dispute Stripe will not refund through (lost, or open and not refundable) makes the server's
  // refundable amount 0 too: that is the reason to give, not an unpaid order.
  const nothingLeftWords = order.disputes.some((d) => d.status === 'LOST' || (d.isOpen && !d.isChargeRefundable))
    ? 'Nothing may be refunded: Stripe does not refund a disputed payment (the dispute is open, or lost).'
    : order.refunds.some((r) => r.status === 'CREATING')
      ? 'Nothing may be refunded now: the amount is held by a refund in progress. Stripe or the janitor settles it within minutes; if it was not made, Refund… is offered again.'
      : 'Nothing may be refunded: the order is not paid, or refunded in full.';
  return (
    <div className="action">
      <button
        ref={trigger}
        type="button"
        className="button-danger"
        disabled={control.pending || nothingLeft}
        title={nothingLeft ? nothingLeftWords : undefined}
        aria-busy={control.pending}
        onClick={() => {
          // Each opening starts from what may be refunded now (the order may have changed since).
          setAmountText(minorToInput(refundable, currency));
          setReason('REQUESTED_BY_CUSTOMER');
          setNote('');
          control.onOpen?.();
          setOpen(true);
        }}
      >
        {control.pending ? 'Refunding…' : 'Refund…'}
      </button>
      {nothingLeft && <p className="action-description muted">{nothingLeftWords}</p>}
      {!open && control.pending && (
        <span role="status" className="muted">
          Refunding…
        </span>
      )}
      {!open && !control.pending && control.error && (
        <p role="alert" className="action-error">
          {control.error}
        </p>
      )}
      {!open && !control.pending && !control.error && control.success && (
        <p role="status" className="action-success">
          {control.success}
        </p>
      )}
      {open && (
        <div className="dialog-backdrop">
          <form
            role="dialog"
            aria-modal="true"
            aria-labelledby={ids.title}
            className="dialog refund-dialog"
            noValidate
            onKeyDown={(event) => {
              if (event.key === 'Escape' && !control.pending) close();
            }}
            onSubmit={(event) => {
              event.preventDefault();
              if (control.pending || !check.ok) return;
              control.onSubmit(locked ?? { amount: check.minor, reason, note: note.trim() });
            }}
          >
            <h2 id={ids.title}>Refund this order?</h2>
            <p className="muted">
              {order.refundableAmount.formatted} of {order.amount.formatted} may still be refunded.
            </p>
            <div className="dialog-note">
              <label htmlFor={ids.amount}>Amount ({currency.toUpperCase()})</label>
              <input
                ref={amountRef}
                id={ids.amount}
                type="text"
                inputMode="decimal"
                autoComplete="off"
                value={locked ? minorToInput(locked.amount, currency) : amountText}
                readOnly={Boolean(locked)}
                disabled={control.pending}
                aria-invalid={!check.ok}
                aria-describedby={!check.ok ? ids.amountError : undefined}
                onChange={(event) => setAmountText(event.target.value)}
              />
              {!check.ok && (
                <p id={ids.amountError} className="action-error" aria-live="polite">
                  {check.message}
                </p>
              )}
            </div>
            <div className="dialog-note">
              <label htmlFor={ids.reason}>Reason</label>
              <select id={ids.reason} value={locked?.reason ?? reason} disabled={control.pending || Boolean(locked)} onChange={(event) => setReason(event.target.value as RefundReason)}>
                {REFUND_REASONS.map((value) => (
                  <option key={value} value={value}>
                    {REASON_WORDS[value]}
                  </option>
                ))}
              </select>
            </div>
            <div className="dialog-note">
              <label htmlFor={ids.note}>Note (for the audit log, not sent to Stripe)</label>
              <textarea
                id={ids.note}
                rows={2}
                maxLength={NOTE_MAX}
                value={locked ? locked.note : note}
                readOnly={Boolean(locked)}
                disabled={control.pending}
                aria-describedby={ids.noteCount}
                onChange={(event) => setNote(event.target.value)}
              />
              <span id={ids.noteCount} className="muted refund-note-count">
                {(locked ? locked.note : note).length} / {NOTE_MAX}
              </span>
            </div>
            {check.ok && (
              <p id={ids.confirm} className="refund-confirmation" aria-live="polite">
                <strong>{refundConfirmation(formatMinor(check.minor, currency), order.amount.formatted, order.customer.email)}</strong>. Stripe returns the money to
                the customer's payment method; a refund cannot be undone.
              </p>
            )}
            {locked && !control.pending && (
              <p className="notice">This refund is kept as creating until Stripe answers: press again to complete it (the same refund, never a second one).</p>
            )}
            {control.pending && (
              <p role="status" className="muted">
                Refunding…
              </p>
            )}
            {!control.pending && control.error && (
              <p role="alert" className="action-error">
                {control.error}
              </p>
            )}
            <div className="dialog-buttons">
              <button type="button" onClick={close} disabled={control.pending}>
                Cancel
              </button>
              <button type="submit" className="button-danger" disabled={control.pending || !check.ok} aria-describedby={check.ok ? ids.confirm : undefined}>
                {control.pending ? 'Refunding…' : locked ? 'Complete the refund' : check.ok ? `Refund ${formatMinor(check.minor, currency)}` : 'Refund'}
              </button>
            </div>
          </form>
        </div>
      )}
    </div>
  );
}
