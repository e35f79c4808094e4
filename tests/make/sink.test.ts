// Sandbox mode without Make URLs: the server forwards every kind to the Make sink it serves itself,
// which checks signatures, records what it receives and can be told to fail or be slow. Also the
// proof that the worker wakes on NOTIFY: nothing here drains the outbox by hand.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SANDBOX_MAKE_SIGNING_SECRET } from '../../server/config';
import { signMakeBody } from '../../server/make/signature';
import type { MakeSinkDelivery } from '../../server/sandboxMode/make/sink';
import { startTestServer, type TestServer } from '../helpers/server';
import { newStory } from '../helpers/webhookStory';
import { deliveries, schemaErrors } from './makeHelpers';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
  server.app.stripeSandbox!.core.events.stopAutoDelivery();
});
afterAll(() => server?.stop());
beforeEach(async () => {
  await fetch(`${server.url}/sandbox/make/deliveries`, { method: 'DELETE' });
  await setBehaviour({ failNext: 0, status: 500, delayMs: 0 });
});

const received = async (): Promise<MakeSinkDelivery[]> => (await (await fetch(`${server.url}/sandbox/make/deliveries`)).json()).deliveries;
const setBehaviour = (behaviour: Record<string, unknown>) =>
  fetch(`${server.url}/sandbox/make/behaviour`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(behaviour) });

async function paidOrder(): Promise<string> {
  const story = await newStory(server.app.db);
  await server.app.db.query(`update orders set status = 'paid' where id = $1`, [story.orderId]);
  return story.orderId;
}

describe('the built-in Make sink', () => {
  it('routes every kind to this server, and receives a paid order promptly, woken by NOTIFY', async () => {
    const { rows } = await server.app.db.query<{ kind: string; url: string }>('select kind, url from make_routes order by kind');
    expect(rows.map((row) => row.kind)).toEqual(['add_project', 'dispute_opened', 'payment_failed', 'payment_request_completed', 'payment_request_reminder', 'refund_completed', 'subscription_changed']);
    for (const row of rows) expect(row.url).toBe(`${server.url}/sandbox/make/${row.kind}`);

    const orderId = await paidOrder();
    const [delivery] = await deliveries(server.app.db, 'order_id = $1', [orderId]);
    // Well under the job's 3-second tick: the NOTIFY of the commit woke the worker.
    await expect.poll(received, { timeout: 1500, interval: 25 }).toHaveLength(1);
    const [got] = await received();
    expect(got).toMatchObject({ kind: 'add_project', deliveryId: delivery!.id, answeredStatus: 200, apiKey: false });
    expect(schemaErrors(got!.body)).toEqual([]);
    await expect.poll(async () => (await deliveries(server.app.db, 'id = $1', [delivery!.id]))[0]!.status).toBe('delivered');
  });

  it('fails the next deliveries when told to: the outbox retries, the same delivery id arrives again', async () => {
    expect((await setBehaviour({ failNext: 1, status: 503 })).status).toBe(200);
    const orderId = await paidOrder();
    const [delivery] = await deliveries(server.app.db, 'order_id = $1', [orderId]);
    // The first backoff is at most a second; the worker's own timer comes back for it.
    await expect.poll(async () => (await received()).map((r) => [r.deliveryId, r.answeredStatus]), { timeout: 5000, interval: 50 }).toEqual([
      [delivery!.id, 503],
      [delivery!.id, 200],
    ]);
  });

  it('answers slowly when told to', async () => {
    await setBehaviour({ delayMs: 300 });
    const body = JSON.stringify({ hello: 'make' });
    const started = Date.now();
    const response = await fetch(`${server.url}/sandbox/make/add_project`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-signature': signMakeBody(SANDBOX_MAKE_SIGNING_SECRET, body) },
      body,
    });
    expect(response.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('refuses a delivery without a valid signature, and records nothing', async () => {
    const body = JSON.stringify({ hello: 'make' });
    for (const signature of [null, signMakeBody('another-secret-entirely', body), signMakeBody(SANDBOX_MAKE_SIGNING_SECRET, body, Math.floor(Date.now() / 1000) - 3600)]) {
      const response = await fetch(`${server.url}/sandbox/make/add_project`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(signature ? { 'x-signature': signature } : {}) },
        body,
      });
      expect(response.status).toBe(401);
    }
    expect(await received()).toEqual([]);
  });

  it('refuses a bad behaviour, an unknown kind and an unknown path', async () => {
    const bad = await setBehaviour({ failNext: -1, status: 200, delayMs: 'slow' });
    expect(bad.status).toBe(400);
    expect((await bad.json()).message).toBe('failNext must be an integer from 0 to 1000; status must be an integer from 300 to 599; delayMs must be an integer from 0 to 120000');
    expect((await fetch(`${server.url}/sandbox/make/order_shipped`, { method: 'POST', body: '{}' })).status).toBe(404);
    expect((await fetch(`${server.url}/sandbox/make/`, { method: 'GET' })).status).toBe(404);
  });
});
