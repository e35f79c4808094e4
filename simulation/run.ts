// One simulation run: a plan drawn from the seed (simulation/plan.ts), played day by day against the
// real server (simulation/world.ts), the invariants checked after every day, and a digest of the end
// state. Returns everything the CLI prints and the tests assert on.
import { runReconciliation } from '../server/reconcile/janitor';
import type { Db } from '../server/platform/db/db';
import { canonicalState, type CanonicalState, digestOf } from './digest';
import { checkInvariants, type ExtraInvariant, type InvariantResult } from './invariants';
import type { ApiFault } from '../stripe-sandbox/router';
import { closeSomeDisputes, isOrderlessAction, OperationFailed, paidOrders, retryStuckDeliveries, runJourney, runOrderlessAction, runStaffAction, type SimOrder, type StepApiFaults, targetsItsOwnApiFaults } from './operations';
import { type DayPlan, type FaultStep, planRun, type RunPlan, type SimOptions } from './plan';
import { Prng } from './prng';
import { startWorld, type World } from './world';

export interface RunOptions extends SimOptions {
  /** A fresh, empty or migrated database for this run (startApp migrates it). */
  openDb: () => Promise<{ db: Db; close: () => Promise<void> }>;
  /** Checks added by tests (a deliberately broken invariant, to exercise shrinking). */
  extraInvariants?: ExtraInvariant[];
  /** Progress lines (the CLI prints them; tests pass nothing). */
  log?: (line: string) => void;
  /**
   * Customers served at once (default 1). The replay stays exact at any concurrency: a customer with a
   * fault planned at its step, and every customer while a fault waits for "the next call" (a webhook to
   * drop or duplicate, a database statement a customer's step runs), is served alone, so the fault meets
   * the same call as one at a time would. API faults are their step's own, for the calls it names
   * (stepApiFaults), and never wait past it. Batches of customers with no fault pending interleave; what
   * they do does not depend on the interleaving (each has its own order and keys).
   */
  concurrency?: number;
  /** Stop at the first day whose invariants fail (shrinking needs no more). */
  stopAtViolation?: boolean;
}

export interface Failure {
  seed: number;
  day: number;
  step: string;
  invariant: string;
  rows: unknown[];
}

export interface RunResult {
  seed: number;
  days: number;
  operations: Record<string, number>;
  outcomes: Record<string, number>;
  faults: Record<string, number>;
  /** Each invariant: on how many days it held, and the first failure. */
  invariants: Array<{ name: string; daysHeld: number; daysChecked: number }>;
  failures: Failure[];
  digest: string;
  /** What the digest hashes (simulation/digest.ts): two runs of a seed are compared row by row, so a mismatch shows its rows. */
  state: CanonicalState | undefined;
  wallMs: number;
  /** Wall-clock milliseconds by phase: where the time goes. */
  timings: Record<string, number>;
  payments: number;
}

export async function runSimulation(options: RunOptions, plan: RunPlan = planRun(options)): Promise<RunResult> {
  const started = performance.now();
  const timings: Record<string, number> = {};
  const timed = async <T>(phase: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      timings[phase] = (timings[phase] ?? 0) + (performance.now() - t0);
    }
  };
  const { db, close } = await timed('start', options.openDb);
  const world = await timed('start', () => startWorld({ db, stripeRetries: options.stripeRetries, makeTimeoutMs: options.makeTimeoutMs }));
  const operations: Record<string, number> = {};
  const outcomes: Record<string, number> = {};
  const faults: Record<string, number> = {};
  const count = (table: Record<string, number>, key: string, n = 1) => (table[key] = (table[key] ?? 0) + n);
  const held = new Map<string, { daysHeld: number; daysChecked: number }>();
  const failures: Failure[] = [];
  const orders: SimOrder[] = [];
  let digest = '';
  let state: CanonicalState | undefined;
  try {
    for (const day of plan.days) {
      await playDay(world, day, orders, { concurrency: options.concurrency ?? 1, count, operations, outcomes, faults, timed, log: options.log });
      const results = await timed('invariants', () => checkInvariants(world, day.day, options.extraInvariants));
      recordResults(results, held, failures, plan.seed, day.day);
      options.log?.(`day ${day.day}: ${day.customers.length} customers, ${day.staff.length} staff actions, ${day.faults.length} faults; invariants ${results.every((r) => r.ok) ? 'hold' : 'FAIL'}`);
      if (options.stopAtViolation && failures.length > 0) break;
    }
    state = await timed('digest', () => canonicalState(world, { operations, faults }));
    digest = digestOf(state);
  } finally {
    await world.close();
    await close();
  }
  return {
    seed: plan.seed,
    days: plan.days.length,
    operations,
    outcomes,
    faults,
    invariants: [...held].map(([name, h]) => ({ name, ...h })),
    failures,
    digest,
    state,
    wallMs: performance.now() - started,
    timings,
    payments: plan.days.reduce((n, d) => n + d.customers.length, 0),
  };
}

