// What must hold after every simulated day (issue 25, "What it checks", 1 to 3). Each check compares
// our database with the sandbox's own objects (what Stripe holds) and with what the Make receiver
// accepted, and answers the rows that disagree: an empty list is a pass.
import type Stripe from 'stripe';
import { invoicePriceId } from '../server/webhooks/translate';
import type { World } from './world';

export interface Violation {
  invariant: string;
  rows: unknown[];
}

export interface InvariantResult {
  name: string;
  ok: boolean;
  rows: unknown[];
}

/** A test-only hook (tests/simulation/): a check that fails on purpose, to exercise shrinking. */
export type ExtraInvariant = (world: World, context: { day: number }) => Promise<unknown[]>;

const SUCCEEDED_ORDER_STATUSES = ['paid', 'refunded', 'partially_refunded', 'disputed'];

interface SandboxLedger {
  intents: Stripe.PaymentIntent[];
  /** The same PaymentIntents by id: every check looks one up per row of ours (a list search would be quadratic over a month). */
  intentById: Map<string, Stripe.PaymentIntent>;
  charges: Map<string, Stripe.Charge>;
  refunds: Stripe.Refund[];
  disputes: Stripe.Dispute[];
  /** PaymentIntents that pay a subscription invoice: kept as invoices of ours, not as payments. */
  invoiceIntents: Map<string, Stripe.Invoice>;
  subscriptions: Stripe.Subscription[];
  sessions: Array<{ id: string; status: string | null; metadata: Record<string, string> | null; payment_intent: string | null }>;
}

function ledger(world: World): SandboxLedger {
  const store = world.app.stripeSandbox!.core.store;
  const charges = new Map(store.collection<Stripe.Charge>('charge').all().map((c) => [c.id, c]));
  const intents = store.collection<Stripe.PaymentIntent>('payment_intent').all();
  return {
    intents,
    intentById: new Map(intents.map((i) => [i.id, i])),
    charges,
    refunds: store.collection<Stripe.Refund>('refund').all(),
    disputes: store.collection<Stripe.Dispute>('dispute').all(),
    invoiceIntents: new Map(
      store
        .collection<Stripe.InvoicePayment>('invoice_payment')
        .all()
        .filter((p) => p.payment.payment_intent)
        .map((p) => [String(p.payment.payment_intent), store.collection<Stripe.Invoice>('invoice').get(String(p.invoice))!]),
    ),
    subscriptions: store.collection<Stripe.Subscription>('subscription').all(),
    sessions: store.collection<never>('checkout.session').all() as never,
  };
}

const chargeOf = (l: SandboxLedger, intent: Stripe.PaymentIntent) => (typeof intent.latest_charge === 'string' ? l.charges.get(intent.latest_charge) : (intent.latest_charge ?? undefined));

