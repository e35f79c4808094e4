// Rate limits on what the public can reach, counted in this process by rate-limiter-flexible
// (in-memory fixed windows of one minute). Several processes behind one balancer each count their own
// share; that is the intent: the limits are a brake on floods and runaway clients, not a quota.
//
// - GraphQL mutations of the storefront: per API key (RATE_LIMIT_API_KEY_PER_MINUTE) and per signed-in
//   customer (RATE_LIMIT_CUSTOMER_PER_MINUTE). Queries are not counted, nor are staff or Make.
//   Over the limit: HTTP 429 with Retry-After and one GraphQL error, extensions.code RATE_LIMITED and
//   retryAfterSeconds, before anything executes (so nothing is written).
// - The webhook endpoint, per source address: only deliveries that fail verification (no, malformed or
//   wrong signature, a timestamp out of tolerance, a body too large to verify) are counted
//   (RATE_LIMIT_WEBHOOK_UNVERIFIED_PER_MINUTE); an address past the limit gets 429 for every delivery
//   until its window ends. Stripe signs everything it sends, so it is never limited however fast it
//   delivers (nor for a signed event we refuse for its content), while a sender without the secret is
//   stopped after a few dozen tries.
// - The sandbox's dev sign-in, per source address (RATE_LIMIT_DEV_SIGN_IN_PER_MINUTE).
//
// A limit of 0 turns that limit off.
import { getOperationAST, parse } from 'graphql';
import type { MiddlewareHandler } from 'hono';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Viewer } from '../../auth/viewer';
import { clientAddress } from './clientAddress';
import type { AppEnv } from './types';

export interface RateLimitOptions {
  apiKeyPerMinute: number;
  customerPerMinute: number;
  webhookUnverifiedPerMinute: number;
  devSignInPerMinute: number;
  /** How the source address is found behind proxies (clientAddress.ts). */
  trustProxyHops: number;
}

const perMinute = (points: number) => (points > 0 ? new RateLimiterMemory({ points, duration: 60 }) : null);

/** Whole seconds, at least 1: Retry-After has no fractions, and 0 would invite an immediate retry. */
const retryAfterSeconds = (state: RateLimiterRes) => Math.max(1, Math.ceil(state.msBeforeNext / 1000));

/** Resolves with the limiter's state once the key is over its limit, undefined while under it. */
async function consume(limiter: RateLimiterMemory, key: string): Promise<RateLimiterRes | undefined> {
  try {
    await limiter.consume(key);
    return undefined;
  } catch (rejection) {
    // The memory limiter rejects with its state when the points are spent, and with an Error otherwise.
    if (rejection instanceof RateLimiterRes) return rejection;
    throw rejection;
  }
}

export class RateLimits {
  private readonly apiKey: RateLimiterMemory | null;
  private readonly customer: RateLimiterMemory | null;
  private readonly webhookUnverified: RateLimiterMemory | null;
  private readonly devSignIn: RateLimiterMemory | null;

  constructor(private readonly options: RateLimitOptions) {
    this.apiKey = perMinute(options.apiKeyPerMinute);
    this.customer = perMinute(options.customerPerMinute);
    this.webhookUnverified = perMinute(options.webhookUnverifiedPerMinute);
    this.devSignIn = perMinute(options.devSignInPerMinute);
  }

  /**
   * For a storefront API key or a customer sending a mutation: the 429 to answer instead of running it
   * (its Retry-After seconds and body), or undefined. A body that does not parse is left for Apollo to
   * refuse (and is not counted).
   */
  async graphql(viewer: Viewer, body: unknown): Promise<{ retryAfterSeconds: number; body: object } | undefined> {
    const limiter = viewer.role === 'STOREFRONT' ? this.apiKey : viewer.role === 'CUSTOMER' ? this.customer : null;
    if (!limiter || !viewer.id || !isMutation(body)) return undefined;
    const state = await consume(limiter, `${viewer.role}:${viewer.id}`);
    if (!state) return undefined;
    const seconds = retryAfterSeconds(state);
    const who = viewer.role === 'STOREFRONT' ? 'this API key' : 'this customer';
    return {
      retryAfterSeconds: seconds,
      body: { errors: [{ message: `Too many requests from ${who}: retry in ${seconds} s`, extensions: { code: 'RATE_LIMITED', retryAfterSeconds: seconds } }] },
    };
  }

