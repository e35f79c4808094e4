// The Stripe sandbox for the checkout benchmark (as `npm run sandbox` serves it), timing its own work:
// how long it took to answer each POST /v1/payment_intents, by the PaymentIntent's id, so that the
// benchmark can subtract the sandbox's own time from a checkout's and keep our overhead.
// GET /_bench/timings answers { "<pi id>": ms, … } and forgets them. Prints `listening on <url>`.
import { serveFetchHandler } from '../stripe-sandbox/http';
import { createStripeSandbox } from '../stripe-sandbox/sandbox';

const sandbox = createStripeSandbox({ publicUrl: 'http://127.0.0.1' });
let timings: Record<string, number> = {};

async function handle(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname === '/_bench/timings') {
    const answer = Response.json(timings);
    timings = {};
    return answer;
  }
  const started = performance.now();
  const response = await sandbox.handle(request);
  if (request.method === 'POST' && url.pathname === '/v1/payment_intents' && response.status === 200) {
    const elapsed = performance.now() - started;
    const { id } = (await response.clone().json()) as { id: string };
    timings[id] = elapsed;
  }
  return response;
}

const served = await serveFetchHandler(handle, { port: 0, host: '127.0.0.1' });
sandbox.core.publicUrl = served.url;
process.stdout.write(`listening on ${served.url}\n`);
process.once('SIGTERM', () => void served.close().finally(() => process.exit(0)));
