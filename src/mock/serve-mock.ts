import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { contextFromAuthorization, type MockContext } from './mock-auth';
import { mockedSchema, SCHEMA_PATH, type MockSchemaOptions } from './mock-schema';

export interface MockServerOptions extends MockSchemaOptions {
  /** 0 picks a free port (tests). Default: MOCK_PORT, else 4000. */
  port?: number;
  schemaPath?: string;
}

/**
 * Serves the mocked schema over HTTP on 127.0.0.1 only: the mock accepts any token, so it must
 * not be reachable from other machines. Every request needs `Authorization: Bearer <token>`,
 * else the whole request is refused with 401 UNAUTHENTICATED, as the real API does.
 */
export async function startMockServer(options: MockServerOptions = {}): Promise<{ url: string; stop: () => Promise<void> }> {
  const server = new ApolloServer<MockContext>({
    schema: mockedSchema(options.schemaPath ?? SCHEMA_PATH, options),
    // Like the real API: no stack traces in answers.
    includeStacktraceInErrorResponses: false,
  });
  const { url } = await startStandaloneServer(server, {
    listen: { port: options.port ?? Number(process.env.MOCK_PORT ?? 4000), host: '127.0.0.1' },
    context: ({ req }) => Promise.resolve(contextFromAuthorization(req.headers.authorization)),
  });
  return { url, stop: () => server.stop() };
}

if (require.main === module) {
  startMockServer()
    .then(({ url }) => process.stdout.write(`mailroute mock GraphQL on ${url} (send Authorization: Bearer admin-token, or any other token for the agency)\n`))
    .catch((err: unknown) => {
      process.stderr.write(`mock server failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
}