/** 1. The books balance to the cent: payments and refunds per object, orders, and the Overview's revenue. */
async function books(world: World, l: SandboxLedger): Promise<InvariantResult[]> {
  const db = world.app.db;
  const { rows: payments } = await db.query<{ pi: string; status: string; amount: number; amount_refunded: number; order_id: string; order_status: string }>(
    `select p.stripe_payment_intent_id as pi, p.status, p.amount::int as amount, p.amount_refunded::int as amount_refunded, p.order_id::text, o.status as order_status
       from payments p join orders o on o.id = p.order_id`,
  );
  const byPi = new Map(payments.map((p) => [p.pi, p]));
  const paymentRows: unknown[] = [];
  for (const intent of l.intents) {
    if (l.invoiceIntents.has(intent.id)) continue; // checked with its invoice below
    const ours = byPi.get(intent.id);
    if (intent.status !== 'succeeded') {
      if (ours?.status === 'succeeded') paymentRows.push({ pi: intent.id, stripe: intent.status, ours: ours.status });
      continue;
    }
    const charge = chargeOf(l, intent);
    const held = { amount: charge?.amount_captured ?? intent.amount_received, refunded: charge?.amount_refunded ?? 0 };
    if (!ours || ours.status !== 'succeeded' || ours.amount !== held.amount || ours.amount_refunded !== held.refunded || ours.order_id !== intent.metadata.order_id) {
      paymentRows.push({ pi: intent.id, stripe: { status: intent.status, ...held, order_id: intent.metadata.order_id }, ours: ours ?? null });
    }
  }
  for (const p of payments) if (p.status === 'succeeded' && l.intentById.get(p.pi)?.status !== 'succeeded') paymentRows.push({ pi: p.pi, ours: p, stripe: 'not succeeded' });

  const { rows: refunds } = await db.query<{ id: string; stripe_refund_id: string | null; status: string; amount: number }>(`select id::text, stripe_refund_id, status, amount::int as amount from refunds`);
  const ourRefund = new Map(refunds.filter((r) => r.stripe_refund_id).map((r) => [r.stripe_refund_id!, r]));
  const refundRows: unknown[] = [];
  for (const refund of l.refunds) {
    const ours = ourRefund.get(refund.id);
    if (refund.status === 'succeeded' ? !ours || ours.status !== 'succeeded' || ours.amount !== refund.amount : ours?.status === 'succeeded') {
      refundRows.push({ refund: refund.id, stripe: { status: refund.status, amount: refund.amount }, ours: ours ?? null });
    }
  }
  const stripeRefund = new Map(l.refunds.map((s) => [s.id, s]));
  for (const r of refunds) if (r.status === 'succeeded' && (!r.stripe_refund_id || stripeRefund.get(r.stripe_refund_id)?.status !== 'succeeded')) refundRows.push({ ours: r, stripe: 'not succeeded' });

  // An order is paid (in any of its after-payment states) exactly when Stripe holds a payment for it.
  const { rows: orders } = await db.query<{ id: string; status: string; amount: number }>(`select id::text, status, amount::int as amount from orders`);
  const paidAtStripe = new Set(l.intents.filter((i) => i.status === 'succeeded' && !l.invoiceIntents.has(i.id)).map((i) => i.metadata.order_id));
  // A subscription's order is paid by its first invoice (our metadata is on the subscription).
  const subscriptionById = new Map(l.subscriptions.map((sub) => [sub.id, sub]));
  const subscriptionOf = (invoice: Stripe.Invoice) => {
    const id = invoice.parent?.subscription_details?.subscription ?? (invoice as { subscription?: string }).subscription;
    return typeof id === 'string' ? subscriptionById.get(id) : undefined;
  };
  for (const invoice of l.invoiceIntents.values()) {
    const order = invoice.status === 'paid' ? subscriptionOf(invoice)?.metadata.order_id : undefined;
    if (order) paidAtStripe.add(order);
  }
  const orderRows = orders.filter((o) => SUCCEEDED_ORDER_STATUSES.includes(o.status) !== paidAtStripe.has(o.id)).map((o) => ({ order: o.id, status: o.status, paidAtStripe: paidAtStripe.has(o.id) }));

  // The Overview's revenue (30 days: the whole run in wall-clock time) per track and currency (a
  // payment request may be in another currency than the catalog's), against Stripe's.
  const expected = new Map<string, { gross: number; refunded: number }>();
  const track = (t: string, currency: string) => expected.get(`${t} ${currency}`) ?? expected.set(`${t} ${currency}`, { gross: 0, refunded: 0 }).get(`${t} ${currency}`)!;
  for (const intent of l.intents) if (intent.status === 'succeeded' && !l.invoiceIntents.has(intent.id) && intent.metadata.track) track(intent.metadata.track, intent.currency).gross += intent.amount_received;
  // A subscription's first invoice is its order's payment, on the track bought (the metadata's); every
  // later one (a switch invoiced at once, a renewal) is on the track of the price it billed, named by its
  // lines as the translator names it (else the subscription's price now, as the Overview falls back).
  const prices = world.app.stripeSandbox!.core.store.collection<Stripe.Price>('price');
  for (const [intentId, invoice] of l.invoiceIntents) {
    const sub = subscriptionOf(invoice);
    const intent = l.intentById.get(intentId);
    const billed = invoicePriceId(invoice);
    const onTrack = invoice.billing_reason === 'subscription_create' ? sub?.metadata.track : ((billed ? prices.get(billed)?.metadata.track : undefined) ?? sub?.items.data[0]?.price.metadata.track ?? sub?.metadata.track);
    if (intent?.status === 'succeeded' && onTrack) track(onTrack, intent.currency).gross += intent.amount_received;
  }
  for (const refund of l.refunds) {
    const intent = typeof refund.payment_intent === 'string' ? l.intentById.get(refund.payment_intent) : undefined;
    if (refund.status === 'succeeded' && intent?.metadata.track) track(intent.metadata.track, refund.currency).refunded += refund.amount;
  }
  const overview = await world.graphql(`query { opsActivity(period: MONTH) { revenueByTrack { track gross { amount currency } refunded { amount } } } }`, {}, 'admin');
  const shown = new Map<string, { gross: number; refunded: number }>(
    (overview.data?.opsActivity.revenueByTrack ?? []).map((r: any) => [`${r.track} ${r.gross.currency}`, { gross: r.gross.amount, refunded: r.refunded.amount }]),
  );
  const overviewRows: unknown[] = overview.errors ? [{ errors: overview.errors }] : [];
  for (const t of new Set([...expected.keys(), ...shown.keys()])) {
    const want = expected.get(t) ?? { gross: 0, refunded: 0 };
    const got = shown.get(t) ?? { gross: 0, refunded: 0 };
    if (want.gross !== got.gross || want.refunded !== got.refunded) overviewRows.push({ track: t, stripe: want, overview: got });
  }
  // Disputes: every one Stripe holds, with its amount and status, and none it does not.
  const { rows: ourDisputes } = await db.query<{ id: string; status: string; amount: number }>(`select id, status, amount::int as amount from disputes`);
  const disputeRows: unknown[] = [];
  const theirs = new Map(l.disputes.map((d) => [d.id, d]));
  const ourDispute = new Map(ourDisputes.map((o) => [o.id, o]));
  for (const d of l.disputes) {
    const ours = ourDispute.get(d.id);
    if (!ours || ours.status !== d.status || ours.amount !== d.amount) disputeRows.push({ dispute: d.id, stripe: { status: d.status, amount: d.amount }, ours: ours ?? null });
  }
  for (const o of ourDisputes) if (!theirs.has(o.id)) disputeRows.push({ dispute: o.id, ours: o, stripe: null });
  // Subscriptions and their invoices: status, price and period end flag; each invoice's status and amount paid.
  const store = world.app.stripeSandbox!.core.store;
  const { rows: ourSubs } = await db.query<{ id: string; status: string; price: string | null; cancel_at_period_end: boolean }>(
    `select id, status, stripe_price_id as price, cancel_at_period_end from subscriptions`,
  );
  const subscriptionRows: unknown[] = [];
  const stripeSubs = l.subscriptions;
  const ourSub = new Map(ourSubs.map((o) => [o.id, o]));
  for (const sub of stripeSubs) {
    const ours = ourSub.get(sub.id);
    const price = sub.items.data[0]?.price.id ?? null;
    if (!ours || ours.status !== sub.status || ours.price !== price || ours.cancel_at_period_end !== sub.cancel_at_period_end) {
      subscriptionRows.push({ subscription: sub.id, stripe: { status: sub.status, price, cancel_at_period_end: sub.cancel_at_period_end }, ours: ours ?? null });
    }
  }
  for (const o of ourSubs) if (!subscriptionById.has(o.id)) subscriptionRows.push({ subscription: o.id, ours: o, stripe: null });
  // A declined renewal is an open invoice at Stripe with nothing paid (and its subscription past_due,
  // checked above): ours must say the same, to the amount due.
  const { rows: ourInvoices } = await db.query<{ id: string; status: string; amount_due: number; amount_paid: number }>(`select id, status, amount_due::int as amount_due, amount_paid::int as amount_paid from subscription_invoices`);
  const invoiceRows: unknown[] = [];
  const stripeInvoices = store.collection<Stripe.Invoice>('invoice').all().filter((i) => i.status !== 'draft');
  const ourInvoice = new Map(ourInvoices.map((o) => [o.id, o]));
  for (const invoice of stripeInvoices) {
    const ours = ourInvoice.get(invoice.id);
    if (!ours || ours.status !== invoice.status || ours.amount_paid !== invoice.amount_paid || ours.amount_due !== invoice.amount_due) {
      invoiceRows.push({ invoice: invoice.id, billing_reason: invoice.billing_reason, stripe: { status: invoice.status, amount_due: invoice.amount_due, amount_paid: invoice.amount_paid }, ours: ours ?? null });
    }
  }
  // An invoice's PaymentIntent (a renewal's, paid or declined) is an invoice of ours, never an order's payment.
  const invoicePaymentRows = payments.filter((p) => l.invoiceIntents.has(p.pi)).map((p) => ({ pi: p.pi, invoice: l.invoiceIntents.get(p.pi)!.id, ours: p }));
  return [
    result('books: subscriptions equal Stripe', subscriptionRows),
    result('books: subscription invoices equal Stripe', invoiceRows),
    result('books: no order payment from an invoice (renewals paid or declined)', invoicePaymentRows),
    result('books: payments equal Stripe', paymentRows),
    result('books: disputes equal Stripe', disputeRows),
    result('books: refunds equal Stripe', refundRows),
    result('books: orders paid iff Stripe holds their payment', orderRows),
    result('books: Overview revenue equals Stripe', overviewRows),
    ...(await paymentRequestBooks(world, l)),
  ];
}

