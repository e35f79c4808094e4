// Turns a request's credentials into a Viewer. No credentials is the anonymous viewer (public fields
// only); credentials that are present but wrong are always an error, never a silent downgrade.
import type { Queryable } from '../db/db';
import { UnauthenticatedError } from '../errors';
import { looksLikeApiKey, verifyApiKey } from './apiKeys';
import { InvalidTokenError, type TokenVerifier } from './staffTokens';
import { ANONYMOUS_VIEWER, type Viewer } from './viewer';

export interface AuthDeps {
  db: Queryable;
  verifyToken: TokenVerifier;
}

export async function authenticate(deps: AuthDeps, headers: { authorization?: string | null; apiKey?: string | null }): Promise<Viewer> {
  const credential = readCredential(headers);
  if (!credential) return ANONYMOUS_VIEWER;
  if (looksLikeApiKey(credential)) {
    const key = await verifyApiKey(deps.db, credential);
    if (!key) throw new UnauthenticatedError('The API key is not valid or has been revoked');
    return { role: key.scope === 'make' ? 'MAKE' : 'STOREFRONT', id: key.id, name: key.name, kind: 'api_key' };
  }
  try {
    const token = await deps.verifyToken(credential);
    return { role: token.role, id: token.userId, name: token.email, kind: 'user' };
  } catch (error) {
    if (error instanceof InvalidTokenError) throw new UnauthenticatedError(error.message);
    throw error;
  }
}

function readCredential(headers: { authorization?: string | null; apiKey?: string | null }): string | null {
  const apiKey = headers.apiKey?.trim();
  if (apiKey) return apiKey;
  const authorization = headers.authorization?.trim();
  if (!authorization) return null;
  const match = /^Bearer\s+(\S{1,4096})$/i.exec(authorization);
  if (!match) throw new UnauthenticatedError('The Authorization header must be "Bearer <token or API key>"');
  return match[1]!;
}
