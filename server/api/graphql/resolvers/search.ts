// Search anywhere (issue 22): Query.search, staff only. The query is checked and told apart by its
// shape before anything is read (server/search/search.ts); each shape is one unique-index lookup.
import { STAFF_ROLES } from '../../../auth/viewer';
import { parseSearchQuery } from '../../../search/search';
import { searchRecords } from '../../../search/search.sql';
import { allow, inheritAccess } from '../access';
import type { Resolvers } from '../generated/resolvers-types';

export const searchResolvers: Resolvers = {
  Query: {
    search: allow(STAFF_ROLES, async (_parent, { query }, { db }) => {
      const search = parseSearchQuery(query);
      return { query: search.term, queryKind: search.kind, matches: await searchRecords(db, search) };
    }),
  },
  SearchResult: inheritAccess({}),
  SearchMatch: inheritAccess({}),
};
