// Sandbox mode's ready-made credentials, so a new user can call the API right after `npm start`:
// a storefront API key and support/admin staff tokens. They are made through the same code paths as
// real ones (a hashed api_keys row, HS256 tokens in Supabase's shape checked by the same verifier) and
// kept in .data/ so they survive a restart. Never used outside sandbox mode.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { storeApiKey } from '../auth/apiKeys';
import { signStaffToken } from '../auth/staffTokens';
import type { Queryable } from '../platform/db/db';

export interface DevCredentials {
  jwtSecret: string;
  storefrontApiKey: string;
  supportToken: string;
  adminToken: string;
}

interface StoredSecrets {
  jwtSecret: string;
  storefrontApiKey: string;
}

export const DEV_SUPPORT_USER = { id: '00000000-0000-4000-8000-00000000a001', email: 'support@sandbox.local' };
export const DEV_ADMIN_USER = { id: '00000000-0000-4000-8000-00000000a002', email: 'admin@sandbox.local' };

function loadOrCreateSecrets(file: string | undefined, configuredJwtSecret: string | undefined): StoredSecrets {
  if (file && existsSync(file)) {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as StoredSecrets;
    return { ...stored, jwtSecret: configuredJwtSecret ?? stored.jwtSecret };
  }
  const secrets = {
    jwtSecret: configuredJwtSecret ?? randomBytes(32).toString('base64url'),
    storefrontApiKey: `pok_storefront_${randomBytes(32).toString('base64url')}`,
  };
  if (file) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  }
  return secrets;
}

export async function ensureDevCredentials(
  db: Queryable,
  options: { file?: string; jwtSecret?: string; audience: string; issuer?: string },
): Promise<DevCredentials> {
  const secrets = loadOrCreateSecrets(options.file, options.jwtSecret);
  await storeApiKey(db, 'sandbox storefront', 'storefront', secrets.storefrontApiKey);
  const sign = (user: { id: string; email: string }, staffRole: 'admin' | 'support') =>
    signStaffToken(secrets.jwtSecret, { userId: user.id, email: user.email, staffRole, audience: options.audience, issuer: options.issuer, expiresIn: '30d' });
  return {
    jwtSecret: secrets.jwtSecret,
    storefrontApiKey: secrets.storefrontApiKey,
    supportToken: await sign(DEV_SUPPORT_USER, 'support'),
    adminToken: await sign(DEV_ADMIN_USER, 'admin'),
  };
}
