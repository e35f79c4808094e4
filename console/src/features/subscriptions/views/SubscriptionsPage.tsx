import { useState } from 'react';
import { describeError, GraphQLRequestError, newIdempotencyKey } from '../../../api/graphql';
import { useIsAdmin } from '../../../auth/viewer';
import { ActionButton } from '../../../components/ActionButton';
import { enumOptions, type FilterField } from '../../../components/FilterBar';
import { ListPage } from '../../../components/ListPage';
import { formatDateTime, humanize } from '../../../lib/format';
import { useListScreen } from '../../../lib/listScreen';
import { compact } from '../../../lib/urlState';
import { useStripeMode } from '../../orders/queries';
import { type SubscriptionAction, type SubscriptionActionInput, useSubscriptionAction } from '../mutations';
import {
  ENDED_STATUSES,
  SUBSCRIPTION_STATUSES,
  type SubscriptionDetail as Subscription,
  subscriptionDetailQuery,
  type SubscriptionFilter,
  subscriptionsListQuery,
  type SubscriptionTrack,
  useSubscriptionTracks,
} from '../queries';
import { subscriptionListParams } from '../urls';
import type { PauseDraft } from '../components/PauseAction';
import { PauseAction } from '../components/PauseAction';
import { subscriptionColumns } from '../components/SubscriptionColumns';
import { SubscriptionDetail } from '../components/SubscriptionDetail';
import { actionOutcomeInWords, subscriptionErrorInWords } from '../components/subscriptionWords';
import { type PressControl, type SwitchDraft, SwitchTrackAction } from '../components/SwitchTrackAction';

function filters(tracks: SubscriptionTrack[]): FilterField[] {
  return [
    { name: 'status', label: 'Status', kind: 'select', options: enumOptions(SUBSCRIPTION_STATUSES) },
    { name: 'track', label: 'Track', kind: 'select', options: tracks.map((t) => ({ value: t.id, label: t.name })) },
    { name: 'customer', label: 'Customer', kind: 'search', placeholder: 'Customer email or id', wide: true },
  ];
}

/** Subscriptions to the tracks, newest first; the open one shows its invoices and what the viewer may do to it. */
export function SubscriptionsPage() {
  const screen = useListScreen({
    params: subscriptionListParams,
    filter: (values) => compact({ status: values.status, track: values.track, customer: values.customer }) as SubscriptionFilter | undefined,
    listQuery: subscriptionsListQuery,
    detailQuery: subscriptionDetailQuery,
  });
  const { filter, url } = screen;
  const tracks = useSubscriptionTracks();
  const stripeMode = useStripeMode(Boolean(screen.detail.data));
  return (
    <ListPage
      title="Subscriptions"
      description="Monthly subscriptions to the tracks, newest first, as Stripe's webhooks keep them. Open one for its invoices and to switch, pause or cancel it."
      what="subscriptions"
      empty={filter ? 'No subscriptions match these filters.' : 'No subscriptions yet.'}
      searching={Boolean(filter?.customer)}
      screen={screen}
      filterFields={filters(tracks)}
      columns={subscriptionColumns}
      detail={{
        title: 'Subscription',
        what: 'the subscription',
        notFound: `No subscription has the id ${url.open}.`,
        children: (subscription) => <SubscriptionDetail subscription={subscription} stripeMode={stripeMode} actions={<SubscriptionActions subscription={subscription} tracks={tracks} />} />,
      }}
    />
  );
}

/**
 * The actions on the open subscription: Switch track…, Pause…, Resume and Cancel at period end for
 * support and admins, Cancel now for admins only. While one is in flight the others wait.
 */
