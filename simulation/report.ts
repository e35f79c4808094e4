// What a run prints: operations by kind, faults by kind, each invariant's result, the failures with
// their rows, where the time went, and the digest line.
import type { RunResult } from './run';

function table(title: string, rows: Array<[string, string | number]>): string {
  const width = Math.max(title.length, ...rows.map(([k]) => k.length));
  return [title, ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)].join('\n');
}

export function formatReport(result: RunResult): string {
  const sorted = (t: Record<string, number>) => Object.entries(t).sort(([a], [b]) => a.localeCompare(b));
  const parts = [
    `seed ${result.seed}, ${result.days} simulated days, ${result.payments} customers, ${(result.wallMs / 1000).toFixed(1)} s wall clock (${((result.days * 60_000) / result.wallMs).toFixed(2)} simulated days per minute)`,
    table('operations', sorted(result.operations)),
    table('outcomes', sorted(result.outcomes)),
    table('faults injected', sorted(result.faults)),
    table('invariants (days held / days checked)', result.invariants.map((i) => [i.name, `${i.daysHeld}/${i.daysChecked}${i.daysHeld === i.daysChecked ? ' ok' : ' FAILED'}`])),
    table('wall clock by phase (s)', sorted(result.timings).map(([k, v]) => [k, (v / 1000).toFixed(1)])),
  ];
  for (const f of result.failures.slice(0, 10)) {
    parts.push(`VIOLATION seed ${f.seed} day ${f.day} step ${f.step}: ${f.invariant}\n${f.rows.map((r) => `  ${JSON.stringify(r)}`).join('\n')}`);
  }
  parts.push(`digest: ${result.digest}`);
  return parts.join('\n\n');
}
