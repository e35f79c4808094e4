// POST /webhooks/stripe, the API side of the webhooks domain (verify.ts, eventStore.ts, translate.ts in
// server/webhooks/): verify the raw body, store the event (once per event id), answer 200. Nothing
// is applied here: the applier does that after the acknowledgement. Bad deliveries get a 400 with a
// short reason and are counted; only a database failure answers 5xx, so that Stripe retries.
import type { Context } from 'hono';
import type { Config } from '../../config';
import type { AppEnv } from './types';
import { BodyTooLargeError, readBodyText } from './body';
import type { Logger } from '../../platform/observability/logger';
import { type EventStore, UnstorableEventError } from '../../webhooks/eventStore';
import { factsAtIngest } from '../../webhooks/translate';
import { checkFactsStorable, REJECTION_REASONS, type RejectionReason, verifyDelivery, WebhookRejection } from '../../webhooks/verify';

export const WEBHOOK_PATH = '/webhooks/stripe';

export interface WebhookCounters {
  received: number;
  duplicates: number;
  rejected: Record<RejectionReason, number>;
}

export function newWebhookCounters(): WebhookCounters {
  return {
    received: 0,
    duplicates: 0,
    rejected: Object.fromEntries(REJECTION_REASONS.map((reason) => [reason, 0])) as Record<RejectionReason, number>,
  };
}

export interface WebhookEndpointDeps {
  config: Config;
  logger: Logger;
  store: EventStore;
  counters: WebhookCounters;
  /** The configured secrets, plus in sandbox mode the secret of the endpoint the sandbox delivers to. */
  secrets: () => readonly string[];
}

/** What the endpoint answers a delivery: the status, the JSON body, and whether to close the connection. */
export interface WebhookAnswer {
  status: 200 | 400 | 500;
  body: { received: true; duplicate?: true } | { error: string; message: string };
  /** A body too large was left unread: the connection cannot carry another request. */
  closeConnection?: true;
}

/**
 * The endpoint without its framework: a delivery's raw body (or the BodyTooLargeError reading it
 * threw) and its Stripe-Signature header in, the answer out. The Hono route below and the Node
 * listener in front of Hono (webhookListener.ts) both answer with it.
 */
export function webhookHandler(deps: WebhookEndpointDeps): (raw: string | BodyTooLargeError, signature: string | undefined) => Promise<WebhookAnswer> {
  // Test and sandbox keys see test events; a live key sees live ones. The other mode's events are
  // stored and flagged, never applied.
  const expectLive = deps.config.stripe.mode === 'live';
  return async (raw, signature) => {
    if (raw instanceof BodyTooLargeError) return { ...reject(deps, new WebhookRejection('body_too_large', raw.message)), closeConnection: true };
    let event;
    let ingest;
    try {
      event = verifyDelivery(raw, signature, deps.secrets());
      // Stored either way; flagged here so the applier never has to look at them. The others are
      // translated now, while the payload is parsed: the applier applies the stored facts without
      // reading the payload back. One it cannot read is left to the applier, which records the error.
      ingest = factsAtIngest(event.payload, expectLive);
      // A value longer than its column would fail every time the event is applied: refused now.
      checkFactsStorable(ingest.facts);
    } catch (error) {
      if (error instanceof WebhookRejection) return reject(deps, error);
      throw error;
    }
    const { ignoredReason, facts } = ingest;
    try {
      const { isNew } = await deps.store.store(event, ignoredReason, facts);
      if (isNew) deps.counters.received += 1;
      else deps.counters.duplicates += 1;
      return { status: 200, body: isNew ? { received: true } : { received: true, duplicate: true } };
    } catch (error) {
      if (error instanceof UnstorableEventError) {
        // verify.ts refuses the shapes we know of before they reach the database; one that still
        // got this far is a shape to add there, hence an error in the log rather than a warning.
        deps.logger.error({ err: error.cause, eventId: event.id, sqlState: error.sqlState }, 'the database refused a verified webhook event');
        return reject(deps, new WebhookRejection('unstorable_event', `The event holds a value the database cannot store (SQLSTATE ${error.sqlState})`));
      }
      deps.logger.error({ err: error, eventId: event.id }, 'could not store a webhook event: Stripe will retry');
      return { status: 500, body: { error: 'unavailable', message: 'The event could not be stored; retry later' } };
    }
  };
}

/** POST /webhooks/stripe on Hono: what app.fetch serves (the Node listener takes the route first when served over HTTP). */
export function webhookRoute(deps: WebhookEndpointDeps) {
  const handle = webhookHandler(deps);
  return async (c: Context<AppEnv>) => {
    let raw: string | BodyTooLargeError;
    try {
      raw = await readBodyText(c, deps.config.http.bodyLimitBytes);
    } catch (error) {
      if (!(error instanceof BodyTooLargeError)) throw error;
      raw = error;
    }
    const answer = await handle(raw, c.req.header('stripe-signature'));
    if (answer.closeConnection) c.header('Connection', 'close');
    return c.json(answer.body, answer.status);
  };
}

function reject(deps: WebhookEndpointDeps, rejection: WebhookRejection): WebhookAnswer {
  deps.counters.rejected[rejection.reason] += 1;
  deps.logger.warn({ reason: rejection.reason }, 'webhook delivery refused');
  return { status: 400, body: { error: rejection.reason, message: rejection.message } };
}
