import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { RECEIVER_URL, startSandboxHarness, stripeError } from '../helpers/stripeSandbox';

// Built from parts so that no live-looking Stripe key stands in the source (secret scanners flag them).
const LIVE_SECRET = ['sk', 'live', ''].join('_');

// One msw server per file: msw patches the process's fetch once.
const h = startSandboxHarness();
afterAll(() => h.close());
beforeEach(() => h.reset());

describe('sandbox webhook endpoints', () => {
  it('creates an endpoint through the SDK and shows its signing secret only at creation', async () => {
    const created = await h.stripe.webhookEndpoints.create({ url: 'https://shop.example/webhooks', enabled_events: ['payment_intent.succeeded'] });
    expect(created.id).toMatch(/^we_/);
    expect(created.secret).toMatch(/^whsec_/);
    expect(created.enabled_events).toEqual(['payment_intent.succeeded']);
    const retrieved = await h.stripe.webhookEndpoints.retrieve(created.id);
    expect(retrieved.secret).toBeUndefined();
    expect(retrieved.url).toBe('https://shop.example/webhooks');
  });

  it('lists, updates and deletes endpoints', async () => {
    const a = await h.stripe.webhookEndpoints.create({ url: 'https://a.example/hook', enabled_events: ['*'] });
    const updated = await h.stripe.webhookEndpoints.update(a.id, { disabled: true, enabled_events: ['charge.refunded'] });
    expect(updated.status).toBe('disabled');
    expect(updated.enabled_events).toEqual(['charge.refunded']);
    const list = await h.stripe.webhookEndpoints.list({ limit: 1 });
    expect(list.data.map((e) => e.id)).toEqual([a.id]);
    expect(list.has_more).toBe(true); // the harness's own receiver is the other one
    const deleted = await h.stripe.webhookEndpoints.del(a.id);
    expect(deleted.deleted).toBe(true);
    expect(await stripeError(h.stripe.webhookEndpoints.retrieve(a.id))).toMatchObject({ type: 'StripeInvalidRequestError', statusCode: 404, code: 'resource_missing' });
  });

  it('rejects unknown parameters and missing required ones the way Stripe does', async () => {
    expect(await stripeError(h.stripe.webhookEndpoints.create({ url: 'https://a.example', enabled_events: ['*'], bogus: 1 } as never))).toMatchObject({
      statusCode: 400,
      param: 'bogus',
      code: 'parameter_unknown',
    });
    expect(await stripeError(h.stripe.webhookEndpoints.create({ url: 'https://a.example' } as never))).toMatchObject({
      statusCode: 400,
      param: 'enabled_events',
      code: 'parameter_missing',
    });
  });

  it('refuses a missing or non-test API key with 401', async () => {
    const missing = await h.sandbox.handle(new Request('https://api.stripe.com/v1/events'));
    expect(missing.status).toBe(401);
    expect((await missing.json()).error.type).toBe('invalid_request_error');
    const live = await h.sandbox.handle(new Request('https://api.stripe.com/v1/events', { headers: { authorization: `Bearer ${LIVE_SECRET}abcdefghijklmnop` } }));
    expect(live.status).toBe(401);
    expect((await live.json()).error.message).not.toContain('abcdefghijkl');
  });
});

