// The sandbox's dev sign-in (server/sandboxMode/devSignIn.ts). GET answers 200 only in sandbox mode, so it
// also tells the console whether to offer the role buttons.
import { queryOptions } from '@tanstack/react-query';

export const DEV_SIGN_IN_URL = '/_sandbox/dev-sign-in';

export interface DevSignInInfo {
  sandbox: true;
  roles: Array<'support' | 'admin'>;
}

export interface DevSignInResult {
  token: string;
  role: 'support' | 'admin';
  email: string;
  expiresAt: string;
}

function url(): string {
  return new URL(DEV_SIGN_IN_URL, globalThis.location?.origin ?? 'http://localhost').toString();
}

export const devSignInInfoQuery = queryOptions({
  queryKey: ['auth', 'devSignIn'],
  queryFn: async (): Promise<DevSignInInfo | null> => {
    const response = await fetch(url(), { headers: { accept: 'application/json' } });
    if (response.status === 404) return null;
    if (!response.ok) throw new Error(`The server answered ${response.status}`);
    return (await response.json()) as DevSignInInfo;
  },
  staleTime: Infinity,
});

export async function devSignIn(role: 'support' | 'admin'): Promise<DevSignInResult> {
  const response = await fetch(url(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role }) });
  if (!response.ok) throw new Error(`Dev sign-in failed: the server answered ${response.status}`);
  return (await response.json()) as DevSignInResult;
}
