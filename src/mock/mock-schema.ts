import { addMocksToSchema } from '@graphql-tools/mock';
import { buildSchema, type GraphQLSchema } from 'graphql';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { accountMutations } from './mock-account-mutations';
import { customSmtpMutations } from './mock-custom-smtp-mutations';
import { fallbackMocks } from './mock-fallback';
import { uuidSequence } from './mock-ids';
import { mailMutations } from './mock-mail-mutations';
import { queryResolvers } from './mock-query-resolvers';
import type { MockResolverMap } from './mock-resolver-map';
import { serverMutations } from './mock-server-mutations';
import { MockState, type MockStateOptions } from './mock-state';
import { typeResolvers } from './mock-type-resolvers';

export { createMockContext, MOCK_TOKENS, type MockContext } from './mock-auth';

/** The committed schema, next to package.json. */
export const SCHEMA_PATH = join(__dirname, '..', '..', 'schema.gql');

export interface MockSchemaOptions extends MockStateOptions {
  /** Hears every field answered by a generic placeholder because the data set does not cover it. */
  onFallback?: (coordinate: string) => void;
}

/**
 * schema.gql, read now (so the mock never drifts from the schema), answered from one in-memory
 * data set: an agency with two sub-accounts and a second agency, their servers, messages,
 * campaigns, suppressions and tokens. Mutations change that data set; each call builds a new one.
 * Run it in memory with `contextValue: createMockContext(token)`, or serve it with serve-mock.ts.
 */
export function mockedSchema(schemaPath: string = SCHEMA_PATH, options: MockSchemaOptions = {}): GraphQLSchema {
  const schema = buildSchema(readFileSync(schemaPath, 'utf8'));
  const state = new MockState(options);
  const mutations = [accountMutations(state), serverMutations(state), customSmtpMutations(state), mailMutations(state)].map((m) => m.Mutation);
  const resolvers: MockResolverMap = { ...typeResolvers(state), ...queryResolvers(state), Mutation: Object.assign({}, ...mutations) as MockResolverMap[string] };
  return addMocksToSchema<MockResolverMap>({
    schema,
    // Placeholders draw ids from their own sequence, so the data set's ids never depend on them.
    mocks: fallbackMocks(schema, uuidSequence(`${options.seed ?? 'mailroute'}:fallback`), () => state.nowIso(), options.onFallback ?? (() => undefined)),
    mockGenerationBehavior: 'deterministic',
    resolvers,
    // A resolver for a field schema.gql no longer has is skipped, not fatal: the mock follows the schema.
    resolverValidationOptions: { requireResolversToMatchSchema: 'ignore' },
  });
}
