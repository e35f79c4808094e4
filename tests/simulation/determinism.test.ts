// The simulator's replay under API faults and concurrency (issue 25, "Determinism"): a plan drawn from
// a seed, whose staff steps race two refunds on one order while Stripe answers 429, 500 or resets the
// connection, and whose customers are served 8 at a time with API faults among them, is run twice and
// the two final states are compared row by row. A fault queued for "the next call" went to whichever of
// the race's two calls reached the sandbox first, so one run left a refund creating (both attempts of
// one call failed) where the other made both (one failed attempt each, both retried): two states for
// one seed. Each fault now targets a call the plan names (simulation/run.ts, operations.ts).
import { describe, expect, it } from 'vitest';
import { DEFAULT_MIX, DEFAULT_OPTIONS, type FaultKind, planRun, type RunPlan } from '../../simulation/plan';
import { type RunOptions, runSimulation } from '../../simulation/run';
import { createTestDb } from '../helpers/db';

const openDb = async () => {
  const testDb = await createTestDb();
  return { db: testDb.db, close: () => testDb.close() };
};

const SEED = 20261208;
const CUSTOMERS = 16;
const RACES = 8;

/**
 * Customers paying (so staff have orders to refund), then refund races, each under an API fault of two:
 * more than the SDK's one retry absorbs from one call, fewer than two calls' retries; the last race
 * also under a database fault for refund_claim, which both its refunds run at once.
 */
function racePlan(options: RunOptions): RunPlan {
  const plan = planRun(options);
  const day = plan.days[0]!;
  const kinds: FaultKind[] = ['stripe_429', 'stripe_500', 'stripe_connection_reset'];
  day.staff = day.staff.slice(0, RACES).map((s) => ({ ...s, action: 'refund_race' as const }));
  day.faults = [
    // Customers with an API fault among the 8 served at once.
    ...[3, 9, 13].map((step, i) => ({ step, kind: kinds[i % 3]!, size: 2, id: `d1s${step}` })),
    ...day.staff.map((_, i) => ({ step: CUSTOMERS + i, kind: kinds[i % 3]!, size: 2, id: `d1s${CUSTOMERS + i}` })),
    // And a database fault for the claim of one of the last race's two refunds.
    { step: CUSTOMERS + RACES - 1, kind: 'db_statement' as const, size: 1, statement: 'refund_claim', id: `d1s${CUSTOMERS + RACES - 1}db` },
  ];
  return plan;
}

describe('the replay under API faults and concurrency', () => {
  it('gives the same final state twice for a plan of refund races under API faults, customers 8 at a time', async () => {
    const mix = { ...Object.fromEntries(Object.keys(DEFAULT_MIX).map((k) => [k, 0])), elements_paid: 1, checkout_paid: 1 } as typeof DEFAULT_MIX;
    const options: RunOptions = { ...DEFAULT_OPTIONS, seed: SEED, days: 1, customersPerDay: CUSTOMERS, staffPer10: 10, faultRate: 0, mix, openDb, concurrency: 8 };
    const plan = racePlan(options);
    expect(plan.days[0]!.staff).toHaveLength(RACES);

    const first = await runSimulation(options, plan);
    expect(first.failures).toEqual([]);
    expect(first.operations['staff: refund_race']).toBe(RACES);
    expect(first.faults).toEqual({ stripe_429: 4, stripe_500: 4, stripe_connection_reset: 3, db_statement: 1 });

    const again = await runSimulation(options, plan);
    expect(again.failures).toEqual([]);
    // Row by row first, so a difference names its rows.
    expect(again.state).toEqual(first.state);
    expect(again.digest).toBe(first.digest);
  }, 300_000);
});
