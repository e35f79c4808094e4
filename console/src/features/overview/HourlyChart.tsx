import { Bar, BarChart, CartesianGrid, Legend, Tooltip, XAxis, YAxis } from 'recharts';
import type { OpsOverview } from './queries';

/** Payments succeeded and failed per hour over the last 24 hours (UTC hours). */
export function HourlyChart({ hourly }: { hourly: OpsOverview['hourly'] }) {
  const data = hourly.map((h) => ({ ...h, label: `${new Date(h.hour).getUTCHours().toString().padStart(2, '0')}:00` }));
  const total = hourly.reduce((sum, h) => sum + h.succeeded + h.failed, 0);
  return (
    <figure className="chart">
      <BarChart width={720} height={220} data={data} margin={{ top: 8, right: 8, bottom: 0, left: 0 }} accessibilityLayer>
        <CartesianGrid strokeDasharray="3 3" vertical={false} />
        <XAxis dataKey="label" interval={2} tick={{ fontSize: 12, fill: '#3c4257' }} />
        <YAxis allowDecimals={false} width={36} tick={{ fontSize: 12, fill: '#3c4257' }} />
        <Tooltip />
        <Legend />
        <Bar dataKey="succeeded" name="Succeeded" stackId="p" fill="#1a7f37" isAnimationActive={false} />
        <Bar dataKey="failed" name="Failed" stackId="p" fill="#c62828" isAnimationActive={false} />
      </BarChart>
      <figcaption className="muted">
        Payments per hour, last 24 hours (UTC): {total} in all. {total === 0 && 'No payments in this window.'}
      </figcaption>
    </figure>
  );
}
