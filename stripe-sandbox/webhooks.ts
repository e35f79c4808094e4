// Events and their signed delivery to registered webhook endpoints, as Stripe does it: every state
// change emits an Event (listable for 30 days), each enabled endpoint gets a POST signed with its
// secret, and a delivery that does not get a 2xx is retried with backoff. Faults can be injected
// (drop, duplicate, reorder, delay) to test a receiver's handling of what Stripe really does.
import { randomBytes } from 'node:crypto';
import type Stripe from 'stripe';
import type { SandboxClock } from './clock';
import { newId } from './ids';
import { signatureHeader } from './signing';
import type { Collection, Store } from './store';

export const SANDBOX_API_VERSION = '2026-10-28.endive';
export const EVENT_RETENTION_SECONDS = 30 * 24 * 3600;

// Test mode retries a few times over hours (live mode: up to 3 days). In sandbox seconds.
const RETRY_BACKOFF_SECONDS = [60, 300, 1800, 3600, 3 * 3600, 6 * 3600];

export interface WebhookFaults {
  /** The next N deliveries are silently lost (the event still exists and is listable). */
  dropNext: number;
  /** The next N deliveries are sent twice. */
  duplicateNext: number;
  /** Deliveries due together are sent newest first instead of oldest first. */
  reorder: boolean;
  /** Every new delivery waits this many sandbox seconds before its first attempt. */
  delaySeconds: number;
}

export const noWebhookFaults = (): WebhookFaults => ({ dropNext: 0, duplicateNext: 0, reorder: false, delaySeconds: 0 });

export interface Delivery {
  eventId: string;
  endpointId: string;
  attempt: number;
  dueAt: number;
}

export interface DeliveryRecord {
  eventId: string;
  eventType: string;
  endpointId: string;
  url: string;
  attempt: number;
  status: number | 'network_error' | 'dropped';
  at: number;
}

export type WebhookEndpoint = Stripe.WebhookEndpoint;

/** What a restart keeps of webhooks. `delivered` is absent from state files written before it was kept. */
export interface WebhookState {
  secrets: Array<[string, string]>;
  queue: Delivery[];
  delivered?: Array<[string, Array<[string, boolean]>]>;
}

export class EventBus {
  readonly faults: WebhookFaults = noWebhookFaults();
  /** Every delivery attempt, newest last: what tests and the console can inspect. */
  readonly log: DeliveryRecord[] = [];
  /**
   * How many deliveries a flush posts at once (1: one at a time, in the order they fall due, as tests
   * expect). More keeps each object's deliveries in order and lets different objects' overlap: a
   * receiver sees them in an order Stripe does not promise anyway. The simulator posts a batch's 8 at once.
   */
  deliveryConcurrency = 1;
  private queue: Delivery[] = [];
  /** Taken off the queue and not yet attempted to the end: a snapshot keeps them, as still to deliver. */
  private attempting = new Set<Delivery>();
  private timer: NodeJS.Timeout | undefined;
  private pumping: Promise<void> | undefined;
  readonly events: Collection<Stripe.Event>;
  readonly endpoints: Collection<WebhookEndpoint>;
  /** Endpoint secrets are shown only on creation, so they live beside the objects. */
  private readonly secrets = new Map<string, string>();
  /**
   * Per event, per endpoint it was sent to: delivered (a 2xx) or not yet (queued, retrying, dropped by
   * a fault, or out of retries). Stripe's Events list filters on it (`delivery_success`), and a
   * receiver recovering missed events lists the undelivered ones (docs.stripe.com/webhooks/process-undelivered-events).
   */
  private readonly delivered = new Map<string, Map<string, boolean>>();

  constructor(
    store: Store,
    private readonly clock: SandboxClock,
    private readonly fetchImpl: typeof fetch,
    /** Called after state changes made outside an API request (a delivery attempt), to persist them. */
    private readonly changed: () => void = () => {},
  ) {
    this.events = store.collection<Stripe.Event>('event');
    this.endpoints = store.collection<WebhookEndpoint>('webhook_endpoint');
  }

  createEndpoint(url: string, enabledEvents: string[], extra: { description?: string | null; metadata?: Record<string, string>; secret?: string } = {}): WebhookEndpoint {
    const secret = extra.secret ?? `whsec_${randomBytes(24).toString('base64url')}`;
    const endpoint = {
      id: newId('we'),
      object: 'webhook_endpoint',
      api_version: SANDBOX_API_VERSION,
      application: null,
      created: this.clock.now(),
      description: extra.description ?? null,
      enabled_events: enabledEvents,
      livemode: false,
      metadata: extra.metadata ?? {},
      status: 'enabled',
      url,
    } as unknown as WebhookEndpoint;
    this.endpoints.insert(endpoint);
    this.secrets.set(endpoint.id, secret);
    return { ...endpoint, secret } as WebhookEndpoint;
  }

