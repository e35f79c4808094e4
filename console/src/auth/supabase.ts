// Staff sign-in with Supabase Auth (email and password) when the project is configured. The URL and
// anon key (both public by design) are baked into the console at build time from SUPABASE_URL and
// SUPABASE_ANON_KEY (vite.config.ts), the same variables the server reads. supabase-js keeps its own
// session in sessionStorage and refreshes the access token before it expires; each refreshed token
// replaces ours, so GraphQL calls always carry a live one. supabase-js is loaded only when used.
import type { SupabaseClient } from '@supabase/supabase-js';
import { sessionStore } from './session';

declare const __SUPABASE_CONFIG__: { url: string; anonKey: string } | null | undefined;

export interface SupabaseConfig {
  url: string;
  anonKey: string;
}

let testConfig: SupabaseConfig | null | undefined;

/** Tests set the config here instead of through the build. */
export function setSupabaseConfigForTests(config: SupabaseConfig | null | undefined) {
  testConfig = config;
  client = undefined;
}

export function supabaseConfig(): SupabaseConfig | null {
  if (testConfig !== undefined) return testConfig;
  const built = typeof __SUPABASE_CONFIG__ === 'undefined' ? null : __SUPABASE_CONFIG__;
  return built && built.url && built.anonKey ? built : null;
}

let client: Promise<SupabaseClient> | undefined;

function supabaseClient(config: SupabaseConfig): Promise<SupabaseClient> {
  client ??= import('@supabase/supabase-js').then(({ createClient }) => {
    const supabase = createClient(config.url, config.anonKey, {
      auth: { storage: globalThis.sessionStorage, persistSession: true, autoRefreshToken: true, detectSessionInUrl: false },
    });
    supabase.auth.onAuthStateChange((event, session) => {
      const ours = sessionStore.get().session;
      if (event === 'TOKEN_REFRESHED' && session && ours?.method === 'supabase') {
        sessionStore.signIn({ ...ours, token: session.access_token, expiresAt: new Date((session.expires_at ?? 0) * 1000).toISOString() });
      }
    });
    return supabase;
  });
  return client;
}

export class SupabaseSignInError extends Error {
  override name = 'SupabaseSignInError';
}

export async function supabaseSignIn(email: string, password: string): Promise<void> {
  const config = supabaseConfig();
  if (!config) throw new SupabaseSignInError('Supabase Auth is not configured for this console.');
  const supabase = await supabaseClient(config);
  const { data, error } = await supabase.auth.signInWithPassword({ email, password });
  if (error || !data.session) {
    // Supabase says "Invalid login credentials" for a wrong email or password alike, on purpose.
    throw new SupabaseSignInError(error?.message === 'Invalid login credentials' ? 'The email or password is wrong.' : (error?.message ?? 'Sign-in failed.'));
  }
  sessionStore.signIn({
    token: data.session.access_token,
    email: data.user?.email ?? email,
    expiresAt: new Date((data.session.expires_at ?? 0) * 1000).toISOString(),
    method: 'supabase',
  });
}

/** Ends the Supabase session too (best effort: our token is dropped whatever Supabase answers). */
export async function supabaseSignOut(): Promise<void> {
  const config = supabaseConfig();
  if (!config || !client) return;
  try {
    await (await client).auth.signOut({ scope: 'local' });
  } catch {
    // Already signed out or unreachable: nothing to undo here.
  }
}

/** After a reload with a Supabase session: start the client so it keeps refreshing the token. */
export function resumeSupabaseRefresh(): void {
  const config = supabaseConfig();
  if (config && sessionStore.get().session?.method === 'supabase') void supabaseClient(config);
}