  /**
   * Around the webhook route: an address that sent too many deliveries that failed verification gets
   * 429 (with Retry-After) for each further one that fails, instead of 400. A correctly signed delivery
   * is never refused, whatever its address has sent: behind a proxy not trusted (TRUST_PROXY_HOPS=0)
   * every sender shares the proxy's address, and an attacker's unsigned requests must not cut Stripe off.
   * Verification is one HMAC over the body, which is read anyway, so refusing earlier would save little.
   */
  webhook(): MiddlewareHandler<AppEnv> {
    return async (c, next) => {
      await next();
      if (!this.webhookUnverified || c.res.status !== 400 || !(await failedVerification(c.res))) return;
      const retryAfter = await this.webhookRefused(clientAddress(c, this.options.trustProxyHops));
      if (retryAfter === undefined) return;
      // Hono copies the route's headers (request id, security headers) onto the replacement.
      c.res = new Response(JSON.stringify(WEBHOOK_RATE_LIMITED), { status: 429, headers: { 'content-type': 'application/json', 'retry-after': String(retryAfter) } });
    };
  }

  /**
   * Counts a webhook delivery from this address that failed verification; resolves with the seconds
   * for Retry-After once the address is over its limit (the refusal becomes a 429), else undefined.
   * webhook() above and the Node listener (webhookListener.ts) share it.
   */
  async webhookRefused(address: string): Promise<number | undefined> {
    const limiter = this.webhookUnverified;
    if (!limiter) return undefined;
    // penalty() adds without refusing: over the limit, this refusal becomes a 429.
    const state = await limiter.penalty(address, 1);
    return state.consumedPoints <= this.options.webhookUnverifiedPerMinute ? undefined : retryAfterSeconds(state);
  }

  /** Ahead of POST /_sandbox/dev-sign-in. */
  devSignInLimit(): MiddlewareHandler<AppEnv> {
    const limiter = this.devSignIn;
    return async (c, next) => {
      if (!limiter || c.req.method !== 'POST') return next();
      const state = await consume(limiter, clientAddress(c, this.options.trustProxyHops));
      if (!state) return next();
      c.header('Retry-After', String(retryAfterSeconds(state)));
      return c.json({ error: 'rate_limited', message: 'Too many sign-ins from this address' }, 429);
    };
  }
}

/** The webhook route answers 400 with `{ error: <reason> }`; the reasons of an unverified delivery. */
const UNVERIFIED = /signature|timestamp|too_large/;

/** Whether a refusal's reason is one of an unverified delivery (counted by webhookRefused). */
export const isUnverifiedReason = (reason: string) => UNVERIFIED.test(reason);

/** The body of the 429 an address over its limit of unverified deliveries gets. */
export const WEBHOOK_RATE_LIMITED = { error: 'rate_limited', message: 'Too many refused deliveries from this address' };

async function failedVerification(response: Response): Promise<boolean> {
  try {
    const { error } = (await response.clone().json()) as { error?: unknown };
    return typeof error === 'string' && UNVERIFIED.test(error);
  } catch {
    return false;
  }
}

// Whether a document (and operation name) is a mutation, by the text: a storefront sends the same few
// documents again and again, and parsing one costs more than the rest of the limit's check. Bounded:
// emptied when full, so a client sending endless distinct documents cannot grow it.
const mutationByDocument = new Map<string, boolean>();
const MUTATION_CACHE_SIZE = 500;

function isMutation(body: unknown): boolean {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  const { query, operationName } = body as { query?: unknown; operationName?: unknown };
  if (typeof query !== 'string') return false;
  const name = typeof operationName === 'string' ? operationName : undefined;
  const key = `${name ?? ''}\u0000${query}`;
  const known = mutationByDocument.get(key);
  if (known !== undefined) return known;
  let mutation: boolean;
  try {
    mutation = getOperationAST(parse(query), name)?.operation === 'mutation';
  } catch {
    mutation = false;
  }
  if (mutationByDocument.size >= MUTATION_CACHE_SIZE) mutationByDocument.clear();
  mutationByDocument.set(key, mutation);
  return mutation;
}