  secretOf(endpointId: string): string | undefined {
    return this.secrets.get(endpointId);
  }

  deleteEndpoint(id: string): void {
    this.endpoints.delete(id);
    this.secrets.delete(id);
    this.queue = this.queue.filter((d) => d.endpointId !== id);
  }

  /** Records an Event for a state change and queues its delivery to every endpoint that wants it. */
  emit(type: string, object: { id: string; object: string }, options: { previousAttributes?: Record<string, unknown>; request?: { id: string | null; idempotency_key: string | null } } = {}): Stripe.Event {
    const targets = this.endpoints.newestFirst((e) => e.status === 'enabled' && (e.enabled_events.includes('*') || e.enabled_events.includes(type as never)));
    const event = {
      id: newId('evt'),
      object: 'event',
      api_version: SANDBOX_API_VERSION,
      created: this.clock.now(),
      data: {
        object: structuredClone(object),
        ...(options.previousAttributes ? { previous_attributes: structuredClone(options.previousAttributes) } : {}),
      },
      livemode: false,
      pending_webhooks: targets.length,
      // A copy: one request's events must not share an object (the state file would split it).
      request: options.request ? { ...options.request } : { id: null, idempotency_key: null },
      type,
    } as unknown as Stripe.Event;
    this.events.insert(event);
    if (targets.length > 0) this.delivered.set(event.id, new Map(targets.map((endpoint) => [endpoint.id, false])));
    for (const endpoint of targets.reverse()) {
      this.queue.push({ eventId: event.id, endpointId: endpoint.id, attempt: 1, dueAt: this.clock.now() + this.faults.delaySeconds });
    }
    this.kick();
    return event;
  }

  /** Events still retained (30 days), newest first. */
  retainedEvents(): Stripe.Event[] {
    const horizon = this.clock.now() - EVENT_RETENTION_SECONDS;
    return this.events.newestFirst((e) => e.created >= horizon);
  }

  /**
   * Stripe's `delivery_success` of one event: false when a delivery to an enabled endpoint has not
   * succeeded (still pending or retrying, or failed: dropped by a fault, out of retries, or not sent
   * yet because auto delivery is stopped); true when every one has; undefined (matching neither) for
   * an event no enabled endpoint was sent, as there was no delivery to succeed or fail.
   */
  deliverySucceeded(event: Stripe.Event): boolean | undefined {
    const byEndpoint = this.delivered.get(event.id);
    // A state file written before deliveries were kept: Stripe's own count of those not yet delivered.
    if (!byEndpoint) return event.pending_webhooks > 0 ? false : undefined;
    let sent = false;
    for (const [endpointId, ok] of byEndpoint) {
      if (this.endpoints.get(endpointId)?.status !== 'enabled') continue;
      if (!ok) return false;
      sent = true;
    }
    return sent ? true : undefined;
  }

  /**
   * Work due by real time that the timer runs before delivering (the sandbox's delayed steps, see
   * timerHandlers in resources/index.ts), so a sandbox delivering on its own also takes them.
   */
  onTimer: (() => void) | undefined;

