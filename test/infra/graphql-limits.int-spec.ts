import { getIntrospectionQuery } from 'graphql';
import Redis from 'ioredis';
import { createHash, randomUUID } from 'node:crypto';
import { newAgency, newSubAccount, newToken } from '../factories/accounts';
import { createTestApp, type GqlResult, type TestApp } from '../utils/create-test-app';
import { TEST_REDIS_URL } from '../utils/test-db';

/** `account(id) { subAccounts { parent { subAccounts { … } } } }`, `depth` fields deep. */
function nestedAccountQuery(depth: number): string {
  let inner = 'id';
  for (let level = depth - 1; level >= 2; level--) inner = `${level % 2 === 0 ? 'subAccounts' : 'parent'} { ${inner} }`;
  return `query($id: ID!) { account(id: $id) { ${inner} } }`;
}

const firstError = (res: GqlResult) => res.errors?.[0];

describe('GraphQL abuse limits: depth and cost (defaults: depth 10, cost 50000)', () => {
  let t: TestApp;
  let agencyId: string;
  beforeAll(async () => {
    t = await createTestApp();
    agencyId = (await newAgency(t)).id;
    await newSubAccount(t, agencyId);
  });
  afterAll(() => t.close());

  it('refuses an operation nested deeper than 10 levels with HTTP 400, naming the depth and the limit', async () => {
    const res = await t.gql(nestedAccountQuery(11), { id: agencyId });
    expect(res.status).toBe(400);
    expect(res.data).toBeUndefined();
    expect(firstError(res)?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(firstError(res)?.message).toBe('The operation is nested 11 levels deep; the limit is 10. Ask for less nested data.');
  });

  it('answers a query 10 levels deep', async () => {
    const query = `query($id: ID!) { account(id: $id) { subAccounts { parent { subAccounts { parent { parent { parent { parent { parent { id } } } } } } } } } }`;
    const res = await t.gql<{ account: { subAccounts: { parent: { subAccounts: unknown[] } }[] } }>(query, { id: agencyId });
    expect(res.status).toBe(200);
    expect(res.errors).toBeUndefined();
    expect(res.data?.account.subAccounts[0].parent.subAccounts).toHaveLength(1);
  });

  it('counts depth through fragments and inline fragments', async () => {
    const query = `query($id: ID!) { account(id: $id) { ...Tree } }
      fragment Tree on Account { subAccounts { parent { ... on Account { subAccounts { parent { subAccounts { parent { subAccounts { parent { subAccounts { id } } } } } } } } } } }`;
    const res = await t.gql(query, { id: agencyId });
    expect(res.status).toBe(400);
    expect(firstError(res)?.message).toMatch(/nested 11 levels deep; the limit is 10/);
  });

  // messages(first: N) { edges { node { id to subject status events { type detail } } } }:
  // 1 (messages) + 1 (edges) + N × (1 node + 4 scalars + events: 1 + 50 × 2) = 2 + 106 N.
  const messagesQuery = `query($a: ID!, $first: Int) { messages(accountId: $a, first: $first) { edges { node { id to subject status events { type detail } } } } }`;

  it('refuses an operation whose estimated cost is over 50000, naming the cost and the limit; `first` from variables is priced', async () => {
    const res = await t.gql(messagesQuery, { a: agencyId, first: 500 });
    expect(res.status).toBe(400);
    expect(firstError(res)?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(firstError(res)?.message).toMatch(/^The operation's estimated cost is 53002; the limit is 50000 \(/);
  });

  it('answers the same operation with a page that keeps it under the limit', async () => {
    const res = await t.gql<{ messages: { edges: unknown[] } }>(messagesQuery, { a: agencyId, first: 450 }); // 47702
    expect(res.status).toBe(200);
    expect(res.errors).toBeUndefined();
    expect(res.data?.messages.edges).toEqual([]);
  });

  it('answers a `first` outside 1..500 with the page-size error naming `first`, even where its page would also cost too much', async () => {
    const res = await t.gql(`query { accounts(first: 100000) { edges { node { id name } } } }`);
    expect(firstError(res)?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: ['first'] });
    for (const first of [1000, 0, -3]) {
      const expensive = await t.gql(messagesQuery, { a: agencyId, first });
      expect(firstError(expensive)?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: ['first'] });
      expect(firstError(expensive)?.message).toBe('first must be between 1 and 500');
      expect(expensive.status).toBe(400);
    }
  });

  it('prices every alias of an expensive field: 33 copies pass, 34 are refused', async () => {
    // Each copy: 1 + 1 (edges) + 500 × (1 node + 2 scalars) = 1502.
    const copies = (n: number) => `query { ${Array.from({ length: n }, (_, i) => `a${i}: accounts(first: 500) { edges { node { id name } } }`).join(' ')} }`;
    const ok = await t.gql<Record<string, { edges: unknown[] }>>(copies(33));
    expect(ok.errors).toBeUndefined();
    expect(ok.data?.a32.edges.length).toBeGreaterThan(0);
    const refused = await t.gql(copies(34));
    expect(refused.status).toBe(400);
    expect(firstError(refused)?.message).toMatch(/estimated cost is 51068; the limit is 50000/);
  });

  it('prices a fragment each time it is spread, without walking it again (fragments that double 40 times)', async () => {
    const fragments = Array.from({ length: 40 }, (_, i) => `fragment F${i} on Query { viewer { role } ${i < 39 ? `...F${i + 1} ...F${i + 1}` : ''} }`);
    const started = Date.now();
    const res = await t.gql(`query { ...F0 } ${fragments.join(' ')}`);
    expect(res.status).toBe(400);
    expect(firstError(res)?.message).toMatch(/estimated cost is \d+; the limit is 50000/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("a tool's standard introspection query fits", async () => {
    const res = await t.gql<{ __schema: { types: unknown[] } }>(getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true }));
    expect(res.errors).toBeUndefined();
    expect(res.data?.__schema.types.length).toBeGreaterThan(20);
  });

  it('refuses a nested introspection loop', async () => {
    let loop = 'name';
    for (let i = 0; i < 5; i++) loop = `fields { type { ${loop} } }`;
    const res = await t.gql(`query { __schema { types { ${loop} } } }`);
    expect(res.status).toBe(400);
    expect(firstError(res)?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });
});

describe('bad input that PostgreSQL would refuse (found by test/fuzz): BAD_USER_INPUT naming the field', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('refuses U+0000 in a variable, an inline argument, a list and a query, naming the field, and stores nothing', async () => {
    const create = `mutation($input: CreateAccountInput!) { createAccount(input: $input) { id } }`;
    const viaVariable = await t.gql(create, { input: { name: 'Acme\u0000', timezone: 'UTC' } });
    expect(viaVariable.status).toBe(400);
    expect(firstError(viaVariable)?.extensions).toEqual({ code: 'BAD_USER_INPUT', fields: ['name'] });
    expect(firstError(viaVariable)?.message).toBe('name must not contain the NUL character (U+0000)');

    const inline = await t.gql(`mutation { createAccount(input: { name: "Acme", timezone: "Europe/Berlin\\u0000" }) { id } }`);
    expect(firstError(inline)?.extensions).toEqual({ code: 'BAD_USER_INPUT', fields: ['timezone'] });

    const agency = await newAgency(t);
    const campaign = await t.gql(`mutation($input: CreateCampaignInput!) { createCampaign(input: $input) { id } }`, {
      input: { accountId: agency.id, name: 'News', from: 'news@brand.example', subject: 'Hi\u0000', text: 'x', recipients: ['a@b.example', 'c\u0000@d.example'] },
    });
    expect(firstError(campaign)?.extensions).toEqual({ code: 'BAD_USER_INPUT', fields: ['subject', 'recipients'] });

    const search = await t.gql(`query($s: String) { accounts(search: $s) { totalCount } }`, { s: '\u0000' });
    expect(firstError(search)?.extensions).toEqual({ code: 'BAD_USER_INPUT', fields: ['search'] });

    const accounts = await t.gqlOk<{ accounts: { totalCount: number } }>(`query { accounts { totalCount } }`);
    expect(accounts.accounts.totalCount).toBe(1);
  });

  it('refuses a since/until that is no strict ISO date-time, or a year PostgreSQL cannot hold', async () => {
    const agency = await newAgency(t);
    const q = `query($a: ID!, $since: DateTime, $until: DateTime) { messages(accountId: $a, since: $since, until: $until) { totalCount } }`;
    const notADate = await t.gql(q, { a: agency.id, since: 'a@b.example' });
    expect(firstError(notADate)?.extensions).toEqual({ code: 'BAD_USER_INPUT', fields: ['since'] });
    expect(firstError(notADate)?.message).toBe('Variable "$since" got invalid value "a@b.example"; DateTime must be an ISO 8601 date-time with a zone, such as 2026-12-02T09:54:33Z');
    // Strict DateTime: no numbers, no loose formats, no zone-less times, no impossible dates, inline literals too.
    for (const since of [1767225600000, 'Jan 1 2026', '2026-01-01', '2026-01-01T00:00:00', '2026-02-30T00:00:00Z']) {
      const loose = await t.gql(q, { a: agency.id, since });
      expect(firstError(loose)?.extensions).toEqual({ code: 'BAD_USER_INPUT', fields: ['since'] });
    }
    const literal = await t.gql(`query($a: ID!) { messages(accountId: $a, since: 20260101) { totalCount } }`, { a: agency.id });
    expect(firstError(literal)?.extensions?.code).toMatch(/BAD_USER_INPUT|GRAPHQL_VALIDATION_FAILED/);
    expect(firstError(literal)?.message).toContain('DateTime must be an ISO 8601 date-time');
    const yearZero = await t.gql(q, { a: agency.id, until: '0000-06-01T00:00:00.000Z' });
    expect(firstError(yearZero)?.extensions).toEqual({ code: 'BAD_USER_INPUT', fields: ['until'] });
    const fine = await t.gql<{ messages: { totalCount: number } }>(q, { a: agency.id, since: '2026-01-01T00:00:00.000Z', until: '9999-12-31T23:59:59.999Z' });
    expect(fine.data?.messages.totalCount).toBe(0);
  });

  it('refuses a forged cursor whose date JavaScript accepts and PostgreSQL does not', async () => {
    const cursor = (createdAt: string, key: string = randomUUID()) => Buffer.from(JSON.stringify({ createdAt, key })).toString('base64url');
    for (const after of [cursor("' OR '1'='1"), cursor('0000-12-31T23:59:59.999Z'), cursor('-000001-01-01T00:00:00.000Z'), cursor('2026-01-01T00:00:00.000Z', 'a\u0000b')]) {
      const res = await t.gql(`query($after: String) { accounts(after: $after) { totalCount } }`, { after });
      expect(firstError(res)?.extensions).toEqual({ code: 'BAD_USER_INPUT', fields: ['after'] });
    }
    const real = await t.gql(`query($after: String) { accounts(after: $after) { totalCount } }`, { after: cursor('2026-01-01T00:00:00.000Z') });
    expect(real.errors).toBeUndefined();
  });
});

describe('GraphQL abuse limits from the environment, and the per-token rate limit', () => {
  const LIMIT = 6;
  let t: TestApp;
  let second: TestApp;
  let setup: TestApp;
  let redis: Redis;
  const viewer = 'query { viewer { role } }';

  beforeAll(async () => {
    t = await createTestApp({ GRAPHQL_RATE_LIMIT: String(LIMIT), GRAPHQL_MAX_DEPTH: '4', GRAPHQL_MAX_COST: '120' });
    // More API processes on the same database and Redis prefix: a second one with the same
    // limits, and one without a tight limit through which ADMIN creates the tokens under test.
    const shared = { DATABASE_URL: t.databaseUrl, REDIS_PREFIX: t.config.redis.prefix };
    second = await createTestApp({ ...shared, GRAPHQL_RATE_LIMIT: String(LIMIT) });
    setup = await createTestApp(shared);
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    redis.disconnect();
    await setup.close();
    await second.close();
    await t.close();
  });

  /** A fresh account token with its whole budget left. */
  const freshToken = async (): Promise<string> => {
    const agency = await newAgency(setup);
    return (await newToken(setup, agency.id)).token;
  };

  it('reads GRAPHQL_MAX_DEPTH and GRAPHQL_MAX_COST', async () => {
    const token = await freshToken();
    const deep = await t.gql(`query { viewer { account { parent { parent { id } } } } }`, {}, token);
    expect(deep.status).toBe(400);
    expect(firstError(deep)?.message).toMatch(/nested 5 levels deep; the limit is 4/);
    const costly = await t.gql(`query { accounts(first: 40) { edges { node { id name } } } }`, {}, token); // 2 + 40 × 3 = 122
    expect(firstError(costly)?.message).toMatch(/estimated cost is 122; the limit is 120/);
    const fits = await t.gql(`query { accounts(first: 39) { edges { node { id name } } } }`, {}, token); // 119
    expect(fits.errors).toBeUndefined();
  });

  it('lets a token make GRAPHQL_RATE_LIMIT requests a minute, then answers RATE_LIMITED saying when to retry', async () => {
    const token = await freshToken();
    for (let i = 0; i < LIMIT; i++) {
      const res = await t.gql(viewer, {}, token);
      expect(res.errors).toBeUndefined();
    }
    const res = await t.http().post('/graphql').set('authorization', `Bearer ${token}`).send({ query: viewer });
    const error = (res.body as GqlResult).errors?.[0];
    expect(error?.extensions?.code).toBe('RATE_LIMITED');
    const retryAfter = error?.extensions?.retryAfterSeconds;
    expect(typeof retryAfter === 'number' && retryAfter >= 1 && retryAfter <= 60).toBe(true);
    expect(error?.message).toBe(`Too many GraphQL requests with this token: at most ${LIMIT} a minute; try again in ${String(retryAfter)} s`);
    expect(res.headers['retry-after']).toBe(String(retryAfter));
    expect(res.status).toBe(429);
    expect(JSON.stringify(res.body)).not.toContain(token);
  });

  it('counts per token: another token is unaffected by one that is limited', async () => {
    const limited = await freshToken();
    for (let i = 0; i <= LIMIT; i++) await t.gql(viewer, {}, limited);
    expect(firstError(await t.gql(viewer, {}, limited))?.extensions?.code).toBe('RATE_LIMITED');
    const other = await freshToken();
    expect((await t.gql(viewer, {}, other)).errors).toBeUndefined();
  });

  it('counts across API processes, in Redis, under a hash of the token', async () => {
    const token = await freshToken();
    for (let i = 0; i < LIMIT; i++) {
      const res = await (i % 2 === 0 ? t : second).gql(viewer, {}, token);
      expect(res.errors).toBeUndefined();
    }
    expect(firstError(await second.gql(viewer, {}, token))?.extensions?.code).toBe('RATE_LIMITED');
    expect(firstError(await t.gql(viewer, {}, token))?.extensions?.code).toBe('RATE_LIMITED');

    const keys = await redis.keys(`${t.config.redis.prefix}:gql-rate:*`);
    expect(keys).toContain(`${t.config.redis.prefix}:gql-rate:${createHash('sha256').update(token).digest('hex')}`);
    expect(keys.some((k) => k.includes(token))).toBe(false);
    const ttl = await redis.pttl(`${t.config.redis.prefix}:gql-rate:${createHash('sha256').update(token).digest('hex')}`);
    expect(ttl > 0 && ttl <= 60_000).toBe(true);
  });

  it('counts a request once, however many root fields it has', async () => {
    const token = await freshToken();
    for (let i = 0; i < LIMIT; i++) {
      const res = await t.gql(`query { a: viewer { role } b: viewer { role } c: apiTokens { id } }`, {}, token);
      expect(res.errors).toBeUndefined();
    }
    const over = await t.gql(`query($id: ID!) { a: account(id: $id) { id } b: account(id: $id) { id } }`, { id: randomUUID() }, token);
    // Refused as a whole, before any root field runs: one error, no data.
    expect(over.errors?.map((e) => e.extensions?.code)).toEqual(['RATE_LIMITED']);
    expect(over.data).toBeUndefined();
  });

  it('does not rate-limit by an unknown token: it stays UNAUTHENTICATED', async () => {
    for (let i = 0; i < LIMIT + 2; i++) {
      const res = await t.gql(viewer, {}, 'mr_not-a-real-token');
      expect(firstError(res)?.extensions?.code).toBe('UNAUTHENTICATED');
    }
    expect(await redis.keys(`${t.config.redis.prefix}:gql-rate:${createHash('sha256').update('mr_not-a-real-token').digest('hex')}`)).toEqual([]);
  });
});
