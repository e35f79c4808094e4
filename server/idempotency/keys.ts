// Every mutation that changes something takes the caller's idempotency key (DESIGN.md decision 4):
// one format and one pair of errors for all of them.
import { BadUserInputError, ConflictError } from '../platform/errors';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** Throws BAD_USER_INPUT (INVALID_IDEMPOTENCY_KEY) unless the key is 1 to 255 printable ASCII characters. */
export function parseIdempotencyKey(key: string, field: string): string {
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw new BadUserInputError('idempotencyKey must be 1 to 255 printable ASCII characters without spaces (a UUID is a good choice)', {
      reason: 'INVALID_IDEMPOTENCY_KEY',
      field,
    });
  }
  return key;
}

/** The key was used before with other input: CONFLICT (IDEMPOTENCY_KEY_REUSED), nothing done. */
export function idempotencyKeyReused(key: string, operation: string): ConflictError {
  return new ConflictError(`The idempotency key "${key}" was already used with different input (for ${operation})`, {
    reason: 'IDEMPOTENCY_KEY_REUSED',
    idempotencyKey: key,
  });
}
