// CSV export of the staff lists (issue 22) over real HTTP against the real server: staff only (401
// and 403 otherwise), every parameter checked before anything is read, 5,200 payment log rows streamed
// in keyset batches (the first bytes arrive after one batch is read, not all of them) that parse back
// with a CSV parser exactly, quotes, commas, line breaks and formula-looking cells included, the
// list's filters applied, and an audit row with the filters and the row count.
import { randomUUID } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../../server/auth/apiKeys';
import { signStaffToken } from '../../../server/auth/staffTokens';
import type { Db, Queryable } from '../../../server/platform/db/db';
import { type CheckoutServer, JWT_SECRET, startCheckoutServer } from '../../helpers/checkout';

let server: CheckoutServer;
let supportToken = '';
const supportId = randomUUID();
const customerId = randomUUID();
const paidOrderId = randomUUID();
const pendingOrderId = randomUUID();
const paymentId = randomUUID();
const ROWS = 5200;
const T0 = Date.parse('2026-11-01T12:00:00Z');
/** The statements that read a batch of payment log rows for the export (the list's SELECT). */
const logBatchReads: string[] = [];

// The customer's email is one a spreadsheet would take for a formula, with a quote and a comma in it.
const TRICKY_EMAIL = '=HYPERLINK("http://x.test",1),"@evil.test';
const TRICKY_METADATA = { note: 'line one\nline "two", with a comma', actor: '+staff', sum: '-1' };

/** While set, the second and later batch reads wait for it: what the client holds by then was streamed. */
let batchGate: Promise<void> | null = null;
/** While true, writing an export's audit row fails as a database that refuses it would. */
let failExportAudit = false;

function countingDb(real: Db): Db {
  const wrap = (target: Queryable): Queryable => ({
    query: async (sql, params) => {
      if (failExportAudit && /insert into audit_log/.test(sql) && /export\.csv/.test(sql)) throw new Error('audit_log unavailable');
      // The list's SELECT only: the alerts check also reads `from payment_logs l`, on its own schedule.
      if (/from payment_logs l\s+left join customers c/.test(sql)) {
        logBatchReads.push(sql);
        if (batchGate && logBatchReads.length > 1) await batchGate;
      }
      return target.query(sql, params);
    },
    exec: (sql) => target.exec(sql),
  });
  return { ...real, engine: real.engine, ...wrap(real), transaction: (fn) => real.transaction((tx) => fn(wrap(tx))), close: () => real.close() };
}

beforeAll(async () => {
  server = await startCheckoutServer({ RECONCILE_INTERVAL: 'off' }, { wrapDb: countingDb });
  supportToken = await signStaffToken(JWT_SECRET, { userId: supportId, email: 'support@staff.test', staffRole: 'support', audience: 'authenticated', expiresIn: '1h' });
  const db = server.testDb.db;
  await db.query(`insert into customers (id, email, name) values ($1, $2, 'Eve')`, [customerId, TRICKY_EMAIL]);
  await db.query(
    `insert into orders (id, customer_id, product_id, price_id, amount, currency, status, payment_intent_id, created_at)
     values ($1, $3, 'business_plan_builder', 'business_plan_builder_usd', 9900, 'usd', 'paid', 'pi_exportPaid', $4),
            ($2, $3, 'business_plan_builder', 'business_plan_builder_usd', 9900, 'usd', 'pending', null, $5)`,
    [paidOrderId, pendingOrderId, customerId, new Date(T0), new Date(T0 + 1000)],
  );
  await db.query(
    `insert into payments (id, order_id, stripe_payment_intent_id, stripe_charge_id, amount, amount_refunded, currency, status)
     values ($1, $2, 'pi_exportPaid', 'ch_exportPaid', 9900, 1000, 'usd', 'succeeded')`,
    [paymentId, paidOrderId],
  );
  await db.query(
    `insert into refunds (id, stripe_refund_id, order_id, payment_id, amount, currency, status, reason, requested_by)
     values ('re_exportOne', 're_exportOne', $1, $2, 1000, 'usd', 'succeeded', 'duplicate', null)`,
    [paidOrderId, paymentId],
  );
  // 5,200 rows, four to a second (ties on created_at across batches); every 100th tricky.
  await db.query(
    `insert into payment_logs (event_type, status, order_id, customer_id, amount, currency, metadata, created_at)
     select case when n % 100 = 0 then '=cmd|'' /C calc''!A0' else 'payment.paid' end, 'paid', $1, $2, n, 'usd',
            case when n % 100 = 0 then $3::jsonb else jsonb_build_object('n', n) end,
            $4::timestamptz + (n / 4) * interval '1 second'
       from generate_series(1, ${ROWS}) as n`,
    [paidOrderId, customerId, TRICKY_METADATA, new Date(T0)],
  );
});
afterAll(() => server?.stop());

