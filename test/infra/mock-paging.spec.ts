import { type ExecutionResult, graphql, type GraphQLSchema } from 'graphql';
import { createMockContext, MOCK_TOKENS, mockedSchema } from '../../src/mock/mock-schema';

const now = (): Date => new Date('2026-12-07T12:00:00.000Z');

interface Page {
  totalCount: number;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  edges: { cursor: string; node: { id?: string; email?: string; createdAt: string } }[];
}

async function run(schema: GraphQLSchema, source: string, variableValues?: Record<string, unknown>): Promise<ExecutionResult> {
  return graphql({ schema, source, variableValues, contextValue: createMockContext(MOCK_TOKENS.agency) });
}

async function agencyId(schema: GraphQLSchema): Promise<string> {
  return ((await run(schema, '{ viewer { account { id } } }')).data as { viewer: { account: { id: string } } }).viewer.account.id;
}

const MESSAGES = `query($accountId: ID!, $first: Int, $after: String) {
  messages(accountId: $accountId, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id createdAt } } }
}`;

/** Follows endCursor until hasNextPage is false, checking each page as a Relay client relies on it. */
async function walk(schema: GraphQLSchema, source: string, field: string, variables: Record<string, unknown>): Promise<{ pages: Page[]; keys: string[] }> {
  const pages: Page[] = [];
  let after: string | null = null;
  do {
    const res = await run(schema, source, { ...variables, after });
    expect(res.errors).toBeUndefined();
    const page = (res.data as Record<string, Page>)[field];
    expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)?.cursor ?? null);
    // hasNextPage is exact: a client never fetches an empty page past the end.
    if (page.totalCount > 0) expect(page.edges.length).toBeGreaterThan(0);
    pages.push(page);
    after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
    expect(pages.length).toBeLessThan(50);
  } while (after);
  const keys = pages.flatMap((p) => p.edges.map((e) => e.node.id ?? e.node.email ?? ''));
  return { pages, keys };
}

describe('npm run mock: Relay connections', () => {
  it('walks every message once, newest first, with opaque distinct cursors and a totalCount that matches', async () => {
    const schema = mockedSchema(undefined, { now });
    const { pages, keys } = await walk(schema, MESSAGES, 'messages', { accountId: await agencyId(schema), first: 4 });
    const edges = pages.flatMap((p) => p.edges);
    expect(pages.length).toBeGreaterThan(3);
    expect(pages.slice(0, -1).every((p) => p.edges.length === 4 && p.pageInfo.hasNextPage)).toBe(true);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.length).toBe(pages[0].totalCount);
    expect(pages.every((p) => p.totalCount === pages[0].totalCount)).toBe(true);
    expect(new Set(edges.map((e) => e.cursor)).size).toBe(edges.length);
    const times = edges.map((e) => e.node.createdAt);
    expect([...times].sort().reverse()).toEqual(times);
  });

  it('walks suppressions (no id: keyed by address) without repeats', async () => {
    const schema = mockedSchema(undefined, { now });
    const source =
      'query($accountId: ID!, $first: Int, $after: String) { suppressions(accountId: $accountId, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { email createdAt } } } }';
    const { pages, keys } = await walk(schema, source, 'suppressions', { accountId: await agencyId(schema), first: 1 });
    expect(keys.length).toBe(pages[0].totalCount);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('defaults first to 50 and takes up to 500', async () => {
    const schema = mockedSchema(undefined, { now });
    const accountId = await agencyId(schema);
    const all = (await run(schema, MESSAGES, { accountId })).data as { messages: Page };
    expect(all.messages.edges.length).toBe(Math.min(50, all.messages.totalCount));
    expect((await run(schema, MESSAGES, { accountId, first: 500 })).errors).toBeUndefined();
  });

  it.each([0, -1, 501, 100000])('refuses first: %d with BAD_USER_INPUT naming first', async (first) => {
    const schema = mockedSchema(undefined, { now });
    const res = await run(schema, MESSAGES, { accountId: await agencyId(schema), first });
    expect(res.data).toBeNull();
    expect(res.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', fields: ['first'] });
    expect(res.errors?.[0]?.message).toMatch(/between 1 and 500/);
  });

  it.each([
    ['accounts', 'accounts(first: 501)'],
    ['campaigns', 'campaigns(accountId: $a, first: 0)'],
    ['suppressions', 'suppressions(accountId: $a, first: 1000)'],
  ])('refuses first out of range on %s too', async (field, call) => {
    const schema = mockedSchema(undefined, { now });
    const variables = call.includes('$a') ? { a: await agencyId(schema) } : undefined;
    const res = await run(schema, `query${variables ? '($a: ID!)' : ''} { ${call} { totalCount } }`, variables);
    expect(res.errors?.map((e) => [e.path?.[0], e.extensions?.code, e.extensions?.fields])).toEqual([[field, 'BAD_USER_INPUT', ['first']]]);
  });

  it('refuses a cursor it did not issue, naming after', async () => {
    const schema = mockedSchema(undefined, { now });
    const res = await run(schema, MESSAGES, { accountId: await agencyId(schema), after: 'page-2' });
    expect(res.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', fields: ['after'] });
  });

  it('keeps a cursor valid while rows are added: the next page neither repeats nor skips', async () => {
    const schema = mockedSchema(undefined, { now });
    const accountId = await agencyId(schema);
    const before = (await walk(schema, MESSAGES, 'messages', { accountId, first: 100 })).keys;
    const first = ((await run(schema, MESSAGES, { accountId, first: 5 })).data as { messages: Page }).messages;
    const sent = await run(schema, 'mutation($a: ID!) { sendEmail(input: { accountId: $a, from: "hello@acme.io", to: "late@example.com", subject: "Hi", text: "Hi" }) { id } }', { a: accountId });
    expect(sent.errors).toBeUndefined();
    const next = ((await run(schema, MESSAGES, { accountId, first: 100, after: first.pageInfo.endCursor })).data as { messages: Page }).messages;
    expect([...first.edges, ...next.edges].map((e) => e.node.id)).toEqual(before);
    expect(next.totalCount).toBe(before.length + 1);
  });
});
