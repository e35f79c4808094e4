import { readFileSync } from 'node:fs';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { makeExecutableSchema } from '@graphql-tools/schema';
import type { GraphQLError, GraphQLSchema, ValidationContext } from 'graphql';
import type { Config } from '../../config';
import type { Logger } from '../../platform/observability/logger';
import { assertEveryFieldHasARule } from './access';
import type { GraphQLContext } from './context';
import { createErrorFormatter } from './errors';
import { buildResolvers } from './resolvers';

export const SCHEMA_PATH = new URL('../../../schema.graphql', import.meta.url);

export function buildSchema(): GraphQLSchema {
  const resolvers = buildResolvers();
  const schema = makeExecutableSchema({ typeDefs: readFileSync(SCHEMA_PATH, 'utf8'), resolvers: resolvers as never });
  assertEveryFieldHasARule(schema, resolvers as Record<string, object>);
  return schema;
}

// The armor rules throw on rejection by default, and graphql's validate() does not catch that: Apollo
// would answer 500 INTERNAL. Reported to the validation context instead, an over-limit query is an
// ordinary validation error (400, BAD_USER_INPUT with reason GRAPHQL_VALIDATION_FAILED).
const reportRejection = {
  propagateOnRejection: false,
  onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)],
};

export async function createApolloServer(config: Config, logger: Logger): Promise<ApolloServer<GraphQLContext>> {
  const apollo = new ApolloServer<GraphQLContext>({
    schema: buildSchema(),
    introspection: !config.isProduction,
    includeStacktraceInErrorResponses: false,
    // Apollo's own SIGINT/SIGTERM handler stops Apollo and re-raises the signal, killing the process
    // before in-flight requests and jobs finish: main.ts drains on a signal and stops Apollo itself.
    stopOnTerminationSignals: false,
    formatError: createErrorFormatter({ logger, exposeInternals: config.debugErrors }),
    // Limits are validation rules: an over-limit query is refused before any resolver runs.
    validationRules: [
      maxDepthRule({ n: config.graphql.maxDepth, ignoreIntrospection: true, exposeLimits: true, ...reportRejection }),
      costLimitRule({ maxCost: config.graphql.maxCost, ignoreIntrospection: true, exposeLimits: true, ...reportRejection }),
      maxAliasesRule({ n: config.graphql.maxAliases, exposeLimits: true, ...reportRejection }),
    ],
    logger,
    // Apollo's landing page loads its explorer from Apollo's CDN: the HTTP layer serves an offline
    // GraphiQL on GET /graphql instead (server/api/http/explorer.ts), outside production only.
    plugins: [ApolloServerPluginLandingPageDisabled()],
  });
  await apollo.start();
  return apollo;
}
