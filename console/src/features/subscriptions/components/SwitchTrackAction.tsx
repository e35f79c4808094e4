// Switch track… on a subscription: a dialog where the new track and the proration behaviour are
// picked, Stripe's preview of the switch is shown (each proration line, what is due now, the next
// invoice), and Confirm sends the switch with that preview's proration date and price, so what is
// charged is what was shown. The view owns the mutation and the idempotency key (one per press of Confirm; a press
// Stripe could not be reached for is pressed again with the same key and input).
import { useEffect, useId, useRef, useState } from 'react';
import type { ProrationBehavior } from '../../../api/generated/graphql';
import { describeError } from '../../../api/graphql';
import { Fields } from '../../../components/states';
import { formatDateTime } from '../../../lib/format';
import { formatMinor } from '../../../lib/money';
import { type SwitchPreview, useSwitchPreview } from '../mutations';
import { perInterval, type SubscriptionRow, type SubscriptionTrack } from '../queries';
import { PRORATION_BEHAVIORS, PRORATION_WORDS, subscriptionErrorInWords } from './subscriptionWords';

/** What Confirm sends beside the key and the subscription's id. */
export interface SwitchDraft {
  track: string;
  /** The preview's price (id and amount): the server refuses a price changed since as PREVIEW_EXPIRED. */
  priceId: string;
  unitAmount: number;
  prorationDate: string;
  prorationBehavior: ProrationBehavior;
}

export interface PressControl<Draft> {
  pending: boolean;
  /** Another of the subscription's actions is in flight: this one waits. */
  busy: boolean;
  error: string | null;
  success: string | null;
  /** A press Stripe could not complete: pressed again, it sends this input with the same key. */
  unfinished: Draft | null;
  /** The dialog opens: the last press's outcome is no longer news (kept for an unfinished press). */
  onOpen: () => void;
  onSubmit: (draft: Draft) => void;
}

/** Stripe's period of a line: "7 Dec – 6 Jan" would hide the year; the UTC dates as elsewhere. */
const period = (start: string, end: string) => `${formatDateTime(start).slice(0, 10)} – ${formatDateTime(end).slice(0, 10)}`;

