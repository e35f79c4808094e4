import { queryOptions } from '@tanstack/react-query';
import { graphqlRequest } from '../../api/graphql';
import { SearchDocument, type SearchQuery } from '../../api/generated/graphql';

export type SearchResult = SearchQuery['search'];

export const searchQuery = (query: string) =>
  queryOptions({
    queryKey: ['search', query] as const,
    queryFn: () => graphqlRequest(SearchDocument, { query }).then((d) => d.search),
    // What an id names rarely changes; a second press of Enter need not ask again at once.
    staleTime: 10_000,
  });
