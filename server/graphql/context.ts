import type Stripe from 'stripe';
import type { Viewer } from '../auth/viewer';
import type { Config } from '../config';
import type { Db } from '../db/db';
import type { Logger } from '../observability/logger';

/** What every resolver receives. Built once per request, after authentication. */
export interface GraphQLContext {
  viewer: Viewer;
  db: Db;
  logger: Logger;
  requestId: string;
  config: Config;
  /** The Stripe client: the real API, or the sandbox this server serves when no key is configured. */
  stripe: Stripe;
}