export function SwitchTrackAction({ subscription, tracks, control, disabledReason }: { subscription: SubscriptionRow; tracks: SubscriptionTrack[]; control: PressControl<SwitchDraft>; disabledReason: string | null }) {
  const others = tracks.filter((t) => t.id !== subscription.track);
  const [open, setOpen] = useState(false);
  const [track, setTrack] = useState('');
  const [behavior, setBehavior] = useState<ProrationBehavior>('CREATE_PRORATIONS');
  const preview = useSwitchPreview();
  const trigger = useRef<HTMLButtonElement>(null);
  const trackRef = useRef<HTMLSelectElement>(null);
  const ids = { title: useId(), track: useId(), behavior: useId(), confirm: useId() };
  const locked = control.unfinished;

  // An answer without an error ends the press: close the dialog and say what was done beside the button.
  const wasPending = useRef(false);
  useEffect(() => {
    if (wasPending.current && !control.pending && control.success && !control.error) setOpen(false);
    wasPending.current = control.pending;
  }, [control.pending, control.success, control.error]);

  useEffect(() => {
    if (open) trackRef.current?.focus();
  }, [open]);

  const ask = (to: string) => {
    setTrack(to);
    preview.reset();
    if (to) preview.mutate({ subscriptionId: subscription.id, track: to });
  };

  const close = () => {
    setOpen(false);
    trigger.current?.focus();
  };

  const shown: SwitchPreview | null = preview.data?.preview && preview.data.preview.toTrack === track ? preview.data.preview : null;
  const previewError = preview.isError ? describeError(preview.error) : subscriptionErrorInWords(preview.data?.error);
  const chosenBehavior = locked?.prorationBehavior ?? behavior;
  const newTrack = tracks.find((t) => t.id === (locked?.track ?? track));
  const noOther = others.length === 0 && tracks.length > 0;
  const reason = disabledReason ?? (noOther ? 'There is no other track to switch to.' : null);

  return (
    <div className="action">
      <button
        ref={trigger}
        type="button"
        className="button-primary"
        disabled={control.pending || control.busy || Boolean(reason)}
        title={reason ?? undefined}
        aria-busy={control.pending}
        onClick={() => {
          control.onOpen();
          setBehavior('CREATE_PRORATIONS');
          setOpen(true);
          // The first other track is previewed at once: the dialog opens on what a switch would cost.
          ask(locked?.track ?? others[0]?.id ?? '');
        }}
      >
        {control.pending ? 'Switching…' : 'Switch track…'}
      </button>
      {!open && control.pending && (
        <span role="status" className="muted">
          Switching…
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
            className="dialog refund-dialog switch-dialog"
            noValidate
            onKeyDown={(event) => {
              if (event.key === 'Escape' && !control.pending) close();
            }}
            onSubmit={(event) => {
              event.preventDefault();
              if (control.pending) return;
              if (locked) control.onSubmit(locked);
              else if (shown) control.onSubmit({ track: shown.toTrack, priceId: shown.price.id, unitAmount: shown.price.unitAmount.amount, prorationDate: shown.prorationDate, prorationBehavior: behavior });
            }}
          >
            <h2 id={ids.title}>Switch track</h2>
            <p className="muted">
              {subscription.customerEmail} is on {subscription.trackName ?? subscription.track ?? 'a price not ours'}
              {subscription.price ? ` at ${perInterval(subscription.price.unitAmount.formatted, subscription.price.recurringInterval)}` : ''}.
            </p>
            <div className="dialog-note">
              <label htmlFor={ids.track}>New track</label>
              <select ref={trackRef} id={ids.track} value={locked?.track ?? track} disabled={control.pending || Boolean(locked)} onChange={(event) => ask(event.target.value)}>
                {others.map((t) => (
                  <option key={t.id} value={t.id}>
                    {t.name} ({t.price})
                  </option>
                ))}
              </select>
            </div>
            <div className="dialog-note">
              <label htmlFor={ids.behavior}>Proration behaviour</label>
              <select id={ids.behavior} value={chosenBehavior} disabled={control.pending || Boolean(locked)} onChange={(event) => setBehavior(event.target.value as ProrationBehavior)}>
                {PRORATION_BEHAVIORS.map((value) => (
                  <option key={value} value={value}>
                    {PRORATION_WORDS[value]}
                  </option>
                ))}
              </select>
            </div>
            {preview.isPending && (
              <p role="status" className="muted">
                Asking Stripe for the preview…
              </p>
            )}
            {!preview.isPending && previewError && (
              <p role="alert" className="action-error">
                {previewError}
              </p>
            )}
            {shown && !locked && <PreviewFigures preview={shown} behavior={behavior} />}
            {(shown || locked) && newTrack && (
              <p id={ids.confirm} className="refund-confirmation" aria-live="polite">
                <strong>
                  Switch {subscription.customerEmail} to {newTrack.name} ({newTrack.price})
                </strong>
                . {confirmationTail(chosenBehavior, shown)}
              </p>
            )}
            {locked && !control.pending && (
              <p className="notice">Stripe has not answered this switch yet: press again to finish it (the same switch, never a second one).</p>
            )}
            {control.pending && (
              <p role="status" className="muted">
                Switching…
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
              {!locked && (
                <button type="button" onClick={() => ask(track)} disabled={control.pending || preview.isPending || !track}>
                  Preview again
                </button>
              )}
              <button type="submit" className="button-primary" disabled={control.pending || (!locked && (!shown || preview.isPending))} aria-describedby={shown || locked ? ids.confirm : undefined}>
                {control.pending ? 'Switching…' : locked ? 'Finish the switch' : 'Confirm switch'}
              </button>
            </div>
          </form>
        </div>
      )}
    </div>
  );
}

function confirmationTail(behavior: ProrationBehavior, preview: SwitchPreview | null): string {
  switch (behavior) {
    case 'ALWAYS_INVOICE':
      return preview ? `${preview.amountDueNow.formatted} is charged to the customer's card now.` : "The difference is charged to the customer's card now.";
    case 'NONE':
      return 'Nothing is prorated: the new price is billed from the next period.';
    default:
      return preview ? `The prorations (${preview.prorationTotal.formatted}) go on the next invoice.` : 'The prorations go on the next invoice.';
  }
}

/** The preview: each proration line, what is due now and the next invoice, for the behaviour chosen. */
function PreviewFigures({ preview, behavior }: { preview: SwitchPreview; behavior: ProrationBehavior }) {
  const currency = preview.amountDueNow.currency;
  const newPrice = perInterval(preview.price.unitAmount.formatted, preview.price.recurringInterval);
  const dueNow = behavior === 'ALWAYS_INVOICE' ? preview.amountDueNow.formatted : formatMinor(0, currency);
  const next = behavior === 'CREATE_PRORATIONS' ? preview.nextInvoiceAmount.formatted : `${preview.price.unitAmount.formatted} (the new price, no prorations)`;
  return (
    <div className="switch-preview">
      <h3>Preview</h3>
      <table className="compact" aria-label="Proration lines">
        <thead>
          <tr>
            <th scope="col">Line</th>
            <th scope="col">Period (UTC)</th>
            <th scope="col" className="num">
              Amount
            </th>
          </tr>
        </thead>
        <tbody>
          {preview.lines.length === 0 && (
            <tr>
              <td colSpan={3} className="muted">
                No prorations.
              </td>
            </tr>
          )}
          {preview.lines.map((line, index) => (
            <tr key={`${index}-${line.periodStart}`}>
              <td>{line.description ?? 'Proration'}</td>
              <td className="nowrap">{period(line.periodStart, line.periodEnd)}</td>
              <td className="num">{line.amount.formatted}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <Fields
        rows={[
          ['Amount due now', dueNow],
          ['Next invoice', next],
          ['New price', newPrice],
          ['Prorated as of', formatDateTime(preview.prorationDate)],
        ]}
      />
      {behavior === 'ALWAYS_INVOICE' && preview.creditApplied.amount > 0 && (
        <p className="muted">{preview.creditApplied.formatted} of the customer's credit balance is used first.</p>
      )}
      {behavior !== 'ALWAYS_INVOICE' && preview.amountDueNow.amount > 0 && (
        <p className="muted">With “{PRORATION_WORDS.ALWAYS_INVOICE}”, {preview.amountDueNow.formatted} would be charged now.</p>
      )}
    </div>
  );
}
