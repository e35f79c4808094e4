// createPaymentRequest's service and SQL (payment_request_create) against the real server in sandbox
// mode: one statement writes the request, its members, their share orders, logs and audit row; a
// bad request (by the service's shape checks or the SQL's rules) writes nothing; a key answers once.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { requestHash } from '../../server/idempotency/requestHash';
import { AppError } from '../../server/platform/errors';
import type { CreatePaymentRequestInput, PaymentRequests } from '../../server/paymentRequests/service';
import { type CheckoutServer, startCheckoutServer } from '../helpers/checkout';
import { TEST_ENGINE } from '../helpers/db';
import { admin, counts, customer, input, PAY_URL, service, support, storefront, tokenOf } from './helpers';

let server: CheckoutServer;
let requests: PaymentRequests;

beforeAll(async () => {
  server = await startCheckoutServer({ JOBS_ENABLED: 'false' });
  requests = service(server);
});
afterAll(() => server?.stop());

describe('create', () => {
  it('writes the request, a member and a share order for each, and gives each pay link once', async () => {
    const creator = customer();
    const made = await requests.create(creator, input({ metadata: { team: 'north' } }));
    if (made.outcome !== 'created' || made.isRepeat) throw new Error(`expected created, got ${JSON.stringify(made)}`);
    const { request, payLinks } = made;
    expect(request).toMatchObject({ status: 'open', total: 9900, currency: 'gbp', product_id: 'business_plan_builder', product_name: 'Business Plan Builder',
      members_count: 2, members_paid: 0, amount_paid: 0, created_by: `customer:${creator.id}`, created_by_name: creator.name, metadata: { team: 'north' } });
    expect(payLinks).toHaveLength(2);
    for (const link of payLinks) expect(link.payUrl).toMatch(new RegExp(`^${PAY_URL.replace(/[?.]/g, '\\$&')}[A-Za-z0-9_-]{43}$`));

    const members = await requests.members(request.id);
    expect(members.map((m) => [m.id, m.amount_pence, m.status])).toEqual([[payLinks[0]!.memberId, 3000, 'pending'], [payLinks[1]!.memberId, 6900, 'pending']]);
    const { rows: orders } = await server.app.db.query<{ product_id: string; price_id: string | null; amount: string; currency: string; status: string; email: string; metadata: Record<string, string> }>(
      `select o.product_id, o.price_id, o.amount::text, o.currency, o.status, c.email, o.metadata
         from payment_request_members m join orders o on o.id = m.order_id join customers c on c.id = o.customer_id
        where m.payment_request_id = $1 order by m.position`,
      [request.id],
    );
    expect(orders).toEqual([
      { product_id: 'business_plan_builder', price_id: null, amount: '3000', currency: 'gbp', status: 'pending', email: payLinks[0]!.email,
        metadata: { payment_request_id: request.id, payment_request_member_id: payLinks[0]!.memberId } },
      { product_id: 'business_plan_builder', price_id: null, amount: '6900', currency: 'gbp', status: 'pending', email: payLinks[1]!.email,
        metadata: { payment_request_id: request.id, payment_request_member_id: payLinks[1]!.memberId } },
    ]);
    // Only the hash is stored; the token opens the member's share, a changed one nothing.
    const token = tokenOf(payLinks[0]!.payUrl);
    const { rows: stored } = await server.app.db.query<{ n: number }>("select count(*)::int as n from payment_request_members where token_hash = $1 or token_hash like '%' || $1 || '%'", [token]);
    expect(stored[0]!.n).toBe(0);
    expect(await requests.shareByToken(token)).toMatchObject({ member_id: payLinks[0]!.memberId, payment_request_id: request.id, member_name: 'Ann', amount_pence: 3000, status: 'pending', request_status: 'open', track_name: 'Business Plan Builder' });
    expect(await requests.shareByToken(`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`)).toBeNull();
    expect(await requests.shareByToken('not a token')).toBeNull();

    const { rows: logs } = await server.app.db.query<{ event_type: string }>(
      "select event_type from payment_logs where metadata->>'payment_request_id' = $1", [request.id]);
    expect(logs.map((l) => l.event_type)).toEqual(['payment_request.member_created', 'payment_request.member_created']);
    const { rows: audit } = await server.app.db.query("select actor_type, actor_id, action from audit_log where target_id = $1", [request.id]);
    expect(audit).toEqual([{ actor_type: 'customer', actor_id: `customer:${creator.id}`, action: 'payment_request.create' }]);
  });

  it('a request with a description and no track is a share of the hidden payment_request product', async () => {
    const made = await requests.create(storefront(), input({ track: null, description: 'Workshop, split four ways', currency: 'eur' }));
    if (made.outcome !== 'created') throw new Error('not created');
    expect(made.request).toMatchObject({ product_id: null, description: 'Workshop, split four ways', currency: 'eur' });
    const { rows } = await server.app.db.query<{ product_id: string }>('select distinct product_id from orders where payment_request_id = $1', [made.request.id]);
    expect(rows).toEqual([{ product_id: 'payment_request' }]);
  });

  it('the same key and input is the same request, without links; other input is a conflict; nothing is written again', async () => {
    const creator = customer();
    const first = input();
    const made = await requests.create(creator, first);
    if (made.outcome !== 'created') throw new Error('not created');
    const before = await counts(server.app.db);
    const again = await requests.create(creator, { ...first });
    expect(again).toMatchObject({ outcome: 'created', isRepeat: true, payLinks: [], request: { id: made.request.id } });
    const other = await requests.create(creator, { ...first, title: 'Another title' });
    expect(other).toEqual({ outcome: 'conflict', operation: 'create_payment_request' });
    expect(await counts(server.app.db)).toEqual(before);
    // The key is the caller's: another caller's same key is a request of its own.
    const someoneElse = await requests.create(customer(), { ...first });
    expect(someoneElse).toMatchObject({ outcome: 'created', isRepeat: false });
  });
});