  /** Delivers in the background as deliveries fall due (npm start). Tests may use flush() instead. */
  startAutoDelivery(intervalMs = 50): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.onTimer?.();
      this.kick();
    }, intervalMs);
    this.timer.unref();
  }

  stopAutoDelivery(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Attempts every delivery due now (and those that fall due while doing so); resolves when done. */
  async flush(): Promise<void> {
    while (this.pumping) await this.pumping;
    await this.pump();
  }

  pendingDeliveries(): number {
    return this.queue.length;
  }

  /** What a restart must keep besides the objects: endpoint secrets and deliveries still to attempt. */
  snapshot(): WebhookState {
    return {
      secrets: [...this.secrets],
      queue: [...this.attempting, ...this.queue],
      delivered: [...this.delivered].map(([eventId, byEndpoint]) => [eventId, [...byEndpoint]]),
    };
  }

  restore(state: WebhookState): void {
    this.secrets.clear();
    for (const [id, secret] of state.secrets) this.secrets.set(id, secret);
    this.delivered.clear();
    for (const [eventId, byEndpoint] of state.delivered ?? []) this.delivered.set(eventId, new Map(byEndpoint));
    this.queue = [...state.queue];
    this.kick();
  }

  reset(): void {
    this.queue = [];
    this.attempting.clear();
    this.log.length = 0;
    this.secrets.clear();
    this.delivered.clear();
    Object.assign(this.faults, noWebhookFaults());
  }

  private kick(): void {
    if (this.timer && !this.pumping) void this.pump();
  }

  private pump(): Promise<void> {
    // `finally` runs after the assignment, so a drain that finds nothing due still clears the flag.
    this.pumping ??= this.drain().finally(() => {
      this.pumping = undefined;
    });
    return this.pumping;
  }

  private async drain(): Promise<void> {
    for (;;) {
      const now = this.clock.now();
      const due = this.queue.filter((d) => d.dueAt <= now);
      if (due.length === 0) return;
      this.queue = this.queue.filter((d) => d.dueAt > now);
      if (this.faults.reorder) due.reverse();
      for (const delivery of due) this.attempting.add(delivery);
      // Which deliveries the drop and duplicate faults take is decided here, in the order they are
      // due, so it does not depend on how concurrent posts interleave.
      const planned = due.map((delivery) => ({ delivery, copies: this.sendable(delivery) ? this.copiesOf() : (1 as const) }));
      const one = async ({ delivery, copies }: (typeof planned)[number]) => {
        try {
          await this.attempt(delivery, copies);
        } finally {
          this.attempting.delete(delivery);
        }
      };
      if (this.deliveryConcurrency <= 1) {
        for (const p of planned) await one(p);
      } else {
        // One lane per object (an event's data.object id), its deliveries in order; up to
        // deliveryConcurrency lanes at once, taken in the order their first delivery is due.
        const lanes = new Map<string, Array<(typeof planned)[number]>>();
        for (const p of planned) {
          const key = (this.events.get(p.delivery.eventId)?.data.object as { id?: string } | undefined)?.id ?? p.delivery.eventId;
          const lane = lanes.get(key);
          if (lane) lane.push(p);
          else lanes.set(key, [p]);
        }
        const queue = [...lanes.values()];
        const worker = async () => {
          for (let lane = queue.shift(); lane; lane = queue.shift()) for (const p of lane) await one(p);
        };
        await Promise.all(Array.from({ length: Math.min(this.deliveryConcurrency, queue.length) }, worker));
      }
      this.changed();
    }
  }

  /** A delivery whose event, endpoint and secret still exist (one that does not is skipped, taking no fault). */
  private sendable(delivery: Delivery): boolean {
    return this.events.get(delivery.eventId) !== undefined && this.endpoints.get(delivery.endpointId) !== undefined && this.secrets.has(delivery.endpointId);
  }

  /** Applies the drop and duplicate faults to the next delivery: 0 copies sent (dropped), 1, or 2. */
  private copiesOf(): 0 | 1 | 2 {
    if (this.faults.dropNext > 0) {
      this.faults.dropNext--;
      return 0;
    }
    if (this.faults.duplicateNext > 0) {
      this.faults.duplicateNext--;
      return 2;
    }
    return 1;
  }

  private async attempt(delivery: Delivery, copies: 0 | 1 | 2): Promise<void> {
    const event = this.events.get(delivery.eventId);
    const endpoint = this.endpoints.get(delivery.endpointId);
    const secret = this.secrets.get(delivery.endpointId);
    if (!event || !endpoint || !secret) return;
    const record = { eventId: event.id, eventType: event.type, endpointId: endpoint.id, url: endpoint.url, attempt: delivery.attempt, at: this.clock.now() };
    if (copies === 0) {
      this.log.push({ ...record, status: 'dropped' });
      return;
    }
    let ok = false;
    for (let i = 0; i < copies; i++) {
      const status = await this.post(endpoint.url, event, secret);
      this.log.push({ ...record, status });
      ok ||= typeof status === 'number' && status >= 200 && status < 300;
    }
    if (ok) {
      this.delivered.get(event.id)?.set(endpoint.id, true);
      (event as { pending_webhooks: number }).pending_webhooks = Math.max(0, event.pending_webhooks - 1);
      return;
    }
    const backoff = RETRY_BACKOFF_SECONDS[delivery.attempt - 1];
    if (backoff !== undefined) this.queue.push({ ...delivery, attempt: delivery.attempt + 1, dueAt: this.clock.now() + backoff });
  }

  private async post(url: string, event: Stripe.Event, secret: string): Promise<number | 'network_error'> {
    // Stripe sends the event pretty-printed; receivers must verify the exact bytes.
    const payload = JSON.stringify(event, null, 2);
    try {
      const response = await this.fetchImpl(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
          // Signed with the real time, not sandbox time: receivers check the timestamp against their own clock.
          'stripe-signature': signatureHeader(payload, secret, Math.floor(Date.now() / 1000)),
        },
        body: payload,
        signal: AbortSignal.timeout(10_000),
      });
      await response.arrayBuffer().catch(() => undefined);
      return response.status;
    } catch {
      return 'network_error';
    }
  }
}
