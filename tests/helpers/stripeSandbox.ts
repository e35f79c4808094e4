// Note: startSandboxHarness() mounts one msw server; create one harness per test file.
// The Stripe sandbox mounted under msw, driven only through the official `stripe` SDK, plus a webhook
// receiver (also under msw: it stands in for a server outside the SDK's reach) that verifies every
// delivery with stripe.webhooks.constructEvent and keeps the events it received.
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import Stripe from 'stripe';
import { createStripeSandbox, type StripeSandbox } from '../../stripe-sandbox/sandbox';

export const SANDBOX_PUBLIC_URL = 'https://sandbox.stripe.test';
export const RECEIVER_URL = 'https://receiver.test/webhooks/stripe';

export interface SandboxHarness {
  sandbox: StripeSandbox;
  stripe: Stripe;
  /** Verified events the receiver got, in arrival order. */
  received: Stripe.Event[];
  /** Status the receiver answers with (set to 500 to make Stripe retry). */
  receiverStatus: { value: number };
  webhookSecret: string;
  /** Clears sandbox state and received events, and registers the receiver again. */
  reset: () => void;
  close: () => void;
}

export function startSandboxHarness(options: { maxNetworkRetries?: number } = {}): SandboxHarness {
  const sandbox = createStripeSandbox({ publicUrl: SANDBOX_PUBLIC_URL, log: () => {} });
  const stripe = new Stripe('sk_test_sandbox_harness', {
    // Look the global fetch up at call time: msw patches it in listen(), after this client exists.
    httpClient: Stripe.createFetchHttpClient((input, init) => fetch(input, init)),
    maxNetworkRetries: options.maxNetworkRetries ?? 0,
  });
  const received: Stripe.Event[] = [];
  const receiverStatus = { value: 200 };
  const harness = { sandbox, stripe, received, receiverStatus, webhookSecret: '' } as SandboxHarness;

  const server = setupServer(
    http.all('https://api.stripe.com/*', ({ request }) => sandbox.handle(request)),
    http.all(`${SANDBOX_PUBLIC_URL}/*`, ({ request }) => sandbox.handle(request)),
    http.post(RECEIVER_URL, async ({ request }) => {
      const payload = await request.text();
      const event = stripe.webhooks.constructEvent(payload, request.headers.get('stripe-signature') ?? '', harness.webhookSecret);
      received.push(event);
      return new HttpResponse(null, { status: receiverStatus.value });
    }),
  );
  server.listen({ onUnhandledRequest: 'error' });

  const register = () => {
    harness.webhookSecret = sandbox.addWebhookEndpoint(RECEIVER_URL, ['*']).secret!;
  };
  register();
  harness.reset = () => {
    sandbox.reset();
    received.length = 0;
    receiverStatus.value = 200;
    register();
  };
  harness.close = () => server.close();
  return harness;
}

export interface StripeErrorFields {
  type: string;
  statusCode: number | undefined;
  code: string | undefined;
  param: string | undefined;
  declineCode: string | undefined;
  message: string;
}

/** The error a Stripe SDK call rejected with, as plain fields to assert on. */
export async function stripeError(call: Promise<unknown>): Promise<StripeErrorFields> {
  try {
    await call;
  } catch (error) {
    const e = error as { type: string; statusCode?: number; code?: string; param?: string; decline_code?: string; message: string };
    return { type: e.type, statusCode: e.statusCode, code: e.code, param: e.param, declineCode: e.decline_code, message: e.message };
  }
  throw new Error('expected the Stripe call to fail, but it succeeded');
}
