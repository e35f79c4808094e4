import { queryOptions, useQuery } from '@tanstack/react-query';
import { graphqlRequest } from '../api/graphql';

export interface Viewer {
  role: 'ANONYMOUS' | 'CUSTOMER' | 'STOREFRONT' | 'MAKE' | 'SUPPORT' | 'ADMIN';
  id: string | null;
  name: string | null;
}

export const viewerQuery = queryOptions({
  queryKey: ['viewer'],
  queryFn: () => graphqlRequest<{ viewer: Viewer }>('query Viewer { viewer { role id name } }').then((d) => d.viewer),
  staleTime: 5 * 60_000,
});

export function useViewer() {
  return useQuery(viewerQuery);
}

export function useIsAdmin(): boolean {
  return useViewer().data?.role === 'ADMIN';
}