describe('a double press', () => {
  it('five creates at once with one key make one request; the others answer it as a repeat, without links', async () => {
    const creator = customer();
    const same = input();
    const before = await counts(server.app.db);
    const answers = await Promise.all(Array.from({ length: 5 }, () => requests.create(creator, { ...same })));
    const made = answers.filter((a) => a.outcome === 'created' && !a.isRepeat);
    const repeats = answers.filter((a) => a.outcome === 'created' && a.isRepeat);
    expect([made.length, repeats.length]).toEqual([1, 4]);
    const id = made[0]!.outcome === 'created' ? made[0]!.request.id : null;
    for (const repeat of repeats) expect(repeat).toMatchObject({ request: { id }, payLinks: [] });
    const after = await counts(server.app.db);
    expect([after.requests - before.requests, after.members - before.members, after.orders - before.orders, after.keys - before.keys]).toEqual([1, 2, 2, 1]);
  });
});

// Two requests naming the same members in other orders, at once: each used to lock the members'
// customer rows in the order given, so they met crosswise and PostgreSQL killed one (INTERNAL). A
// second connection holds the first email's row and then writes the second's: without the sorted
// order the create holds that second row and waits for the first, a deadlock every time.
describe.skipIf(TEST_ENGINE !== 'postgres')('members named in another order by a concurrent transaction (PostgreSQL)', () => {
  it('waits for the customer rows in email order instead of deadlocking', async () => {
    const tag = randomUUID().slice(0, 8);
    const [first, second] = [`a-${tag}@members.test`, `b-${tag}@members.test`];
    await requests.create(customer(), input({ members: [{ email: first, name: null, amount: 100 }, { email: second, name: null, amount: 100 }] }));
    const holder = new pg.Client({ connectionString: server.testDb.url! });
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query(`set local lock_timeout = '10s'`);
      await holder.query('select 1 from customers where lower(email) = $1 and email_owner for update', [first]);
      const made = requests.create(customer(), input({ members: [{ email: second, name: null, amount: 100 }, { email: first, name: null, amount: 100 }] }));
      await vi.waitFor(
        async () => {
          const waiting = await holder.query<{ n: number }>('select count(*)::int as n from pg_locks where not granted and pid <> pg_backend_pid()');
          expect(waiting.rows[0]!.n).toBeGreaterThan(0);
        },
        { timeout: 10_000, interval: 20 },
      );
      await holder.query('update customers set updated_at = now() where lower(email) = $1 and email_owner', [second]);
      await holder.query('commit');
      expect(await made).toMatchObject({ outcome: 'created', isRepeat: false });
    } finally {
      await holder.query('rollback').catch(() => undefined);
      await holder.end();
    }
  });
});

