// Verification of Supabase Auth JWTs: HS256 with the project's JWT secret, or RS256/ES256 through the
// project's JWKS. Staff carry their role in app_metadata.role (set by an admin through Supabase's
// admin API, so users cannot change it themselves) or in a `user_role` claim added by a custom access
// token hook; a valid token without a staff role is a customer.
import { createRemoteJWKSet, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import type { Role } from './viewer';
import { isUuid } from '../platform/ids';

export interface TokenVerifierOptions {
  jwtSecret?: string;
  jwksUrl?: string;
  audience: string;
  issuer?: string;
}

export interface VerifiedToken {
  userId: string;
  email: string | null;
  /** The token vouches that the user owns `email` (see emailVerifiedFromClaims). */
  emailVerified: boolean;
  role: Role;
}

export type TokenVerifier = (token: string) => Promise<VerifiedToken>;

export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
}

export function roleFromClaims(payload: JWTPayload): Role {
  const appMetadata = payload.app_metadata as Record<string, unknown> | undefined;
  const staffRole = appMetadata?.role ?? payload.user_role;
  if (staffRole === 'admin') return 'ADMIN';
  if (staffRole === 'support') return 'SUPPORT';
  return 'CUSTOMER';
}

/**
 * Whether the token says its email has been verified: the OIDC `email_verified` claim, or the time
 * the address was confirmed (`email_confirmed_at` / `confirmed_at`, the columns of auth.users), as a
 * custom access token hook adds them, or `app_metadata.email_verified`, which only the service role
 * can set. Supabase's own `user_metadata.email_verified` is deliberately NOT trusted: user_metadata
 * is the user's to edit (supabase.auth.updateUser({ data }) merges any key into it), so anyone could
 * set it to true on an address they do not own and take over that address's guest orders.
 */
export function emailVerifiedFromClaims(payload: JWTPayload): boolean {
  const appMetadata = payload.app_metadata as Record<string, unknown> | undefined;
  if (payload.email_verified === true || appMetadata?.email_verified === true) return true;
  return [payload.email_confirmed_at, payload.confirmed_at].some(isConfirmedAt);
}

// A confirmed-at claim counts only as a real time: a hook copying a null column must not verify.
const isConfirmedAt = (value: unknown) =>
  (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Date.parse(value))) || (typeof value === 'number' && value > 0);

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const key = options.jwksUrl
    ? createRemoteJWKSet(new URL(options.jwksUrl), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 })
    : options.jwtSecret
      ? new TextEncoder().encode(options.jwtSecret)
      : undefined;
  const algorithms = options.jwksUrl ? ['RS256', 'ES256'] : ['HS256'];

  return async (token) => {
    if (!key) throw new InvalidTokenError('Bearer tokens are not accepted: no JWT secret or JWKS URL is configured');
    let payload: JWTPayload;
    try {
      const verified =
        key instanceof Uint8Array
          ? await jwtVerify(token, key, { algorithms, audience: options.audience, issuer: options.issuer })
          : await jwtVerify(token, key, { algorithms, audience: options.audience, issuer: options.issuer });
      payload = verified.payload;
    } catch (error) {
      const code = (error as { code?: string }).code;
      throw new InvalidTokenError(code === 'ERR_JWT_EXPIRED' ? 'The bearer token has expired' : 'The bearer token is not valid');
    }
    if (typeof payload.sub !== 'string' || !isUuid(payload.sub)) throw new InvalidTokenError('The bearer token has no user id');
    if (payload.exp === undefined) throw new InvalidTokenError('The bearer token has no expiry');
    // Supabase puts "" in the tokens of phone and anonymous sign-ins: that is no email.
    const email = typeof payload.email === 'string' && payload.email.trim() !== '' ? payload.email : null;
    return { userId: payload.sub, email, emailVerified: email !== null && emailVerifiedFromClaims(payload), role: roleFromClaims(payload) };
  };
}

/**
 * Signs a token in Supabase's shape; used by the sandbox's dev sign-in and by tests. The sandbox is
 * the identity provider of its dev users, so it vouches for their emails (`email_verified: true`, as
 * a custom access token hook would add it) unless told otherwise.
 */
export async function signStaffToken(
  secret: string,
  claims: {
    userId: string;
    email: string;
    emailVerified?: boolean;
    staffRole?: 'admin' | 'support';
    audience: string;
    issuer?: string;
    expiresIn: string | number;
  },
): Promise<string> {
  const jwt = new SignJWT({
    email: claims.email,
    email_verified: claims.emailVerified ?? true,
    role: 'authenticated',
    app_metadata: claims.staffRole ? { role: claims.staffRole, provider: 'email' } : { provider: 'email' },
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.userId)
    .setAudience(claims.audience)
    .setIssuedAt()
    .setExpirationTime(claims.expiresIn);
  if (claims.issuer) jwt.setIssuer(claims.issuer);
  return jwt.sign(new TextEncoder().encode(secret));
}
