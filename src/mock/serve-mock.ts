import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { join } from 'node:path';
import { mockedSchema } from './mock-schema';

/**
 * `npm run mock`: serves the committed schema.gql with mocked data on MOCK_PORT (default 4000),
 * so a frontend can be built before its backend exists. Any bearer token is accepted.
 */
async function main(): Promise<void> {
  const port = Number(process.env.MOCK_PORT ?? 4000);
  const server = new ApolloServer({ schema: mockedSchema(join(__dirname, '..', '..', 'schema.gql')) });
  const { url } = await startStandaloneServer(server, { listen: { port, host: '127.0.0.1' } });
  process.stdout.write(`mailroute mock GraphQL on ${url}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`mock server failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
