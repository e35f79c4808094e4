import { describeError } from '../../../api/graphql';
import { enumOptions, type FilterField } from '../../../components/FilterBar';
import { ListPage } from '../../../components/ListPage';
import { useListScreen } from '../../../lib/listScreen';
import { compact } from '../../../lib/urlState';
import { type ActionControl, MakeDeliveryDetail } from '../components/MakeDeliveryDetail';
import { makeDeliveryColumns } from '../components/MakeDeliveryColumns';
import { type MakeAction, makeActionErrorInWords, useMakeDeliveryAction } from '../mutations';
import { MAKE_KINDS, MAKE_STATUSES, type MakeDeliveryDetail as MakeDelivery, type MakeDeliveryFilter, makeDeliveriesListQuery, makeDeliveryDetailQuery } from '../queries';
import { makeDeliveryListParams } from '../urls';

const FILTERS: FilterField[] = [
  { name: 'status', label: 'Status', kind: 'select', options: enumOptions(MAKE_STATUSES) },
  { name: 'kind', label: 'Kind', kind: 'select', options: enumOptions(MAKE_KINDS) },
];

export function MakeDeliveriesPage() {
  const screen = useListScreen({
    params: makeDeliveryListParams,
    filter: (values) => compact(values) as MakeDeliveryFilter | undefined,
    listQuery: makeDeliveriesListQuery,
    detailQuery: makeDeliveryDetailQuery,
  });
  const { filter, url } = screen;
  return (
    <ListPage
      title="Make deliveries"
      description="What the outbox sent (or is sending) to Make.com scenarios, newest first."
      what="Make deliveries"
      empty={filter ? 'No deliveries match these filters.' : 'Nothing has been sent to Make yet.'}
      screen={screen}
      filterFields={FILTERS}
      columns={makeDeliveryColumns}
      detail={{
        title: 'Make delivery',
        what: 'the delivery',
        notFound: `No delivery has the id ${url.open}.`,
        children: (delivery) => <ActionableDelivery delivery={delivery} />,
      }}
    />
  );
}

function useActionControl(action: MakeAction, delivery: MakeDelivery, verb: string): ActionControl {
  const mutation = useMakeDeliveryAction(action);
  const payload = mutation.data;
  return {
    answered: Boolean(payload),
    pending: mutation.isPending,
    error: mutation.isError ? describeError(mutation.error) : makeActionErrorInWords(action, payload),
    // The status as the panel shows it now (it keeps polling while the outbox works), not as it was
    // when the server answered the press.
    success: payload?.delivery ? `${payload.isRepeat ? 'Already done for this press' : verb}: the delivery is now ${delivery.status.toLowerCase()}.` : null,
    onConfirm: (idempotencyKey) => mutation.mutate({ id: delivery.id, idempotencyKey }),
  };
}

/** The open delivery with its retry and replay; the panel is made afresh per delivery, so are their outcomes. */
function ActionableDelivery({ delivery }: { delivery: MakeDelivery }) {
  const retry = useActionControl('retry', delivery, 'Sent for retry');
  const replay = useActionControl('replay', delivery, 'Replayed');
  return <MakeDeliveryDetail delivery={delivery} actions={{ retry, replay }} />;
}
