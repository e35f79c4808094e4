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
    `select o.metadata->>'sim_ref' as ref,
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
  const store = world.app.stripeSandbox!.core.store;
  const intents = store
    .collection<Stripe.PaymentIntent>('payment_intent')
    .all()
    .map((i) => [i.metadata.sim_ref ?? '(none)', i.status, i.amount, i.amount_received] as const)
    .sort(compare);
  const refunds = store
    .collection<Stripe.Refund>('refund')
    .all()
    .map((r) => [r.status, r.amount] as const)
    .sort(compare);
  const sort = (t: Record<string, number>) => Object.fromEntries(Object.entries(t).sort(([a], [b]) => a.localeCompare(b)));
  return { operations: sort(tables.operations), faults: sort(tables.faults), orders, intents, refunds };
}

const compare = (a: unknown, b: unknown) => {
  const [x, y] = [JSON.stringify(a), JSON.stringify(b)];
  return x < y ? -1 : x > y ? 1 : 0;
};
