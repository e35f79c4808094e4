import { allow, inheritAccess, PUBLIC } from '../access';
import type { Resolvers } from '../generated/resolvers-types';

export const viewerResolvers: Resolvers = {
  Query: {
    // Public so a client can ask "who am I" without knowing in advance whether it is signed in.
    viewer: allow(PUBLIC, (_parent, _args, { viewer }) => ({ role: viewer.role, id: viewer.id, name: viewer.name })),
  },
  Viewer: inheritAccess({}),
};
