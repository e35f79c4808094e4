// Field-level access rules: every field of the real schema has one, a field without one is caught when
// the schema is built, and allow() refuses roles it does not name. Real graphql execution, no mocks.
import { readFileSync } from 'node:fs';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { graphql, type GraphQLSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { ANONYMOUS_VIEWER, type Role, type Viewer } from '../../../server/auth/viewer';
import { AppError, ForbiddenError, UnauthenticatedError } from '../../../server/platform/errors';
import { allow, assertEveryFieldHasARule, checkAccess, fieldsWithoutRule, inheritAccess, PUBLIC } from '../../../server/api/graphql/access';
import type { GraphQLContext } from '../../../server/api/graphql/context';
import { buildResolvers } from '../../../server/api/graphql/resolvers';
import { buildSchema, SCHEMA_PATH } from '../../../server/api/graphql/server';

const realTypeDefs = readFileSync(SCHEMA_PATH, 'utf8');

const viewerWithRole = (role: Role): Viewer => (role === 'ANONYMOUS' ? ANONYMOUS_VIEWER : { role, id: 'caller-id', name: 'caller', kind: 'user' });
// Resolvers in these tests read only the viewer; the rest of the context is not needed.
const contextFor = (role: Role) => ({ viewer: viewerWithRole(role) }) as GraphQLContext;

describe('every field declares an access rule', () => {
  it('finds no field without a rule in the real schema and resolvers', () => {
    const resolvers = buildResolvers() as Record<string, object>;
    const schema = makeExecutableSchema({ typeDefs: realTypeDefs, resolvers: resolvers as never });
    expect(fieldsWithoutRule(schema, resolvers)).toEqual([]);
    expect(() => assertEveryFieldHasARule(schema, resolvers)).not.toThrow();
  });

  it('builds the server schema without complaint', () => {
    expect(() => buildSchema()).not.toThrow();
  });

  it('reports a root field added without allow(), and refuses to build with it', () => {
    const resolvers = buildResolvers() as Record<string, any>;
    resolvers.Query.secret = () => 'the vault combination';
    const schema = makeExecutableSchema({ typeDefs: [realTypeDefs, 'extend type Query { secret: String }'], resolvers });

    expect(fieldsWithoutRule(schema, resolvers)).toEqual(['Query.secret']);
    expect(() => assertEveryFieldHasARule(schema, resolvers)).toThrow(/no access rule: Query\.secret/);
  });

  it('reports a root field in the schema that has no resolver at all', () => {
    const resolvers = buildResolvers() as Record<string, object>;
    const schema = makeExecutableSchema({ typeDefs: [realTypeDefs, 'extend type Query { secret: String }'], resolvers: resolvers as never });
    expect(fieldsWithoutRule(schema, resolvers)).toEqual(['Query.secret']);
  });

  it('reports every field of a new object type that neither wraps its fields nor inherits access', () => {
    const resolvers = buildResolvers() as Record<string, any>;
    resolvers.Query.report = allow(['ADMIN'], () => ({ total: 1, note: 'x' }));
    resolvers.Report = { note: (r: { note: string }) => r.note };
    const schema = makeExecutableSchema({
      typeDefs: [realTypeDefs, 'type Report { total: Int! note: String }', 'extend type Query { report: Report }'],
      resolvers,
    });
    expect(fieldsWithoutRule(schema, resolvers)).toEqual(['Report.total', 'Report.note']);

    resolvers.Report = inheritAccess({ note: (r: { note: string }) => r.note });
    expect(fieldsWithoutRule(schema, resolvers)).toEqual([]);
  });

  it('does not let a root type opt out of rules with inheritAccess()', () => {
    const resolvers = buildResolvers() as Record<string, any>;
    resolvers.Query = inheritAccess({ ...resolvers.Query, secret: () => 'x' });
    const schema = makeExecutableSchema({ typeDefs: [realTypeDefs, 'extend type Query { secret: String }'], resolvers });
    expect(fieldsWithoutRule(schema, resolvers)).toEqual(['Query.secret']);
  });
});

describe('allow() and checkAccess()', () => {
  let resolverRuns = 0;
  const schema: GraphQLSchema = makeExecutableSchema({
    typeDefs: 'type Query { price: Int! staffNote: String refund: String }',
    resolvers: {
      Query: {
        price: allow(PUBLIC, () => 9900),
        staffNote: allow(['SUPPORT', 'ADMIN'], (_p: unknown, _a: unknown, ctx: GraphQLContext) => {
          resolverRuns++;
          return `note for ${ctx.viewer.role}`;
        }),
        refund: allow(['ADMIN'], () => {
          resolverRuns++;
          return 'refunded';
        }),
      },
    },
  });
  const run = (source: string, role: Role) => graphql({ schema, source, contextValue: contextFor(role) });

  it('lets a role named in the rule through to the resolver', async () => {
    const result = await run('{ staffNote }', 'SUPPORT');
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ staffNote: 'note for SUPPORT' });
  });

  it('lets anyone, anonymous included, read a PUBLIC field', async () => {
    for (const role of ['ANONYMOUS', 'CUSTOMER', 'STOREFRONT', 'MAKE', 'SUPPORT', 'ADMIN'] as const) {
      const result = await run('{ price }', role);
      expect(result.errors).toBeUndefined();
      expect(result.data).toEqual({ price: 9900 });
    }
  });

  it('refuses a signed-in role the rule does not name with FORBIDDEN, without running the resolver', async () => {
    const runsBefore = resolverRuns;
    const result = await run('{ refund }', 'SUPPORT');
    expect(result.data).toEqual({ refund: null });
    const error = result.errors![0]!.originalError;
    expect(error).toBeInstanceOf(ForbiddenError);
    expect((error as AppError).code).toBe('FORBIDDEN');
    expect(error!.message).toBe('Your role (support) may not do this; allowed: admin');
    expect(resolverRuns).toBe(runsBefore);
  });

  it('refuses an anonymous caller with UNAUTHENTICATED rather than FORBIDDEN', async () => {
    const runsBefore = resolverRuns;
    const result = await run('{ staffNote }', 'ANONYMOUS');
    const error = result.errors![0]!.originalError;
    expect(error).toBeInstanceOf(UnauthenticatedError);
    expect((error as AppError).code).toBe('UNAUTHENTICATED');
    expect(resolverRuns).toBe(runsBefore);
  });

  it('refuses only the forbidden field and still answers the others in the same query', async () => {
    const result = await run('{ price staffNote }', 'CUSTOMER');
    expect(result.data).toEqual({ price: 9900, staffNote: null });
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]!.path).toEqual(['staffNote']);
    expect((result.errors![0]!.originalError as AppError).code).toBe('FORBIDDEN');
  });

  it.each([
    ['CUSTOMER', 'FORBIDDEN'],
    ['STOREFRONT', 'FORBIDDEN'],
    ['MAKE', 'FORBIDDEN'],
    ['ANONYMOUS', 'UNAUTHENTICATED'],
  ] as const)('checkAccess refuses %s for a staff-only rule with %s', (role, code) => {
    expect(() => checkAccess(['SUPPORT', 'ADMIN'], contextFor(role))).toThrow(expect.objectContaining({ code }));
  });

  it('checkAccess lets a listed role and any role for PUBLIC through', () => {
    expect(() => checkAccess(['ADMIN'], contextFor('ADMIN'))).not.toThrow();
    expect(() => checkAccess(PUBLIC, contextFor('ANONYMOUS'))).not.toThrow();
  });
});
