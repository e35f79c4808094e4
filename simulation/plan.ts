// The plan of a run, drawn from the seed before anything runs: per day, the customers (each with its
// journey and a seed of its own), the staff actions, and the faults at their steps. Drawing it whole
// first keeps each part independent of the others: a run with fewer customers or without one fault
// (shrink.ts) keeps every other choice as it was.
import { type Journey, type StaffAction, TRACKS } from './operations';
import { Prng } from './prng';

export const FAULT_KINDS = ['webhook_drop', 'webhook_duplicate', 'webhook_reorder', 'webhook_delay', 'stripe_429', 'stripe_500', 'stripe_connection_reset', 'db_statement', 'make_down', 'make_slow', 'restart'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Statements a db_statement fault fails once: storing and applying events, checkout, refunds, Make, payment requests. */
export const FAULTY_STATEMENTS = ['stripe_events_store', 'stripe_events_apply', 'checkout_begin', 'checkout_record_attempt', 'order_apply_payment', 'refund_claim', 'refund_record', 'make_delivery_record', 'payment_request_create', 'payment_request_pay_begin', 'payment_request_cancel_finish'];

export interface SimOptions {
  seed: number;
  days: number;
  /** Customers (payment attempts) per day. */
  customersPerDay: number;
  /** Staff actions per 10 customers. */
  staffPer10: number;
  /** Probability of a fault at each step. */
  faultRate: number;
  /** Relative weights of the customers' journeys. */
  mix: Record<Journey, number>;
  stripeRetries: number;
  makeTimeoutMs: number;
}

export const DEFAULT_MIX: Record<Journey, number> = {
  checkout_paid: 30,
  checkout_declined_then_paid: 5,
  checkout_3ds: 5,
  checkout_abandoned: 5,
  elements_paid: 30,
  elements_declined: 5,
  elements_declined_then_paid: 5,
  elements_3ds: 5,
  elements_3ds_failed: 3,
  elements_abandoned: 4,
  elements_disputed: 2,
  subscription_started: 5,
  subscription_renewal_declined: 2,
  payment_request: 6,
};

export const DEFAULT_OPTIONS: Omit<SimOptions, 'seed'> = { days: 3, customersPerDay: 12, staffPer10: 3, faultRate: 0.25, mix: DEFAULT_MIX, stripeRetries: 1, makeTimeoutMs: 300 };

export interface CustomerStep {
  ref: string;
  track: (typeof TRACKS)[number];
  journey: Journey;
  seed: number;
}

export interface FaultStep {
  /** Before which step of the day (customers first, then staff actions). */
  step: number;
  kind: FaultKind;
  /** How many (webhooks, API failures), hours (delay) or steps (Make down or slow). */
  size: number;
  statement?: string;
  /** Its place in the plan, for shrinking and reports. */
  id: string;
}

export interface DayPlan {
  day: number;
  customers: CustomerStep[];
  staff: Array<{ action: StaffAction; seed: number }>;
  faults: FaultStep[];
  endSeed: number;
}

export interface RunPlan {
  seed: number;
  days: DayPlan[];
}

const STAFF_WEIGHTS: Record<StaffAction, number> = { refund_partial: 3, refund_full: 3, refund_race: 2, refund_double_press: 2, sync_twice: 2, replay_twice: 1, subscription_switch: 2, subscription_pause: 1, subscription_resume: 1, subscription_cancel: 1, payment_request_cancel: 1, payment_request_late_member: 2 };
const FAULT_WEIGHTS: Record<FaultKind, number> = {
  webhook_drop: 3,
  webhook_duplicate: 3,
  webhook_reorder: 2,
  webhook_delay: 2,
  stripe_429: 2,
  stripe_500: 2,
  stripe_connection_reset: 1,
  db_statement: 3,
  make_down: 1,
  make_slow: 1,
  restart: 1,
};

export function planRun(options: SimOptions): RunPlan {
  const root = new Prng(options.seed);
  const days: DayPlan[] = [];
  for (let day = 1; day <= options.days; day++) {
    // Each day and each part of a day draws from its own stream: changing one never shifts another.
    const dayPrng = root.fork();
    const customersPrng = dayPrng.fork();
    const staffPrng = dayPrng.fork();
    const faultPrng = dayPrng.fork();
    const customers: CustomerStep[] = [];
    for (let i = 0; i < options.customersPerDay; i++) {
      const c = customersPrng.fork();
      customers.push({ ref: `d${day}c${i + 1}`, track: c.pick(TRACKS), journey: c.weighted(options.mix), seed: c.next() });
    }
    const staffCount = Math.round((options.customersPerDay * options.staffPer10) / 10);
    const staff = Array.from({ length: staffCount }, () => {
      const s = staffPrng.fork();
      return { action: s.weighted(STAFF_WEIGHTS), seed: s.next() };
    });
    const faults: FaultStep[] = [];
    for (let step = 0; step < options.customersPerDay + staffCount; step++) {
      const f = faultPrng.fork();
      if (!f.chance(options.faultRate)) continue;
      const kind = f.weighted(FAULT_WEIGHTS);
      const size = kind === 'webhook_delay' ? f.int(1, 6) : kind === 'make_down' || kind === 'make_slow' ? f.int(1, 5) : f.int(1, 3);
      faults.push({ step, kind, size, ...(kind === 'db_statement' ? { statement: f.pick(FAULTY_STATEMENTS) } : {}), id: `d${day}s${step}` });
    }
    days.push({ day, customers, staff, faults, endSeed: dayPrng.next() });
  }
  return { seed: options.seed, days };
}