const SHARE_PAID = ['paid', 'refunded'];

/**
 * Payment requests (issue 20): each member's share recorded as paid is one succeeded PaymentIntent at
 * Stripe of the share's amount, and a share not recorded as paid has none; no share has two; a request
 * is paid exactly when every share is (a canceled or expired request keeps its status, with its unpaid
 * shares canceled).
 */
async function paymentRequestBooks(world: World, l: SandboxLedger): Promise<InvariantResult[]> {
  const { rows: members } = await world.app.db.query<{ id: string; request_id: string; ref: string | null; position: number; amount: number; status: string; request_status: string }>(
    `select m.id::text, m.payment_request_id::text as request_id, r.metadata->>'sim_ref' as ref, m.position, m.amount_pence::int as amount, m.status, r.status as request_status
       from payment_request_members m join payment_requests r on r.id = m.payment_request_id`,
  );
  const succeeded = new Map<string, Stripe.PaymentIntent[]>();
  for (const intent of l.intents) {
    const member = intent.metadata.payment_request_member_id;
    if (member && intent.status === 'succeeded') succeeded.set(member, [...(succeeded.get(member) ?? []), intent]);
  }
  const shareRows: unknown[] = [];
  const twiceRows: unknown[] = [];
  for (const m of members) {
    const paidAtStripe = succeeded.get(m.id) ?? [];
    const name = { member: m.id, ref: m.ref, position: m.position, amount: m.amount, status: m.status, stripe: paidAtStripe.map((i) => ({ pi: i.id, amount: i.amount_received })) };
    if (paidAtStripe.length > 1) twiceRows.push(name);
    if (SHARE_PAID.includes(m.status) ? paidAtStripe.length !== 1 || paidAtStripe[0]!.amount_received !== m.amount : paidAtStripe.length > 0) shareRows.push(name);
  }
  const memberIds = new Set(members.map((m) => m.id));
  for (const [member, intents] of succeeded) if (!memberIds.has(member)) shareRows.push({ member, ours: null, stripe: intents.map((i) => ({ pi: i.id, amount: i.amount_received })) });

  const byRequest = new Map<string, typeof members>();
  for (const m of members) byRequest.set(m.request_id, [...(byRequest.get(m.request_id) ?? []), m]);
  const requestRows: unknown[] = [];
  for (const [id, shares] of byRequest) {
    const status = shares[0]!.request_status;
    const statuses = shares.map((m) => m.status);
    const allPaid = statuses.every((s) => s === 'paid');
    const anyMoved = statuses.some((s) => ['paid', 'processing', 'refunded'].includes(s));
    const ok =
      status === 'paid'
        ? statuses.every((s) => SHARE_PAID.includes(s))
        : status === 'canceled' || status === 'expired'
          ? statuses.every((s) => [...SHARE_PAID, 'canceled'].includes(s))
          : status === (allPaid ? 'paid' : anyMoved ? 'partially_paid' : 'open');
    if (!ok) requestRows.push({ request: id, ref: shares[0]!.ref, status, members: statuses });
  }
  return [
    result('books: member shares paid equal Stripe', shareRows),
    result('books: no member share paid twice at Stripe', twiceRows),
    result('books: a payment request is paid exactly when all its shares are', requestRows),
  ];
}

