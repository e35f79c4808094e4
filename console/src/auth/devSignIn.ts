// The sandbox's dev sign-in (server/sandbox/devSignIn.ts). GET answers 200 only in sandbox mode, so it
// also tells the console whether to offer the role buttons, and which Stripe mode links should use.
import { queryOptions } from '@tanstack/react-query';
import { useQuery } from '@tanstack/react-query';

export const DEV_SIGN_IN_URL = '/_sandbox/dev-sign-in';

export interface DevSignInInfo {
  sandbox: true;
  roles: Array<'support' | 'admin'>;
  stripeMode: 'test' | 'live';
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

/**
 * Which of Stripe's dashboards links go to. Sandbox mode is test mode. Outside the sandbox the server
 * does not tell the console yet, so links assume test mode (TODO: expose the Stripe mode to staff).
 */
export function useStripeMode(): 'test' | 'live' {
  const info = useQuery(devSignInInfoQuery);
  return info.data?.stripeMode ?? 'test';
}