describe('bad input writes nothing', () => {
  const members = (n: number) => Array.from({ length: n }, (_, i) => ({ email: `m${i}-${randomUUID().slice(0, 6)}@members.test`, name: null, amount: 100 }));
  const cases: Array<[string, Partial<CreatePaymentRequestInput>, string]> = [
    ['a duplicate email in another case', { members: [{ email: 'Same@Members.test', name: null, amount: 100 }, { email: 'same@members.TEST', name: null, amount: 100 }] }, 'DUPLICATE_MEMBER_EMAIL'],
    ['a zero share', { members: [{ email: `z-${randomUUID()}@m.test`, name: null, amount: 0 }] }, 'INVALID_AMOUNT'],
    ['a negative share', { members: [{ email: `n-${randomUUID()}@m.test`, name: null, amount: -5 }, { email: `p-${randomUUID()}@m.test`, name: null, amount: 105 }] }, 'INVALID_AMOUNT'],
    ['a fractional share', { members: [{ email: `f-${randomUUID()}@m.test`, name: null, amount: 1.5 }] }, 'INVALID_AMOUNT'],
    ['51 members', { members: members(51) }, 'INVALID_MEMBER_COUNT'],
    ['no members', { members: [] }, 'INVALID_MEMBER_COUNT'],
    ['a share past 99,999,999', { members: [{ email: `big-${randomUUID()}@m.test`, name: null, amount: 100_000_000 }] }, 'INVALID_AMOUNT'],
    ['shares summing past 99,999,999', { members: [{ email: `s1-${randomUUID()}@m.test`, name: null, amount: 60_000_000 }, { email: `s2-${randomUUID()}@m.test`, name: null, amount: 60_000_000 }] }, 'TOTAL_TOO_LARGE'],
    ['an unknown track', { track: 'no_such_track' }, 'UNKNOWN_TRACK'],
    ['the hidden product as a track', { track: 'payment_request' }, 'UNKNOWN_TRACK'],
    ['neither a track nor a description', { track: null, description: null }, 'TRACK_OR_DESCRIPTION'],
    ['a bad currency', { currency: 'GBP' }, 'INVALID_CURRENCY'],
    ['an empty title', { title: '' }, 'INVALID_TITLE'],
    ['a 201-character title', { title: 'x'.repeat(201) }, 'INVALID_TITLE'],
    ['NUL in the title', { title: 'Team\u0000plan' }, 'INVALID_TEXT'],
    ['NUL in an email', { members: [{ email: 'a\u0000b@m.test', name: null, amount: 100 }] }, 'INVALID_TEXT'],
    ['a lone surrogate in the title', { title: 'Team \ud800 plan' }, 'INVALID_TEXT'],
    ['a lone surrogate in a name', { members: [{ email: `s-${randomUUID()}@m.test`, name: 'An\udc00n', amount: 100 }] }, 'INVALID_TEXT'],
    ['an email without @', { members: [{ email: 'nobody', name: null, amount: 100 }] }, 'INVALID_EMAIL'],
    ['an expiry in the past', { expiresAt: Date.now() - 60_000 }, 'INVALID_EXPIRES_AT'],
  ];
  it.each(cases)('%s', async (_name, over, reason) => {
    const before = await counts(server.app.db);
    const error = await requests.create(customer(), input(over)).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'BAD_USER_INPUT', details: { reason } });
    expect(await counts(server.app.db)).toEqual(before);
  });

  it('shares that do not sum to a given total are refused by the SQL', async () => {
    const before = await counts(server.app.db);
    const { rows } = await server.app.db.query<{ r: any }>('select payment_request_create($1::jsonb) as r', [JSON.stringify({
      scope: 'user:x', key: 'sum-mismatch', request_hash: requestHash('x'), title: 'T', track: 'business_plan_builder', description: null,
      currency: 'gbp', expires_at: null, metadata: {}, created_by: 'customer:x', created_by_name: null, total: 1000,
      members: [{ email: 'a@m.test', name: null, amount: 400, token_hash: 'a'.repeat(64) }, { email: 'b@m.test', name: null, amount: 500, token_hash: 'b'.repeat(64) }],
    })]);
    expect(rows[0]!.r).toMatchObject({ outcome: 'invalid', reason: 'SHARES_DO_NOT_SUM_TO_TOTAL' });
    expect(await counts(server.app.db)).toEqual(before);
  });

  it('the database refuses, at commit, a request whose shares do not sum to its total', async () => {
    const before = await counts(server.app.db);
    const error = await server.app.db.transaction(async (tx) => {
      const { rows } = await tx.query<{ id: string }>(
        "insert into payment_requests (title, description, currency, total, created_by) values ('T', 'd', 'gbp', 1000, 'customer:x') returning id");
      const { rows: c } = await tx.query<{ id: string }>("insert into customers (email, email_owner) values ($1, false) returning id", [`sum-${randomUUID()}@m.test`]);
      const { rows: o } = await tx.query<{ id: string }>(
        "insert into orders (customer_id, product_id, price_id, amount, currency, payment_request_id) values ($1, 'payment_request', null, 999, 'gbp', $2) returning id", [c[0]!.id, rows[0]!.id]);
      await tx.query("insert into payment_request_members (payment_request_id, email, amount_pence, token_hash, order_id) values ($1, 'a@m.test', 999, $2, $3)",
        [rows[0]!.id, 'c'.repeat(64), o[0]!.id]);
    }).then(() => null, (e: unknown) => e);
    expect(String(error)).toMatch(/shares sum to 999, total is 1000/);
    expect(await counts(server.app.db)).toEqual(before);
  });

  it('a server with no pay link configured refuses create', async () => {
    const { createPaymentRequests } = await import('../../server/paymentRequests/paymentRequests');
    const unconfigured = createPaymentRequests({ db: server.app.db, stripe: server.app.stripe, logger: (await import('./helpers')).silent, payUrl: null, now: () => Date.now() });
    const before = await counts(server.app.db);
    await expect(unconfigured.create(customer(), input())).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE', details: { reason: 'PAY_URL_NOT_CONFIGURED' } });
    expect(await counts(server.app.db)).toEqual(before);
  });
});

