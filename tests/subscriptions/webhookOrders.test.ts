// Every subscription transition's webhooks, delivered in every order, end in the same state (issue 19).
// For each transition the sandbox makes the subscription, then (a second later) the change, and
// emits their events as Stripe does; their deliveries are held (dropped by the sandbox's fault, the
// events kept), collected, and POSTed to the server's webhook endpoint over real HTTP in one order,
// each applied before the next arrives: the change's events among themselves and among those of the
// subscription's start, which Stripe may deliver after them. Each
// order gets fresh objects (a new subscription brought to the same point), and what the webhooks keep
// of it (the subscriptions row, its invoices, the payment_logs of their effects, the Make deliveries)
// must be the same for every order. The sandbox clock is frozen, so times compare exactly (relative to
// the subscription's start where a period rolls). Jobs are off: the Make outbox keeps what is enqueued.
import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HANDLED_EVENT_TYPES } from '../../server/webhooks/translate';
import type { StripeSandbox } from '../../stripe-sandbox/sandbox';
import { type CheckoutServer, newKey, startCheckoutServer } from '../helpers/checkout';
import { deliver } from '../helpers/webhookStory';
import { makeEnv } from '../make/makeHelpers';

let server: CheckoutServer;
let sandbox: StripeSandbox;
let stripe: Stripe;
const priceOf: Record<string, string> = {};

beforeAll(async () => {
  server = await startCheckoutServer({ ...makeEnv(['add_project', 'subscription_changed']), JOBS_ENABLED: 'false' });
  sandbox = server.app.stripeSandbox!;
  stripe = server.app.stripe;
  sandbox.core.clock.freeze();
  const { rows } = await server.app.db.query<{ id: string; stripe_price_id: string }>("select id, stripe_price_id from prices where kind = 'recurring'");
  for (const row of rows) priceOf[row.id] = row.stripe_price_id;
});
afterAll(() => server?.stop());

/** A subscription brought to the point before the transition: its ids, to find and to name what it left. */
interface Subject {
  subscriptionId: string;
  customerId: string;
  orderId: string | null;
  /** Unix seconds the times are measured from (the subscription's start at Stripe). */
  origin: number;
}

async function settle(): Promise<void> {
  await sandbox.flushWebhooks();
  await server.app.webhookApplier.drain();
  const { rows } = await server.app.db.query("select id, type, last_error from stripe_events where status not in ('applied', 'ignored')");
  expect(rows).toEqual([]);
}

/** An active subscription of a customer of ours to the website audit's monthly price, its events applied. */
async function subscribed(paymentMethod = 'pm_card_visa'): Promise<Subject> {
  const customerId = randomUUID();
  await server.app.db.query(`insert into customers (id, user_id, email) values ($1, $2, $3)`, [customerId, randomUUID(), `${customerId}@example.com`]);
  const customer = await stripe.customers.create({ email: `${customerId}@example.com` });
  const sub = await stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: priceOf.website_audit_feedback_usd_monthly! }],
    default_payment_method: paymentMethod,
    metadata: { customer_id: customerId },
  });
  await settle();
  return { subscriptionId: sub.id, customerId, orderId: null, origin: sub.start_date };
}

/** The events the sandbox sends our endpoint while `change` runs, none of them delivered; with the endpoint's secret. */
async function held(change: () => Promise<void>): Promise<{ events: Stripe.Event[]; secret: string }> {
  await sandbox.flushWebhooks();
  const from = sandbox.core.events.log.length;
  sandbox.webhookFaults.dropNext = 1_000_000;
  try {
    await change();
    await sandbox.flushWebhooks();
  } finally {
    sandbox.webhookFaults.dropNext = 0;
  }
  const dropped = sandbox.core.events.log.slice(from).filter((record) => record.status === 'dropped');
  const secret = dropped.length > 0 ? sandbox.core.events.secretOf(dropped[0]!.endpointId)! : '';
  // Only the types the applier acts on: any other is acknowledged and marked ignored whatever its
  // place, so permuting it would only multiply the orders.
  const events = dropped.map((record) => sandbox.core.events.events.get(record.eventId)!).filter((event) => HANDLED_EVENT_TYPES.has(event.type));
  return { events, secret };
}