function recordResults(results: InvariantResult[], held: Map<string, { daysHeld: number; daysChecked: number }>, failures: Failure[], seed: number, day: number) {
  for (const r of results) {
    const h = held.get(r.name) ?? { daysHeld: 0, daysChecked: 0 };
    h.daysChecked += 1;
    if (r.ok) h.daysHeld += 1;
    else failures.push({ seed, day, step: 'end of day (after the reconciliation pass)', invariant: r.name, rows: r.rows.slice(0, 20) });
    held.set(r.name, h);
  }
}

interface DayContext {
  concurrency: number;
  count: (table: Record<string, number>, key: string, n?: number) => void;
  operations: Record<string, number>;
  outcomes: Record<string, number>;
  faults: Record<string, number>;
  timed: <T>(phase: string, fn: () => Promise<T>) => Promise<T>;
  log?: (line: string) => void;
}

async function playDay(world: World, day: DayPlan, orders: SimOrder[], ctx: DayContext): Promise<void> {
  const todays: SimOrder[] = [];
  const steps = day.customers.length + day.staff.length;
  const faultsAt = new Map<number, FaultStep[]>();
  for (const f of day.faults) if (f.step < steps) faultsAt.set(f.step, [...(faultsAt.get(f.step) ?? []), f]);
  let makeBackAt = -1;
  // The API faults planned at each step, armed by the step itself for the calls it names (see
  // stepApiFaults), and forgotten when the step and its webhooks are done.
  const apiFaultsAt = new Map<number, ApiFault[]>();
  const runStep = async (step: number) => {
    const customer = day.customers[step];
    const faults = stepApiFaults(world, apiFaultsAt.get(step) ?? []);
    try {
      if (customer) {
        faults.arm({});
        const order: SimOrder = { ref: customer.ref, day: day.day, track: customer.track, journey: customer.journey, orderId: undefined };
        todays.push(order);
        orders.push(order);
        ctx.count(ctx.operations, `customer: ${customer.journey}`);
        await runJourney(world, new Prng(customer.seed), order);
      } else {
        const action = day.staff[step - day.customers.length]!;
        const prng = new Prng(action.seed);
        if (!targetsItsOwnApiFaults(action.action)) faults.arm({});
        if (isOrderlessAction(action.action)) {
          if (await runOrderlessAction(world, prng, action.action, orders)) ctx.count(ctx.operations, `staff: ${action.action}`);
          ctx.count(ctx.outcomes, 'completed');
          return;
        }
        // The last thousand orders: what staff see on their first pages.
        const candidates = await paidOrders(world, orders.slice(-1000));
        if (candidates.length === 0) return;
        ctx.count(ctx.operations, `staff: ${action.action}`);
        await runStaffAction(world, prng, action.action, prng.pick(candidates), faults);
      }
      ctx.count(ctx.outcomes, 'completed');
    } catch (error) {
      // An injected fault may fail a request (the server's answer is an error): the journey stops, as
      // a customer's would, and the books must still balance.
      ctx.count(ctx.outcomes, error instanceof OperationFailed ? 'stopped by an error answer' : `stopped: ${(error as Error).name}`);
      ctx.log?.(`day ${day.day} step ${step} stopped${isExpectedFailure(error) || error instanceof OperationFailed ? '' : ' (unexpected)'}: ${(error as Error).message}`);
    }
  };
  let sinceOutbox = 0;
  for (let step = 0; step < steps; ) {
    // Customers arrive up to `concurrency` at a time; staff act alone. A step with a fault planned, and
    // any step while a fault still waits for "the next call", goes alone (see RunOptions.concurrency).
    let size = 1;
    if (step < day.customers.length && !faultsAt.has(step) && !nextCallFaultPending(world)) {
      while (size < ctx.concurrency && step + size < day.customers.length && !faultsAt.has(step + size)) size += 1;
    }
    for (let s = step; s < step + size; s++) {
      if (s === makeBackAt) world.make.mode = 'up';
      for (const fault of faultsAt.get(s) ?? []) {
        ctx.count(ctx.faults, fault.kind);
        if (isApiFault(fault.kind)) {
          apiFaultsAt.set(s, [...(apiFaultsAt.get(s) ?? []), ...Array.from({ length: fault.size }, () => API_FAULTS[fault.kind as keyof typeof API_FAULTS])]);
          continue;
        }
        const until = await ctx.timed('faults', () => injectFault(world, fault));
        if (until !== undefined) makeBackAt = s + until;
      }
    }
    const batch = Array.from({ length: size }, (_, i) => step + i);
    await ctx.timed(step < day.customers.length ? 'customers' : 'staff', () => Promise.all(batch.map(runStep)));
    // What the server's jobs would do between customers: deliver the webhooks, apply them, post Make.
    await ctx.timed('webhooks', async () => {
      await world.app.stripeSandbox!.flushWebhooks();
      await job(ctx, 'webhook applier', () => world.app.webhookApplier.drain());
    });
    resetStepFaults(world);
    // A step's API faults are its own: those none of its calls (nor its webhooks' application) met
    // are forgotten, rather than left for whichever call comes next.
    const unmet = world.app.stripeSandbox!.pendingFaultCount();
    if (unmet > 0) ctx.count(ctx.outcomes, 'API faults no call of their step met', unmet);
    world.app.stripeSandbox!.clearPendingFaults();
    sinceOutbox += size;
    if (sinceOutbox >= 5) {
      sinceOutbox = 0;
      await ctx.timed('make outbox', () => job(ctx, 'make outbox', () => world.app.makeOutbox.drain()));
    }
    step += size;
  }
  await endOfDay(world, day, ctx);
}

