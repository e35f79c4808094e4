// The signed-in staff session: the bearer token in sessionStorage (gone when the tab closes, never
// shared between tabs' sign-outs), with a tiny subscribe API so React (useSyncExternalStore) and the
// GraphQL client read the same state. The GraphQL client calls expire() when the server answers
// UNAUTHENTICATED; the shell then sends the user to sign-in with the page they were on.
import { useSyncExternalStore } from 'react';

export interface Session {
  token: string;
  /** What the sign-in said; the shell shows what the server says (viewer) once it has answered. */
  role?: string;
  email?: string;
  expiresAt?: string;
  /** How the session was made: the sandbox's dev sign-in or Supabase Auth. */
  method: 'dev' | 'supabase';
}

export interface SessionState {
  session: Session | null;
  /** Set when the server refused the token (expired or revoked) rather than the user signing out. */
  expired: boolean;
}

const STORAGE_KEY = 'payments-ops.session';
const listeners = new Set<() => void>();
let state: SessionState = { session: read(), expired: false };

function read(): Session | null {
  try {
    const raw = globalThis.sessionStorage?.getItem(STORAGE_KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

function set(next: SessionState) {
  state = next;
  if (next.session) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(next.session));
  else sessionStorage.removeItem(STORAGE_KEY);
  for (const listener of listeners) listener();
}

export const sessionStore = {
  get: (): SessionState => state,
  token: (): string | undefined => state.session?.token,
  signIn(session: Session) {
    set({ session, expired: false });
  },
  signOut() {
    set({ session: null, expired: false });
  },
  /** The server refused the token: drop it, and remember why for the sign-in page. */
  expire() {
    if (state.session) set({ session: null, expired: true });
  },
  /** Re-reads sessionStorage (tests set it up before rendering). */
  reload() {
    state = { session: read(), expired: false };
    for (const listener of listeners) listener();
  },
  subscribe(listener: () => void) {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};

export function useSession(): SessionState {
  return useSyncExternalStore(sessionStore.subscribe, sessionStore.get, sessionStore.get);
}
