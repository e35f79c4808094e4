// `npm run sandbox`: the Stripe sandbox on its own (default 127.0.0.1:12111), for any Stripe client in
// any language, the way people point clients at stripe-mock: any sk_test_ key is accepted, webhook
// endpoints are registered through POST /v1/webhook_endpoints, and events are delivered to them.
import { serveFetchHandler } from './http';
import { createStripeSandbox } from './sandbox';
import { SandboxConfigError, sandboxPort } from './standaloneConfig';

async function main() {
  let port: number;
  try {
    port = sandboxPort(process.argv.slice(2), process.env);
  } catch (error) {
    if (error instanceof SandboxConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(error.exitCode);
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
      `  Control:    POST ${served.url}/_sandbox/reset | /_sandbox/clock/advance {"seconds":N} | /_sandbox/faults/api {"faults":[...],"match":{...}} | /_sandbox/faults/webhooks`,
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
