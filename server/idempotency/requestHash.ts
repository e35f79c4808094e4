// What "the same input" means for an idempotency key, hashed one way for every operation: the stored
// request_hash is compared by SQL (idempotency_keys), so the same text must keep giving the same hash
// across releases, or a client's retry after an upgrade would be refused as a key reused.
import { createHash } from 'node:crypto';

/** The SHA-256 (hex) of a request's canonical text: everything about it but the key itself. */
export function requestHash(canonical: string): string {
  return createHash('sha256').update(canonical).digest('hex');
}

/** For an operation whose whole input is the one object it acts on (retry a delivery, replay an event). */
export function objectOperationHash(operation: string, objectId: string): string {
  return requestHash(`${operation}:${objectId}`);
}
