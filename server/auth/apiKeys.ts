// API keys for machine clients (storefronts, Make scenarios). A key is shown once, at creation; the
// database keeps only its SHA-256, so a leaked database does not leak usable keys.
import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from '../platform/db/db';
import { BadUserInputError } from '../platform/errors';
import { type ApiKeyRow, type ApiKeyScope, findActiveApiKeyByHash, insertApiKey } from './apiKeys.sql';

export const API_KEY_SCOPES: readonly ApiKeyScope[] = ['storefront', 'make'];
const API_KEY_FORMAT = /^pok_(storefront|make)_[A-Za-z0-9_-]{43}$/;

export const hashApiKey = (key: string) => createHash('sha256').update(key).digest('hex');
export const looksLikeApiKey = (token: string) => token.startsWith('pok_');

export async function createApiKey(db: Queryable, name: string, scope: string): Promise<{ key: string; row: ApiKeyRow }> {
  if (!API_KEY_SCOPES.includes(scope as ApiKeyScope)) {
    throw new BadUserInputError(`Unknown API key scope "${scope}": expected ${API_KEY_SCOPES.join(' or ')}`);
  }
  const trimmed = name.trim();
  if (trimmed.length < 1 || trimmed.length > 100) throw new BadUserInputError('An API key name must be 1 to 100 characters');
  return storeApiKey(db, trimmed, scope as ApiKeyScope, `pok_${scope}_${randomBytes(32).toString('base64url')}`);
}

/** Stores a key made elsewhere (the sandbox's persisted dev key); idempotent for the same key. */
export async function storeApiKey(db: Queryable, name: string, scope: ApiKeyScope, key: string): Promise<{ key: string; row: ApiKeyRow }> {
  const hash = hashApiKey(key);
  const existing = await findActiveApiKeyByHash(db, hash);
  if (existing) return { key, row: existing };
  const row = await insertApiKey(db, { name, scope, prefix: key.slice(0, scope.length + 9), hash });
  return { key, row };
}

/** The active key this plaintext names, or undefined (unknown, malformed or revoked). */
export async function verifyApiKey(db: Queryable, key: string): Promise<ApiKeyRow | undefined> {
  if (!API_KEY_FORMAT.test(key)) return undefined;
  return findActiveApiKeyByHash(db, hashApiKey(key));
}