/** Ends a subject at Stripe without telling the server, so later clock rolls bill nothing of it. */
async function retire(subject: Subject): Promise<void> {
  await held(async () => {
    const sub = await stripe.subscriptions.retrieve(subject.subscriptionId);
    if (sub.status !== 'canceled') await stripe.subscriptions.cancel(subject.subscriptionId);
  });
}

const seconds = (value: string | Date | null) => (value === null ? null : Math.floor(new Date(value).getTime() / 1000));

/**
 * What the webhooks kept of the subject, with its ids named and its times as ranks ('t0' the
 * subscription's start, then each later time kept): runs made a month apart compare, months of
 * different lengths included.
 */
async function kept(subject: Subject, options: { subscriptionChanged: boolean }) {
  const db = server.app.db;
  const times = new Set<number>([subject.origin]);
  const raw = (value: string | Date | null) => {
    if (value === null) return null;
    times.add(seconds(value)!);
    return seconds(value)!;
  };
  const { rows: subs } = await db.query<Record<string, any>>('select * from subscriptions where id = $1', [subject.subscriptionId]);
  const sub = subs[0];
  const trackOf = Object.fromEntries(Object.entries(priceOf).map(([id, stripeId]) => [stripeId, id]));
  const subscription = sub && {
    status: sub.status,
    price: trackOf[sub.stripe_price_id] ?? sub.stripe_price_id,
    customer: sub.customer_id === subject.customerId,
    order: sub.order_id === subject.orderId,
    current_period_start: raw(sub.current_period_start),
    current_period_end: raw(sub.current_period_end),
    cancel_at_period_end: sub.cancel_at_period_end,
    canceled_at: raw(sub.canceled_at),
    pause_behavior: sub.pause_behavior,
    pause_resumes_at: raw(sub.pause_resumes_at),
  };
  const { rows: invoices } = await db.query<{
    status: string;
    due: number;
    paid: number;
    currency: string;
    hosted: boolean;
    period_start: Date | null;
    period_end: Date | null;
    stripe_created: Date;
  }>(
    'select status, amount_due::int as due, amount_paid::int as paid, currency, hosted_invoice_url is not null as hosted, period_start, period_end, stripe_created from subscription_invoices where subscription_id = $1 order by stripe_created, period_start, amount_due, status',
    [subject.subscriptionId],
  );
  // The logs of the effects: every row but the subscription's states, by type and status.
  const mine = `(customer_id = $1 or metadata->>'subscription_id' = $2)`;
  const { rows: logs } = await db.query<{ event_type: string; status: string | null; n: number }>(
    `select event_type, status, count(*)::int as n from payment_logs
      where ${mine} and event_type not like 'customer.subscription.%' group by event_type, status order by event_type, status`,
    [subject.customerId, subject.subscriptionId],
  );
  // The subscription's states are logged as they are applied, and an event older than one applied is
  // stale and not applied (DESIGN.md decision 6): which intermediate states are logged depends on the
  // order by design. What may not: an event logged twice, or the last logged state not the final one.
  const { rows: stateLogs } = await db.query<{ duplicated: number; last: string | null }>(
    `select (count(*) - count(distinct metadata->>'actor'))::int as duplicated,
            (array_agg(status order by id desc))[1] as last
       from payment_logs where ${mine} and event_type like 'customer.subscription.%'`,
    [subject.customerId, subject.subscriptionId],
  );
  // Make: add_project (and the rest) by count; subscription_changed, one per state applied, like the
  // state logs: never two for one state (not compared for pause, resume, cancel at period end: that
  // trigger is being changed).
  const { rows: makeRows } = await db.query<{ kind: string; n: number; keys: number }>(
    `select kind, count(*)::int as n, count(distinct dedupe_key)::int as keys from make_deliveries
      where (customer_id = $1 or subject_id = $2 or order_id = $3) and (kind <> 'subscription_changed' or $4) group by kind order by kind`,
    [subject.customerId, subject.subscriptionId, subject.orderId, options.subscriptionChanged],
  );
  const make = makeRows.map((row) => (row.kind === 'subscription_changed' ? { kind: row.kind, duplicated: row.n - row.keys } : row));
  const { rows: order } = subject.orderId ? await db.query('select status from orders where id = $1', [subject.orderId]) : { rows: [] };
  const invoiceTimes = invoices.map((i) => ({ ...i, period_start: raw(i.period_start), period_end: raw(i.period_end), stripe_created: raw(i.stripe_created) }));
  const ranks = [...times].sort((a, b) => a - b);
  const at = (value: number | null) => (value === null || value < subject.origin ? value : `t${ranks.indexOf(value)}`);
  return {
    subscription: subscription && {
      ...subscription,
      current_period_start: at(subscription.current_period_start),
      current_period_end: at(subscription.current_period_end),
      canceled_at: at(subscription.canceled_at),
      pause_resumes_at: at(subscription.pause_resumes_at),
    },
    invoices: invoiceTimes.map((i) => ({ ...i, period_start: at(i.period_start), period_end: at(i.period_end), stripe_created: at(i.stripe_created) })),
    logs,
    stateLogs: stateLogs[0],
    make,
    order: order[0] ?? null,
  };
}

