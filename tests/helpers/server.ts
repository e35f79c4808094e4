// The real server, started in-process on a free port against a fresh test database, reached over
// real HTTP with fetch.
import { Writable } from 'node:stream';
import { startApp, type RunningApp } from '../../server/compose';
import { type Config, loadConfig } from '../../server/config';
import type { Db } from '../../server/platform/db/db';
import { createLogger, type Logger } from '../../server/platform/observability/logger';
import { createTestDb, type TestDb } from './db';

export interface TestServer {
  url: string;
  app: RunningApp;
  testDb: TestDb;
  config: Config;
  logs: LogCapture;
  /** POST /graphql with JSON; returns the HTTP status and the parsed body. */
  graphql: (query: string, options?: { variables?: Record<string, unknown>; token?: string; headers?: Record<string, string> }) => Promise<GraphQLResponse>;
  stop: () => Promise<void>;
}

export interface GraphQLResponse {
  status: number;
  body: { data?: any; errors?: Array<{ message: string; extensions?: Record<string, any>; path?: unknown }> };
  headers: Headers;
}

/** Every JSON log line the server wrote, parsed, for assertions on what is (and is not) logged. */
export class LogCapture extends Writable {
  readonly lines: Array<Record<string, any>> = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void) {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) this.lines.push(JSON.parse(line));
    done();
  }
  get text(): string {
    return this.lines.map((l) => JSON.stringify(l)).join('\n');
  }
}

export function testConfig(env: Record<string, string> = {}): Config {
  // The janitor is off unless a test turns it on: a pass on its schedule would backfill the events a
  // test keeps from the server on purpose, and settle orders the test means to see unsettled.
  return loadConfig({ NODE_ENV: 'test', PORT: '0', HOST: '127.0.0.1', CONSOLE_DIST_DIR: './dist/console', RECONCILE_INTERVAL: 'off', ...env });
}

export async function startTestServer(env: Record<string, string> = {}, options: { wrapDb?: (db: Db) => Db } = {}): Promise<TestServer> {
  const config = testConfig(env);
  const logs = new LogCapture();
  const logger: Logger = createLogger({ level: 'info', destination: logs });
  const testDb = await createTestDb();
  // wrapDb lets a test put a fault-injecting decorator between the server and the real database.
  const app = await startApp(config, logger, { db: options.wrapDb ? options.wrapDb(testDb.db) : testDb.db });
  const graphql: TestServer['graphql'] = async (query, options = {}) => {
    const response = await fetch(`${app.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...options.headers,
      },
      body: JSON.stringify({ query, variables: options.variables }),
    });
    return { status: response.status, body: await response.json(), headers: response.headers };
  };
  return {
    url: app.url,
    app,
    testDb,
    config,
    logs,
    graphql,
    async stop() {
      await app.stop();
      await testDb.close();
    },
  };
}
