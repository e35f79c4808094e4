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
  /** With `note`, the note typed in the dialog (trimmed) comes too. */
  onConfirm: (idempotencyKey: string, note?: string) => void;
  /** What pressing it will do, in words, shown under the button (and read with it by screen readers). */
  description?: string;
  /** A note field in the confirmation dialog; a required one must be filled before the action is sent. */
  note?: { label: string; required: boolean; requiredMessage: string };
  /** Shown but not usable (e.g. the status changed since): says why beside the button. */
  disabledReason?: string | null;
  variant?: 'primary' | 'danger';
}

export function ActionButton(props: ActionButtonProps) {
  const [open, setOpen] = useState(false);
  const [note, setNote] = useState('');
  const [noteMissing, setNoteMissing] = useState(false);
  const key = useRef<string>('');
  const trigger = useRef<HTMLButtonElement>(null);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const titleId = useId();
  const bodyId = useId();
  const descriptionId = useId();
  const noteId = useId();
  const noteErrorId = useId();

  const noteRef = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    // With a note to write, the cursor starts in it; otherwise on the confirm button.
    if (open) (noteRef.current ?? confirmRef.current)?.focus();
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
        aria-describedby={props.description ? descriptionId : undefined}
        onClick={() => {
          key.current = newIdempotencyKey();
          setNote('');
          setNoteMissing(false);
          setOpen(true);
        }}
      >
        {props.pending ? props.pendingLabel : props.label}
      </button>
      {props.description && (
        <p id={descriptionId} className="action-description muted">
          {props.description}
        </p>
      )}
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
              // Keep Tab inside the dialog (its note, if any, and its two buttons) while it is open.
              if (event.key === 'Tab') {
                const buttons = Array.from(event.currentTarget.querySelectorAll<HTMLElement>('textarea, button'));
                const index = buttons.indexOf(document.activeElement as HTMLElement);
                const next = buttons[(index + (event.shiftKey ? -1 : 1) + buttons.length) % buttons.length];
                event.preventDefault();
                next?.focus();
              }
            }}
          >
            <h2 id={titleId}>{props.confirmTitle}</h2>
            <p id={bodyId}>{props.confirmBody}</p>
            {props.note && (
              <div className="dialog-note">
                <label htmlFor={noteId}>{props.note.label}</label>
                <textarea
                  ref={noteRef}
                  id={noteId}
                  rows={3}
                  maxLength={1000}
                  value={note}
                  aria-required={props.note.required}
                  aria-invalid={noteMissing}
                  aria-describedby={noteMissing ? noteErrorId : undefined}
                  onChange={(event) => {
                    setNote(event.target.value);
                    if (event.target.value.trim()) setNoteMissing(false);
                  }}
                />
                {noteMissing && (
                  <p id={noteErrorId} role="alert" className="action-error">
                    {props.note.requiredMessage}
                  </p>
                )}
              </div>
            )}
            <div className="dialog-buttons">
              <button type="button" onClick={close}>
                Cancel
              </button>
              <button
                ref={confirmRef}
                type="button"
                className={`button-${props.variant ?? 'primary'}`}
                onClick={() => {
                  const typed = note.trim();
                  // A required note left empty (or blank) sends nothing: the dialog stays open and says why.
                  if (props.note?.required && !typed) {
                    setNoteMissing(true);
                    return;
                  }
                  setOpen(false);
                  if (props.note) props.onConfirm(key.current, typed || undefined);
                  else props.onConfirm(key.current);
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