// ---- orders ----

/** A small deterministic generator (mulberry32), so a failing order can be named and rerun. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  return permutations(n - 1).flatMap((rest) => Array.from({ length: n }, (_, at) => [...rest.slice(0, at), n - 1, ...rest.slice(at)]));
}

// All orders up to this many events (4! = 24); beyond it a seeded sample, reversed and doubled.
const ALL_ORDERS_UP_TO = 4;
const SAMPLED = 8;

/** The orders to deliver n events in, as lists of indexes (an index twice: delivered twice). */
export function deliveryOrders(n: number, seed = 19): Array<{ name: string; order: number[] }> {
  const forward = Array.from({ length: n }, (_, i) => i);
  const reverse = [...forward].reverse();
  const orders = [
    { name: 'every event twice, then all again newest first', order: [...forward.flatMap((i) => [i, i]), ...reverse] },
  ];
  if (n <= ALL_ORDERS_UP_TO) {
    orders.unshift(...permutations(n).map((order) => ({ name: order.join(','), order })));
  } else {
    const random = seeded(seed);
    const sample = Array.from({ length: SAMPLED }, () => {
      const order = [...forward];
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      return order;
    });
    orders.unshift(...[forward, reverse, ...sample].map((order) => ({ name: order.join(','), order })));
  }
  return orders;
}

interface Transition {
  name: string;
  /** Fresh objects at the point before the transition (their events are held with the change's). */
  before: () => Promise<Subject>;
  /** The change at Stripe (or the clock), whose events are held. */
  change: (subject: Subject) => Promise<void>;
  /** subscription_changed is compared too (not for pause, resume, cancel at period end: that trigger is being changed). */
  subscriptionChanged: boolean;
  /** What the state is, so that "the same" is the right state too. */
  expected: (state: Awaited<ReturnType<typeof kept>>) => void;
}

async function endsTheSame(transition: Transition): Promise<void> {
  let orders: Array<{ name: string; order: number[] }> | undefined;
  let types: string[] | undefined;
  let first: unknown;
  let run = 0;
  for (; orders === undefined || run < orders.length; run++) {
    let subject: Subject | undefined;
    try {
      const { events, secret } = await held(async () => {
        subject = await transition.before();
        // The change a second later than what came before it, as a customer's change comes.
        await sandbox.advanceClock(1);
        await transition.change(subject);
      });
      await deliveredInOrder(subject!, events, secret);
    } finally {
      if (subject) await retire(subject);
    }
  }

  async function deliveredInOrder(subject: Subject, events: Stripe.Event[], secret: string): Promise<void> {
    const theseTypes = events.map((event) => event.type);
    if (types === undefined) {
      types = theseTypes;
      orders = deliveryOrders(events.length);
    }
    // The same change makes the same events, so index i names the same event in every run.
    expect(theseTypes).toEqual(types);
    const { name, order } = orders![run]!;
    for (const index of order) {
      const response = await deliver(server.url, events[index]!, secret);
      expect(response.status, `${transition.name}: ${name}`).toBe(200);
      await server.app.webhookApplier.drain();
    }
    const { rows } = await server.app.db.query("select type, last_error from stripe_events where status not in ('applied', 'ignored')");
    expect(rows, `${transition.name}: ${name}`).toEqual([]);
    const state = await kept(subject, { subscriptionChanged: transition.subscriptionChanged });
    if (run === 0) {
      transition.expected(state);
      first = state;
    } else {
      expect(state, `${transition.name} in the order ${name} (events ${types!.join(', ')})`).toEqual(first);
    }
  }
}

