// Deliveries to Make are signed in Stripe's scheme, so a scenario (or any receiver) can check them
// the way it would check Stripe's: `X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
// The timestamp is signed with the body: a captured request replayed later fails the tolerance.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'X-Signature';
export const DEFAULT_TOLERANCE_SECONDS = 300;

const hmac = (secret: string, timestamp: number, body: string) => createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');

/** The X-Signature header value for this body, signed now (or at `timestamp`, unix seconds). */
export function signMakeBody(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)): string {
  return `t=${timestamp},v1=${hmac(secret, timestamp, body)}`;
}

export type SignatureCheck = { valid: true; timestamp: number } | { valid: false; reason: 'malformed' | 'mismatch' | 'too_old' | 'too_new' };

/**
 * Checks an X-Signature header against the raw body: any v1 may match (a receiver may be sent
 * several during a secret rotation), compared in constant time, and t within the tolerance of now.
 */
export function verifyMakeSignature(options: {
  secret: string;
  body: string;
  header: string | null | undefined;
  toleranceSeconds?: number;
  /** Unix seconds; tests pin it. */
  now?: number;
}): SignatureCheck {
  const { secret, body, header } = options;
  if (!header || header.length > 2000) return { valid: false, reason: 'malformed' };
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const [key, value] = part.trim().split('=', 2) as [string, string | undefined];
    if (key === 't' && value && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    else if (key === 'v1' && value && /^[0-9a-f]{64}$/.test(value)) signatures.push(value);
  }
  if (timestamp === undefined || signatures.length === 0) return { valid: false, reason: 'malformed' };
  const expected = Buffer.from(hmac(secret, timestamp, body), 'hex');
  const matches = signatures.some((signature) => timingSafeEqual(Buffer.from(signature, 'hex'), expected));
  if (!matches) return { valid: false, reason: 'mismatch' };
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (now - timestamp > tolerance) return { valid: false, reason: 'too_old' };
  if (timestamp - now > tolerance) return { valid: false, reason: 'too_new' };
  return { valid: true, timestamp };
}
