// Issue 14, defect 8: the Stripe sandbox forgot everything on restart while the database remembered,
// so a recorded checkout's URL answered 404, a pending order could never be paid (INTERNAL, "No such
// checkout.session") and a paid order's details page said "Unknown payment".
//
// 1. The real server process (`npm start`, sandbox mode) in a directory of its own, stopped with
//    SIGTERM and started again on the same directory and port: what the sandbox held is still there.
// 2. In process: the sandbox's state is reset under recorded attempts (as when Stripe test data is
//    deleted): the server replaces the attempt whose object Stripe no longer knows, the order stays
//    payable, and nothing is INTERNAL.
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIRM_PAYMENT, CREATE_CHECKOUT_SESSION, type CheckoutServer, newKey, ORDER_FIELDS, startCheckoutServer } from '../helpers/checkout';
import { createProcessDatabase, killServerProcesses, type ProcessDatabase, type ServerProcess, startServerProcess } from '../helpers/serverProcess';

const ORDER = `query ($id: ID!) { order(id: $id) { ${ORDER_FIELDS} } }`;

/** A port free now, so that both runs of the server listen on it, as `npm start` does on its PORT. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** The customer pays on the hosted page; returns the success URL Stripe redirects to. */
async function payOnHostedPage(url: string): Promise<string> {
  const response = await fetch(url, { method: 'POST', body: new URLSearchParams({ card_number: '4242424242424242', email: 'payer@example.com', name: 'Payer' }), redirect: 'manual' });
  expect(response.status).toBe(303);
  return response.headers.get('location')!;
}

