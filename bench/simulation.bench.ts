// Simulation benchmark (issue 25): how many simulated business days the simulator (simulation/) runs per
// wall-clock minute, at BENCH_SIM_PAYMENTS customers (payment attempts) a day (default 100), for
// BENCH_SIM_DAYS days (default 2), with staff actions, faults and the day's reconciliation pass as
// `npm run simulate` has them, and BENCH_SIM_CONCURRENCY customers at a time (default 1: the
// deterministic replay; more is faster and no longer replays exactly). The goal (issue 25): a 30-day
// month at 1,000 payments a day in under 10 minutes on PostgreSQL, i.e. 3 simulated days a minute at
// that size. Printed: days per minute, payments per second, the month's projected time, and the wall
// clock by phase (customers, webhooks, Make outbox, clock, reconciliation, invariants, start).
// On in-memory PGlite, and again on a throwaway PostgreSQL database when DATABASE_URL is set
// (BENCH_SIM_ENGINE=pglite or postgres: that engine only). `npx tsx bench/simulation.bench.ts` runs it alone.
import { openDatabase } from '../simulation/database';
import { DEFAULT_OPTIONS } from '../simulation/plan';
import { runSimulation } from '../simulation/run';

const PAYMENTS = Number(process.env.BENCH_SIM_PAYMENTS ?? 100);
const DAYS = Number(process.env.BENCH_SIM_DAYS ?? 2);
const CONCURRENCY = Number(process.env.BENCH_SIM_CONCURRENCY ?? 1);
const GOAL = { days: 30, paymentsPerDay: 1000, minutes: 10 };

export async function benchSimulation(): Promise<void> {
  const only = process.env.BENCH_SIM_ENGINE;
  const engines = (['pglite', 'postgres'] as const).filter((e) => (!only || only === e) && (e === 'pglite' || process.env.DATABASE_URL));
  console.log(`\nsimulation: ${DAYS} simulated days of ${PAYMENTS} customers, ${CONCURRENCY} at a time, faults at rate ${DEFAULT_OPTIONS.faultRate}`);
  for (const engine of engines) {
    const result = await runSimulation({ ...DEFAULT_OPTIONS, seed: 20261207, days: DAYS, customersPerDay: PAYMENTS, concurrency: CONCURRENCY, openDb: () => openDatabase(engine) });
    const simulatedMs = result.wallMs - (result.timings.start ?? 0);
    const daysPerMinute = (DAYS * 60_000) / simulatedMs;
    const paymentsPerSecond = (result.payments * 1000) / simulatedMs;
    const monthMinutes = (GOAL.days * GOAL.paymentsPerDay) / paymentsPerSecond / 60;
    const held = result.failures.length === 0 ? 'every invariant held' : `${result.failures.length} violations`;
    console.log(`  ${engine}: ${daysPerMinute.toFixed(2)} simulated days/min at ${PAYMENTS} payments/day, ${paymentsPerSecond.toFixed(1)} payments/s; ${held}`);
    console.log(`    a ${GOAL.days}-day month at ${GOAL.paymentsPerDay}/day would take ~${monthMinutes.toFixed(0)} min (goal ${GOAL.minutes}); start ${((result.timings.start ?? 0) / 1000).toFixed(1)} s not counted`);
    const phases = Object.entries(result.timings)
      .filter(([k]) => k !== 'start')
      .sort(([, a], [, b]) => b - a)
      .map(([k, v]) => `${k} ${((100 * v) / simulatedMs).toFixed(0)}%`);
    console.log(`    wall clock by phase: ${phases.join(', ')}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchSimulation();
