import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { ApolloDriver, ApolloDriverConfig } from '@nestjs/apollo';
import { Module } from '@nestjs/common';
import { GraphQLModule } from '@nestjs/graphql';
import type { Request, Response } from 'express';
import type Redis from 'ioredis';
import { APP_CONFIG, AppConfig } from '../../config/configuration';
import { AccountsModule } from '../../modules/accounts/accounts.module';
import { RequestAdmission } from '../auth/request-admission';
import { TOKEN_AUTHENTICATOR, type TokenAuthenticator } from '../auth/viewer';
import { formatGraphQLError } from '../errors/error-formatter';
import { DateTimeScalar } from './date-time.scalar';
import { JitExecution } from './jit-execution';
import { nulCharacterGuardPlugin } from './nul-character-guard';
import { OVER_HTTP, stringifyResult } from './response-memo';
import { queryLimitsPlugin } from './query-limits';
import { REDIS } from '../redis/redis.module';

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
      // AccountsModule provides the TOKEN_AUTHENTICATOR the admission checks tokens with.
      imports: [JitExecutionModule, AccountsModule],
      inject: [APP_CONFIG, JitExecution, TOKEN_AUTHENTICATOR, REDIS],
      useFactory: (config: AppConfig, jit: JitExecution, authenticator: TokenAuthenticator, redis: Redis) => {
        const admission = new RequestAdmission(authenticator, redis, config);
        return {
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
            // GRAPHQL_MAX_DEPTH and GRAPHQL_MAX_COST; the token and its rate limit: RequestAdmission (context).
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
          // Memoized answers (ResponseMemo) come already serialized.
          stringifyResult,
          // Every request is admitted (token, rate limit) before Apollo parses it: RequestAdmission.
          context: async ({ req, res }: { req: Request; res: Response }) => {
            await admission.admit(req, res);
            return { req, res, [OVER_HTTP]: true };
          },
          formatError: formatGraphQLError,
        };
      },
    }),
  ],
})
export class AppGraphQLModule {}