/** A subscription bought through the hosted Checkout, held before its events are delivered. */
async function checkoutSubject(): Promise<{ subject: Subject; url: string }> {
  const response = await server.graphql(
    `mutation ($input: SubscriptionCheckoutInput!) { createSubscriptionCheckout(input: $input) { order { id customer { id } } url error { code } } }`,
    { variables: { input: { idempotencyKey: newKey(), track: 'website_audit_feedback', email: `guest-${randomUUID()}@example.com` } }, ...server.asStorefront },
  );
  expect(response.body.errors).toBeUndefined();
  const started = response.body.data.createSubscriptionCheckout;
  return { subject: { subscriptionId: '', customerId: started.order.customer.id, orderId: started.order.id, origin: 0 }, url: started.url };
}

const transitions: Transition[] = [
  {
    name: 'subscribed through Checkout, the first invoice paid',
    subscriptionChanged: true,
    async before() {
      const { subject, url } = await checkoutSubject();
      return Object.assign(subject, { url });
    },
    async change(subject) {
      const response = await fetch((subject as Subject & { url: string }).url, {
        method: 'POST',
        body: new URLSearchParams({ card_number: '4242424242424242', email: 'payer@example.com', name: 'Payer' }),
        redirect: 'manual',
      });
      expect(response.status).toBe(303);
      const sessions = sandbox.core.store.collection<Stripe.Checkout.Session>('checkout.session').newestFirst((s) => s.metadata?.order_id === subject.orderId);
      const sub = await stripe.subscriptions.retrieve(String(sessions[0]!.subscription));
      Object.assign(subject, { subscriptionId: sub.id, origin: sub.start_date });
    },
    expected(state) {
      expect(state.order).toEqual({ status: 'paid' });
      expect(state.subscription).toMatchObject({ status: 'active', price: 'website_audit_feedback_usd_monthly', order: true });
      expect(state.invoices).toEqual([expect.objectContaining({ status: 'paid', due: 7900, paid: 7900 })]);
      expect(state.make.find((m) => m.kind === 'add_project')).toEqual({ kind: 'add_project', n: 1, keys: 1 });
    },
  },
  {
    name: 'switched to another track, the proration invoiced and paid',
    subscriptionChanged: true,
    before: () => subscribed(),
    async change(subject) {
      const sub = await stripe.subscriptions.retrieve(subject.subscriptionId);
      await stripe.subscriptions.update(subject.subscriptionId, {
        items: [{ id: sub.items.data[0]!.id, price: priceOf.business_plan_builder_usd_monthly! }],
        proration_behavior: 'always_invoice',
        proration_date: sub.start_date,
      });
    },
    expected(state) {
      expect(state.subscription).toMatchObject({ status: 'active', price: 'business_plan_builder_usd_monthly' });
      // The first invoice and the proration's (9900 - 7900 for the whole period).
      expect(state.invoices.map((i) => [i.status, i.paid])).toEqual(expect.arrayContaining([['paid', 7900], ['paid', 2000]]));
    },
  },
  {
    name: 'canceled at period end',
    subscriptionChanged: false,
    // Stripe's canceled_at is the time of the request to cancel at period end, not the period's end.
    before: () => subscribed(),
    change: async (subject) => void (await stripe.subscriptions.update(subject.subscriptionId, { cancel_at_period_end: true })),
    expected: (state) => expect(state.subscription).toMatchObject({ status: 'active', cancel_at_period_end: true, current_period_end: 't2', canceled_at: 't1' }),
  },
  {
    name: 'canceled now',
    subscriptionChanged: true,
    before: () => subscribed(),
    change: async (subject) => void (await stripe.subscriptions.cancel(subject.subscriptionId)),
    expected: (state) => expect(state.subscription).toMatchObject({ status: 'canceled', canceled_at: 't1' }),
  },
  {
    name: 'paused',
    subscriptionChanged: false,
    before: () => subscribed(),
    change: async (subject) => void (await stripe.subscriptions.update(subject.subscriptionId, { pause_collection: { behavior: 'void' } })),
    expected: (state) => expect(state.subscription).toMatchObject({ status: 'active', pause_behavior: 'void' }),
  },
  {
    name: 'resumed',
    subscriptionChanged: false,
    async before() {
      const subject = await subscribed();
      await stripe.subscriptions.update(subject.subscriptionId, { pause_collection: { behavior: 'keep_as_draft' } });
      await settle();
      return subject;
    },
    change: async (subject) => void (await stripe.subscriptions.update(subject.subscriptionId, { pause_collection: '' })),
    expected: (state) => expect(state.subscription).toMatchObject({ status: 'active', pause_behavior: null }),
  },
  {
    name: 'renewed, the renewal paid',
    subscriptionChanged: true,
    before: () => subscribed(),
    change: (subject) => rollPeriod(subject),
    expected(state) {
      expect(state.subscription).toMatchObject({ status: 'active', current_period_start: 't1', current_period_end: 't2' });
      // A renewal invoice bills the period that just ended (Stripe's period_start/period_end).
      expect(state.invoices.map((i) => [i.status, i.paid, i.period_end])).toEqual([
        ['paid', 7900, 't0'],
        ['paid', 7900, 't1'],
      ]);
    },
  },
  {
    name: 'renewed, the renewal declined',
    subscriptionChanged: true,
    async before() {
      const subject = await subscribed();
      await stripe.subscriptions.update(subject.subscriptionId, { default_payment_method: 'pm_card_chargeDeclined' });
      await settle();
      return subject;
    },
    change: (subject) => rollPeriod(subject),
    expected(state) {
      expect(state.subscription).toMatchObject({ status: 'past_due', current_period_start: 't1' });
      expect(state.invoices.map((i) => [i.status, i.paid])).toEqual([
        ['paid', 7900],
        ['open', 0],
      ]);
    },
  },
];

