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
}