/** 2. Every effect happened once. */
async function once(world: World, l: SandboxLedger): Promise<InvariantResult[]> {
  const accepted = new Map<string, Set<string>>();
  for (const r of world.make.receipts) {
    if (!r.accepted) continue;
    // A payment request's add_project names no order (its shares are orders of their own): it is the request's.
    const request = r.body.data?.payment_request?.id;
    const subject = r.kind === 'refund_completed' ? r.body.data?.refund?.id : r.kind === 'add_project' ? (r.body.data?.order_id ?? `payment_request:${request}`) : request;
    const key = `${r.kind}:${subject}`;
    if (!accepted.has(key)) accepted.set(key, new Set());
    accepted.get(key)!.add(r.deliveryId);
  }
  const count = (kind: string, subject: string) => accepted.get(`${kind}:${subject}`)?.size ?? 0;

  // A share's order enqueues no add_project of its own: its request does, once, when it completes.
  const { rows: orders } = await world.app.db.query<{ id: string; status: string; share: boolean }>(`select id::text, status, payment_request_id is not null as share from orders`);
  const addProject = orders
    .map((o) => ({ order: o.id, status: o.status, accepted: count('add_project', o.id), want: SUCCEEDED_ORDER_STATUSES.includes(o.status) && !o.share ? 1 : 0 }))
    .filter((o) => o.accepted !== o.want);

  // One payment_request_completed per completed request and none for the others; for a track, one add_project too.
  const { rows: requests } = await world.app.db.query<{ id: string; ref: string | null; status: string; track: string | null }>(
    `select id::text, metadata->>'sim_ref' as ref, status, product_id as track from payment_requests`,
  );
  const requestCompleted = requests
    .map((r) => ({ request: r.id, ref: r.ref, status: r.status, completed: count('payment_request_completed', r.id), add_project: count('add_project', `payment_request:${r.id}`), want: r.status === 'paid' ? 1 : 0, track: r.track }))
    .filter((r) => r.completed !== r.want || r.add_project !== (r.track ? r.want : 0));


  const { rows: refunds } = await world.app.db.query<{ id: string; status: string }>(`select id::text, status from refunds`);
  const refundCompleted = refunds
    .map((r) => ({ refund: r.id, status: r.status, accepted: count('refund_completed', r.id), want: r.status === 'succeeded' ? 1 : 0 }))
    .filter((r) => r.accepted !== r.want);

  // Every effect Make accepted names something of ours: an order, a refund or a request (none for a
  // renewal, paid or declined, which makes no order).
  const known = new Set([
    ...orders.map((o) => `add_project:${o.id}`),
    ...refunds.map((r) => `refund_completed:${r.id}`),
    ...requests.flatMap((r) => [`add_project:payment_request:${r.id}`, `payment_request_completed:${r.id}`]),
  ]);
  const strays = [...accepted.keys()].filter((key) => !known.has(key)).map((key) => ({ effect: key, deliveries: accepted.get(key)!.size }));

  // One Stripe object per attempt (the attempt's idempotency key made it), one refund per refund row.
  const groups = new Map<string, string[]>();
  const add = (key: string, id: string) => groups.set(key, [...(groups.get(key) ?? []), id]);
  for (const session of l.sessions) if (session.metadata?.order_id) add(`session:${session.metadata.order_id}:${session.metadata.attempt}`, session.id);
  const sessionIntents = new Set(l.sessions.map((s) => s.payment_intent).filter(Boolean));
  for (const intent of l.intents) if (intent.metadata.order_id && !sessionIntents.has(intent.id)) add(`intent:${intent.metadata.order_id}:${intent.metadata.attempt}`, intent.id);
  for (const refund of l.refunds) if (refund.metadata?.refund_id) add(`refund:${refund.metadata.refund_id}`, refund.id);
  const twice = [...groups].filter(([, ids]) => ids.length > 1).map(([key, ids]) => ({ key, objects: ids }));

  return [
    result('once: one accepted add_project per paid order', addProject),
    result('once: one refund_completed per succeeded refund', refundCompleted),
    result('once: one payment_request_completed (and add_project for a track) per completed request', requestCompleted),
    result('once: every accepted Make effect names an order, refund or request of ours', strays),
    result('once: one Stripe object per attempt and per refund', twice),
  ];
}