/** Moves the sandbox clock to the subject's period end: Stripe renews it. */
async function rollPeriod(subject: Subject): Promise<void> {
  const sub = await stripe.subscriptions.retrieve(subject.subscriptionId);
  await sandbox.advanceClock(sub.items.data[0]!.current_period_end - sandbox.core.clock.now());
}

describe('a subscription transition’s webhooks in any order', () => {
  it('has the orders it promises: all of 4 events, and a sample with the reverse and every event twice beyond', () => {
    expect(deliveryOrders(3)).toHaveLength(6 + 1);
    expect(new Set(deliveryOrders(4).slice(0, 24).map((o) => o.name)).size).toBe(24);
    const seven = deliveryOrders(7);
    expect(seven.map((o) => o.name)).toContain('6,5,4,3,2,1,0');
    expect(seven.at(-1)!.order).toHaveLength(21);
  });

  for (const transition of transitions) {
    it(`${transition.name}: the same state in every order`, () => endsTheSame(transition), 60_000);
  }
});

describe('the first paid invoice of a subscription bought through Checkout', () => {
  it('pays the order and forwards add_project once before the session’s completion arrives, and the completion, twice, adds nothing', async () => {
    const checkout = transitions[0]!;
    let subject: Subject | undefined;
    try {
      const { events, secret } = await held(async () => {
        subject = await checkout.before();
        await checkout.change(subject);
      });
      const completion = events.filter((e) => e.type === 'checkout.session.completed');
      expect(completion).toHaveLength(1);
      const send = async (batch: Stripe.Event[]) => {
        for (const event of batch) {
          expect((await deliver(server.url, event, secret)).status).toBe(200);
          await server.app.webhookApplier.drain();
        }
      };
      // The subscription's and its first invoice's events, each twice, newest first; no completion yet.
      const rest = events.filter((e) => e.type !== 'checkout.session.completed').reverse();
      await send(rest.flatMap((e) => [e, e]));
      const early = await kept(subject!, { subscriptionChanged: true });
      expect(early.order).toEqual({ status: 'paid' });
      expect(early.make.find((m) => m.kind === 'add_project')).toEqual({ kind: 'add_project', n: 1, keys: 1 });

      await send([...completion, ...completion]);
      const late = await kept(subject!, { subscriptionChanged: true });
      expect(late).toEqual(early);
    } finally {
      if (subject) await retire(subject);
    }
  });
});
