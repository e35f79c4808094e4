// Stripe's error object and the HTTP statuses Stripe pairs with each error type.
export type StripeErrorType = 'api_error' | 'card_error' | 'idempotency_error' | 'invalid_request_error';

export interface StripeErrorBody {
  type: StripeErrorType;
  message: string;
  code?: string;
  decline_code?: string;
  param?: string;
  doc_url?: string;
  payment_intent?: unknown;
  request_log_url?: string;
}

/** Thrown by resource handlers; the router turns it into Stripe's `{ error: {...} }` response. */
export class StripeApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: StripeErrorBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.message);
  }
}

export const invalidRequest = (message: string, param?: string, code?: string) =>
  new StripeApiError(400, { type: 'invalid_request_error', message, ...(param ? { param } : {}), ...(code ? { code } : {}) });

export const missingParam = (param: string) =>
  invalidRequest(`Missing required param: ${param}.`, param, 'parameter_missing');

export const unknownParam = (param: string) =>
  invalidRequest(`Received unknown parameter: ${param}`, param, 'parameter_unknown');

export const resourceMissing = (kind: string, id: string, param = 'id') =>
  new StripeApiError(404, { type: 'invalid_request_error', message: `No such ${kind}: '${id}'`, param, code: 'resource_missing' });

export const unexpectedState = (message: string) => invalidRequest(message, undefined, 'payment_intent_unexpected_state');

// Stripe tells its SDKs which failures are safe to retry; stripe-node retries a 429 only when told so.
export const rateLimited = () =>
  new StripeApiError(
    429,
    {
      type: 'invalid_request_error',
      code: 'rate_limit',
      message: 'Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.',
    },
    { 'stripe-should-retry': 'true' },
  );

export const apiError = () =>
  new StripeApiError(500, { type: 'api_error', message: 'An unknown error occurred on the sandbox (injected fault).' });
