// The final state's digest (issue 25, "Determinism"): our tables and the sandbox's objects, each row
// named by the simulator's own reference (sim_ref, in the order's metadata and so in every Stripe
// object's), with wall-clock columns and random ids (UUIDs, Stripe ids, keys) left out. The same seed
// gives the same digest; a different seed another.
import { createHash } from 'node:crypto';
import type Stripe from 'stripe';
import type { World } from './world';

export async function digestState(world: World, tables: { operations: Record<string, number>; faults: Record<string, number> }): Promise<string> {
  return digestOf(await canonicalState(world, tables));
}

/** The hash of a canonical state: what the report prints and two runs of one seed must share. */
export function digestOf(state: CanonicalState): string {
  return createHash('sha256').update(JSON.stringify(state)).digest('hex').slice(0, 32);
}

export type CanonicalState = Awaited<ReturnType<typeof canonicalState>>;

export async function canonicalState(world: World, tables: { operations: Record<string, number>; faults: Record<string, number> }) {
  const { rows } = await world.app.db.query<{ ref: string | null; row: unknown }>(
    // A share's order carries no reference of its own: it is named by its request's and the member's place.
    `select coalesce(o.metadata->>'sim_ref', (select pr.metadata->>'sim_ref' || 'm' || (m.position + 1) from payment_request_members m join payment_requests pr on pr.id = m.payment_request_id where m.order_id = o.id)) as ref,
            jsonb_build_object(
              'track', o.product_id, 'status', o.status, 'sync_state', o.sync_state, 'amount', o.amount,
              'payments', (select coalesce(jsonb_agg(jsonb_build_array(p.status, p.amount, p.amount_refunded) order by p.status, p.amount, p.amount_refunded), '[]') from payments p where p.order_id = o.id),
              'refunds', (select coalesce(jsonb_agg(jsonb_build_array(r.status, r.amount) order by r.status, r.amount), '[]') from refunds r where r.order_id = o.id),
              'disputes', (select coalesce(jsonb_agg(jsonb_build_array(d.status, d.amount) order by d.status, d.amount), '[]') from disputes d where d.order_id = o.id),
              'make', (select coalesce(jsonb_agg(jsonb_build_array(m.kind, m.status) order by m.kind, m.status), '[]') from make_deliveries m where m.order_id = o.id)
            ) as row
       from orders o`,
  );
  const orders = rows.map((r) => [r.ref ?? '(no reference)', r.row] as const).sort(compare);
  // Payment requests by the simulator's reference: status, track, total, whether it expires, who made
  // it (staff, customer or api_key), each member's share and status in their order, and Make's deliveries.
  const { rows: requestRows } = await world.app.db.query<{ ref: string | null; row: unknown }>(
    `select r.metadata->>'sim_ref' as ref,
            jsonb_build_object(
              'status', r.status, 'track', r.product_id, 'total', r.total, 'expires', r.expires_at is not null, 'creator', split_part(r.created_by, ':', 1),
              'members', (select jsonb_agg(jsonb_build_array(m.position, m.amount_pence, m.status) order by m.position) from payment_request_members m where m.payment_request_id = r.id),
              'make', (select coalesce(jsonb_agg(jsonb_build_array(d.kind, d.status) order by d.kind, d.status), '[]') from make_deliveries d where d.subject_id = r.id::text)
            ) as row
       from payment_requests r`,
  );
  const paymentRequests = requestRows.map((r) => [r.ref ?? '(no reference)', r.row] as const).sort(compare);
  // Subscriptions by their customer's reference (the email's local part): status, track, and their
  // invoices (status, amount due and paid) as a multiset, declined renewals included.
  const { rows: subscriptionRows } = await world.app.db.query<{ ref: string; row: unknown }>(
    `select split_part(c.email, '@', 1) as ref,
            jsonb_build_object(
              'status', s.status, 'track', (select p.product_id from prices p where p.stripe_price_id = s.stripe_price_id or p.id = (select sp.price_id from stripe_prices sp where sp.stripe_price_id = s.stripe_price_id) limit 1), 'cancel_at_period_end', s.cancel_at_period_end,
              'paused', s.pause_behavior,
              'invoices', (select coalesce(jsonb_agg(jsonb_build_array(i.status, i.amount_due, i.amount_paid) order by i.status, i.amount_due, i.amount_paid), '[]') from subscription_invoices i where i.subscription_id = s.id)
            ) as row
       from subscriptions s join customers c on c.id = s.customer_id`,
  );
  const subscriptions = subscriptionRows.map((r) => [r.ref, r.row] as const).sort(compare);
  const { rows: memberRefs } = await world.app.db.query<{ id: string; ref: string }>(
    `select m.id::text, coalesce(r.metadata->>'sim_ref', '') || 'm' || (m.position + 1) as ref from payment_request_members m join payment_requests r on r.id = m.payment_request_id`,
  );
  const memberRef = new Map(memberRefs.map((m) => [m.id, m.ref]));
  const store = world.app.stripeSandbox!.core.store;
  const intents = store
    .collection<Stripe.PaymentIntent>('payment_intent')
    .all()
    .map((i) => [i.metadata.sim_ref ?? memberRef.get(i.metadata.payment_request_member_id ?? '') ?? '(none)', i.status, i.amount, i.amount_received] as const)
    .sort(compare);
  const refunds = store
    .collection<Stripe.Refund>('refund')
    .all()
    .map((r) => [r.status, r.amount] as const)
    .sort(compare);
  const sort = (t: Record<string, number>) => Object.fromEntries(Object.entries(t).sort(([a], [b]) => a.localeCompare(b)));
  return { operations: sort(tables.operations), faults: sort(tables.faults), orders, paymentRequests, subscriptions, intents, refunds };
}

const compare = (a: unknown, b: unknown) => {
  const [x, y] = [JSON.stringify(a), JSON.stringify(b)];
  return x < y ? -1 : x > y ? 1 : 0;
};
