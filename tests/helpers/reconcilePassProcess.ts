// One reconciliation pass from an OS process of its own, for tests of passes started together by
// several processes on one database (tests/reconcile/twoProcesses.test.ts). It starts the server as
// `npm start` composes it (server/compose.ts: its database pool, Stripe client, event store and
// applier), from the environment alone, then:
//   prints `ready`, waits for a `go` line on stdin (so that the test starts every process's pass at
//   once), runs runReconciliation (trigger cli, actor from argv), prints `result <PassResult as JSON>`,
//   and stops the server cleanly. Logs go to stderr, so stdout carries only these lines.
import { createInterface } from 'node:readline';
import { startApp } from '../../server/compose';
import { loadConfig } from '../../server/config';
import { createLogger } from '../../server/platform/observability/logger';
import { runReconciliation } from '../../server/reconcile/janitor';

const actor = process.argv[2] ?? 'cli:test';
const config = loadConfig();
const logger = createLogger({ level: config.logLevel, destination: process.stderr });
const app = await startApp(config, logger);
process.stdout.write('ready\n');

const lines = createInterface({ input: process.stdin });
for await (const line of lines) if (line.trim() === 'go') break;
lines.close();

const result = await runReconciliation(app.reconciliation, { trigger: 'cli', actor });
process.stdout.write(`result ${JSON.stringify(result)}\n`);
await app.stop();
process.exit(0);
