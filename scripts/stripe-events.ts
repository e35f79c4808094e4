// `npm run stripe:events`: the Stripe event types this server applies, one per line (or `--json`, an
// array), for registering the webhook endpoint (docs/deploy.md). Read from the translator's own set
// (HANDLED_EVENT_TYPES in server/webhooks/translate.ts), not kept by hand: a type added there is
// listed here at once. Any other type Stripe sends is stored, marked ignored and acknowledged, so
// subscribing to more costs requests but breaks nothing; subscribing to fewer loses state changes.
import { pathToFileURL } from 'node:url';
import { HANDLED_EVENT_TYPES } from '../server/webhooks/translate';

const USAGE = 'usage: npm run stripe:events [-- --json]\n';

/** The handled types in alphabetical order, as Stripe's dashboard lists them. */
export function handledEventTypes(): string[] {
  return [...HANDLED_EVENT_TYPES].sort();
}

/** What the command prints and its exit code: 0, or 2 for arguments it does not know. */
export function stripeEventsCommand(argv: string[]): { code: number; stdout: string; stderr: string } {
  if (argv.some((arg) => arg === '--help' || arg === '-h')) return { code: 0, stdout: USAGE, stderr: '' };
  const unknown = argv.filter((arg) => arg !== '--json');
  if (unknown.length > 0) return { code: 2, stdout: '', stderr: `stripe:events: unknown argument ${unknown[0]}\n${USAGE}` };
  const types = handledEventTypes();
  return { code: 0, stdout: argv.includes('--json') ? `${JSON.stringify(types)}\n` : types.map((type) => `${type}\n`).join(''), stderr: '' };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { code, stdout, stderr } = stripeEventsCommand(process.argv.slice(2));
  process.stdout.write(stdout);
  process.stderr.write(stderr);
  process.exitCode = code;
}
