// Review 20, finding 3: a share below Stripe's minimum charge could never be paid. Create refuses it (the
// resolver and payment_request_create, with the table the sandbox enforces, the same figures in SQL), and
// a share made before that check (or any share Stripe refuses to charge) is a typed refusal whose
// attempt is abandoned, so cancel closes the request at once.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Viewer } from '../../server/auth/viewer';
import { parseCreatePaymentRequestInput } from '../../server/api/graphql/resolvers/paymentRequests';
import type { PaymentRequests } from '../../server/paymentRequests/service';
import { DEFAULT_MINIMUM_CHARGE, MINIMUM_CHARGE } from '../../server/stripe/minimumCharge';
import { type CheckoutServer, startCheckoutServer } from '../helpers/checkout';
import { attemptsOf, newPayKey, newRequest, paymentRequestsOf } from './payHelpers';

let server: CheckoutServer;
let service: PaymentRequests;
beforeAll(async () => {
  server = await startCheckoutServer({ RECONCILE_INTERVAL: 'off', JOBS_ENABLED: 'false' });
  service = paymentRequestsOf(server);
});
afterAll(() => server?.stop());

const ADMIN: Viewer = { role: 'ADMIN', id: '00000000-0000-4000-8000-000000000002', name: 'admin@staff.test', kind: 'user' };

const counts = async () =>
  (await server.app.db.query<{ requests: number; members: number; orders: number }>(
    'select (select count(*) from payment_requests)::int as requests, (select count(*) from payment_request_members)::int as members, (select count(*) from orders)::int as orders',
  )).rows[0]!;

const createWith = (currency: string, amounts: number[]) =>
  service.create(ADMIN, {
    idempotencyKey: `create-${randomUUID()}`,
    title: 'Split',
    track: null,
    description: 'A split',
    currency,
    members: amounts.map((amount, i) => ({ email: `m${i}-${randomUUID().slice(0, 8)}@members.test`, name: null, amount })),
    expiresAt: null,
    metadata: {},
  });

describe('Stripe’s minimum charge', () => {
  it('is the same table in SQL as the sandbox enforces, 50 for a currency it does not list', async () => {
    const currencies = [...Object.keys(MINIMUM_CHARGE), 'xyz'];
    const { rows } = await server.app.db.query<{ currency: string; amount: string }>('select c as currency, stripe_minimum_charge(c) as amount from unnest($1::text[]) c', [currencies]);
    expect(Object.fromEntries(rows.map((r) => [r.currency, Number(r.amount)]))).toEqual({ ...MINIMUM_CHARGE, xyz: DEFAULT_MINIMUM_CHARGE });
    // The sandbox refuses just below it and takes it.
    await expect(server.app.stripe.paymentIntents.create({ amount: MINIMUM_CHARGE.gbp! - 1, currency: 'gbp' })).rejects.toMatchObject({ code: 'amount_too_small' });
    await expect(server.app.stripe.paymentIntents.create({ amount: MINIMUM_CHARGE.gbp!, currency: 'gbp' })).resolves.toMatchObject({ amount: 30 });
  });

  it('a share below it is refused at create, in the resolver and in SQL, and writes nothing', async () => {
    const input = {
      idempotencyKey: `k-${randomUUID()}`,
      title: 'Split',
      track: null,
      description: 'A split',
      currency: 'eur',
      members: [{ email: 'a@m.test', name: null, amount: 49 }, { email: 'b@m.test', name: null, amount: 100 }],
      expiresAt: null,
      metadata: [],
    };
    expect(() => parseCreatePaymentRequestInput(input as never, Date.now())).toThrow(expect.objectContaining({ details: expect.objectContaining({ reason: 'AMOUNT_BELOW_MINIMUM', field: 'input.members[0].amount' }) }));
    expect(parseCreatePaymentRequestInput({ ...input, members: [{ ...input.members[0]!, amount: 50 }] } as never, Date.now()).members).toHaveLength(1);

    const before = await counts();
    await expect(createWith('gbp', [1000, 29])).rejects.toMatchObject({ details: expect.objectContaining({ reason: 'AMOUNT_BELOW_MINIMUM', field: 'members.amount' }) });
    await expect(createWith('jpy', [49])).rejects.toMatchObject({ details: expect.objectContaining({ reason: 'AMOUNT_BELOW_MINIMUM' }) });
    expect(await counts()).toEqual(before);
    expect(await createWith('gbp', [30])).toMatchObject({ outcome: 'created' });
  });

  it('a share Stripe refuses to charge is a typed refusal whose attempt is abandoned; cancel then closes the request at once', async () => {
    const request = await newRequest(server, { amounts: [1000, 2000] });
    const [small] = request.members;
    // A share made before create checked the minimum: 10p.
    await server.app.db.transaction(async (tx) => {
      await tx.query('update payment_request_members set amount_pence = 10 where id = $1', [small!.id]);
      await tx.query('update orders set amount = 10 where id = $1', [small!.orderId]);
      await tx.query('update payment_requests set total = 2010 where id = $1', [request.id]);
    });
    const paid = await service.payShare(small!.token, newPayKey());
    expect(paid).toMatchObject({ outcome: 'refused', error: { code: 'REQUEST_NOT_PAYABLE', message: expect.stringContaining('minimum') } });
    expect(await attemptsOf(server, small!.orderId)).toMatchObject([{ status: 'abandoned', stripe_object_id: null }]);
    expect(await service.cancel(ADMIN, request.id, newPayKey())).toMatchObject({ outcome: 'done', request: { status: 'canceled' } });
  });
});
