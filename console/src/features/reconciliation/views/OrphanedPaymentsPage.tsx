import { describeError } from '../../../api/graphql';
import { useIsAdmin } from '../../../auth/viewer';
import { enumOptions, type FilterField } from '../../../components/FilterBar';
import { ListPage } from '../../../components/ListPage';
import { humanize } from '../../../lib/format';
import { useListScreen } from '../../../lib/listScreen';
import { useStripeMode } from '../../orders/queries';
import { orphanedPaymentColumns } from '../components/OrphanedPaymentColumns';
import { OrphanedPaymentDetail, type ResolveControl } from '../components/OrphanedPaymentDetail';
import { kindInWords, reconciliationErrorInWords } from '../components/words';
import { useResolveOrphanedPayment } from '../mutations';
import { ORPHAN_KINDS, ORPHAN_STATUSES, type OrphanedPaymentAction, type OrphanedPaymentDetail as OrphanedPayment, type OrphanedPaymentFilter, orphanedPaymentDetailQuery, orphanedPaymentsListQuery } from '../queries';
import { ANY_STATUS, orphanedPaymentListParams } from '../urls';

const FILTERS: FilterField[] = [
  { name: 'status', label: 'Status', kind: 'select', options: enumOptions(ORPHAN_STATUSES) },
  { name: 'kind', label: 'Kind', kind: 'select', options: enumOptions(ORPHAN_KINDS, kindInWords) },
];

type Status = OrphanedPaymentFilter['status'];

/** No `status` in the URL means open findings (what needs a person); `status=ALL` means any. */
function filterFromUrl(values: { status: string; kind: string }): OrphanedPaymentFilter | undefined {
  const status = values.status === ANY_STATUS ? undefined : ((values.status || 'OPEN') as Status);
  const kind = (values.kind || undefined) as OrphanedPaymentFilter['kind'];
  return status || kind ? { ...(status ? { status } : {}), ...(kind ? { kind } : {}) } : undefined;
}

export function OrphanedPaymentsPage() {
  const listScreen = useListScreen({
    params: orphanedPaymentListParams,
    filter: filterFromUrl,
    listQuery: orphanedPaymentsListQuery,
    detailQuery: orphanedPaymentDetailQuery,
  });
  const { url } = listScreen;
  // The filter bar shows the default (Open) when the URL says nothing, and "Any" for status=ALL; its
  // choices are written back the same way, so the URL stays short for the usual view.
  const screen = {
    ...listScreen,
    url: {
      ...url,
      values: { ...url.values, status: url.values.status === ANY_STATUS ? '' : url.values.status || 'OPEN' },
      applyFilters: (next: Record<string, string>) =>
        url.applyFilters({ ...next, ...('status' in next ? { status: next.status === 'OPEN' ? '' : next.status || ANY_STATUS } : {}) }),
    },
  };
  const stripeMode = useStripeMode();
  const status = listScreen.filter?.status;
  return (
    <ListPage
      title="Orphaned payments"
      description="What reconciliation found for a person to settle: payments at Stripe we have no record of, orders Stripe never settled, attempts without a Stripe object. Newest first."
      what="findings"
      empty={status === 'OPEN' && !listScreen.filter?.kind ? 'No open findings: reconciliation has nothing for a person to settle.' : 'No findings match these filters.'}
      screen={screen}
      filterFields={FILTERS}
      columns={orphanedPaymentColumns(stripeMode)}
      detail={{
        title: 'Finding',
        what: 'the finding',
        notFound: `No finding has the id ${url.open}.`,
        children: (finding) => <ResolvableFinding finding={finding} stripeMode={stripeMode} />,
      }}
    />
  );
}

const DONE: Record<OrphanedPaymentAction, string> = {
  ADOPT: 'Adopted',
  CANCEL: 'Cancelled at Stripe',
  DISMISS: 'Dismissed',
};

function useResolveControl(action: OrphanedPaymentAction, finding: OrphanedPayment): ResolveControl {
  const mutation = useResolveOrphanedPayment(action);
  const payload = mutation.data;
  const done = payload && !payload.error;
  let success: string | null = null;
  if (done) {
    const prefix = payload.isRepeat ? 'Already done for this press' : DONE[action];
    success =
      action === 'ADOPT' && payload.order
        ? `${prefix}: the payment is recorded on order ${payload.order.id}, now ${humanize(payload.order.status).toLowerCase()}.`
        : `${prefix}: the finding is ${(payload.orphanedPayment?.status ?? 'RESOLVED').toLowerCase()}.`;
  }
  return {
    answered: Boolean(payload),
    pending: mutation.isPending,
    error: mutation.isError ? describeError(mutation.error) : reconciliationErrorInWords(payload?.error),
    success,
    onConfirm: (idempotencyKey, note) => mutation.mutate({ id: finding.id, idempotencyKey, ...(note ? { note } : {}) }),
  };
}

/** The open finding with its actions (admins only); the panel is made afresh per finding, so are the outcomes. */
function ResolvableFinding({ finding, stripeMode }: { finding: OrphanedPayment; stripeMode: 'test' | 'live' }) {
  const isAdmin = useIsAdmin();
  const adopt = useResolveControl('ADOPT', finding);
  const cancel = useResolveControl('CANCEL', finding);
  const dismiss = useResolveControl('DISMISS', finding);
  return <OrphanedPaymentDetail finding={finding} stripeMode={stripeMode} actions={isAdmin ? { ADOPT: adopt, CANCEL: cancel, DISMISS: dismiss } : null} />;
}