/** 3. Nothing is left behind after the day's reconciliation pass. */
async function leftBehind(world: World, l: SandboxLedger): Promise<InvariantResult[]> {
  const db = world.app.db;
  const { rows: events } = await db.query(`select id, type, status, last_error from stripe_events where status not in ('applied', 'ignored')`);
  const { rows: provisional } = await db.query(`select id::text, status, sync_attempts from orders where sync_state = 'provisional'`);
  const objectIds = [...l.intents.map((i) => i.id), ...l.sessions.map((s) => s.id)];
  const { rows: known } = await db.query<{ id: string }>(
    `select x.id from unnest($1::text[]) as x(id)
      where exists (select 1 from payment_attempts where stripe_object_id = x.id)
         or exists (select 1 from payments where stripe_payment_intent_id = x.id)
         or exists (select 1 from orders where payment_intent_id = x.id or checkout_session_id = x.id)`,
    [objectIds],
  );
  const recorded = new Set(known.map((k) => k.id));
  const sessionIntents = new Set(l.sessions.map((s) => s.payment_intent).filter(Boolean));
  const unrecorded = [
    ...l.intents.filter((i) => !recorded.has(i.id) && !sessionIntents.has(i.id) && !l.invoiceIntents.has(i.id) && !['canceled'].includes(i.status)).map((i) => ({ object: i.id, status: i.status })),
    ...l.sessions.filter((s) => !recorded.has(s.id) && s.status === 'open').map((s) => ({ object: s.id, status: s.status })),
  ];
  const { rows: outbox } = await db.query(`select id::text, kind, status, attempts from make_deliveries where status not in ('delivered')`);
  // The pass expires requests past their expiry by Stripe's clock (an hour's margin: the check runs a
  // few real seconds after the pass, and the sandbox's clock follows them).
  const { rows: unexpired } = await db.query(`select id::text, metadata->>'sim_ref' as ref, status, expires_at from payment_requests where status in ('open', 'partially_paid') and expires_at <= to_timestamp($1) - interval '1 hour'`, [
    world.app.stripeSandbox!.core.clock.now(),
  ]);
  return [
    result('left: every stored event applied or ignored', events),
    result('left: no order provisional after the pass', provisional),
    result('left: no open Stripe object without a record', unrecorded),
    result('left: every Make delivery delivered', outbox),
    result('left: no payment request open past its expiry', unexpired),
  ];
}

function result(name: string, rows: unknown[]): InvariantResult {
  return { name, ok: rows.length === 0, rows };
}

export async function checkInvariants(world: World, day: number, extra: ExtraInvariant[] = []): Promise<InvariantResult[]> {
  // One copy of the sandbox's objects for the three groups: nothing changes the sandbox while they run.
  const l = ledger(world);
  const results = [...(await books(world, l)), ...(await once(world, l)), ...(await leftBehind(world, l))];
  for (const [i, check] of extra.entries()) results.push(result(`extra ${i + 1} (test hook)`, await check(world, { day })));
  return results;
}