describe('a restarted server process in sandbox mode', () => {
  let database: ProcessDatabase;
  let env: Record<string, string>;
  let server: ServerProcess;
  let storefrontKey: string;

  const graphql = async (query: string, variables: Record<string, unknown>) => {
    const response = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': storefrontKey },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: any; errors?: unknown[] };
    expect(body.errors, server.output()).toBeUndefined();
    return body.data;
  };
  const createCheckoutSession = async (input: Record<string, unknown>) => (await graphql(CREATE_CHECKOUT_SESSION, { input })).createCheckoutSession;
  const order = async (id: string) => (await graphql(ORDER, { id })).order;

  beforeAll(async () => {
    database = await createProcessDatabase();
    env = { ...database.env, PORT: String(await freePort()) };
  });
  afterAll(async () => {
    await killServerProcesses();
    await database?.destroy();
  });

  it('keeps checkout URLs working, pending orders payable and paid orders readable after SIGTERM and a new start', { timeout: 240_000 }, async () => {
    server = await startServerProcess(env, { cwd: database.workDir });
    storefrontKey = JSON.parse(readFileSync(join(database.workDir, '.data', 'dev-credentials.json'), 'utf8')).storefrontApiKey;
    const firstUrl = server.url;

    // Before the restart: one order paid, one left pending.
    const paidKey = newKey();
    const paid = await createCheckoutSession({ idempotencyKey: paidKey, track: 'website_audit_feedback', email: `paid-${randomUUID()}@example.com` });
    const details = await fetch(await payOnHostedPage(paid.url));
    expect(await details.text()).toContain('your order is paid');
    const pendingKey = newKey();
    const pending = await createCheckoutSession({ idempotencyKey: pendingKey, track: 'business_plan_builder', email: `pending-${randomUUID()}@example.com` });
    expect(pending.order.status).toBe('PENDING');

    expect(await server.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(existsSync(join(database.workDir, '.data', 'stripe-sandbox.json'))).toBe(true);

    server = await startServerProcess(env, { cwd: database.workDir });
    expect(server.url).toBe(firstUrl);

    // The pending order's checkout page still opens, and a repeat of its creation still points at it.
    expect((await fetch(pending.url)).status).toBe(200);
    const repeat = await createCheckoutSession({ idempotencyKey: pendingKey, track: 'business_plan_builder', email: pending.order.customer.email });
    expect(repeat).toMatchObject({ isRepeat: true, url: pending.url });
    expect((await fetch(repeat.url)).status).toBe(200);

    // Paying the existing pending order reuses its open session, and the customer pays it.
    const again = await createCheckoutSession({ idempotencyKey: newKey(), orderId: pending.order.id });
    expect(again).toMatchObject({ isRepeat: false, error: null, checkoutSessionId: pending.checkoutSessionId, url: pending.url });
    const pendingDetails = await fetch(await payOnHostedPage(again.url));
    expect(pendingDetails.status).toBe(200);
    expect(await pendingDetails.text()).toContain('your order is paid');

    // The order paid before the restart: its details page shows it paid, with its PaymentIntent.
    const paidOrder = await order(paid.order.id);
    expect(paidOrder).toMatchObject({ status: 'PAID', paymentIntentId: expect.stringMatching(/^pi_/) });
    const paidDetails = await fetch(`${server.url}/sandbox/storefront/checkout/details?session_id=${paid.checkoutSessionId}`);
    expect(paidDetails.status).toBe(200);
    const paidPage = await paidDetails.text();
    expect(paidPage).toContain('your order is paid');
    expect(paidPage).toContain(paidOrder.paymentIntentId);

    // One webhook endpoint for the server, still signing with the secret it had: Stripe's events
    // confirm both orders.
    const endpoints = await (await fetch(`${server.url}/v1/webhook_endpoints`, { headers: { authorization: 'Bearer sk_test_restart' } })).json();
    expect(endpoints.data).toHaveLength(1);
    await expect.poll(async () => (await order(pending.order.id)).syncState, { timeout: 20_000 }).toBe('CONFIRMED');
    await expect.poll(async () => (await order(paid.order.id)).syncState, { timeout: 20_000 }).toBe('CONFIRMED');

    expect(await server.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(server.output()).not.toMatch(/No such checkout\.session|"level":50/);
  });
});

describe('a recorded payment object Stripe no longer knows (the sandbox reset under it)', () => {
  let server: CheckoutServer;
  beforeAll(async () => {
    server = await startCheckoutServer();
  });
  afterAll(() => server?.stop());

  const guest = (track = 'website_audit_feedback') => ({ idempotencyKey: newKey(), track, email: `guest-${randomUUID()}@example.com` });
  const resetSandbox = async () => expect((await fetch(`${server.url}/_sandbox/reset`, { method: 'POST' })).status).toBe(200);
  const attempts = async (orderId: string) =>
    (await server.app.db.query<{ attempt: number; status: string; last_error: string | null }>('select attempt, status, last_error from payment_attempts where order_id = $1 order by attempt', [orderId])).rows;

  it('replaces a Checkout Session attempt with a new one whose page opens and pays, without INTERNAL', async () => {
    const first = (await server.createCheckoutSession(guest())).body.data.createCheckoutSession;
    await resetSandbox();
    expect((await fetch(first.url)).status).toBe(404);

    const response = await server.createCheckoutSession({ idempotencyKey: newKey(), orderId: first.order.id });
    expect(response.body.errors).toBeUndefined();
    const second = response.body.data.createCheckoutSession;
    expect(second).toMatchObject({ error: null, isRepeat: false, order: { id: first.order.id, status: 'PENDING' } });
    expect(second.checkoutSessionId).not.toBe(first.checkoutSessionId);
    expect(await attempts(first.order.id)).toEqual([
      { attempt: 1, status: 'canceled', last_error: expect.stringContaining(`${first.checkoutSessionId} any more (resource_missing)`) },
      { attempt: 2, status: 'open', last_error: null },
    ]);

    expect((await fetch(second.url)).status).toBe(200);
    await payOnHostedPage(second.url);
    const confirmed = await server.confirmPayment({ checkoutSessionId: second.checkoutSessionId });
    expect(confirmed.body.errors).toBeUndefined();
    expect(confirmed.body.data.confirmPayment).toMatchObject({ outcome: 'SUCCEEDED', order: { id: first.order.id, status: 'PAID' } });
  });

  it('replaces a PaymentIntent attempt with a new one that can be confirmed', async () => {
    const first = (await server.createPaymentIntent(guest('social_media_email_campaign'))).body.data.createPaymentIntent;
    await resetSandbox();
    const response = await server.createPaymentIntent({ idempotencyKey: newKey(), orderId: first.order.id });
    expect(response.body.errors).toBeUndefined();
    const second = response.body.data.createPaymentIntent;
    expect(second).toMatchObject({ error: null, order: { id: first.order.id, status: 'PENDING' } });
    expect(second.paymentIntentId).not.toBe(first.paymentIntentId);
    expect((await attempts(first.order.id)).map((a) => [a.attempt, a.status])).toEqual([
      [1, 'canceled'],
      [2, 'open'],
    ]);

    await server.app.stripe.paymentIntents.confirm(second.paymentIntentId, { payment_method: 'pm_card_visa', return_url: 'https://shop.test/return' });
    const confirmed = await server.confirmPayment({ paymentIntentId: second.paymentIntentId });
    expect(confirmed.body.data.confirmPayment).toMatchObject({ outcome: 'SUCCEEDED', order: { status: 'PAID' } });
  });

  it('answers confirmPayment for the vanished object with NOT_FOUND, and the details page shows the order as recorded', async () => {
    const created = (await server.createCheckoutSession(guest())).body.data.createCheckoutSession;
    await payOnHostedPage(created.url);
    expect((await server.confirmPayment({ checkoutSessionId: created.checkoutSessionId })).body.data.confirmPayment.order.status).toBe('PAID');
    await resetSandbox();

    const response = await server.graphql(CONFIRM_PAYMENT, { variables: { input: { checkoutSessionId: created.checkoutSessionId } }, ...server.asStorefront });
    expect(response.body.errors).toHaveLength(1);
    expect(response.body.errors![0]!.extensions!.code).toBe('NOT_FOUND');
    expect(JSON.stringify(response.body)).not.toMatch(/No such checkout\.session|stacktrace/);

    const details = await fetch(`${server.url}/sandbox/storefront/checkout/details?session_id=${created.checkoutSessionId}`);
    expect(details.status).toBe(200);
    const page = await details.text();
    expect(page).not.toContain('Unknown payment');
    expect(page).toContain(created.order.id);
    expect(page).toMatch(/<th>Status<\/th><td>paid<\/td>/);
  });
});
