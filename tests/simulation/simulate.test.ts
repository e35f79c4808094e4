// The simulator (issue 25) on fixed seeds: a few simulated days each against the real server in
// process, on the suite's engine (PGlite by default, PostgreSQL under vitest.pg.config.ts). Every
// invariant must hold on every day; the same seed gives the same digest and another seed another; a
// deliberately broken invariant (a test-only hook, not product code) is reported and shrunk.
import { describe, expect, it } from 'vitest';
import { DEFAULT_MIX, DEFAULT_OPTIONS, planRun } from '../../simulation/plan';
import { type RunOptions, runSimulation } from '../../simulation/run';
import { shrink } from '../../simulation/shrink';
import { createTestDb } from '../helpers/db';

const openDb = async () => {
  const testDb = await createTestDb();
  return { db: testDb.db, close: () => testDb.close() };
};

const options = (seed: number, overrides: Partial<RunOptions> = {}): RunOptions => ({ ...DEFAULT_OPTIONS, seed, days: 2, customersPerDay: 6, faultRate: 0.35, openDb, ...overrides });

let reference: string | undefined;

const PAYMENT_REQUEST_SEED = 11;
const PAYMENT_REQUEST_SEED_STATUSES = ['paid', 'partially_paid', 'canceled', 'expired'];

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

describe('payment requests and declined renewals', () => {
  // Mostly payment requests (2 to 5 members each: paying, declining then paying, pressing Pay twice,
  // never paying, coming back on a later day), a renewal on a card that will be declined, staff
  // canceling requests, under the same faults as everything else.
  const mix = { ...Object.fromEntries(Object.keys(DEFAULT_MIX).map((k) => [k, 0])), payment_request: 6, subscription_renewal_declined: 1, elements_paid: 1 } as typeof DEFAULT_MIX;

  it('keeps every invariant over requests paid, partly paid, canceled and expired, and the same seed gives the same requests', async () => {
    const run = options(PAYMENT_REQUEST_SEED, { days: 3, customersPerDay: 4, mix });
    const first = await runSimulation(run);
    expect(first.failures).toEqual([]);
    const requests = first.state!.paymentRequests.map(([, row]) => row as { status: string; members: Array<[number, number, string]>; make: Array<[string, string]> });
    expect(requests.length).toBeGreaterThanOrEqual(4);
    // Every way a request can stand at the end of a run, by this seed.
    expect(new Set(requests.map((r) => r.status))).toEqual(new Set(PAYMENT_REQUEST_SEED_STATUSES));
    for (const r of requests) expect(r.make.filter(([kind]) => kind === 'payment_request_completed')).toHaveLength(r.status === 'paid' ? 1 : 0);
    const again = await runSimulation(run);
    expect(again.state).toEqual(first.state);
    expect(again.digest).toBe(first.digest);
  }, 300_000);

  it('runs a month in which a renewal on a declining card fails: past_due and an open invoice, as at Stripe, and no order or Make effect for it', async () => {
    // Day 1's customer subscribes, then renews on 4000 0000 0000 0341; the clock passes the period's
    // end on day 32. One customer a day and no staff keep the month short.
    const month = options(34, { days: 32, customersPerDay: 1, staffPer10: 0, faultRate: 0.2, mix: { ...mix, elements_paid: 0, payment_request: 1, subscription_renewal_declined: 1 } });
    expect(planRun(month).days[0]!.customers[0]!.journey).toBe('subscription_renewal_declined');
    const result = await runSimulation(month);
    expect(result.failures).toEqual([]);
    const subscriptions = result.state!.subscriptions.map(([, row]) => row as { status: string; invoices: Array<[string, number, number]> });
    const declined = subscriptions.filter((s) => s.status === 'past_due');
    expect(declined.length).toBeGreaterThanOrEqual(1);
    for (const s of declined) expect(s.invoices).toContainEqual(['open', expect.any(Number), 0]);
  }, 400_000);

  it('catches a member share recorded as paid that Stripe never charged', async () => {
    // Broken on purpose (a test-only hook): at the end of day 1 one unpaid member is marked paid in our
    // books, as a bug in the share's bookkeeping would; day 2's checks must name that member.
    const corrupt = async (world: Parameters<NonNullable<RunOptions['extraInvariants']>[number]>[0], { day }: { day: number }) => {
      if (day === 1) {
        await world.app.db.query(
          `update payment_request_members set status = 'paid' where id = (select id from payment_request_members where status in ('pending', 'failed') order by email limit 1)`,
        );
      }
      return [];
    };
    const result = await runSimulation({ ...options(PAYMENT_REQUEST_SEED, { days: 2, customersPerDay: 4, mix, extraInvariants: [corrupt] }), stopAtViolation: true });
    const caught = result.failures.find((f) => f.invariant === 'books: member shares paid equal Stripe');
    expect(caught).toMatchObject({ seed: PAYMENT_REQUEST_SEED, day: 2 });
    expect(caught!.rows).toEqual([expect.objectContaining({ status: 'paid', stripe: [] })]);
  }, 300_000);
});

describe('subscription invoices Stripe marks uncollectible', () => {
  it('seed 4 (the finding of docs/simulation.md): a switch invoiced while collection is paused with mark_uncollectible is uncollectible in ours as at Stripe', async () => {
    // As `npm run simulate -- --seed 4 --days 3 --customers 10 --staff-per-10 10` runs it. Day 3 failed
    // 'books: subscription invoices equal Stripe' while the server applied only invoice.paid and
    // invoice.payment_failed: two subscription_update invoices uncollectible at Stripe were missing.
    const result = await runSimulation({ ...DEFAULT_OPTIONS, seed: 4, days: 3, customersPerDay: 10, staffPer10: 10, openDb });
    expect(result.failures).toEqual([]);
    const invoices = result.state!.subscriptions.flatMap(([, row]) => (row as { invoices: Array<[string, number, number]> }).invoices);
    // The seed still makes what it found (else this test would prove nothing).
    expect(invoices.filter(([status]) => status === 'uncollectible').length).toBeGreaterThanOrEqual(1);
  }, 300_000);
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
