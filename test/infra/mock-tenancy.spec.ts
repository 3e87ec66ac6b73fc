import { type ExecutionResult, graphql, type GraphQLSchema } from 'graphql';
import { createMockContext, MOCK_TOKENS, mockedSchema } from '../../src/mock/mock-schema';

const now = (): Date => new Date('2026-12-07T12:00:00.000Z');
const UNKNOWN = '00000000-0000-4000-8000-000000000000';

async function run(schema: GraphQLSchema, source: string, variableValues?: Record<string, unknown>, token: string | null = MOCK_TOKENS.admin): Promise<ExecutionResult> {
  return graphql({ schema, source, variableValues, contextValue: createMockContext(token) });
}

const codeOf = (res: ExecutionResult): unknown => res.errors?.[0]?.extensions?.code;

async function accountIds(schema: GraphQLSchema): Promise<Record<string, string>> {
  const res = await run(schema, '{ accounts { edges { node { id name } } } }');
  const edges = (res.data as { accounts: { edges: { node: { id: string; name: string } }[] } }).accounts.edges;
  return Object.fromEntries(edges.map((e) => [e.node.name.split(' ')[0].toLowerCase(), e.node.id]));
}

describe('npm run mock: tenancy and errors', () => {
  const schema = mockedSchema(undefined, { now });

  it.each([
    ['account', 'account(id: $id) { id }'],
    ['deliveryServer', 'deliveryServer(id: $id) { id }'],
    ['message', 'message(id: $id) { id }'],
    ['campaign', 'campaign(id: $id) { id }'],
    ['messages', 'messages(accountId: $id) { totalCount }'],
  ])('%s of an unknown id answers NOT_FOUND, for a UUID and for garbage alike', async (_field, call) => {
    for (const id of [UNKNOWN, 'not-an-id']) {
      const res = await run(schema, `query($id: ID!) { ${call} }`, { id });
      expect(codeOf(res)).toBe('NOT_FOUND');
      expect(res.errors?.[0]?.message).toContain(id);
    }
  });

  it('mutations on an unknown id answer NOT_FOUND too', async () => {
    for (const source of ['mutation($id: ID!) { pauseDeliveryServer(id: $id) { id } }', 'mutation($id: ID!) { startCampaign(id: $id) { id } }', 'mutation($id: ID!) { revokeApiToken(id: $id) }']) {
      expect(codeOf(await run(schema, source, { id: UNKNOWN }))).toBe('NOT_FOUND');
    }
  });

  it('an agency token reaches its sub-accounts, not another agency (NOT_FOUND, so nothing leaks)', async () => {
    const ids = await accountIds(schema);
    const names = async (token: string) =>
      ((await run(schema, '{ accounts { totalCount edges { node { name } } } }', undefined, token)).data as { accounts: { totalCount: number; edges: { node: { name: string } }[] } }).accounts;
    expect((await names(MOCK_TOKENS.agency)).edges.map((e) => e.node.name).sort()).toEqual(['Acme Growth Agency', 'Bluebird CRM', 'Lumen Dental']);
    expect((await names(MOCK_TOKENS.subAccount)).totalCount).toBe(1);
    expect(codeOf(await run(schema, 'query($id: ID!) { account(id: $id) { id } }', { id: ids.northwind }, MOCK_TOKENS.agency))).toBe('NOT_FOUND');
    expect(codeOf(await run(schema, 'query($id: ID!) { account(id: $id) { id } }', { id: ids.acme }, MOCK_TOKENS.subAccount))).toBe('NOT_FOUND');
    expect((await run(schema, 'query($id: ID!) { account(id: $id) { name } }', { id: ids.lumen }, MOCK_TOKENS.agency)).data).toEqual({ account: { name: 'Lumen Dental' } });
  });

  it('platform servers are for ADMIN only', async () => {
    const servers = async (token: string) =>
      ((await run(schema, '{ deliveryServers { name account { id } } }', undefined, token)).data as { deliveryServers: { account: object | null }[] }).deliveryServers;
    expect((await servers(MOCK_TOKENS.admin)).some((s) => s.account === null)).toBe(true);
    expect((await servers(MOCK_TOKENS.agency)).every((s) => s.account !== null)).toBe(true);
  });

  it('ADMIN-only mutations are FORBIDDEN to account tokens', async () => {
    const ids = await accountIds(schema);
    expect(codeOf(await run(schema, 'mutation($id: ID!) { setAccountAddons(accountId: $id, addons: []) { id } }', { id: ids.acme }, MOCK_TOKENS.agency))).toBe('FORBIDDEN');
    expect(codeOf(await run(schema, 'mutation { createAccount(input: { name: "Rogue", timezone: "UTC" }) { id } }', undefined, MOCK_TOKENS.agency))).toBe('FORBIDDEN');
    expect(codeOf(await run(schema, 'mutation { createApiToken(input: { name: "root" }) { token } }', undefined, MOCK_TOKENS.agency))).toBe('FORBIDDEN');
  });

  it('custom SMTP is FORBIDDEN without the add-on, naming it', async () => {
    const ids = await accountIds(schema);
    const res = await run(
      schema,
      'mutation($id: ID!) { addCustomSmtp(input: { accountId: $id, provider: SMTP, email: "team@northwind.example", smtp: { host: "mail.northwind.example", port: 587, security: STARTTLS } }) { id } }',
      {
        id: ids.northwind,
      },
    );
    expect(codeOf(res)).toBe('FORBIDDEN');
    expect(res.errors?.[0]?.message).toContain('CUSTOM_SMTP');
  });

  it('no token: UNAUTHENTICATED, for queries and mutations alike', async () => {
    expect(codeOf(await run(schema, '{ accounts { totalCount } }', undefined, null))).toBe('UNAUTHENTICATED');
    expect(codeOf(await run(schema, 'mutation { createAccount(input: { name: "X", timezone: "UTC" }) { id } }', undefined, ''))).toBe('UNAUTHENTICATED');
  });
});
