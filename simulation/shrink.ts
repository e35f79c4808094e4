// Shrinking a failing run (issue 25): the same plan made smaller while the same invariant still fails,
// so that the report is the smallest reproduction found: days after the failing one dropped, then
// earlier days one at a time, then customers halved, then staff actions and faults removed one at a
// time. Each try is a full run on a fresh database; the number of tries is bounded.
import type { DayPlan, RunPlan } from './plan';
import { planRun } from './plan';
import { type Failure, type RunOptions, runSimulation } from './run';

export interface ShrinkResult {
  plan: RunPlan;
  failure: Failure | undefined;
  runs: number;
  describe: string;
}

export async function shrink(options: RunOptions, invariant: string, log: (line: string) => void = () => {}, maxRuns = 40): Promise<ShrinkResult> {
  let runs = 0;
  const failing = async (plan: RunPlan): Promise<Failure | undefined> => {
    runs += 1;
    const result = await runSimulation({ ...options, stopAtViolation: true, log: undefined }, plan);
    return result.failures.find((f) => f.invariant === invariant);
  };
  let plan = planRun(options);
  let failure = await failing(plan);
  if (!failure) return { plan, failure, runs, describe: 'the failure did not happen again (not reproducible by its plan)' };
  const tryPlan = async (candidate: RunPlan, what: string): Promise<boolean> => {
    if (runs >= maxRuns) return false;
    const found = await failing(candidate);
    if (!found) return false;
    plan = candidate;
    failure = found;
    log(`  still fails with ${what}: ${describePlan(plan)}`);
    return true;
  };
  const withDays = (days: DayPlan[]): RunPlan => ({ seed: plan.seed, days });

  // Days after the failing one never ran; earlier days go one at a time.
  plan = withDays(plan.days.filter((d) => d.day <= failure!.day));
  for (let i = 0; i < plan.days.length - 1; ) {
    if (!(await tryPlan(withDays(plan.days.filter((_, j) => j !== i)), `day ${plan.days[i]!.day} removed`))) i++;
  }
  // Fewer customers: halve every day's while it still fails.
  for (;;) {
    const most = Math.max(...plan.days.map((d) => d.customers.length));
    if (most <= 1) break;
    const half = Math.ceil(most / 2);
    if (!(await tryPlan(withDays(plan.days.map((d) => ({ ...d, customers: d.customers.slice(0, half) }))), `${half} customers a day`))) break;
  }
  // Staff actions and faults, one at a time.
  for (const [di] of plan.days.entries()) {
    for (let i = 0; i < plan.days[di]!.staff.length; ) {
      const days = plan.days.map((d, j) => (j === di ? { ...d, staff: d.staff.filter((_, k) => k !== i) } : d));
      if (!(await tryPlan(withDays(days), `a staff action removed`))) i++;
    }
    for (let i = 0; i < plan.days[di]!.faults.length; ) {
      const fault = plan.days[di]!.faults[i]!;
      const days = plan.days.map((d, j) => (j === di ? { ...d, faults: d.faults.filter((_, k) => k !== i) } : d));
      if (!(await tryPlan(withDays(days), `fault ${fault.kind} at ${fault.id} removed`))) i++;
    }
  }
  return { plan, failure, runs, describe: `${describePlan(plan)} (${runs} runs)` };
}

export function describePlan(plan: RunPlan): string {
  const days = plan.days.map((d) => `day ${d.day}: ${d.customers.length} customers, ${d.staff.length} staff actions, faults [${d.faults.map((f) => `${f.kind}@${f.step}`).join(', ')}]`);
  return `seed ${plan.seed}; ${days.join('; ')}`;
}
