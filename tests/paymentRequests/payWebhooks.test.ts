// Member PaymentIntents' webhooks (issue 20): the sandbox's own events for the members' payments are
// held (dropped by its fault injection, the events kept) and POSTed to the server's endpoint over real
// HTTP in several orders, duplicates included, each applied before the next arrives. Whatever the
// order, every member and the request end paid, and Make's payment_request_completed is enqueued once.
// Jobs are off: the Make outbox keeps what is enqueued.
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PaymentRequests } from '../../server/paymentRequests/service';
import { HANDLED_EVENT_TYPES } from '../../server/webhooks/translate';
import type { StripeSandbox } from '../../stripe-sandbox/sandbox';
import { type CheckoutServer, startCheckoutServer } from '../helpers/checkout';
import { deliver } from '../helpers/webhookStory';
import { confirmAs, newRequest, memberRow, newPayKey, paymentRequestsOf, requestRow, settle, type TestRequest } from './payHelpers';

let server: CheckoutServer;
let sandbox: StripeSandbox;
let service: PaymentRequests;
beforeAll(async () => {
  server = await startCheckoutServer({ JOBS_ENABLED: 'false' });
  sandbox = server.app.stripeSandbox!;
  service = paymentRequestsOf(server);
});
afterAll(() => server?.stop());

async function payShare(token: string): Promise<string> {
  const result = await service.payShare(token, newPayKey());
  if (result.outcome !== 'pay') throw new Error(`expected a PaymentIntent, got ${JSON.stringify(result)}`);
  return result.paymentIntentId;
}

/** The events the sandbox sends our endpoint while `change` runs, none delivered; with the endpoint's secret. */
async function held(change: () => Promise<void>): Promise<{ events: Stripe.Event[]; secret: string }> {
  await sandbox.flushWebhooks();
  const from = sandbox.core.events.log.length;
  sandbox.webhookFaults.dropNext = 1_000_000;
  try {
    await change();
    await sandbox.flushWebhooks();
  } finally {
    sandbox.webhookFaults.dropNext = 0;
  }
  const dropped = sandbox.core.events.log.slice(from).filter((record) => record.status === 'dropped');
  const secret = sandbox.core.events.secretOf(dropped[0]!.endpointId)!;
  const events = dropped.map((record) => sandbox.core.events.events.get(record.eventId)!).filter((event) => HANDLED_EVENT_TYPES.has(event.type));
  return { events, secret };
}

async function completions(requestId: string) {
  const { rows } = await server.app.db.query<{ kind: string; n: number }>(
    `select kind, count(*)::int as n from make_deliveries where dedupe_key in ($1, 'payment_request:' || $1) group by kind order by kind`,
    [requestId],
  );
  return rows;
}

/** A request of three members, each of whom pays (the second after a decline), none of it delivered yet. */
async function paidUndelivered(): Promise<{ request: TestRequest; events: Stripe.Event[]; secret: string }> {
  const request = await newRequest(server, { amounts: [1000, 2000, 3000] });
  const { events, secret } = await held(async () => {
    const [a, b, c] = request.members;
    expect(await confirmAs(server, await payShare(a!.token), 'pm_card_visa')).toBe('succeeded');
    const second = await payShare(b!.token);
    expect(await confirmAs(server, second, 'pm_card_chargeDeclined')).toBe('declined');
    expect(await confirmAs(server, second, 'pm_card_visa')).toBe('succeeded');
    expect(await confirmAs(server, await payShare(c!.token), 'pm_card_visa')).toBe('succeeded');
  });
  return { request, events, secret };
}

/** A seeded shuffle, so a failing order can be run again. */
function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let state = seed;
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const ORDERS: Array<[string, (events: Stripe.Event[]) => Stripe.Event[]]> = [
  ['as sent', (events) => events],
  ['reversed', (events) => [...events].reverse()],
  ['shuffled (seed 7)', (events) => shuffled(events, 7)],
  ['shuffled (seed 42), each twice', (events) => shuffled([...events, ...events], 42)],
  ['reversed, each twice in a row', (events) => [...events].reverse().flatMap((event) => [event, event])],
];

describe('the members’ webhooks in any order', () => {
  it.each(ORDERS)('%s: every member paid, the request paid, payment_request_completed once', async (_name, order) => {
    const { request, events, secret } = await paidUndelivered();
    expect(events.map((event) => event.type)).toEqual(expect.arrayContaining(['payment_intent.succeeded', 'payment_intent.payment_failed']));
    for (const member of request.members) expect(await memberRow(server, member.id)).toMatchObject({ status: 'pending' });

    for (const event of order(events)) {
      expect((await deliver(server.url, event, secret)).status).toBe(200);
      await server.app.webhookApplier.drain();
    }
    for (const member of request.members) {
      expect(await memberRow(server, member.id)).toMatchObject({ status: 'paid', order_status: 'paid', payment_attempt_count: 1 });
    }
    expect(await requestRow(server, request.id)).toMatchObject({ status: 'paid', completed_at: expect.any(Date) });
    expect(await completions(request.id)).toEqual([{ kind: 'payment_request_completed', n: 1 }]);
    // Share orders enqueue nothing of their own (no add_project, no payment_failed for the decline).
    const { rows } = await server.app.db.query<{ n: number }>(
      'select count(*)::int as n from make_deliveries where order_id = any($1::uuid[])',
      [request.members.map((member) => member.orderId)],
    );
    expect(rows[0]!.n).toBe(0);
  });
});

describe('three members paying at once', () => {
  it('each share paid through its own PaymentIntent; the request for a track completes once, with add_project once', async () => {
    const request = await newRequest(server, { amounts: [1500, 1500, 1500], track: 'business_plan_builder' });
    await Promise.all(
      request.members.map(async (member) => {
        const intent = await payShare(member.token);
        expect(await confirmAs(server, intent, 'pm_card_visa')).toBe('succeeded');
      }),
    );
    await settle(server);
    for (const member of request.members) expect(await memberRow(server, member.id)).toMatchObject({ status: 'paid', payment_attempt_count: 1 });
    expect(await requestRow(server, request.id)).toMatchObject({ status: 'paid' });
    expect(await completions(request.id)).toEqual([
      { kind: 'add_project', n: 1 },
      { kind: 'payment_request_completed', n: 1 },
    ]);
  });
});
