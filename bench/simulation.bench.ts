// Simulation benchmark (issue 25): how many simulated business days the simulator (simulation/) runs per
// wall-clock minute, at BENCH_SIM_PAYMENTS customers (payment attempts) a day (default 100), for
// BENCH_SIM_DAYS days (default 2), with staff actions, faults and the day's reconciliation pass as
// `npm run simulate` has them, and BENCH_SIM_CONCURRENCY customers at a time (default 8; the replay is
// exact at any concurrency, simulation/run.ts). The goal (issue 25): a 30-day month at 1,000 payments a
// day in under 10 minutes on PostgreSQL, i.e. 3 simulated days a minute at that size, 50 payments a
// second. Printed: days per minute, payments per second, the month's projected time and whether it
// meets the goal, the CPU the simulator's process spent per payment, in all and day by day, and whether
// that alone fits the goal (20 ms a payment; the server, the sandbox and the
// simulator share that one process, so its CPU bounds the month however quiet the machine: the
// projection from CPU alone), the load average, and the wall clock by phase.
// On in-memory PGlite, and again on a throwaway PostgreSQL database when DATABASE_URL is set
// (BENCH_SIM_ENGINE=pglite or postgres: that engine only). `npx tsx bench/simulation.bench.ts` runs it alone.
import { availableParallelism, loadavg } from 'node:os';
import { openDatabase } from '../simulation/database';
import { DEFAULT_OPTIONS } from '../simulation/plan';
import { runSimulation } from '../simulation/run';

const PAYMENTS = Number(process.env.BENCH_SIM_PAYMENTS ?? 100);
const DAYS = Number(process.env.BENCH_SIM_DAYS ?? 2);
const CONCURRENCY = Number(process.env.BENCH_SIM_CONCURRENCY ?? 8);
const GOAL = { days: 30, paymentsPerDay: 1000, minutes: 10 };

export async function benchSimulation(): Promise<void> {
  const only = process.env.BENCH_SIM_ENGINE;
  const engines = (['pglite', 'postgres'] as const).filter((e) => (!only || only === e) && (e === 'pglite' || process.env.DATABASE_URL));
  console.log(`\nsimulation: ${DAYS} simulated days of ${PAYMENTS} customers, ${CONCURRENCY} at a time, faults at rate ${DEFAULT_OPTIONS.faultRate}`);
  for (const engine of engines) {
    const load = loadavg()[0]!.toFixed(1);
    const cpuBefore = process.cpuUsage();
    // Each day's CPU a payment (its invariants included; day 1 the start too): a cost that grows day by
    // day (a list searched per payment, a state copied whole) shows here before a month would show it.
    const perDay: string[] = [];
    let dayCpu = process.cpuUsage();
    const log = (line: string) => {
      if (!/^day \d+: /.test(line)) return;
      const used = process.cpuUsage(dayCpu);
      dayCpu = process.cpuUsage();
      perDay.push(((used.user + used.system) / 1000 / PAYMENTS).toFixed(1));
    };
    const result = await runSimulation({ ...DEFAULT_OPTIONS, seed: 20261207, days: DAYS, customersPerDay: PAYMENTS, concurrency: CONCURRENCY, openDb: () => openDatabase(engine), log });
    const cpu = process.cpuUsage(cpuBefore);
    const simulatedMs = result.wallMs - (result.timings.start ?? 0);
    const daysPerMinute = (DAYS * 60_000) / simulatedMs;
    const paymentsPerSecond = (result.payments * 1000) / simulatedMs;
    const monthPayments = GOAL.days * GOAL.paymentsPerDay;
    const monthMinutes = monthPayments / paymentsPerSecond / 60;
    // The start (migrating a fresh database) is in the CPU figure too: a small share, so an upper bound.
    const cpuMsPerPayment = (cpu.user + cpu.system) / 1000 / result.payments;
    const cpuMonthMinutes = (cpuMsPerPayment * monthPayments) / 60_000;
    const held = result.failures.length === 0 ? 'every invariant held' : `${result.failures.length} violations`;
    const met = monthMinutes < GOAL.minutes ? 'goal MET' : 'goal NOT met';
    console.log(`  ${engine}: ${daysPerMinute.toFixed(2)} simulated days/min at ${PAYMENTS} payments/day, ${paymentsPerSecond.toFixed(1)} payments/s (goal ${(monthPayments / GOAL.minutes / 60).toFixed(0)}/s); ${held}; digest ${result.digest}`);
    console.log(`    a ${GOAL.days}-day month at ${GOAL.paymentsPerDay}/day would take ~${monthMinutes.toFixed(0)} min at this rate (goal under ${GOAL.minutes}): ${met}; load average ${load} at the start on ${availableParallelism()} cores`);
    const cpuMet = cpuMonthMinutes < GOAL.minutes ? 'within the goal' : 'over the goal by CPU alone';
    console.log(`    this process's CPU: ${cpuMsPerPayment.toFixed(1)} ms a payment (goal under ${((GOAL.minutes * 60_000) / monthPayments).toFixed(0)}), so at least ~${cpuMonthMinutes.toFixed(0)} min of one core for the month on a quiet machine: ${cpuMet}; start ${((result.timings.start ?? 0) / 1000).toFixed(1)} s not counted in the rates`);
    console.log(`    CPU a payment by day (ms): ${perDay.join(', ')}`);
    const phases = Object.entries(result.timings)
      .filter(([k]) => k !== 'start')
      .sort(([, a], [, b]) => b - a)
      .map(([k, v]) => `${k} ${((100 * v) / simulatedMs).toFixed(0)}%`);
    console.log(`    wall clock by phase: ${phases.join(', ')}`);
    for (const f of result.failures.slice(0, 5)) console.log(`    VIOLATION day ${f.day}: ${f.invariant} (${f.rows.length} rows) ${JSON.stringify(f.rows.slice(0, 3))}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchSimulation();
