import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { describeError } from '../api/graphql';
import { supabaseSignIn } from './supabase';

export function SupabaseSignInForm({ onSignedIn }: { onSignedIn: () => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const signIn = useMutation({ mutationFn: () => supabaseSignIn(email.trim(), password), onSuccess: onSignedIn });
  return (
    <form
      className="sign-in-form"
      aria-labelledby="staff-sign-in-heading"
      onSubmit={(event) => {
        event.preventDefault();
        signIn.mutate();
      }}
    >
      <h2 id="staff-sign-in-heading">Staff sign-in</h2>
      <label htmlFor="sign-in-email">Email</label>
      <input id="sign-in-email" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
      <label htmlFor="sign-in-password">Password</label>
      <input id="sign-in-password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
      <button type="submit" className="button-primary" disabled={signIn.isPending}>
        {signIn.isPending ? 'Signing in…' : 'Sign in'}
      </button>
      {signIn.isError && <p role="alert">{describeError(signIn.error)}</p>}
    </form>
  );
}
