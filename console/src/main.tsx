import { QueryClient } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphQLRequestError } from './api/graphql';
import { ConsoleApp } from './App';
import { resumeSupabaseRefresh } from './auth/supabase';
import './styles.css';

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 10_000,
      // Retrying cannot fix a refused token, a forbidden field or bad input; it can fix a blip.
      retry: (failures, error) => failures < 2 && !(error instanceof GraphQLRequestError && error.code !== 'INTERNAL'),
    },
  },
});

resumeSupabaseRefresh();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ConsoleApp queryClient={queryClient} />
  </StrictMode>,
);
