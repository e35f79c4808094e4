import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { useLiveRefresh } from '../../../lib/liveRefresh';
import { useId, useMemo, useState } from 'react';
import { loadedRows } from '../../../api/pagination';
import { DataTable } from '../../../components/DataTable';
import { DetailPanel } from '../../../components/DetailPanel';
import { enumOptions, FilterBar, type FilterField } from '../../../components/FilterBar';
import { ListStates, LoadMore, QueryContent } from '../../../components/states';
import { useListUrl } from '../../../lib/urlState';
import { useStripeMode } from '../../orders/queries';
import { disputeColumns } from '../components/DisputeColumns';
import { DisputeDetail } from '../components/DisputeDetail';
import { DUE_SOON_MS } from '../components/disputeWords';
import { DISPUTE_STATUSES, disputeDetailQuery, type DisputeFilter, disputesListQuery } from '../queries';
import { DUE_SOON, disputeListParams } from '../urls';

const FILTERS: FilterField[] = [
  { name: 'status', label: 'Status', kind: 'select', options: enumOptions(DISPUTE_STATUSES) },
  { name: 'due', label: 'Evidence due', kind: 'select', options: [{ value: DUE_SOON, label: 'Within 72 hours' }] },
];

/**
 * Disputes (chargebacks): open ones first, by evidence due date. Nothing is done here: evidence is
 * submitted in Stripe's dashboard, which each row links to. `open=du_…` (search, the order timeline)
 * opens one beside the list: a loaded row as it is, any other read by its id.
 */
export function DisputesPage() {
  const headingId = useId();
  const url = useListUrl(disputeListParams);
  // "Due within 72 hours" is counted from when the screen opened: a bound moving with every render
  // would make a new query key (and a request) each time.
  const [openedAt] = useState(() => Date.now());
  const dueSoon = url.values.due === DUE_SOON;
  const status = url.values.status as DisputeFilter['status'] | '';
  const filter = useMemo<DisputeFilter | undefined>(() => {
    const next: DisputeFilter = {
      ...(status ? { status } : {}),
      ...(dueSoon ? { evidenceDueBefore: new Date(openedAt + DUE_SOON_MS).toISOString() } : {}),
    };
    return Object.keys(next).length > 0 ? next : undefined;
  }, [status, dueSoon, openedAt]);
  const list = useInfiniteQuery({ ...disputesListQuery(filter), ...useLiveRefresh() });
  const rows = loadedRows(list.data);
  const stripeMode = useStripeMode();
  const open = url.open;
  const known = open ? rows.find((row) => row.id === open) : undefined;
  // Read by id only once the list is in and does not hold it.
  const detail = useQuery({ ...disputeDetailQuery(open), enabled: Boolean(open) && !known && !list.isPending });
  return (
    <div className={open ? 'with-detail' : undefined}>
      <section className="list" aria-labelledby={headingId}>
        <h1 id={headingId}>Disputes</h1>
        <p className="muted">
          Chargebacks of our payments: open ones first, soonest evidence deadline first. Evidence is submitted in Stripe's dashboard (each dispute links
          there); a dispute with less than 72 hours left is highlighted.
        </p>
        <FilterBar fields={FILTERS} values={url.values} onApply={url.applyFilters} />
        <ListStates list={list} shown={rows.length} what="disputes" empty={filter ? 'No disputes match these filters.' : 'No disputes: no payment has been disputed.'} />
        {rows.length > 0 && (
          <>
            <DataTable columns={disputeColumns(stripeMode)} rows={rows} openId={open} rowHref={url.rowHref} />
            <LoadMore list={list} shown={rows.length} />
          </>
        )}
      </section>
      {open && (
        <DetailPanel key={open} title="Dispute" closeHref={url.closeHref}>
          <QueryContent query={detail} known={known} what="the dispute" notFound={`No dispute has the id ${open}.`}>
            {(dispute) => <DisputeDetail dispute={dispute} stripeMode={stripeMode} />}
          </QueryContent>
        </DetailPanel>
      )}
    </div>
  );
}