/**
 * Database statements no customer's step runs (nor the webhook deliveries and applications after it):
 * staff refunds' and the Make outbox's, whose drain runs between steps. A fault armed for one of these
 * cannot meet a customer's call, so customers may still be served together while it waits.
 */
const STATEMENTS_NO_CUSTOMER_RUNS = ['refund_claim', 'refund_record', 'make_delivery_record'];

/**
 * A fault injected for "the next call" that no call has met yet: the next steps must run alone until one
 * does. (API faults never wait past their step: it forgets those unmet, so the sandbox's count is 0 here.)
 */
function nextCallFaultPending(world: World): boolean {
  const sandbox = world.app.stripeSandbox!;
  const { dropNext, duplicateNext } = sandbox.webhookFaults;
  if (sandbox.pendingFaultCount() > 0 || dropNext > 0 || duplicateNext > 0) return true;
  return world.faults.armedPatterns().some((fault) => !STATEMENTS_NO_CUSTOMER_RUNS.some((statement) => fault.test(statement)));
}

/** The sandbox's API fault for each planned kind. */
const API_FAULTS = { stripe_429: 'rate_limit', stripe_500: 'api_error', stripe_connection_reset: 'connection_reset' } as const satisfies Partial<Record<FaultStep['kind'], ApiFault>>;
const isApiFault = (kind: FaultStep['kind']): boolean => kind in API_FAULTS;

/**
 * A step's planned API faults (429, 500, connection reset), armed for the calls the step names: a
 * customer, or a staff action with one call to Stripe at a time, for any call (the step runs alone:
 * its calls come one after another, so the same call meets them in every run); a step that sends two
 * calls at once (a refund race) for one of the two by what tells it apart (its amount), so the same one
 * meets them in every interleaving. Queued for "the next call", which of the two met them, and so
 * whether one refund failed past the SDK's retries or both were retried once and made, depended on
 * which reached the sandbox first. Armed once; unmet ones are forgotten at the step's end.
 */
function stepApiFaults(world: World, faults: ApiFault[]): StepApiFaults {
  let armed = faults.length === 0;
  return {
    arm(match) {
      if (armed) return;
      armed = true;
      world.app.stripeSandbox!.failMatching(match, ...faults);
    },
  };
}

/** Network failures between the simulator (customer, staff) and the server an injected fault can cause. */
const isExpectedFailure = (error: unknown) => ['StripeConnectionError', 'StripeAPIError', 'StripeRateLimitError', 'TypeError'].includes((error as Error).name) || (error as { type?: string }).type !== undefined;

/** Applies one fault; answers for how many steps Make stays down or slow. */
async function injectFault(world: World, fault: FaultStep): Promise<number | undefined> {
  const sandbox = world.app.stripeSandbox!;
  switch (fault.kind) {
    case 'webhook_drop':
      sandbox.webhookFaults.dropNext += fault.size;
      return undefined;
    case 'webhook_duplicate':
      sandbox.webhookFaults.duplicateNext += fault.size;
      return undefined;
    case 'webhook_reorder':
      sandbox.webhookFaults.reorder = true;
      return undefined;
    case 'webhook_delay':
      sandbox.webhookFaults.delaySeconds = fault.size * 3600;
      return undefined;
    case 'stripe_429':
    case 'stripe_500':
    case 'stripe_connection_reset':
      // Armed by the step they are planned at (stepApiFaults), for the calls it names.
      return undefined;
    case 'db_statement':
      world.faults.failNext(new RegExp(fault.statement!));
      return undefined;
    case 'make_down':
      world.make.mode = 'down';
      return fault.size;
    case 'make_slow':
      world.make.mode = 'slow';
      return fault.size;
    case 'restart':
      await world.restart();
      return undefined;
  }
}

