// A button that changes something: asks for confirmation, is disabled and shows progress while the
// mutation is in flight, and shows the outcome (the server's typed error in words, or what was done).
// The idempotency key is made when the dialog opens, once per press: the mutation's automatic retries
// of a network failure send the same key, so the server never acts twice for one press.
import { useEffect, useId, useRef, useState } from 'react';
import { newIdempotencyKey } from '../api/graphql';

export interface ActionButtonProps {
  label: string;
  pendingLabel: string;
  confirmTitle: string;
  confirmBody: string;
  confirmLabel: string;
  pending: boolean;
  /** What went wrong, in words; shown as an alert. */
  error?: string | null;
  /** What was done, in words. */
  success?: string | null;
  onConfirm: (idempotencyKey: string) => void;
  /** Shown but not usable (e.g. the status changed since): says why beside the button. */
  disabledReason?: string | null;
  variant?: 'primary' | 'danger';
}

export function ActionButton(props: ActionButtonProps) {
  const [open, setOpen] = useState(false);
  const key = useRef<string>('');
  const trigger = useRef<HTMLButtonElement>(null);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const titleId = useId();
  const bodyId = useId();

  useEffect(() => {
    if (open) confirmRef.current?.focus();
  }, [open]);

  const close = () => {
    setOpen(false);
    trigger.current?.focus();
  };

  return (
    <div className="action">
      <button
        ref={trigger}
        type="button"
        className={`button-${props.variant ?? 'primary'}`}
        disabled={props.pending || Boolean(props.disabledReason)}
        title={props.disabledReason ?? undefined}
        aria-busy={props.pending}
        onClick={() => {
          key.current = newIdempotencyKey();
          setOpen(true);
        }}
      >
        {props.pending ? props.pendingLabel : props.label}
      </button>
      {props.pending && (
        <span role="status" className="muted">
          {props.pendingLabel}
        </span>
      )}
      {!props.pending && props.error && (
        <p role="alert" className="action-error">
          {props.error}
        </p>
      )}
      {!props.pending && !props.error && props.success && (
        <p role="status" className="action-success">
          {props.success}
        </p>
      )}
      {open && (
        <div className="dialog-backdrop">
          <div
            role="dialog"
            aria-modal="true"
            aria-labelledby={titleId}
            aria-describedby={bodyId}
            className="dialog"
            onKeyDown={(event) => {
              if (event.key === 'Escape') close();
              // Keep Tab inside the dialog (its two buttons) while it is open.
              if (event.key === 'Tab') {
                const buttons = Array.from(event.currentTarget.querySelectorAll('button'));
                const index = buttons.indexOf(document.activeElement as HTMLButtonElement);
                const next = buttons[(index + (event.shiftKey ? -1 : 1) + buttons.length) % buttons.length];
                event.preventDefault();
                next?.focus();
              }
            }}
          >
            <h2 id={titleId}>{props.confirmTitle}</h2>
            <p id={bodyId}>{props.confirmBody}</p>
            <div className="dialog-buttons">
              <button type="button" onClick={close}>
                Cancel
              </button>
              <button
                ref={confirmRef}
                type="button"
                className={`button-${props.variant ?? 'primary'}`}
                onClick={() => {
                  setOpen(false);
                  props.onConfirm(key.current);
                  trigger.current?.focus();
                }}
              >
                {props.confirmLabel}
              </button>
            </div>
          </div>
        </div>
      )}
    </div>
  );
}
