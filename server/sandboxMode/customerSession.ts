// The demo storefront's customer sign-in (sandbox mode only): a customer "signs in" with an email and
// nothing else, to show the customer's side of subscriptions. It is a demo, not authentication: the
// session is a short-lived customer token signed exactly as the sandbox's dev tokens are
// (signStaffToken, audience 'authenticated') and read back by the verifier the API uses, so the pages
// act as the same CUSTOMER viewer a signed-in storefront's GraphQL call would. It never vouches for
// the email (email_verified false): a password-less sign-in must not take over a guest's orders.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Viewer } from '../auth/viewer';
import { signStaffToken, type TokenVerifier } from '../auth/staffTokens';
import { SANDBOX_STOREFRONT_PATH } from '../checkout/returnUrls';

export const CUSTOMER_COOKIE = 'storefront_customer';

/** Half an hour: a demo session, short enough that its expiry is seen in practice. */
export const CUSTOMER_SESSION_SECONDS = 1800;

/** Fixed: the same email is the same demo customer across restarts (its subscriptions stay listed). */
const CUSTOMER_NAMESPACE = '5b0f6c1e-8f3a-4c52-9d7e-2a4c1f0b9e31';

export interface CustomerSessionOptions {
  /** The HS256 secret the API's verifier accepts (the configured one, or sandbox mode's dev secret). */
  jwtSecret: string;
  audience: string;
  issuer?: string;
  verifyToken: TokenVerifier;
}

/** RFC 4122 version 5 (SHA-1, name-based) UUID of the lower-cased email: a stable user id per email. */
export function customerUserId(email: string): string {
  const namespace = Buffer.from(CUSTOMER_NAMESPACE.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(namespace).update(email.toLowerCase(), 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function signCustomerSession(options: CustomerSessionOptions, email: string): Promise<string> {
  const lower = email.toLowerCase();
  return signStaffToken(options.jwtSecret, {
    userId: customerUserId(lower),
    email: lower,
    emailVerified: false,
    audience: options.audience,
    issuer: options.issuer,
    expiresIn: Math.floor(Date.now() / 1000) + CUSTOMER_SESSION_SECONDS,
  });
}

/** HttpOnly (no script reads it), SameSite=Strict (no other site's form sends it), this path only. */
export function sessionCookie(token: string): string {
  return `${CUSTOMER_COOKIE}=${token}; Path=${SANDBOX_STOREFRONT_PATH}; Max-Age=${CUSTOMER_SESSION_SECONDS}; HttpOnly; SameSite=Strict`;
}

export const clearedSessionCookie = () => `${CUSTOMER_COOKIE}=; Path=${SANDBOX_STOREFRONT_PATH}; Max-Age=0; HttpOnly; SameSite=Strict`;

export interface CustomerSession {
  viewer: Viewer & { id: string; name: string };
  /** The cookie's token: what the CSRF token is bound to. */
  token: string;
}

/** The signed-in customer, or null: no cookie, a forged or expired token, or a staff token. */
export async function readCustomerSession(options: CustomerSessionOptions, cookieHeader: string | undefined): Promise<CustomerSession | null> {
  const token = cookieValue(cookieHeader, CUSTOMER_COOKIE);
  if (!token || token.length > 4096) return null;
  try {
    const verified = await options.verifyToken(token);
    if (verified.role !== 'CUSTOMER' || verified.email === null) return null;
    return { token, viewer: { role: 'CUSTOMER', id: verified.userId, name: verified.email, emailVerified: verified.emailVerified, kind: 'user' } };
  } catch {
    return null;
  }
}

/** A form's CSRF token: an HMAC of the session's token, so it is good only with that cookie. */
export function csrfToken(options: CustomerSessionOptions, session: CustomerSession): string {
  return createHmac('sha256', options.jwtSecret).update(`storefront-csrf:${session.token}`).digest('base64url');
}

export function csrfMatches(options: CustomerSessionOptions, session: CustomerSession, given: string): boolean {
  const expected = Buffer.from(csrfToken(options, session));
  const actual = Buffer.from(given);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

function cookieValue(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=') || null;
  }
  return null;
}
