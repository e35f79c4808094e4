// The webhook applier (DESIGN.md decision 6): applies stored Stripe events exactly once, in object
// order. STUB: the interface is fixed; the implementation lands in this file.
import type { Db } from '../db/db';
import type { Logger } from '../observability/logger';
import type Stripe from 'stripe';

export type ReplayOutcome =
  | { outcome: 'not_found' }
  /** The event was applied again through the same path (a no-op where it had been applied). */
  | { outcome: 'replayed'; status: 'received' | 'applied' | 'ignored' | 'failed' };

export interface WebhookApplier {
  /** Wakes the worker: new events were stored. Returns at once. */
  wake(): void;
  /** Applies due events until none is due; resolves with how many were processed. */
  drain(): Promise<number>;
  /** Staff replay: applies one stored event again now, whatever its status. */
  replay(eventId: string, actor: string): Promise<ReplayOutcome>;
}

export interface WebhookApplierDeps {
  db: Db;
  stripe: () => Stripe;
  logger: Logger;
}

export function createWebhookApplier(_deps: WebhookApplierDeps): WebhookApplier {
  return {
    wake() {},
    drain: async () => 0,
    replay: async () => {
      throw new Error('not implemented');
    },
  };
}