function SubscriptionActions({ subscription, tracks }: { subscription: Subscription; tracks: SubscriptionTrack[] }) {
  const isAdmin = useIsAdmin();
  const id = subscription.id;
  const switchPress = usePress<SwitchDraft>('switch', (draft, idempotencyKey) => ({ action: 'switch', input: { idempotencyKey, subscriptionId: id, ...draft } }));
  const pausePress = usePress<PauseDraft>('pause', (draft, idempotencyKey) => ({ action: 'pause', input: { idempotencyKey, subscriptionId: id, behavior: draft.behavior } }));
  const resumePress = usePress<null>('resume', (_draft, idempotencyKey) => ({ action: 'resume', input: { idempotencyKey, subscriptionId: id } }));
  const cancelPress = usePress<null>('cancel', (_draft, idempotencyKey) => ({ action: 'cancel', input: { idempotencyKey, subscriptionId: id, atPeriodEnd: true } }));
  const cancelNowPress = usePress<null>('cancelNow', (_draft, idempotencyKey) => ({ action: 'cancel', input: { idempotencyKey, subscriptionId: id, atPeriodEnd: false } }));
  const busy = [switchPress, pausePress, resumePress, cancelPress, cancelNowPress].some((p) => p.pending);

  if (ENDED_STATUSES.has(subscription.status)) {
    return <p className="muted">This subscription is {humanize(subscription.status).toLowerCase()}: it has ended or never started, so nothing can be changed.</p>;
  }
  const paused = Boolean(subscription.pause);
  return (
    <div className="subscription-actions">
      <SwitchTrackAction subscription={subscription} tracks={tracks} control={switchPress.control(busy)} disabledReason={null} />
      <PauseAction email={subscription.customerEmail} control={pausePress.control(busy)} disabledReason={paused ? 'Collection is paused already: resume it first.' : null} />
      <PressButton
        press={resumePress}
        busy={busy}
        label="Resume"
        pendingLabel="Resuming…"
        confirmTitle="Resume this subscription?"
        confirmBody={`Stripe collects payment from ${subscription.customerEmail} again, from the next invoice.`}
        confirmLabel="Resume"
        disabledReason={paused ? null : 'Collection is not paused.'}
      />
      <PressButton
        press={cancelPress}
        busy={busy}
        label="Cancel at period end"
        pendingLabel="Cancelling…"
        confirmTitle="Cancel at the end of the period?"
        confirmBody={`The subscription of ${subscription.customerEmail} ends on ${formatDateTime(subscription.currentPeriodEnd)}; nothing is billed after that. Until then it stays as it is.`}
        confirmLabel="Cancel at period end"
        variant="danger"
        disabledReason={subscription.cancelAtPeriodEnd ? 'It is set to cancel at the end of the period already.' : null}
      />
      {isAdmin ? (
        <PressButton
          press={cancelNowPress}
          busy={busy}
          label="Cancel now"
          pendingLabel="Cancelling…"
          confirmTitle="Cancel this subscription now?"
          confirmBody={`The subscription of ${subscription.customerEmail} ends at once: no further invoices, and it cannot be resumed. The current period is not refunded here.`}
          confirmLabel="Cancel now"
          variant="danger"
          disabledReason={null}
        />
      ) : (
        <p className="muted">Only an admin can cancel at once.</p>
      )}
    </div>
  );
}

type Press<Draft> = ReturnType<typeof usePress<Draft>>;

/** An action without choices (Resume, the cancels): ActionButton's confirmation, and its key. */
function PressButton(props: { press: Press<null>; busy: boolean; label: string; pendingLabel: string; confirmTitle: string; confirmBody: string; confirmLabel: string; variant?: 'primary' | 'danger'; disabledReason: string | null }) {
  const control = props.press.control(props.busy);
  return (
    <ActionButton
      label={props.label}
      pendingLabel={props.pendingLabel}
      confirmTitle={props.confirmTitle}
      confirmBody={props.confirmBody}
      confirmLabel={props.confirmLabel}
      variant={props.variant}
      pending={control.pending}
      error={control.error}
      success={control.success}
      disabledReason={props.disabledReason ?? (props.busy && !control.pending ? 'Another change to this subscription is being made.' : null)}
      onConfirm={(key) => props.press.submit(null, key)}
    />
  );
}

/**
 * One action's mutation and key. One key per press; a press whose answer may not be final (Stripe could
 * not be reached, the request was lost on the way, or the same press is still at the server) is
 * pressed again with the same key and input, so the server finishes that change rather than claiming a
 * second. Any other answer ends the press.
 */
function usePress<Draft>(kind: SubscriptionAction | 'cancelNow', toRequest: (draft: Draft, idempotencyKey: string) => SubscriptionActionInput) {
  const mutation = useSubscriptionAction();
  const [unfinished, setUnfinished] = useState<{ key: string; draft: Draft } | null>(null);
  const payload = mutation.data;
  const submit = (typed: Draft, key?: string) => {
    const press = unfinished ?? { key: key ?? newIdempotencyKey(), draft: typed };
    setUnfinished(press);
    mutation.mutate(toRequest(press.draft, press.key), {
      onSuccess: (answer) => {
        if (answer.error?.code !== 'PAYMENT_PROVIDER_UNAVAILABLE') setUnfinished(null);
      },
      onError: (error) => {
        if (!isUnfinishedFailure(error)) setUnfinished(null);
      },
    });
  };
  return {
    pending: mutation.isPending,
    submit,
    control: (busy: boolean): PressControl<Draft> => ({
      pending: mutation.isPending,
      busy: busy && !mutation.isPending,
      error: mutation.isError ? describeError(mutation.error) : subscriptionErrorInWords(payload?.error),
      success: actionOutcomeInWords(kind, payload),
      unfinished: unfinished?.draft ?? null,
      onOpen: () => {
        if (!unfinished) mutation.reset();
      },
      onSubmit: (draft) => submit(draft),
    }),
  };
}

/** The request may have reached the server (a network failure, or the same press still in progress there). */
function isUnfinishedFailure(error: Error): boolean {
  if (error instanceof TypeError) return true;
  return error instanceof GraphQLRequestError && error.code === 'CONFLICT' && error.errors.some((e) => e.extensions?.reason === 'IDEMPOTENCY_KEY_IN_PROGRESS');
}
