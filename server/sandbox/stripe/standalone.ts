// `npm run sandbox`: the Stripe sandbox on its own (default 127.0.0.1:12111), for any Stripe client in
// any language, the way people point clients at stripe-mock: any sk_test_ key is accepted, webhook
// endpoints are registered through POST /v1/webhook_endpoints, and events are delivered to them.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../../config';
import { serveFetchHandler } from './http';
import { createStripeSandbox } from './sandbox';

function portFromArgs(fallback: number): number {
  const { values } = parseArgs({ options: { port: { type: 'string' }, host: { type: 'string' } }, allowPositionals: false });
  if (values.port === undefined) return fallback;
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write('--port: expected an integer from 0 to 65535\n');
    process.exit(2);
  }
  return port;
}

async function main() {
  let port: number;
  try {
    port = portFromArgs(loadConfig().stripe.sandboxPort);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const sandbox = createStripeSandbox({ publicUrl: 'http://127.0.0.1' });
  const served = await serveFetchHandler(sandbox.handle, { port, host: '127.0.0.1' });
  sandbox.core.publicUrl = served.url;
  sandbox.core.events.startAutoDelivery();
  process.stdout.write(
    [
      `Stripe sandbox listening on ${served.url}`,
      `  API:        ${served.url}/v1 (any sk_test_ key; e.g. stripe-node: new Stripe('sk_test_x', { host: '127.0.0.1', port: ${new URL(served.url).port}, protocol: 'http' }))`,
      `  Webhooks:   POST ${served.url}/v1/webhook_endpoints with url and enabled_events[]; the response holds the signing secret`,
      `  Control:    POST ${served.url}/_sandbox/reset | /_sandbox/clock/advance {"seconds":N} | /_sandbox/faults/api {"faults":[...]} | /_sandbox/faults/webhooks`,
      '',
    ].join('\n'),
  );
  const stop = async () => {
    sandbox.core.events.stopAutoDelivery();
    await served.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

void main();
