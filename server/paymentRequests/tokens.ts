// A member's pay token: 32 random bytes, base64url (43 characters), given once in the pay link. Only
// its sha256 (hex) is stored (payment_request_members.token_hash), so a look-up hashes the token it is
// given: a wrong or replaced token simply finds nothing, and a database read leaks no usable link.
import { createHash, randomBytes } from 'node:crypto';

const PAY_TOKEN = /^[A-Za-z0-9_-]{43}$/;

export function newPayToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashPayToken(token) };
}

export function hashPayToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A string shaped like a token we make; anything else is not looked up at all. */
export const isPayTokenShape = (token: string) => PAY_TOKEN.test(token);
