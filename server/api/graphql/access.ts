// Every field of the schema states who may read it. Root fields (Query, Mutation) are wrapped with
// allow(); object types either wrap their own fields or are marked inheritAccess() (readable by
// whoever was allowed to reach the parent). assertEveryFieldHasARule() runs when the schema is built,
// so a field added without a rule stops the server instead of being open by accident.
import type { GraphQLFieldResolver, GraphQLSchema } from 'graphql';
import { isObjectType } from 'graphql';
import type { Role } from '../../auth/viewer';
import { ForbiddenError, UnauthenticatedError } from '../../platform/errors';
import type { GraphQLContext } from './context';

export const PUBLIC = 'PUBLIC' as const;
export type AccessRule = typeof PUBLIC | readonly Role[];

const RULE = Symbol('access rule');
const INHERIT = Symbol('inherits access');

type Tagged = { [RULE]?: AccessRule };

export function checkAccess(rule: AccessRule, context: GraphQLContext): void {
  if (rule === PUBLIC || rule.includes(context.viewer.role)) return;
  if (context.viewer.role === 'ANONYMOUS') throw new UnauthenticatedError();
  throw new ForbiddenError(`Your role (${context.viewer.role.toLowerCase()}) may not do this; allowed: ${rule.map((r) => r.toLowerCase()).join(', ')}`);
}

/** Wraps a resolver so it runs only for callers whose role the rule allows. */
export function allow<F extends (parent: any, args: any, context: GraphQLContext, info: any) => unknown>(rule: AccessRule, resolve: F): F {
  const guarded = ((parent, args, context, info) => {
    checkAccess(rule, context);
    return resolve(parent, args, context, info);
  }) as F & Tagged;
  guarded[RULE] = rule;
  return guarded;
}

/** Marks an object type's resolvers as readable by whoever could reach an object of that type. */
export function inheritAccess<T extends object>(typeResolvers: T): T {
  Object.defineProperty(typeResolvers, INHERIT, { value: true, enumerable: false });
  return typeResolvers;
}

const ROOT_TYPES = new Set(['Query', 'Mutation', 'Subscription']);

/** `Type.field` for every field that no rule covers. */
export function fieldsWithoutRule(schema: GraphQLSchema, resolvers: Record<string, object>): string[] {
  const missing: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    const typeResolvers = resolvers[type.name] as Record<string | symbol, unknown> | undefined;
    const inherits = !ROOT_TYPES.has(type.name) && typeResolvers?.[INHERIT] === true;
    for (const fieldName of Object.keys(type.getFields())) {
      const resolver = typeResolvers?.[fieldName] as (GraphQLFieldResolver<unknown, unknown> & Tagged) | undefined;
      if (!inherits && resolver?.[RULE] === undefined) missing.push(`${type.name}.${fieldName}`);
    }
  }
  return missing;
}

export function assertEveryFieldHasARule(schema: GraphQLSchema, resolvers: Record<string, object>): void {
  const missing = fieldsWithoutRule(schema, resolvers);
  if (missing.length > 0) throw new Error(`These schema fields declare no access rule: ${missing.join(', ')}`);
}
