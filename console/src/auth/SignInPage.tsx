import { useMutation, useQuery } from '@tanstack/react-query';
import { Navigate, useNavigate, useSearchParams } from 'react-router';
import { describeError } from '../api/graphql';
import { devSignIn, devSignInInfoQuery } from './devSignIn';
import { sessionStore, useSession } from './session';
import { supabaseConfig } from './supabase';
import { SupabaseSignInForm } from './SupabaseSignInForm';

/** Only same-site paths: `next` comes from the URL, so it must not send the user elsewhere. */
export function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/sign-in') ? next : '/';
}

export function SignInPage() {
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const { session, expired } = useSession();
  const next = safeNext(params.get('next'));
  const info = useQuery(devSignInInfoQuery);
  const supabase = supabaseConfig() !== null;
  const signIn = useMutation({
    mutationFn: devSignIn,
    onSuccess: (result) => {
      sessionStore.signIn({ token: result.token, role: result.role, email: result.email, expiresAt: result.expiresAt, method: 'dev' });
      navigate(next, { replace: true });
    },
  });

  if (session) return <Navigate to={next} replace />;

  return (
    <main className="sign-in">
      <div className="sign-in-card">
        <h1>Payments ops console</h1>
        {expired && (
          <p role="alert" className="notice">
            Your session has expired. Sign in again to return to the page you were on.
          </p>
        )}
        {info.isPending && <p role="status">Checking how to sign in…</p>}
        {info.isError && <p role="alert">Could not reach the server: {describeError(info.error)}</p>}
        {info.data && (
          <section aria-labelledby="dev-sign-in-heading">
            <h2 id="dev-sign-in-heading">Sandbox sign-in</h2>
            <p className="muted">
              The server runs against the Stripe sandbox. Sign in as a dev user with the role you want to try; the token lasts one hour.
            </p>
            <div className="sign-in-buttons">
              <button type="button" className="button-primary" disabled={signIn.isPending} onClick={() => signIn.mutate('support')}>
                Sign in as support
              </button>
              <button type="button" className="button-primary" disabled={signIn.isPending} onClick={() => signIn.mutate('admin')}>
                Sign in as admin
              </button>
            </div>
            {signIn.isPending && <p role="status">Signing in…</p>}
            {signIn.isError && <p role="alert">{describeError(signIn.error)}</p>}
          </section>
        )}
        {supabase && <SupabaseSignInForm onSignedIn={() => navigate(next, { replace: true })} />}
        {info.data === null && !supabase && (
          <section aria-labelledby="no-sign-in-heading">
            <h2 id="no-sign-in-heading">Staff sign-in</h2>
            <p>
              No sign-in is configured: build the console with SUPABASE_URL and SUPABASE_ANON_KEY set (npm start does it from the
              server&apos;s environment), or run the server in sandbox mode for its dev sign-in.
            </p>
          </section>
        )}
      </div>
    </main>
  );
}