/** Faults that last one step: reordering and delay apply to the step's deliveries only. */
function resetStepFaults(world: World) {
  const f = world.app.stripeSandbox!.webhookFaults;
  f.reorder = false;
  f.delaySeconds = 0;
}

/** The day ends: time moves on (delayed webhooks arrive, sessions expire), staff clear the Make queue, the janitor runs. */
async function endOfDay(world: World, day: DayPlan, ctx: DayContext): Promise<void> {
  const sandbox = world.app.stripeSandbox!;
  world.make.mode = 'up';
  world.faults.disarm();
  // No API fault is left: each step forgets its own unmet ones. Cleared all the same, since one would
  // fail the day's end's own calls (a dispute closed in Stripe's dashboard has no retry).
  sandbox.clearPendingFaults();
  Object.assign(sandbox.webhookFaults, { dropNext: 0, duplicateNext: 0, reorder: false, delaySeconds: 0 });
  // Sandbox time: a day, in four steps, with the applier running after each (as its job would).
  await ctx.timed('clock', async () => {
    for (let i = 0; i < 4; i++) {
      await sandbox.advanceClock(6 * 3600);
      await job(ctx, 'webhook applier', () => world.app.webhookApplier.drain());
    }
  });
  const prng = new Prng(day.endSeed);
  ctx.count(ctx.operations, 'staff: close a dispute at Stripe', await ctx.timed('staff', () => closeSomeDisputes(world, prng, 0.5)));
  await ctx.timed('make outbox', async () => {
    await job(ctx, 'make outbox', () => world.app.makeOutbox.drain());
    ctx.count(ctx.outcomes, 'Make deliveries staff retried (pressed twice)', await retryStuckDeliveries(world, prng));
    await job(ctx, 'make outbox', () => world.app.makeOutbox.drain());
  });
  // The pass settles a refund left creating (its Stripe call failed past the SDK's retries) once it has
  // been untouched for 5 minutes by the database's clock (settleCreating.ts), a wall clock the run
  // covers in seconds: a simulated day has passed since, so it is aged as that day would age it.
  // Without this a short run never settled one, and a long one did or not by how fast it ran.
  await ageCreatingRefunds(world);
  const pass = await ctx.timed('reconciliation', () => runReconciliation(world.app.reconciliation, { trigger: 'schedule', actor: 'janitor' }));
  ctx.count(ctx.operations, 'reconciliation pass');
  if (pass.outcome !== 'succeeded') ctx.count(ctx.outcomes, `reconciliation ${pass.outcome}`);
  await ctx.timed('webhooks', async () => {
    await sandbox.flushWebhooks();
    await job(ctx, 'webhook applier', () => world.app.webhookApplier.drain());
  });
  await ctx.timed('make outbox', async () => {
    await job(ctx, 'make outbox', () => world.app.makeOutbox.drain());
    // An attempt whose record failed (an injected database fault) keeps its lease (30 s of wall
    // clock, the outbox's own time) and is claimed again when it ends: the lease is ended as that
    // time passing would end it, and the drain below claims it again, as the job would.
    await expireMakeLeases(world);
    ctx.count(ctx.outcomes, 'Make deliveries staff retried (pressed twice)', await retryStuckDeliveries(world, prng));
    await job(ctx, 'make outbox', () => world.app.makeOutbox.drain());
  });
}

/** Runs one job's drain as the job runner does: a failed run is logged (counted) and the next one goes on. */
async function job(ctx: DayContext, name: string, drain: () => Promise<unknown>): Promise<void> {
  try {
    await drain();
  } catch (error) {
    ctx.count(ctx.outcomes, `${name} run failed (retried by its next run)`);
    ctx.log?.(`${name} run failed: ${(error as Error).message}`);
  }
}

/** Refunds still creating, aged by a day (updated_at is the only clock settleCreating.ts reads). Staff have finished: none is in flight. */
async function ageCreatingRefunds(world: World): Promise<void> {
  await world.app.db.query(`update refunds set updated_at = updated_at - interval '1 day' where status = 'creating'`);
}

/**
 * Ends the leases of Make deliveries left `delivering` (make_deliveries_claim: while a row is
 * delivering, next_attempt_at is its lease), as their 30 s of wall clock passing would: sleeping them
 * out cost up to 35 s of a run's wall clock a day, minutes in a month. Only at the day's end, after a
 * drain has finished, so no attempt is in flight: a row still delivering is one whose record failed.
 */
async function expireMakeLeases(world: World): Promise<void> {
  await world.app.db.query(`update make_deliveries set next_attempt_at = now() where status = 'delivering' and next_attempt_at > now()`);
}
