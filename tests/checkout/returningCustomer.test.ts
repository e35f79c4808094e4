// A returning customer's checkout reads their row and leaves it as it is when nothing in it changes
// (migration 20261207003300): it used to rewrite the row on every checkout (an upsert bumping
// updated_at), holding its lock until commit, so one customer's concurrent checkouts queued behind
// each other. A name not yet on the row is still filled in, and every order lands on the one row.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CheckoutServer, newKey, startCheckoutServer } from '../helpers/checkout';

let server: CheckoutServer;
beforeAll(async () => {
  server = await startCheckoutServer();
});
afterAll(() => server?.stop());

async function customerRows(email: string) {
  const { rows } = await server.app.db.query<{ id: string; name: string | null; version: string; updated_at: Date }>(
    'select id, name, xmin::text as version, updated_at from customers where lower(email) = lower($1)',
    [email],
  );
  return rows;
}

async function checkout(input: Record<string, unknown>) {
  const response = await server.createPaymentIntent({ idempotencyKey: newKey(), track: 'business_plan_builder', ...input });
  expect(response.body.errors).toBeUndefined();
  return response.body.data.createPaymentIntent;
}

describe('a returning guest’s checkout', () => {
  it('puts the order on their row without writing the row again', async () => {
    const email = `returning-${randomUUID()}@example.com`;
    await checkout({ email, name: 'Ada' });
    const [before] = await customerRows(email);

    const again = await checkout({ email: email.toUpperCase() });
    expect(again.order.id).toBeTruthy();

    const after = await customerRows(email);
    expect(after).toHaveLength(1);
    expect(after[0]).toEqual(before); // same row version: not rewritten
    const { rows } = await server.app.db.query<{ n: number }>('select count(*)::int as n from orders where customer_id = $1', [before!.id]);
    expect(rows[0]!.n).toBe(2);
  });

  it('still fills in a name the row does not have yet', async () => {
    const email = `named-later-${randomUUID()}@example.com`;
    await checkout({ email });
    expect((await customerRows(email))[0]!.name).toBeNull();

    await checkout({ email, name: 'Grace' });
    const rows = await customerRows(email);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.name).toBe('Grace');
  });

  it('serves one customer’s concurrent checkouts, each its own order on the one row', async () => {
    const email = `concurrent-${randomUUID()}@example.com`;
    await checkout({ email });
    const results = await Promise.all(Array.from({ length: 8 }, () => checkout({ email })));
    expect(new Set(results.map((result) => result.order.id)).size).toBe(8);
    const rows = await customerRows(email);
    expect(rows).toHaveLength(1);
    const { rows: orders } = await server.app.db.query<{ n: number }>('select count(*)::int as n from orders where customer_id = $1', [rows[0]!.id]);
    expect(orders[0]!.n).toBe(9);
  });
});
