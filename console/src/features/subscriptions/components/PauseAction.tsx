// Pause… on a subscription: a dialog with what Stripe does with the invoices made while paused
// (pause_collection.behavior), confirmed before anything is sent. Collection stays paused until Resume.
import { useEffect, useId, useRef, useState } from 'react';
import type { PauseBehavior } from '../../../api/generated/graphql';
import { PAUSE_BEHAVIORS, PAUSE_WORDS } from './subscriptionWords';
import type { PressControl } from './SwitchTrackAction';

export interface PauseDraft {
  behavior: PauseBehavior;
}

export function PauseAction({ email, control, disabledReason }: { email: string; control: PressControl<PauseDraft>; disabledReason: string | null }) {
  const [open, setOpen] = useState(false);
  const [behavior, setBehavior] = useState<PauseBehavior>('VOID');
  const trigger = useRef<HTMLButtonElement>(null);
  const selectRef = useRef<HTMLSelectElement>(null);
  const ids = { title: useId(), behavior: useId() };
  const locked = control.unfinished;

  useEffect(() => {
    if (open) selectRef.current?.focus();
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
        className="button-primary"
        disabled={control.pending || control.busy || Boolean(disabledReason)}
        title={disabledReason ?? undefined}
        aria-busy={control.pending}
        onClick={() => {
          control.onOpen();
          setBehavior('VOID');
          setOpen(true);
        }}
      >
        {control.pending ? 'Pausing…' : 'Pause…'}
      </button>
      {control.pending && (
        <span role="status" className="muted">
          Pausing…
        </span>
      )}
      {!control.pending && control.error && (
        <p role="alert" className="action-error">
          {control.error}
        </p>
      )}
      {!control.pending && !control.error && control.success && (
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
            onKeyDown={(event) => {
              if (event.key === 'Escape') close();
            }}
            onSubmit={(event) => {
              event.preventDefault();
              setOpen(false);
              control.onSubmit(locked ?? { behavior });
              trigger.current?.focus();
            }}
          >
            <h2 id={ids.title}>Pause this subscription?</h2>
            <p>Stripe stops collecting payment from {email} until the subscription is resumed. Its invoices go on being made:</p>
            <div className="dialog-note">
              <label htmlFor={ids.behavior}>While paused</label>
              <select ref={selectRef} id={ids.behavior} value={locked?.behavior ?? behavior} disabled={Boolean(locked)} onChange={(event) => setBehavior(event.target.value as PauseBehavior)}>
                {PAUSE_BEHAVIORS.map((value) => (
                  <option key={value} value={value}>
                    {PAUSE_WORDS[value]}
                  </option>
                ))}
              </select>
            </div>
            {locked && <p className="notice">Stripe has not answered this pause yet: press again to finish it (the same pause, never a second one).</p>}
            <div className="dialog-buttons">
              <button type="button" onClick={close}>
                Cancel
              </button>
              <button type="submit" className="button-primary">
                {locked ? 'Finish the pause' : 'Pause'}
              </button>
            </div>
          </form>
        </div>
      )}
    </div>
  );
}
