// Sandbox mode's dev sign-in for the staff console: pick the support or admin role and get a
// short-lived staff token for the sandbox's dev users. The token is signed exactly as the ready-made
// tokens of devCredentials.ts are (signStaffToken, Supabase's shape) and checked by the same verifier
// as real Supabase tokens, so the console exercises the production auth path. Mounted only in sandbox
// mode (never with real Stripe keys, never in production, never with a JWKS).
import type { Env, Hono } from 'hono';
import { signStaffToken } from '../auth/staffTokens';
import { DEV_ADMIN_USER, DEV_SUPPORT_USER } from './devCredentials';

export const DEV_SIGN_IN_PATH = '/_sandbox/dev-sign-in';

/** One hour: long enough for a session at the console, short enough that expiry is seen in practice. */
export const DEV_TOKEN_TTL_SECONDS = 3600;

export interface DevSignInOptions {
  jwtSecret: string;
  audience: string;
  issuer?: string;
  /** Seconds a token lives; DEV_TOKEN_TTL_SECONDS unless a test wants it shorter. */
  ttlSeconds?: number;
}

const USERS = { support: DEV_SUPPORT_USER, admin: DEV_ADMIN_USER } as const;

export function mountDevSignIn<E extends Env>(app: Hono<E>, options: DevSignInOptions): void {
  // The console asks this first: 200 means "offer the dev sign-in", a 404 (route absent) means it is not sandbox mode.
  app.get(DEV_SIGN_IN_PATH, (c) => c.json({ sandbox: true, roles: Object.keys(USERS) }));

  app.post(DEV_SIGN_IN_PATH, async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return c.json({ error: 'bad_request', message: 'The body must be JSON: { "role": "support" | "admin" }' }, 400);
    }
    const role = (body as { role?: unknown } | null)?.role;
    if (role !== 'support' && role !== 'admin') {
      return c.json({ error: 'bad_request', message: 'role must be "support" or "admin"' }, 400);
    }
    const user = USERS[role];
    // Whole seconds since the epoch: the token's exp claim, and the expiresAt the console is told.
    const exp = Math.floor(Date.now() / 1000) + (options.ttlSeconds ?? DEV_TOKEN_TTL_SECONDS);
    const token = await signStaffToken(options.jwtSecret, {
      userId: user.id,
      email: user.email,
      staffRole: role,
      audience: options.audience,
      issuer: options.issuer,
      expiresIn: exp,
    });
    c.header('Cache-Control', 'no-store');
    return c.json({ token, role, email: user.email, expiresAt: new Date(exp * 1000).toISOString() });
  });
}
