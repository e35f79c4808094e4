import { describe, expect, it } from 'vitest';
import { createStripeSandbox } from '../../stripe-sandbox/sandbox';

// The sandbox posting several webhook deliveries at once (EventBus.deliveryConcurrency, which the
// simulator sets): each object's deliveries still arrive in order, no more than the bound are in flight,
// and the drop and duplicate faults take the deliveries they would take one at a time.
function receiverSandbox(delayOf: (objectId: string) => number) {
  const received: Array<{ event: string; object: string; type: string }> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const fetchImpl = (async (_url: string, init: RequestInit) => {
    const event = JSON.parse(String(init.body)) as { id: string; type: string; data: { object: { id: string } } };
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((resolve) => setTimeout(resolve, delayOf(event.data.object.id)));
    inFlight -= 1;
    received.push({ event: event.id, object: event.data.object.id, type: event.type });
    return new Response('ok', { status: 200 });
  }) as typeof fetch;
  const sandbox = createStripeSandbox({ publicUrl: 'http://127.0.0.1', fetch: fetchImpl, log: () => {} });
  sandbox.core.events.stopAutoDelivery();
  sandbox.addWebhookEndpoint('http://receiver.test/webhooks', ['*']);
  sandbox.core.events.stopAutoDelivery();
  const emit = (object: string, type: string) => sandbox.core.events.emit(type, { id: object, object: 'customer' }).id;
  return { sandbox, received, maxInFlight: () => maxInFlight, emit };
}

describe('sandbox webhook deliveries posted concurrently', () => {
  it('posts one at a time, in the order due, by default', async () => {
    const h = receiverSandbox(() => 2);
    const ids = [h.emit('cus_a', 'customer.created'), h.emit('cus_b', 'customer.created'), h.emit('cus_a', 'customer.updated')];
    await h.sandbox.flushWebhooks();
    expect(h.received.map((r) => r.event)).toEqual(ids);
    expect(h.maxInFlight()).toBe(1);
  });

  it('overlaps different objects up to the bound and keeps each object in order', async () => {
    // The first object's posts are the slowest: the others finish first, its own stay in order.
    const h = receiverSandbox((object) => (object === 'cus_a' ? 15 : 1));
    h.sandbox.core.events.deliveryConcurrency = 3;
    const a = [h.emit('cus_a', 'customer.created'), h.emit('cus_a', 'customer.updated'), h.emit('cus_a', 'customer.deleted')];
    const others = ['cus_b', 'cus_c', 'cus_d', 'cus_e', 'cus_f'].map((id) => h.emit(id, 'customer.created'));
    await h.sandbox.flushWebhooks();
    expect(h.received).toHaveLength(8);
    expect(h.received.filter((r) => r.object === 'cus_a').map((r) => r.event)).toEqual(a);
    expect(new Set(h.received.map((r) => r.event))).toEqual(new Set([...a, ...others]));
    expect(h.maxInFlight()).toBe(3);
    expect(h.received[0]!.object).not.toBe('cus_a');
    expect(h.sandbox.core.events.pendingDeliveries()).toBe(0);
  });

  it('drops and duplicates the deliveries next due, whichever post finishes first', async () => {
    const h = receiverSandbox((object) => (object === 'cus_c' ? 1 : 10));
    h.sandbox.core.events.deliveryConcurrency = 4;
    h.sandbox.webhookFaults.dropNext = 1;
    h.sandbox.webhookFaults.duplicateNext = 1;
    const [dropped, doubled, once] = [h.emit('cus_a', 'customer.created'), h.emit('cus_b', 'customer.created'), h.emit('cus_c', 'customer.created')];
    await h.sandbox.flushWebhooks();
    expect(h.received.filter((r) => r.event === dropped)).toHaveLength(0);
    expect(h.received.filter((r) => r.event === doubled)).toHaveLength(2);
    expect(h.received.filter((r) => r.event === once)).toHaveLength(1);
    expect(h.sandbox.core.events.log.filter((r) => r.status === 'dropped').map((r) => r.eventId)).toEqual([dropped]);
  });
});
