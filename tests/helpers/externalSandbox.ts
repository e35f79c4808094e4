// The Stripe sandbox served over real HTTP from the test's own process, for server child processes to
// use as their Stripe (STRIPE_SECRET_KEY + STRIPE_API_BASE, as a developer points the server at
// `npm run sandbox`): several processes then share one Stripe, and the test can act between Stripe's
// answer and the caller receiving it (hold a request, or kill the caller once Stripe has done its part).
import Stripe from 'stripe';
import type { SandboxClock } from '../../stripe-sandbox/clock';
import { serveFetchHandler } from '../../stripe-sandbox/http';
import { createStripeSandbox, type StripeSandbox } from '../../stripe-sandbox/sandbox';

/** Sees each request before the sandbox answers it; `answer` runs the sandbox. */
export type Interceptor = (request: Request, answer: () => Promise<Response>) => Promise<Response>;

export interface ExternalSandbox {
  sandbox: StripeSandbox;
  url: string;
  /** The official SDK pointed at it, for the test's own calls (the customer paying, Stripe's dashboard). */
  stripe: Stripe;
  /** What a server process needs to use it as its Stripe (test mode). */
  env: Record<string, string>;
  /** Set to act on requests; undefined passes everything straight through. */
  intercept: Interceptor | undefined;
  close: () => Promise<void>;
}

export async function startExternalSandbox(options: { clock?: SandboxClock } = {}): Promise<ExternalSandbox> {
  const sandbox = createStripeSandbox({ publicUrl: 'http://127.0.0.1', clock: options.clock, log: () => {} });
  const external = { sandbox, intercept: undefined } as ExternalSandbox;
  const served = await serveFetchHandler((request) => (external.intercept ? external.intercept(request, () => sandbox.handle(request)) : sandbox.handle(request)), { port: 0, host: '127.0.0.1' });
  sandbox.core.publicUrl = served.url;
  const url = new URL(served.url);
  external.url = served.url;
  external.stripe = new Stripe('sk_test_externalSandbox', { host: url.hostname, port: Number(url.port), protocol: 'http', maxNetworkRetries: 0 });
  external.env = { STRIPE_SECRET_KEY: 'sk_test_externalSandbox', STRIPE_API_BASE: served.url };
  external.close = async () => {
    sandbox.core.events.stopAutoDelivery();
    await served.close();
  };
  return external;
}