describe('reads', () => {
  it('a creator reads its own requests; another customer reads none of them; staff read all', async () => {
    const creator = customer();
    const other = customer();
    const made = await requests.create(creator, input());
    if (made.outcome !== 'created') throw new Error('not created');
    expect(await requests.find(creator, made.request.id)).toMatchObject({ id: made.request.id });
    expect(await requests.find(other, made.request.id)).toBeNull();
    expect(await requests.find(support(), made.request.id)).toMatchObject({ id: made.request.id });
    expect(await requests.find(admin(), made.request.id)).toMatchObject({ id: made.request.id });
    expect(await requests.find(creator, 'not-a-uuid')).toBeNull();
    expect((await requests.list(creator, { first: 10 })).rows.map((r) => r.id)).toEqual([made.request.id]);
    expect((await requests.list(other, { first: 10 })).rows).toEqual([]);
    // Another customer cannot read another's by asking for their creator tag.
    expect((await requests.list(other, { first: 10, createdBy: `customer:${creator.id}` })).rows).toEqual([]);
    const staffPage = await requests.list(support(), { first: 1, status: 'open' });
    expect(staffPage.rows).toHaveLength(1);
    expect(staffPage.hasNextPage).toBe(true);
    const next = await requests.list(support(), { first: 100, status: 'open', after: { createdUs: staffPage.rows[0]!.created_us, id: staffPage.rows[0]!.id } });
    expect(next.rows.map((r) => r.id)).not.toContain(staffPage.rows[0]!.id);
  });
});