describe('sandbox events and signed deliveries', () => {
  it('emits an event for a change, lists it, and delivers it signed to the registered endpoint', async () => {
    const customer = await h.stripe.customers.create({ email: 'ada@example.com', name: 'Ada' });
    await h.sandbox.flushWebhooks();
    expect(h.received.map((e) => [e.type, (e.data.object as { id: string }).id])).toEqual([['customer.created', customer.id]]);
    const events = await h.stripe.events.list({ type: 'customer.created' });
    expect(events.data.map((e) => e.id)).toEqual([h.received[0]!.id]);
  });

  it('retries a delivery that was not acknowledged, with backoff in sandbox time', async () => {
    h.receiverStatus.value = 500;
    await h.stripe.customers.create({ email: 'retry@example.com' });
    await h.sandbox.flushWebhooks();
    expect(h.received).toHaveLength(1);
    h.receiverStatus.value = 200;
    await h.sandbox.flushWebhooks();
    expect(h.received).toHaveLength(1); // not due yet
    await h.sandbox.advanceClock(60);
    expect(h.received).toHaveLength(2);
    expect(h.received[1]!.id).toBe(h.received[0]!.id);
  });

  it('drops, duplicates, delays and reorders deliveries when told to', async () => {
    h.sandbox.webhookFaults.dropNext = 1;
    await h.stripe.customers.create({ email: 'dropped@example.com' });
    await h.sandbox.flushWebhooks();
    expect(h.received).toHaveLength(0);

    h.sandbox.webhookFaults.duplicateNext = 1;
    await h.stripe.customers.create({ email: 'twice@example.com' });
    await h.sandbox.flushWebhooks();
    expect(h.received).toHaveLength(2);
    expect(h.received[0]!.id).toBe(h.received[1]!.id);

    h.received.length = 0;
    h.sandbox.webhookFaults.delaySeconds = 30;
    await h.stripe.customers.create({ email: 'late@example.com' });
    await h.sandbox.flushWebhooks();
    expect(h.received).toHaveLength(0);
    await h.sandbox.advanceClock(30);
    expect(h.received).toHaveLength(1);
    h.sandbox.webhookFaults.delaySeconds = 0;

    h.received.length = 0;
    h.sandbox.webhookFaults.reorder = true;
    const first = await h.stripe.customers.create({ email: 'first@example.com' });
    const second = await h.stripe.customers.create({ email: 'second@example.com' });
    await h.sandbox.flushWebhooks();
    expect(h.received.map((e) => (e.data.object as { id: string }).id)).toEqual([second.id, first.id]);
  });

  it('filters events by delivery_success as Stripe does: false for a delivery pending, retrying or dropped, true once every endpoint has it, neither for an event no endpoint was sent', async () => {
    const ids = async (deliverySuccess: boolean) => (await h.stripe.events.list({ delivery_success: deliverySuccess })).data.map((e) => (e.data.object as { id: string }).id);
    // Stripe says webhooks were not delivered to an event made while no endpoint was enabled: it is neither.
    await h.stripe.webhookEndpoints.update((await h.stripe.webhookEndpoints.list()).data[0]!.id, { disabled: true });
    const unsent = await h.stripe.customers.create({ email: 'unsent@example.com' });
    await h.stripe.webhookEndpoints.update((await h.stripe.webhookEndpoints.list()).data[0]!.id, { disabled: false });

    const delivered = await h.stripe.customers.create({ email: 'delivered@example.com' });
    await h.sandbox.flushWebhooks();
    const queued = await h.stripe.customers.create({ email: 'queued@example.com' }); // not sent yet: nothing flushed
    expect(await ids(false)).toEqual([queued.id]);
    expect(await ids(true)).toEqual([delivered.id]);

    h.sandbox.webhookFaults.dropNext = 1;
    await h.sandbox.flushWebhooks(); // the queued one is lost: Stripe never got a 2xx
    h.receiverStatus.value = 500;
    const refused = await h.stripe.customers.create({ email: 'refused@example.com' });
    await h.sandbox.flushWebhooks(); // refused: retried later
    expect(await ids(false)).toEqual([refused.id, queued.id]);
    expect(await ids(true)).toEqual([delivered.id]);

    h.receiverStatus.value = 200;
    await h.sandbox.advanceClock(60); // the retry succeeds; the dropped delivery is never retried
    expect(await ids(false)).toEqual([queued.id]);
    expect(await ids(true)).toEqual([refused.id, delivered.id]);
    expect((await h.stripe.events.list()).data.map((e) => (e.data.object as { id: string }).id)).toEqual([refused.id, queued.id, delivered.id, unsent.id]);

    // A second endpoint that has not received an event keeps it undelivered, however many others did.
    // (The same receiver twice, under the same secret, so both deliveries verify.)
    h.sandbox.core.events.createEndpoint(RECEIVER_URL, ['customer.created'], { secret: h.webhookSecret });
    const bothDelivered = await h.stripe.customers.create({ email: 'both@example.com' });
    await h.sandbox.flushWebhooks();
    const oneDropped = await h.stripe.customers.create({ email: 'one-dropped@example.com' });
    h.sandbox.webhookFaults.dropNext = 1; // the first delivery of the two is lost, the second arrives
    await h.sandbox.flushWebhooks();
    expect(h.received.filter((e) => (e.data.object as { id: string }).id === oneDropped.id)).toHaveLength(1);
    expect(await ids(false)).toEqual([oneDropped.id, queued.id]);
    expect(await ids(true)).toEqual([bothDelivered.id, refused.id, delivered.id]);
  });

  it('lists events newest first with type, created and cursor filters, and keeps them 30 days', async () => {
    const a = await h.stripe.customers.create({ email: 'a@example.com' });
    const b = await h.stripe.customers.create({ email: 'b@example.com' });
    await h.stripe.customers.update(a.id, { name: 'Ada' });
    const all = await h.stripe.events.list();
    expect(all.data.map((e) => e.type)).toEqual(['customer.updated', 'customer.created', 'customer.created']);
    const updated = all.data[0]!;
    expect(updated.data.previous_attributes).toEqual({ name: null });
    const page = await h.stripe.events.list({ type: 'customer.created', limit: 1 });
    expect((page.data[0]!.data.object as { id: string }).id).toBe(b.id);
    expect(page.has_more).toBe(true);
    const next = await h.stripe.events.list({ type: 'customer.created', limit: 1, starting_after: page.data[0]!.id });
    expect((next.data[0]!.data.object as { id: string }).id).toBe(a.id);
    expect((await h.stripe.events.list({ created: { gt: updated.created } })).data).toEqual([]);

    await h.sandbox.advanceClock(29 * 24 * 3600);
    expect((await h.stripe.events.list()).data).toHaveLength(3);
    await h.sandbox.advanceClock(2 * 24 * 3600);
    expect((await h.stripe.events.list()).data).toHaveLength(0);
  });
});
