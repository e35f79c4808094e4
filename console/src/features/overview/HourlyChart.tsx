import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { OpsPeriod, PaymentBucket } from './queries';

const SPAN: Record<OpsPeriod, string> = { DAY: 'last 24 hours', WEEK: 'last 7 days', MONTH: 'last 30 days' };

/** A bucket's label on the axis: its UTC hour for 24 hours, its UTC day (MM-DD) otherwise. */
function bucketLabel(start: string, period: OpsPeriod): string {
  const date = new Date(start);
  return period === 'DAY' ? `${date.getUTCHours().toString().padStart(2, '0')}:00` : date.toISOString().slice(5, 10);
}

/**
 * Payments succeeded and failed per hour (24 hours) or per UTC day (7 or 30 days), the width of its
 * frame: orders' payments (a subscription's first invoice pays its order; its later invoices are in the
 * revenue, not here).
 */
export function HourlyChart({ buckets, period }: { buckets: PaymentBucket[]; period: OpsPeriod }) {
  const data = buckets.map((b) => ({ ...b, label: bucketLabel(b.start, period) }));
  const total = buckets.reduce((sum, b) => sum + b.succeeded + b.failed, 0);
  const unit = period === 'DAY' ? 'hour' : 'day';
  return (
    <figure className="chart">
      <ResponsiveContainer width="100%" height={240}>
        <BarChart data={data} margin={{ top: 8, right: 8, bottom: 0, left: 0 }} accessibilityLayer>
          <CartesianGrid strokeDasharray="3 3" vertical={false} />
          <XAxis dataKey="label" interval="preserveStartEnd" minTickGap={16} tick={{ fontSize: 12, fill: '#3c4257' }} />
          <YAxis allowDecimals={false} width={36} tick={{ fontSize: 12, fill: '#3c4257' }} />
          <Tooltip />
          <Legend />
          <Bar dataKey="succeeded" name="Succeeded" stackId="p" fill="#1a7f37" isAnimationActive={false} />
          <Bar dataKey="failed" name="Failed" stackId="p" fill="#c62828" isAnimationActive={false} />
        </BarChart>
      </ResponsiveContainer>
      <figcaption className="muted">
        Payments per {unit}, {SPAN[period]} (UTC): {total} in all. {total === 0 && 'No payments in this window.'} Orders' payments: a subscription's renewals and switches are in the revenue.
      </figcaption>
    </figure>
  );
}