const exportUrl = (file: string, query: Record<string, string> = {}) => `${server.url}/export/${file}?${new URLSearchParams(query)}`;
const get = (file: string, query: Record<string, string> = {}, token: string | null = supportToken, headers: Record<string, string> = {}) =>
  fetch(exportUrl(file, query), { headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });
const exportAudits = async () =>
  (await server.testDb.db.query<{ actor_id: string; target_id: string; details: { filters: Record<string, string>; rows: number; complete: boolean } }>(
    `select actor_id, target_id, details from audit_log where action = 'export.csv' order by id`,
  )).rows;

describe('GET /export/<list>.csv: who may and what is refused', () => {
  it('answers 401 without or with bad credentials, 403 for a customer or an API key, and records nothing', async () => {
    const before = (await exportAudits()).length;
    expect((await get('payment-logs.csv', {}, null)).status).toBe(401);
    expect((await get('payment-logs.csv', {}, 'not.a.token')).status).toBe(401);
    const customer = await server.customerToken();
    const forbidden = await get('payment-logs.csv', {}, customer);
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toMatchObject({ code: 'FORBIDDEN' });
    expect((await get('orders.csv', {}, null, server.asStorefront.headers)).status).toBe(403);
    const { key: makeKey } = await createApiKey(server.testDb.db, 'export test make', 'make');
    expect((await get('refunds.csv', {}, null, { 'x-api-key': makeKey })).status).toBe(403);
    expect((await exportAudits()).length).toBe(before);
  });

  it('refuses unknown lists, unknown or repeated parameters and bad filter values before reading anything', async () => {
    const before = (await exportAudits()).length;
    logBatchReads.length = 0;
    expect((await get('customers.csv')).status).toBe(404);
    expect((await get('__proto__.csv')).status).toBe(404);
    const cases: Array<[string, Record<string, string> | string, string]> = [
      ['payment-logs.csv', { eventtype: 'payment.paid' }, 'eventtype'],
      ['payment-logs.csv', { from: 'yesterday' }, 'from'],
      ['payment-logs.csv', { from: '2026-11-02T00:00:00Z', to: '2026-11-01T00:00:00Z' }, 'from'],
      ['payment-logs.csv', { customerId: 'ada' }, 'customerId'],
      ['payment-logs.csv', { search: 'drop table' }, 'search'],
      ['payment-logs.csv', { status: 'x'.repeat(501) }, 'status'],
      ['payment-logs.csv', 'status=paid&status=failed', 'status'],
      ['orders.csv', { status: 'SHIPPED' }, 'status'],
      ['orders.csv', { syncState: 'maybe' }, 'syncState'],
      ['refunds.csv', { orderId: 'not-a-uuid' }, 'orderId'],
      ['refunds.csv', { status: 'DONE' }, 'status'],
    ];
    for (const [file, query, field] of cases) {
      const url = typeof query === 'string' ? `${server.url}/export/${file}?${query}` : exportUrl(file, query);
      const response = await fetch(url, { headers: { authorization: `Bearer ${supportToken}` } });
      expect({ file, query, status: response.status }).toEqual({ file, query, status: 400 });
      expect(await response.json()).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    expect(logBatchReads).toEqual([]);
    expect((await exportAudits()).length).toBe(before);
  });
});

describe('GET /export/payment-logs.csv', () => {
  it('streams every row in keyset batches, newest first, and the file parses back exactly', async () => {
    logBatchReads.length = 0;
    const response = await get('payment-logs.csv');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(response.headers.get('content-disposition')).toMatch(/^attachment; filename="payment-logs-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z\.csv"$/);
    const text = await response.text();
    const records: string[][] = parse(text, { relax_column_count: false });
    expect(records[0]).toEqual(['id', 'created_at', 'event_type', 'status', 'amount', 'currency', 'order_id', 'customer_id', 'customer_email', 'metadata']);
    const rows = records.slice(1);
    expect(rows).toHaveLength(ROWS);
    // Newest first: amounts are n, so 5200 down to 1 (ties in a second go by id, inserted in n order).
    expect(rows.map((r) => Number(r[4]))).toEqual(Array.from({ length: ROWS }, (_, i) => ROWS - i));
    const tricky = rows.find((r) => r[4] === '100')!;
    expect(tricky[2]).toBe(`'=cmd|' /C calc'!A0`);
    expect(tricky[8]).toBe(`'${TRICKY_EMAIL}`);
    expect(JSON.parse(tricky[9]!)).toEqual(TRICKY_METADATA);
    expect(rows.find((r) => r[4] === '101')![2]).toBe('payment.paid');
    // One statement per batch of 1,000 (six for 5,200 rows), never one for all of them.
    expect(logBatchReads.length).toBe(Math.ceil(ROWS / 1000));
    expect(logBatchReads.every((sql) => /limit \$\d+/.test(sql))).toBe(true);
    const audit = (await exportAudits()).at(-1)!;
    expect(audit).toEqual({ actor_id: `staff:${supportId}`, target_id: 'payment-logs', details: { filters: {}, rows: ROWS, complete: true } });
  });

  it('sends the first batch while the next is still being read, and a client that goes away ends the export, audited as incomplete', async () => {
    logBatchReads.length = 0;
    let open!: () => void;
    batchGate = new Promise((resolve) => (open = resolve));
    try {
      // Headers and the first 1,000 rows arrive while the second batch's read is held: nothing waits for all rows.
      const response = await get('payment-logs.csv');
      const reader = response.body!.getReader();
      let received = '';
      while (received.split('\r\n').length < 1 + 1000 + 1) received += new TextDecoder().decode((await reader.read()).value);
      expect(logBatchReads).toHaveLength(2);
      // A client that stalls here (or a process killed now) has already left an audit row.
      expect((await exportAudits()).at(-1)!.details).toEqual({ filters: {}, rows: 0, complete: false });
      await reader.cancel();
      open();
      await expect.poll(async () => (await exportAudits()).at(-1)?.details.rows).toBeGreaterThan(0);
      const audit = (await exportAudits()).at(-1)!;
      expect(audit.details.complete).toBe(false);
      expect(audit.details.rows).toBeLessThan(ROWS);
      expect(logBatchReads.length).toBeLessThan(Math.ceil(ROWS / 1000));
    } finally {
      open();
      batchGate = null;
    }
  });

  it('refuses the export (503, no rows sent) when its audit row cannot be written', async () => {
    const auditsBefore = (await exportAudits()).length;
    logBatchReads.length = 0;
    failExportAudit = true;
    try {
      const response = await get('payment-logs.csv');
      expect(response.status).toBe(503);
      const text = await response.text();
      expect(text).not.toContain('@evil.test');
      expect(JSON.parse(text)).toMatchObject({ code: 'UNAVAILABLE' });
      expect(logBatchReads).toHaveLength(0);
    } finally {
      failExportAudit = false;
    }
    expect(await exportAudits()).toHaveLength(auditsBefore);
  });

  it('applies the list’s filters, recorded in the audit row', async () => {
    const from = new Date(T0 + 1000 * 1000).toISOString();
    const response = await get('payment-logs.csv', { from, status: 'paid', search: 'pi_exportPaid' });
    const rows: string[][] = parse(await response.text()).slice(1);
    // n / 4 >= 1000 seconds: n from 4000 to 5200.
    expect(rows).toHaveLength(ROWS - 4000 + 1);
    expect((await exportAudits()).at(-1)!.details).toEqual({ filters: { from, status: 'paid', search: 'pi_exportPaid' }, rows: ROWS - 4000 + 1, complete: true });
  });
});

describe('GET /export/orders.csv and /export/refunds.csv', () => {
  it('exports orders with a status filter (as the schema spells it or as stored)', async () => {
    for (const status of ['PAID', 'paid']) {
      const records: string[][] = parse(await (await get('orders.csv', { status })).text());
      expect(records[0]!.slice(0, 5)).toEqual(['id', 'created_at', 'updated_at', 'status', 'sync_state']);
      expect(records.slice(1).map((r) => [r[0], r[3], r[10], r[13], r[14]])).toEqual([[paidOrderId, 'paid', `'${TRICKY_EMAIL}`, 'ch_exportPaid', '1000']]);
    }
    const all: string[][] = parse(await (await get('orders.csv')).text());
    expect(all.slice(1).map((r) => r[0])).toEqual([pendingOrderId, paidOrderId]);
  });

  it('exports an order’s refunds', async () => {
    const records: string[][] = parse(await (await get('refunds.csv', { orderId: paidOrderId })).text());
    expect(records.slice(1)).toEqual([['re_exportOne', 're_exportOne', expect.any(String), expect.any(String), paidOrderId, '1000', 'usd', 'succeeded', 'duplicate', '', '']]);
    expect(parse(await (await get('refunds.csv', { orderId: randomUUID() })).text())).toHaveLength(1);
  });
});
