import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { DetailPanel } from '../../components/DetailPanel';
import { FilterBar, type FilterField } from '../../components/FilterBar';
import { Badge, Fields, JsonBlock, ListStates, LoadMore, Loading, QueryContent } from '../../components/states';
import { breakAtDots, formatDateTime, formatTableTime } from '../../lib/format';
import { compact, openHref, useUrlState } from '../../lib/urlState';
import { dayRange, type PaymentLog, paymentLogDetailQuery, type PaymentLogFilter, paymentLogsListQuery } from './queries';

const FIELDS: FilterField[] = [
  { name: 'q', label: 'Search', kind: 'search', placeholder: 'Order id, pi_…, cs_… or customer email', wide: true },
  { name: 'eventType', label: 'Event type', kind: 'text', placeholder: 'payment.paid' },
  { name: 'status', label: 'Status', kind: 'text', placeholder: 'succeeded' },
  { name: 'customerId', label: 'Customer id', kind: 'text' },
  { name: 'from', label: 'From (UTC day)', kind: 'date' },
  { name: 'to', label: 'To (UTC day, inclusive)', kind: 'date' },
];
const KEYS = ['q', 'eventType', 'status', 'customerId', 'from', 'to'] as const;

export function PaymentLogsPage() {
  const { values, open, params, update } = useUrlState(KEYS);
  const filter = compact({
    eventType: values.eventType,
    status: values.status,
    customerId: values.customerId,
    search: values.q,
    ...dayRange(values.from, values.to),
  }) as PaymentLogFilter | undefined;
  const list = useInfiniteQuery(paymentLogsListQuery(filter));
  const rows = list.data?.pages.flatMap((page) => page.nodes) ?? [];
  const openRow = open ? rows.find((row) => row.id === open) : undefined;

  return (
    <div className={open ? 'with-detail' : undefined}>
      <section className="list" aria-labelledby="payment-logs-heading">
        <h1 id="payment-logs-heading">Payment logs</h1>
        <p className="muted">Every change to a payment or order, newest first.</p>
        <FilterBar fields={FIELDS} values={values} onApply={(next) => update({ ...next, open: null })} />
        <ListStates list={list} shown={rows.length} what="payment logs" searching={Boolean(filter?.search)} empty={filter ? 'No payment log rows match these filters.' : 'No payment log rows yet.'} />
        {rows.length > 0 && (
          <>
            <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">When (UTC)</th>
                  <th scope="col">Event</th>
                  <th scope="col">Status</th>
                  <th scope="col">Amount</th>
                  <th scope="col" className="optional">Customer</th>
                  <th scope="col" className="optional">Order</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => (
                  <tr key={row.id} className={row.id === open ? 'selected' : undefined} aria-selected={row.id === open}>
                    <td>
                      <Link to={openHref(params, row.id)} className="nowrap">{formatTableTime(row.createdAt)}</Link>
                    </td>
                    <td className="mono">{breakAtDots(row.eventType)}</td>
                    <td>
                      <Badge value={row.status} />
                    </td>
                    <td className="num">{row.amount?.formatted ?? '—'}</td>
                    <td className="optional">{row.customerEmail ?? row.customerId ?? '—'}</td>
                    <td className="mono optional">{row.orderId ? <Link to={`/orders?open=${encodeURIComponent(row.orderId)}`}>{row.orderId.slice(0, 8)}…</Link> : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            </div>
            <LoadMore list={list} shown={rows.length} />
          </>
        )}
      </section>
      {open && (
        <DetailPanel title="Payment log row">
          {openRow ? <PaymentLogDetail row={openRow} /> : list.isPending ? <Loading what="the row" /> : <PaymentLogById key={open} id={open} />}
        </DetailPanel>
      )}
    </div>
  );
}

/** A shared link's row that the loaded pages do not hold (older, or outside the filters): read on its own. */
function PaymentLogById({ id }: { id: string }) {
  const detail = useQuery(paymentLogDetailQuery(id));
  return (
    <QueryContent query={detail} what="the row" notFound={`No payment log row has the id ${id}.`}>
      {(row) => <PaymentLogDetail row={row} />}
    </QueryContent>
  );
}

function PaymentLogDetail({ row }: { row: PaymentLog }) {
  return (
    <>
      <Fields
        rows={[
          ['Row id', <span key="id" className="mono">{row.id}</span>],
          ['When', formatDateTime(row.createdAt)],
          ['Event', <span key="e" className="mono">{row.eventType}</span>],
          ['Status', <Badge key="s" value={row.status} />],
          ['Amount', row.amount?.formatted ?? '—'],
          ['Order', row.orderId ? <Link to={`/orders?open=${encodeURIComponent(row.orderId)}`} className="mono">{row.orderId}</Link> : '—'],
          ['Customer', row.customerEmail ?? '—'],
          ['Customer id', row.customerId ? <span className="mono">{row.customerId}</span> : '—'],
        ]}
      />
      <h3>Metadata</h3>
      <JsonBlock json={row.metadata} label="Metadata" />
    </>
  );
}
