// The simulator (issue 25) on fixed seeds: a few simulated days each against the real server in
// process, on the suite's engine (PGlite by default, PostgreSQL under vitest.pg.config.ts). Every
// invariant must hold on every day; the same seed gives the same digest and another seed another; a
// deliberately broken invariant (a test-only hook, not product code) is reported and shrunk.
import { describe, expect, it } from 'vitest';
import { DEFAULT_OPTIONS, planRun } from '../../simulation/plan';
import { type RunOptions, runSimulation } from '../../simulation/run';
import { shrink } from '../../simulation/shrink';
import { createTestDb } from '../helpers/db';

const openDb = async () => {
  const testDb = await createTestDb();
  return { db: testDb.db, close: () => testDb.close() };
};

const options = (seed: number, overrides: Partial<RunOptions> = {}): RunOptions => ({ ...DEFAULT_OPTIONS, seed, days: 2, customersPerDay: 6, faultRate: 0.35, openDb, ...overrides });

let reference: string | undefined;

describe('a simulated business under faults', () => {
  it('keeps every invariant on every day, and the same seed gives the same operations and final state', async () => {
    const first = await runSimulation(options(7));
    expect(first.failures).toEqual([]);
    expect(first.invariants.every((i) => i.daysHeld === 2 && i.daysChecked === 2)).toBe(true);
    expect(Object.values(first.faults).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(first.digest).toMatch(/^[0-9a-f]{32}$/);

    const again = await runSimulation(options(7));
    expect(again.failures).toEqual([]);
    expect(again.operations).toEqual(first.operations);
    expect(again.faults).toEqual(first.faults);
    // Row by row first, so a difference names its rows (the digest alone says only that one exists).
    expect(again.state).toEqual(first.state);
    expect(again.digest).toBe(first.digest);
    reference = first.digest;
  }, 240_000);

  it('another seed makes another business (another plan and another digest), with every invariant held', async () => {
    const other = await runSimulation(options(1234));
    expect(other.failures).toEqual([]);
    expect(planRun(options(1234))).not.toEqual(planRun(options(7)));
    expect(reference).toBeDefined();
    expect(other.digest).not.toBe(reference);
  }, 240_000);
});

describe('a violation', () => {
  it('is reported with its seed, day, invariant and rows, and shrunk to fewer days, customers and faults', async () => {
    // Broken on purpose: "fails" from day 2 on whenever some order holds a payment.
    const broken = async (world: Parameters<NonNullable<RunOptions['extraInvariants']>[number]>[0], { day }: { day: number }) => {
      if (day < 2) return [];
      const { rows } = await world.app.db.query(`select count(*)::int as paid from orders where status in ('paid', 'partially_refunded', 'refunded')`);
      return (rows[0] as { paid: number }).paid > 0 ? rows : [];
    };
    const run = options(99, { days: 3, customersPerDay: 3, staffPer10: 2, faultRate: 0.5, extraInvariants: [broken] });
    const result = await runSimulation({ ...run, stopAtViolation: true });
    expect(result.failures).toHaveLength(1);
    expect(result.failures[0]).toMatchObject({ seed: 99, day: 2, invariant: 'extra 1 (test hook)' });
    expect(result.failures[0]!.rows).toEqual([{ paid: expect.any(Number) }]);

    // Few tries, to stay fast: day 3 never ran, day 1 goes (day 2 keeps its number), customers halve.
    const smallest = await shrink(run, 'extra 1 (test hook)', () => {}, 4);
    expect(smallest.failure?.invariant).toBe('extra 1 (test hook)');
    expect(smallest.plan.days.map((d) => d.day)).toEqual([2]);
    const customers = smallest.plan.days.reduce((n, d) => n + d.customers.length, 0);
    const faults = smallest.plan.days.reduce((n, d) => n + d.faults.length, 0);
    expect(customers).toBeLessThan(3);
    expect(faults).toBeLessThanOrEqual(planRun(run).days[1]!.faults.length);
  }, 300_000);
});
