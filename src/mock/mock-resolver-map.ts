import type { MockContext } from './mock-auth';

/**
 * Resolvers by type and field. Each resolver types its own source and arguments; `never` here
 * lets any of them in, and graphql-js checks the arguments against schema.gql at run time.
 */
export type MockResolver = (source: never, args: never, ctx: MockContext) => unknown;
export type MockResolverMap = Record<string, Record<string, MockResolver>>;
