import { queryOptions, useQuery } from '@tanstack/react-query';
import { graphqlRequest } from '../api/graphql';
import { ViewerDocument, type ViewerQuery } from '../api/generated/graphql';

export type Viewer = ViewerQuery['viewer'];

export const viewerQuery = queryOptions({
  queryKey: ['viewer'],
  queryFn: () => graphqlRequest(ViewerDocument).then((d) => d.viewer),
  staleTime: 5 * 60_000,
});

export function useViewer() {
  return useQuery(viewerQuery);
}

export function useIsAdmin(): boolean {
  return useViewer().data?.role === 'ADMIN';
}
