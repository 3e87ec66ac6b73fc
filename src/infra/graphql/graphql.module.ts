import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { ApolloDriver, ApolloDriverConfig } from '@nestjs/apollo';
import { Module } from '@nestjs/common';
import { GraphQLModule } from '@nestjs/graphql';
import type { Request, Response } from 'express';
import { APP_CONFIG, AppConfig } from '../../config/configuration';
import { formatGraphQLError } from '../errors/error-formatter';
import { DateTimeScalar } from './date-time.scalar';
import { JitExecution } from './jit-execution';
import { nulCharacterGuardPlugin } from './nul-character-guard';
import { queryLimitsPlugin } from './query-limits';

/** The query executor, a provider of its own so tests and diagnostics can look at it. */
@Module({ providers: [JitExecution], exports: [JitExecution] })
export class JitExecutionModule {}

/**
 * Code-first schema, built in memory at start. The committed schema.gql is its printout
 * (`npm run schema:emit`); test/schema.int-spec.ts fails when the two differ.
 */
@Module({
  imports: [
    GraphQLModule.forRootAsync<ApolloDriverConfig>({
      driver: ApolloDriver,
      imports: [JitExecutionModule],
      inject: [APP_CONFIG, JitExecution],
      useFactory: (config: AppConfig, jit: JitExecution) => ({
        autoSchemaFile: true,
        // Queries execute compiled (JitExecution). Nest's config type leaves out `gateway`, the
        // one way Apollo takes an executor of its own, but passes every option on to Apollo.
        transformSchema: jit.captureSchema,
        ...({ gateway: jit } as object),
        sortSchema: true,
        // Every Date field and argument is the strict DateTime scalar.
        buildSchemaOptions: { scalarsMap: [{ type: Date, scalar: DateTimeScalar }] },
        playground: false,
        introspection: true,
        plugins: [
          // GRAPHQL_MAX_DEPTH and GRAPHQL_MAX_COST; the per-token rate limit is in BearerAuthGuard.
          queryLimitsPlugin(config.graphql),
          // U+0000 in any argument is BAD_USER_INPUT before it can reach PostgreSQL.
          nulCharacterGuardPlugin(),
          // No cache hints or federated traces are used: without these, Apollo would hook every
          // field of every response (3,600 fields for 100 servers).
          ApolloServerPluginCacheControlDisabled(),
          ApolloServerPluginInlineTraceDisabled(),
          // Apollo Sandbox on GET /graphql outside production.
          ...(config.nodeEnv === 'production' ? [] : [ApolloServerPluginLandingPageLocalDefault({ embed: true })]),
        ],
        includeStacktraceInErrorResponses: false,
        // Compact JSON: Apollo's default indents every response, which for a list of 100 servers
        // is a third more bytes and stringify time.
        stringifyResult: (result) => JSON.stringify(result),
        context: ({ req, res }: { req: Request; res: Response }) => ({ req, res }),
        formatError: formatGraphQLError,
      }),
    }),
  ],
})
export class AppGraphQLModule {}
