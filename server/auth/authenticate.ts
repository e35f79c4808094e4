// Turns a request's credentials into a Viewer. No credentials is the anonymous viewer (public fields
// only); credentials that are present but wrong are always an error, never a silent downgrade.
import type { Queryable } from '../platform/db/db';
import { UnauthenticatedError } from '../platform/errors';
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
  if (credential.kind === 'api_key' || looksLikeApiKey(credential.value)) {
    const key = await verifyApiKey(deps.db, credential.value);
    if (!key) throw new UnauthenticatedError('The API key is not valid or has been revoked');
    return { role: key.scope === 'make' ? 'MAKE' : 'STOREFRONT', id: key.id, name: key.name, kind: 'api_key' };
  }
  try {
    const token = await deps.verifyToken(credential.value);
    return { role: token.role, id: token.userId, name: token.email, emailVerified: token.emailVerified, kind: 'user' };
  } catch (error) {
    if (error instanceof InvalidTokenError) throw new UnauthenticatedError(error.message);
    throw error;
  }
}

type Credential = { kind: 'api_key' | 'bearer'; value: string };

function readCredential(headers: { authorization?: string | null; apiKey?: string | null }): Credential | null {
  const apiKey = headers.apiKey?.trim();
  const authorization = headers.authorization?.trim();
  // Two credentials could name two different callers; refuse rather than pick one silently.
  if (apiKey && authorization) throw new UnauthenticatedError('Send one credential: either X-API-Key or Authorization, not both');
  if (apiKey) return { kind: 'api_key', value: apiKey };
  if (!authorization) return null;
  const match = /^Bearer\s+(\S{1,4096})$/i.exec(authorization);
  if (!match) throw new UnauthenticatedError('The Authorization header must be "Bearer <token or API key>"');
  return { kind: 'bearer', value: match[1]! };
}
